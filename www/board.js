// Board drawing: core draws the grid (the same renderer, palette and view highlight as the GIF
// export, `Session.frame`); the page adds only overlays: the view's outline and the memory map's fog.

// The CSS size of a cell and the canvas's pixels a cell (crisp at any devicePixelRatio).
function fitCanvas(canvas, w, h, maxCss) {
  const parentWidth = canvas.parentElement?.clientWidth || maxCss;
  const cell = Math.max(8, Math.floor(Math.min(maxCss, parentWidth) / Math.max(w, h)));
  const tile = Math.min(256, Math.max(1, Math.round(cell * (window.devicePixelRatio || 1))));
  canvas.style.width = `${w * cell}px`;
  canvas.style.height = `${h * cell}px`;
  canvas.width = w * tile;
  canvas.height = h * tile;
  return tile;
}

// Colours of what the board adds to core's frame, each at least 3:1 against what it is drawn
// on (WCAG 1.4.11): the outline of the agent's view (white: 21:1 on an empty cell, 5.9:1 on a
// grey wall, 3.6:1 on a wall inside the view) and the fog's hatching (6.6:1 on black, 4.4:1 on
// the fog).
const VIEW_EDGE = "#ffffff";
const FOG = "#2a2d34";
const FOG_HATCH = "#8a91a0";

export function drawSession(canvas, s, { fog = false, maxCss = 560 } = {}) {
  const w = s.width, h = s.height;
  const tile = fitCanvas(canvas, w, h, maxCss);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  const rgba = s.frame(tile);
  ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), w * tile, h * tile), 0, 0);
  if (fog) {
    const seen = s.seen();
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (!seen[y * w + x]) drawFog(ctx, x * tile, y * tile, tile);
  }
  drawViewEdge(ctx, s.visible(), w, h, tile);
}

// The agent's egocentric view as core draws it (what its network reads), `cssCell` px a cell.
export function drawView(canvas, s, cssCell = 20) {
  const v = s.viewSize;
  const tile = Math.min(256, Math.max(1, Math.round(cssCell * (window.devicePixelRatio || 1))));
  canvas.style.width = canvas.style.height = `${v * cssCell}px`;
  canvas.width = canvas.height = v * tile;
  const rgba = s.viewFrame(tile);
  canvas.getContext("2d").putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), v * tile, v * tile), 0, 0);
}

// A cell the agent has not seen yet (memory map): hatched, so it differs from a wall too.
function drawFog(ctx, x, y, s) {
  ctx.fillStyle = FOG;
  ctx.fillRect(x, y, s, s);
  ctx.save();
  ctx.beginPath();
  ctx.rect(x, y, s, s);
  ctx.clip();
  ctx.strokeStyle = FOG_HATCH;
  ctx.lineWidth = Math.max(1, s * 0.06);
  ctx.beginPath();
  for (const f of [-0.5, 0, 0.5]) {
    ctx.moveTo(x + s * f, y + s);
    ctx.lineTo(x + s * (f + 1), y);
  }
  ctx.stroke();
  ctx.restore();
}

// The outline of the agent's view: an edge wherever a visible cell meets one that is not.
function drawViewEdge(ctx, vis, w, h, s) {
  const inView = (x, y) => x >= 0 && y >= 0 && x < w && y < h && vis[y * w + x];
  const lw = Math.max(2, Math.round(s * 0.08));
  const o = lw / 2;
  ctx.strokeStyle = VIEW_EDGE;
  ctx.lineWidth = lw;
  ctx.lineCap = "square";
  ctx.beginPath();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!inView(x, y)) continue;
      const px = x * s, py = y * s;
      if (!inView(x, y - 1)) { ctx.moveTo(px + o, py + o); ctx.lineTo(px + s - o, py + o); }
      if (!inView(x, y + 1)) { ctx.moveTo(px + o, py + s - o); ctx.lineTo(px + s - o, py + s - o); }
      if (!inView(x - 1, y)) { ctx.moveTo(px + o, py + o); ctx.lineTo(px + o, py + s - o); }
      if (!inView(x + 1, y)) { ctx.moveTo(px + s - o, py + o); ctx.lineTo(px + s - o, py + s - o); }
    }
  }
  ctx.stroke();
  ctx.lineCap = "butt";
  ctx.lineWidth = 1;
}
