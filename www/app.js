// The playground page: loads the wasm shell, draws the grid, maps keys to actions.
import init, { Playground, envIds } from "./pkg/gridmentor_web.js";

const OBJ = { EMPTY: 1, WALL: 2, FLOOR: 3, DOOR: 4, KEY: 5, BALL: 6, BOX: 7, GOAL: 8, LAVA: 9 };
const COLORS = ["#ff0000", "#00ff00", "#0000ff", "#7027c3", "#ffff00", "#646464"];
const KEYS = { ArrowLeft: 0, ArrowRight: 1, ArrowUp: 2, p: 3, d: 4, " ": 5, Enter: 6 };

const $ = (id) => document.getElementById(id);
let pg = null;
let total = 0;
let over = false;

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

function parseSeed(text) {
  // Seeds are u64: BigInt, never Number.
  if (!/^\d{1,20}$/.test(text.trim())) throw new Error(`seed must be a whole number from 0 to 2^64-1, got "${text}"`);
  const s = BigInt(text.trim());
  if (s >= 1n << 64n) throw new Error("seed must be below 2^64");
  return s;
}

function draw() {
  const canvas = $("grid");
  const ctx = canvas.getContext("2d");
  const w = pg.width, h = pg.height;
  const cell = Math.floor(Math.min(640 / w, 640 / h));
  canvas.width = w * cell;
  canvas.height = h * cell;
  const grid = pg.grid();
  const vis = pg.visible();
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      drawCell(ctx, x * cell, y * cell, cell, grid[i], grid[i + 1], grid[i + 2]);
      if (vis[y * w + x]) {
        ctx.fillStyle = "rgba(255,255,255,0.18)";
        ctx.fillRect(x * cell, y * cell, cell, cell);
      }
      ctx.strokeStyle = "#333";
      ctx.strokeRect(x * cell + 0.5, y * cell + 0.5, cell - 1, cell - 1);
    }
  }
  drawAgent(ctx, pg.agentX * cell, pg.agentY * cell, cell, pg.agentDir);
  $("mission").textContent = pg.mission;
  $("steps").textContent = `${pg.stepCount} / ${pg.maxSteps}`;
  $("reward").textContent = total.toFixed(3);
  $("carrying").textContent = pg.carrying || "nothing";
}

function drawCell(ctx, x, y, s, obj, color, state) {
  const c = COLORS[color] ?? "#fff";
  const m = s * 0.12;
  switch (obj) {
    case OBJ.WALL: ctx.fillStyle = c; ctx.fillRect(x, y, s, s); break;
    case OBJ.FLOOR: ctx.fillStyle = c + "80"; ctx.fillRect(x + 1, y + 1, s - 2, s - 2); break;
    case OBJ.GOAL: ctx.fillStyle = COLORS[1]; ctx.fillRect(x, y, s, s); break;
    case OBJ.LAVA: ctx.fillStyle = "#ff8000"; ctx.fillRect(x, y, s, s); break;
    case OBJ.DOOR:
      ctx.strokeStyle = c; ctx.lineWidth = 2;
      if (state === 0) { ctx.strokeRect(x + s * 0.85, y + 1, s * 0.15, s - 2); break; }
      ctx.fillStyle = state === 2 ? c : "#000";
      ctx.globalAlpha = state === 2 ? 0.45 : 1; ctx.fillRect(x + 1, y + 1, s - 2, s - 2); ctx.globalAlpha = 1;
      ctx.strokeRect(x + m / 2, y + m / 2, s - m, s - m);
      ctx.beginPath(); ctx.arc(x + s * 0.75, y + s / 2, s * 0.06, 0, 7); ctx.fillStyle = c; ctx.fill();
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

function reset() {
  try {
    const seed = parseSeed($("seed").value);
    const env = $("env").value;
    pg = new Playground(env, seed);
    total = 0; over = false;
    showError("");
    $("status").textContent = "playing";
    draw();
  } catch (e) {
    showError(e.message ?? String(e));
  }
}

function act(a) {
  if (!pg || over) return;
  const out = pg.step(a);
  total += out.reward;
  if (out.terminated || out.truncated) {
    over = true;
    $("status").textContent = out.reward > 0 ? "success" : (out.truncated ? "out of time" : "failed");
  }
  draw();
}

async function main() {
  await init();
  const ids = envIds();
  const params = new URLSearchParams(location.search);
  for (const id of ids) $("env").add(new Option(id, id));
  $("env").value = params.get("env") && ids.includes(params.get("env")) ? params.get("env") : "MiniGrid-DoorKey-8x8-v0";
  if (params.get("seed")) $("seed").value = params.get("seed");
  $("reset").addEventListener("click", reset);
  $("env").addEventListener("change", reset);
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key in KEYS) { e.preventDefault(); act(KEYS[e.key]); }
  });
  reset();
  document.body.dataset.ready = "1";
}

main().catch((e) => showError(`could not start the playground: ${e.message ?? e}`));
