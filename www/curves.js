// Learning curves of the compared agents: each checkpoint's training curve as its file carries
// it (core reads the header), success rate and mean return against frames, with a table beside.
import { $ } from "./page.js";

// One colour and one dash pattern per agent, so that lines differ without colour too. Every
// colour has at least 5:1 against the page (#15171c): blue 5.4, orange 8.9, green 8.0, pink 6.9.
const LINES = [
  { color: "#4c8bf5", dash: [] },
  { color: "#f5a54c", dash: [8, 4] },
  { color: "#6fbf6f", dash: [2, 3] },
  { color: "#e07be0", dash: [10, 3, 2, 3] },
];
// Axis text #c8c8c8 (10.7:1) and the axes #8a91a0 (5.7:1) on the page's background.
const TEXT = "#c8c8c8";
const AXIS = "#8a91a0";

// `frames` as a short label: 150k, 4.2M.
function short(frames) {
  if (frames >= 1e6) return `${+(frames / 1e6).toFixed(1)}M`;
  if (frames >= 1e3) return `${+(frames / 1e3).toFixed(0)}k`;
  return String(frames);
}

// The learning curve `agent` carries as columns, or null when it is not a checkpoint (a
// checkpoint's may be empty: none recorded).
export function curveOf(agent) {
  if (!agent || !agent.spec.startsWith("checkpoint:")) return null;
  const c = agent.curve;
  const curve = { frames: Array.from(c.frames), meanReturn: Array.from(c.meanReturn), successRate: Array.from(c.successRate) };
  c.free();
  return curve;
}

// Why `item` has no line: "" when it has one.
function missing(item) {
  if (!item.curve) return "not a trained checkpoint: no curve";
  if (!item.curve.frames.length) return "no curve recorded (a checkpoint file from before curves were saved)";
  return "";
}

// `items`: [{label, curve}] with curve from `curveOf` (null, or columns that may be empty).
export function renderCurves(items) {
  const box = $("curves");
  box.hidden = items.length === 0;
  if (!items.length) return;
  const drawn = items.map((it, i) => ({ ...it, line: LINES[i % LINES.length], why: missing(it) }));
  drawChart(drawn);
  renderLegend(drawn);
  renderTable(drawn);
  box.dataset.curves = String(drawn.filter((d) => !d.why).length);
}

function renderLegend(items) {
  const ul = $("curve-legend");
  ul.replaceChildren(...items.map((it) => {
    const li = document.createElement("li");
    const sw = document.createElement("canvas");
    sw.className = "swatch";
    sw.setAttribute("aria-hidden", "true");
    sw.width = 32; sw.height = 10;
    const ctx = sw.getContext("2d");
    ctx.strokeStyle = it.line.color; ctx.lineWidth = 2.5; ctx.setLineDash(it.line.dash);
    ctx.beginPath(); ctx.moveTo(0, 5); ctx.lineTo(32, 5); ctx.stroke();
    if (it.why) sw.style.visibility = "hidden";
    const text = document.createElement("span");
    text.textContent = it.why ? `${it.label}: ${it.why}` : it.label;
    li.append(sw, text);
    return li;
  }));
}

// The text alternative: per agent the frames trained, the figures at the end of training and
// when success first reached 90%.
function renderTable(items) {
  const body = $("curve-table").tBodies[0];
  body.replaceChildren();
  for (const it of items) {
    const tr = body.insertRow();
    tr.insertCell().textContent = it.label;
    if (it.why) {
      const td = tr.insertCell();
      td.colSpan = 5; td.className = "why-muted"; td.textContent = it.why;
      continue;
    }
    const c = it.curve, n = c.frames.length;
    const at90 = c.successRate.findIndex((s) => s >= 0.9);
    for (const t of [Number(c.frames[n - 1]).toLocaleString("en"), String(n),
      `${(100 * c.successRate[n - 1]).toFixed(1)}%`, c.meanReturn[n - 1].toFixed(3),
      at90 < 0 ? "never" : Number(c.frames[at90]).toLocaleString("en")]) tr.insertCell().textContent = t;
  }
}

// Two panels (success rate, mean return) over one frames axis.
function drawChart(items) {
  const canvas = $("curve-chart");
  const lines = items.filter((it) => !it.why);
  const width = Math.min(640, canvas.parentElement.clientWidth || 640);
  const panelH = 150, gap = 40, top = 12, left = 52, right = 12;
  const h = top + 2 * panelH + gap + 34;
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`; canvas.style.height = `${h}px`;
  canvas.width = width * dpr; canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, h);
  ctx.font = "12px system-ui, sans-serif";
  const maxFrames = Math.max(1, ...lines.map((it) => it.curve.frames[it.curve.frames.length - 1]));
  const returns = lines.flatMap((it) => it.curve.meanReturn);
  const panels = [
    { title: "success rate", values: (c) => c.successRate, lo: 0, hi: 1, y0: top },
    { title: "mean return", values: (c) => c.meanReturn, lo: Math.min(0, ...returns), hi: Math.max(1, ...returns), y0: top + panelH + gap },
  ];
  const plotW = width - left - right;
  const x = (f) => left + (f / maxFrames) * plotW;
  for (const p of panels) {
    const y = (v) => p.y0 + panelH - ((v - p.lo) / (p.hi - p.lo || 1)) * panelH;
    ctx.strokeStyle = AXIS; ctx.lineWidth = 1; ctx.setLineDash([]);
    ctx.beginPath(); ctx.moveTo(left, p.y0); ctx.lineTo(left, p.y0 + panelH); ctx.lineTo(left + plotW, p.y0 + panelH); ctx.stroke();
    ctx.fillStyle = TEXT;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const v of [p.lo, (p.lo + p.hi) / 2, p.hi]) {
      ctx.fillText(p.title === "success rate" ? `${Math.round(v * 100)}%` : v.toFixed(2), left - 6, y(v));
    }
    ctx.save();
    ctx.translate(12, p.y0 + panelH / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.fillText(p.title, 0, 0);
    ctx.restore();
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const f of [0, maxFrames / 2, maxFrames]) ctx.fillText(short(Math.round(f)), x(f), p.y0 + panelH + 4);
    for (const it of lines) {
      const c = it.curve, vs = p.values(c);
      ctx.strokeStyle = it.line.color; ctx.lineWidth = 2; ctx.setLineDash(it.line.dash);
      ctx.beginPath();
      c.frames.forEach((f, i) => (i ? ctx.lineTo(x(f), y(vs[i])) : ctx.moveTo(x(f), y(vs[i]))));
      // A one-point curve is a dot.
      if (c.frames.length === 1) ctx.lineTo(x(c.frames[0]) + 1, y(vs[0]));
      ctx.stroke();
    }
  }
  ctx.setLineDash([]);
  ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.fillStyle = TEXT;
  ctx.fillText("training frames", left + plotW / 2, h - 2);
  const said = items.map((it) => it.why ? `${it.label}: ${it.why}`
    : `${it.label}: ${(100 * it.curve.successRate.at(-1)).toFixed(0)}% success and mean return ${it.curve.meanReturn.at(-1).toFixed(2)} after ${short(it.curve.frames.at(-1))} frames`);
  canvas.setAttribute("aria-label", `learning curves (success rate and mean return against training frames): ${said.join("; ")}`);
}
