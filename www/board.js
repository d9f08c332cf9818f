// Board drawing: a session's grid on a canvas, crisp at any devicePixelRatio. The object and
// colour indices are core's (gridmentor_core::world).

const OBJ = { EMPTY: 1, WALL: 2, FLOOR: 3, DOOR: 4, KEY: 5, BALL: 6, BOX: 7, GOAL: 8, LAVA: 9 };
const COLORS = ["#ff0000", "#00ff00", "#0000ff", "#7027c3", "#ffff00", "#646464"];

function fitCanvas(canvas, w, h, maxCss) {
  const parentWidth = canvas.parentElement?.clientWidth || maxCss;
  const cell = Math.max(8, Math.floor(Math.min(maxCss, parentWidth) / Math.max(w, h)));
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${w * cell}px`;
  canvas.style.height = `${h * cell}px`;
  canvas.width = Math.round(w * cell * dpr);
  canvas.height = Math.round(h * cell * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return { ctx, cell };
}

// Colours of what the board adds to core's objects, each at least 3:1 against what it is drawn
// on (WCAG 1.4.11): the outline of the agent's view (white: 21:1 on an empty cell, 5.9:1 on a
// grey wall, 3.6:1 on a wall inside the view) and the fog's hatching (6.6:1 on black, 4.4:1 on
// the fog).
const VIEW_TINT = "rgba(255,255,255,0.22)";
const VIEW_EDGE = "#ffffff";
const FOG = "#2a2d34";
const FOG_HATCH = "#8a91a0";

export function drawSession(canvas, s, { fog = false, maxCss = 560 } = {}) {
  const w = s.width, h = s.height;
  const { ctx, cell } = fitCanvas(canvas, w, h, maxCss);
  const grid = s.grid();
  const vis = s.visible();
  const seen = fog ? s.seen() : null;
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, w * cell, h * cell);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const px = x * cell, py = y * cell;
      if (seen && !seen[y * w + x]) {
        drawFog(ctx, px, py, cell);
        continue;
      }
      drawCell(ctx, px, py, cell, grid[i], grid[i + 1], grid[i + 2]);
      if (vis[y * w + x]) {
        ctx.fillStyle = VIEW_TINT;
        ctx.fillRect(px, py, cell, cell);
      }
      ctx.strokeStyle = "#333";
      ctx.lineWidth = 1;
      ctx.strokeRect(px + 0.5, py + 0.5, cell - 1, cell - 1);
    }
  }
  drawViewEdge(ctx, vis, w, h, cell);
  drawAgent(ctx, s.agentX * cell, s.agentY * cell, cell, s.agentDir);
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

function drawCell(ctx, x, y, s, obj, color, st) {
  const c = COLORS[color] ?? "#fff";
  const m = s * 0.12;
  switch (obj) {
    case OBJ.WALL: ctx.fillStyle = c; ctx.fillRect(x, y, s, s); break;
    case OBJ.FLOOR: ctx.fillStyle = c + "80"; ctx.fillRect(x + 1, y + 1, s - 2, s - 2); break;
    case OBJ.GOAL: ctx.fillStyle = COLORS[1]; ctx.fillRect(x, y, s, s); break;
    case OBJ.LAVA:
      ctx.fillStyle = "#ff8000"; ctx.fillRect(x, y, s, s);
      ctx.strokeStyle = "#000"; ctx.lineWidth = Math.max(1, s * 0.04);
      for (const f of [0.3, 0.5, 0.7]) {
        ctx.beginPath();
        ctx.moveTo(x + s * 0.1, y + s * f);
        for (let k = 1; k <= 4; k++) ctx.lineTo(x + s * (0.1 + 0.2 * k), y + s * (f + (k % 2 ? -0.05 : 0.05)));
        ctx.stroke();
      }
      ctx.lineWidth = 1; break;
    case OBJ.DOOR:
      ctx.strokeStyle = c; ctx.lineWidth = 2;
      if (st === 0) { ctx.strokeRect(x + s * 0.85, y + 1, s * 0.15, s - 2); ctx.lineWidth = 1; break; }
      ctx.fillStyle = st === 2 ? c : "#000";
      ctx.globalAlpha = st === 2 ? 0.45 : 1; ctx.fillRect(x + 1, y + 1, s - 2, s - 2); ctx.globalAlpha = 1;
      ctx.strokeRect(x + m / 2, y + m / 2, s - m, s - m);
      if (st === 2) { ctx.fillStyle = c; ctx.fillRect(x + s * 0.6, y + s * 0.47, s * 0.25, s * 0.06); }
      else { ctx.beginPath(); ctx.arc(x + s * 0.75, y + s / 2, s * 0.06, 0, 7); ctx.fillStyle = c; ctx.fill(); }
      ctx.lineWidth = 1; break;
    case OBJ.KEY:
      ctx.fillStyle = c; ctx.beginPath(); ctx.arc(x + s * 0.5, y + s * 0.3, s * 0.16, 0, 7); ctx.fill();
      ctx.fillRect(x + s * 0.45, y + s * 0.35, s * 0.1, s * 0.45);
      ctx.fillRect(x + s * 0.55, y + s * 0.62, s * 0.12, s * 0.07); ctx.fillRect(x + s * 0.55, y + s * 0.74, s * 0.12, s * 0.07);
      ctx.fillStyle = "#000"; ctx.beginPath(); ctx.arc(x + s * 0.5, y + s * 0.3, s * 0.07, 0, 7); ctx.fill(); break;
    case OBJ.BALL: ctx.fillStyle = c; ctx.beginPath(); ctx.arc(x + s / 2, y + s / 2, s * 0.31, 0, 7); ctx.fill(); break;
    case OBJ.BOX:
      ctx.strokeStyle = c; ctx.lineWidth = Math.max(2, s * 0.06);
      ctx.strokeRect(x + m, y + m, s - 2 * m, s - 2 * m);
      ctx.beginPath(); ctx.moveTo(x + m, y + s / 2); ctx.lineTo(x + s - m, y + s / 2); ctx.stroke(); ctx.lineWidth = 1; break;
    default: break;
  }
}

function drawAgent(ctx, x, y, s, dir) {
  ctx.save();
  ctx.translate(x + s / 2, y + s / 2);
  ctx.rotate((Math.PI / 2) * dir);
  ctx.fillStyle = "#ff0000";
  ctx.beginPath();
  ctx.moveTo(s * 0.35, 0); ctx.lineTo(-s * 0.3, -s * 0.28); ctx.lineTo(-s * 0.3, s * 0.28);
  ctx.closePath(); ctx.fill();
  ctx.restore();
}
