// The playground page: loads the wasm shell (all game logic is core's), draws grids, maps keys to
// actions, runs agents, compares and evaluates them, and makes share links. Seeds are BigInt.
import init, { Session, Agent, envIds, actionNames, shareEncode, shareDecode, sha256Hex } from "./pkg/gridmentor_web.js";

const OBJ = { EMPTY: 1, WALL: 2, FLOOR: 3, DOOR: 4, KEY: 5, BALL: 6, BOX: 7, GOAL: 8, LAVA: 9 };
const COLORS = ["#ff0000", "#00ff00", "#0000ff", "#7027c3", "#ffff00", "#646464"];
const KEYS = { ArrowLeft: 0, ArrowRight: 1, ArrowUp: 2, p: 3, d: 4, " ": 5, Enter: 6 };

const $ = (id) => document.getElementById(id);
const state = {
  session: null,
  agent: null,        // the Agent instance playing the main board, or null for the keyboard
  agentKey: "human",
  playing: false,
  timer: 0,
  transcript: [],     // {agent, step, prompt, answer, latency_ms, cached, llm, main}
  timeline: [],       // per step of the main board: {agent, asked, forced, pAsk, queries}
  gen: 0,             // bumped by undo / redo / reset: a move in flight for an older state is dropped
  compare: [],        // {key, agent, session, canvas, done}
  comparePlaying: false,
  evalRun: 0,
  leaderboardRun: 0,  // bumped per fetch: an answer for an env no longer shown is dropped
  names: [],
};
// Agents the page can make: key -> {label, spec, make()}.
const registry = new Map();

// ---------------------------------------------------------------------------------------------
// small helpers

function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
}

function notice(msg) {
  $("notice").textContent = msg;
  $("notice").hidden = !msg;
}

function errText(e) {
  return e?.message ?? String(e);
}

function parseSeed(text, what = "seed") {
  const t = String(text).trim();
  if (!/^\d{1,20}$/.test(t)) throw new Error(`${what} must be a whole number from 0 to 2^64-1, got "${text}"`);
  const s = BigInt(t);
  if (s >= 1n << 64n) throw new Error(`${what} must be below 2^64`);
  return s;
}

async function apiError(res) {
  try {
    const j = await res.json();
    return j?.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}

// ---------------------------------------------------------------------------------------------
// drawing: crisp at any devicePixelRatio

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

function drawSession(canvas, s, { fog = false, maxCss = 560 } = {}) {
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
        ctx.fillStyle = "#2a2d34";
        ctx.fillRect(px, py, cell, cell);
        continue;
      }
      drawCell(ctx, px, py, cell, grid[i], grid[i + 1], grid[i + 2]);
      if (vis[y * w + x]) {
        ctx.fillStyle = "rgba(255,255,255,0.18)";
        ctx.fillRect(px, py, cell, cell);
      }
      ctx.strokeStyle = "#333";
      ctx.lineWidth = 1;
      ctx.strokeRect(px + 0.5, py + 0.5, cell - 1, cell - 1);
    }
  }
  drawAgent(ctx, s.agentX * cell, s.agentY * cell, cell, s.agentDir);
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

let dirty = false;
function redraw() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => { dirty = false; render(); });
}

function render() {
  const s = state.session;
  if (!s) return;
  drawSession($("grid"), s, { fog: $("fog").checked });
  $("mission").textContent = s.mission;
  $("steps").textContent = `${s.stepCount} / ${s.maxSteps}`;
  $("reward").textContent = s.totalReward.toFixed(3);
  $("carrying").textContent = s.carrying || "nothing";
  $("status").textContent = s.status;
  const digest = s.digest();
  $("digest").textContent = digest;
  document.body.dataset.digest = digest;
  document.body.dataset.steps = String(s.stepCount);
  document.body.dataset.status = s.status;
  $("undo").disabled = !s.canUndo;
  $("redo").disabled = !s.canRedo;
  $("play").textContent = state.playing ? "Pause" : "Play";
  $("calls").textContent = String(state.agent?.plannerCalls ?? 0);
  renderTimeline();
}

// One mark per step of the main board: who chose it, whether the planner was asked (a query
// the mediator chose, or a forced one), and for the mediator its probability of asking.
function renderTimeline() {
  const box = $("timeline");
  const n = state.session?.stepCount ?? 0;
  const steps = state.timeline.slice(0, n);
  const marks = box.children;
  while (marks.length > steps.length) marks[marks.length - 1].remove();
  steps.forEach((t, i) => {
    let m = marks[i];
    if (!m) { m = document.createElement("span"); m.append(document.createElement("i")); box.append(m); }
    const kind = !t ? "none" : !t.agent ? "human" : t.asked ? (t.forced ? "forced" : "ask") : "step";
    m.className = `mark ${kind}`;
    m.firstChild.style.height = t && !Number.isNaN(t.pAsk) ? `${Math.round(t.pAsk * 100)}%` : "0";
    const p = t && !Number.isNaN(t.pAsk) ? `, p(ask) ${t.pAsk.toFixed(3)}` : "";
    m.title = `step ${i}: ${kind === "ask" ? "asked the planner" : kind === "forced" ? "asked (forced: plan finished or first step)" : kind === "human" ? "keyboard" : "no ask"}${p}`;
  });
  const asks = steps.filter((t) => t?.asked).length;
  const forced = steps.filter((t) => t?.asked && t.forced).length;
  $("asks").textContent = forced ? `${asks} (${forced} forced)` : String(asks);
  box.dataset.asks = String(asks);
  box.dataset.steps = String(steps.length);
}

// The main board's agent chose step `step` with decision `d`.
function recordStep(step, d) {
  state.timeline.length = step;
  state.timeline[step] = d
    ? { agent: true, asked: d.asked || d.queries > 0, forced: d.forced, pAsk: d.pAsk, queries: d.queries }
    : { agent: false, asked: false, forced: false, pAsk: NaN, queries: 0 };
}

function showDecision(d) {
  const table = $("probs");
  table.replaceChildren();
  if (!d) { for (const id of ["value", "skill", "plan", "p-ask"]) $(id).textContent = "–"; return; }
  d.probs.forEach((p, i) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = state.names[i];
    const bar = tr.insertCell();
    const span = document.createElement("span");
    span.className = "bar" + (i === d.action ? " chosen" : "");
    span.style.width = `${Math.round(p * 100)}%`;
    bar.append(span);
    tr.insertCell().textContent = p.toFixed(3);
  });
  $("value").textContent = Number.isNaN(d.value) ? "–" : d.value.toFixed(3);
  $("skill").textContent = d.skill || "–";
  $("plan").textContent = d.plan || "–";
  const asked = d.asked || d.queries > 0;
  $("p-ask").textContent = Number.isNaN(d.pAsk) ? (asked ? "asked" : "–")
    : `${d.pAsk.toFixed(3)} → ${asked ? (d.forced ? "asked (forced)" : "asked") : "not asked"}`;
}

// ---------------------------------------------------------------------------------------------
// episode and keyboard

function newSession() {
  const seed = parseSeed($("seed").value);
  const env = $("env").value;
  state.session = new Session(env, seed);
  if ($("leaderboard-env").textContent !== env) {
    $("leaderboard-env").textContent = env;
    if ($("leaderboard-box").open) loadLeaderboard();
  }
}

function reset() {
  pause();
  try {
    newSession();
    state.transcript = [];
    state.timeline = [];
    state.gen++;
    renderTranscript();
    resetAgent();
    showError("");
    showDecision(null);
  } catch (e) {
    showError(errText(e));
  }
  redraw();
}

function resetAgent() {
  if (!state.agent || !state.session) return;
  state.agent.reset(state.session);
}

function act(a) {
  const s = state.session;
  if (!s || s.isDone) return;
  const step = s.stepCount;
  try { s.step(a); } catch (e) { showError(errText(e)); return; }
  state.gen++; // a move of the agent waiting for an LLM answer is overtaken
  recordStep(step, null);
  dropTranscriptFrom(step);
  if (state.agent) state.agent.observe(s);
  redraw();
}

// Undo / redo pause the agent and rebuild it by replaying the kept history, so that "play"
// continues exactly as the agent would have from this point.
function rebuildAgent() {
  if (!state.agent || !state.session) return;
  try {
    if (!state.agent.rebuild(state.session, false)) notice("the agent's LLM answers for this episode were not kept: it starts from what it sees now");
  } catch (e) { showError(errText(e)); }
}

function undo() {
  pause();
  state.gen++;
  if (!state.session?.undo()) return;
  rebuildAgent();
  redraw();
  renderTranscript();
}

function redo() {
  pause();
  state.gen++;
  if (!state.session?.redo()) return;
  rebuildAgent();
  redraw();
  renderTranscript();
}

// ---------------------------------------------------------------------------------------------
// agents

async function llmAnswer(agentLabel, d, model) {
  const messages = d.promptRoles.map((role, i) => ({ role, content: d.promptContents[i] }));
  const t0 = performance.now();
  const res = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages }),
  });
  const latency = performance.now() - t0;
  if (!res.ok) throw new Error(`the planner ${model} failed: ${await apiError(res)}`);
  const j = await res.json();
  const answer = j.choices?.[0]?.message?.content ?? "";
  const cached = res.headers.get("x-cache") === "HIT";
  return { answer, latency, cached, usage: j.usage ?? {} };
}

// Thrown when undo / redo / reset overtook a move waiting for an LLM answer.
class Overtaken extends Error {}

// One move of `agent` on `session`, fetching LLM answers as needed; records asks in the
// transcript (and, for the main board, on the timeline).
async function agentMove(agent, session, index, model, main = false) {
  const gen = state.gen;
  for (let tries = 0; tries < 4; tries++) {
    const step = session.stepCount;
    const d = agent.play(session);
    if (!d.needsAnswer) {
      if (main) { recordStep(step, d); dropTranscriptFrom(step); }
      if (d.asked && d.promptText) {
        state.transcript.push({ agent: index, step, prompt: d.promptText, answer: d.answer, latency_ms: d.latencyMs, cached: d.cached, llm: agent.isLlm, main });
        renderTranscript();
      }
      return d;
    }
    const r = await llmAnswer(agent.label, d, model);
    if (gen !== state.gen) throw new Overtaken("the episode changed while the LLM answered");
    agent.supplyAnswer(r.answer, r.latency, r.cached, r.usage.prompt_tokens ?? 0, r.usage.completion_tokens ?? 0);
  }
  throw new Error("the planner did not give a usable answer");
}

// A new step at `step` on the main board replaces any undone future of the transcript.
function dropTranscriptFrom(step) {
  const before = state.transcript.length;
  state.transcript = state.transcript.filter((t) => !t.main || t.step < step);
  if (state.transcript.length !== before) renderTranscript();
}

// Transcript entries of the episode as shown (undone steps hidden).
function liveTranscript() {
  const n = state.session?.stepCount ?? 0;
  return state.transcript.filter((t) => !t.main || t.step < n);
}

function renderTranscript() {
  const ol = $("transcript");
  ol.replaceChildren();
  const shown = liveTranscript();
  for (const t of shown) {
    const li = document.createElement("li");
    const head = document.createElement("p");
    head.textContent = `agent ${t.agent}, step ${t.step}: ${t.latency_ms.toFixed(1)} ms${t.cached ? " (cached)" : ""}`;
    const prompt = document.createElement("details");
    const sum = document.createElement("summary");
    sum.textContent = "prompt";
    const pre = document.createElement("pre");
    pre.textContent = t.prompt;
    prompt.append(sum, pre);
    const ans = document.createElement("pre");
    ans.className = "answer";
    ans.textContent = t.answer;
    li.append(head, prompt, ans);
    ol.append(li);
  }
  $("transcript-count").textContent = String(shown.length);
}

function modelOf(key) {
  return registry.get(key)?.model ?? "";
}

async function tick() {
  const s = state.session;
  if (!state.playing || !s || !state.agent) return;
  if (s.isDone) { pause(); return; }
  try {
    const d = await agentMove(state.agent, s, 0, modelOf(state.agentKey), true);
    showDecision(d);
  } catch (e) {
    if (!(e instanceof Overtaken)) showError(errText(e));
    pause();
    return;
  }
  redraw();
  if (s.isDone) { pause(); return; }
  const speed = Number($("speed").value);
  state.timer = setTimeout(tick, 1000 / speed);
}

function play() {
  if (!state.agent) { showError("pick an agent to play (or use the keyboard)"); return; }
  if (state.session?.isDone) reset();
  state.playing = true;
  redraw();
  tick();
}

function pause() {
  state.playing = false;
  clearTimeout(state.timer);
  redraw();
}

async function stepAgent() {
  if (!state.agent || state.session?.isDone) return;
  pause();
  try { showDecision(await agentMove(state.agent, state.session, 0, modelOf(state.agentKey), true)); } catch (e) { if (!(e instanceof Overtaken)) showError(errText(e)); }
  redraw();
}

function addAgent(key, entry) {
  registry.set(key, entry);
  const sel = $("agent");
  if (![...sel.options].some((o) => o.value === key)) sel.add(new Option(entry.label, key));
  renderComparePick();
}

// `assumeChosen`: the agent played the episode so far (a shared episode), so its history is
// replayed as its own decisions; otherwise it watched the steps made before it took over.
function selectAgent(key, assumeChosen = false) {
  pause();
  state.agentKey = key;
  $("agent").value = key;
  const entry = registry.get(key);
  try {
    state.agent = entry?.make() ?? null;
    $("agent-label").textContent = state.agent ? state.agent.label : "you, at the keyboard";
    if (state.agent && state.agent.trainedEnv && state.agent.trainedEnv !== $("env").value && envIds().includes(state.agent.trainedEnv)) {
      $("env").value = state.agent.trainedEnv;
      newSession();
      state.timeline = [];
      state.transcript = [];
      renderTranscript();
    }
    if (state.agent && !state.agent.rebuild(state.session, assumeChosen)) notice("the agent's LLM answers for this episode are not here: it starts from what it sees now");
    showError("");
  } catch (e) {
    state.agent = null;
    showError(errText(e));
  }
  showDecision(null);
  redraw();
}

async function loadCheckpointBytes(bytes, name) {
  const id = sha256Hex(bytes);
  const probe = Agent.checkpoint(bytes, id); // throws core's reason for a bad file
  const key = `checkpoint:${id}`;
  addAgent(key, { label: `${name} (${probe.label})`, spec: key, make: () => Agent.checkpoint(bytes, id) });
  probe.free();
  return key;
}

async function onCheckpointFile(ev) {
  const file = ev.target.files?.[0];
  if (!file) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const key = await loadCheckpointBytes(bytes, file.name);
    selectAgent(key);
    notice(`loaded checkpoint ${file.name}`);
    // Store it on the server so share links can name it (best effort).
    fetch(`/api/checkpoints?name=${encodeURIComponent(file.name.replace(/\.ckpt$/, ""))}`, {
      method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes,
    }).then(async (res) => {
      if (res.status === 404 || res.status === 405) notice(`loaded ${file.name}; this server does not store checkpoints, so share links replay its actions only`);
      else if (!res.ok) notice(`loaded ${file.name}; the server refused to store it: ${await apiError(res)}`);
    }).catch(() => {});
  } catch (e) {
    showError(`cannot load ${file.name}: ${errText(e)}`);
  } finally {
    ev.target.value = "";
  }
}

async function fetchCheckpoint(id) {
  const res = await fetch(`/api/checkpoints/${id}`);
  if (res.status === 404) throw new Error(`checkpoint ${id.slice(0, 12)}… is not on this server (deleted, or never uploaded)`);
  if (!res.ok) throw new Error(`cannot fetch checkpoint ${id.slice(0, 12)}…: ${await apiError(res)}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadServerCheckpoints() {
  try {
    const res = await fetch(`/api/checkpoints`);
    if (!res.ok) return;
    const j = await res.json();
    for (const c of j.checkpoints ?? []) {
      const key = `checkpoint:${c.id}`;
      if (registry.has(key)) continue;
      let bytes = null;
      const make = () => {
        if (!bytes) throw new Error("the checkpoint is still downloading");
        return Agent.checkpoint(bytes, c.id);
      };
      const entry = { label: `${c.name} (${c.env}, server)`, spec: key, make, load: async () => { bytes ??= await fetchCheckpoint(c.id); } };
      addAgent(key, entry);
    }
  } catch { /* no checkpoint store on this server */ }
}

async function loadModels() {
  try {
    const res = await fetch("/v1/models");
    if (!res.ok) return;
    const j = await res.json();
    for (const m of j.data ?? []) {
      for (const style of ["when2ask", "llm4teach"]) {
        const key = `planner:${style}:${m.id}@server`;
        const kind = m.llm ? "LLM" : "scripted expert, not an LLM";
        addAgent(key, { label: `planner + skills, ${m.id} via server (${kind}, ${style})`, spec: `planner:${style}:${m.id}`, model: m.id, llm: true, make: () => Agent.llm(m.id, style) });
      }
    }
  } catch { /* no LLM endpoint on this server */ }
}

async function prepare(key) {
  const e = registry.get(key);
  if (e?.load) await e.load();
}

// ---------------------------------------------------------------------------------------------
// leaderboard: the server's held-out evaluations of its stored checkpoints, for the current env

async function loadLeaderboard() {
  const env = $("env").value;
  const url = `/api/leaderboard?env=${encodeURIComponent(env)}`;
  const run = ++state.leaderboardRun;
  $("leaderboard-env").textContent = env;
  $("leaderboard-json").href = url;
  $("leaderboard-status").textContent = "loading…";
  let entries = [], msg = "";
  try {
    const res = await fetch(url);
    if (res.ok) entries = (await res.json()).entries ?? [];
    else msg = `the server has no leaderboard for ${env}: ${await apiError(res)}`;
  } catch (e) {
    msg = `no leaderboard on this server (${errText(e)})`;
  }
  // A checkpoint stored after the page loaded is not in the agent menu yet.
  if (entries.some((c) => !registry.has(`checkpoint:${c.id}`))) await loadServerCheckpoints();
  if (run !== state.leaderboardRun) return;
  const body = $("leaderboard-table").tBodies[0];
  body.replaceChildren();
  entries.forEach((c, i) => {
    const tr = body.insertRow();
    tr.dataset.id = c.id;
    const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(1)}%` : "–");
    const num = (x, d) => (typeof x === "number" ? x.toFixed(d) : "–");
    const cells = [String(i + 1), c.name, c.algo, Number(c.frames).toLocaleString("en"),
      pct(c.eval?.success_rate), num(c.eval?.mean_return, 3), num(c.eval?.mean_steps, 1)];
    for (const t of cells) tr.insertCell().textContent = t;
    const key = `checkpoint:${c.id}`;
    const b = document.createElement("button");
    b.textContent = "Watch";
    b.disabled = !registry.has(key);
    b.addEventListener("click", async () => {
      try { await prepare(key); } catch (e) { showError(errText(e)); return; }
      selectAgent(key);
      $("grid").scrollIntoView({ block: "nearest" });
    });
    tr.insertCell().append(b);
  });
  $("leaderboard-status").textContent = msg || (entries.length ? "" : `no checkpoint has been evaluated on ${env} yet`);
}

// ---------------------------------------------------------------------------------------------
// compare: 2-4 agents, same seed, lock-step

function renderComparePick() {
  const box = $("compare-pick");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren();
  for (const [key, e] of registry) {
    if (key === "human" || e.alias) continue;
    const label = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.value = key; cb.checked = checked.has(key);
    label.append(cb, ` ${e.label}`);
    box.append(label);
  }
}

function pickedAgents() {
  return [...$("compare-pick").querySelectorAll("input:checked")].map((i) => i.value);
}

async function startCompare(keys = pickedAgents(), actions = null) {
  stopCompare();
  if (keys.length < 2 || keys.length > 4) { showError(`pick 2 to 4 agents to compare (picked ${keys.length})`); return false; }
  const env = $("env").value;
  const seed = parseSeed($("seed").value);
  const box = $("compare");
  box.replaceChildren();
  state.compare = [];
  for (const [i, key] of keys.entries()) {
    const entry = registry.get(key);
    let agent = null;
    try {
      if (!actions) { await prepare(key); agent = entry.make(); }
    } catch (e) { showError(errText(e)); return false; }
    const session = actions ? Session.fromActions(env, seed, actions[i]) : new Session(env, seed);
    if (agent) agent.reset(session);
    const card = document.createElement("figure");
    card.className = "card";
    card.dataset.index = String(i);
    const canvas = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    card.append(canvas, cap);
    box.append(card);
    state.compare.push({ key, label: entry?.label ?? key, spec: entry?.spec ?? key, model: entry?.model, agent, session, canvas, cap });
  }
  showError("");
  renderCompare();
  return true;
}

function renderCompare() {
  for (const c of state.compare) {
    drawSession(c.canvas, c.session, { maxCss: 260 });
    c.cap.textContent = `${c.label}: step ${c.session.stepCount}, return ${c.session.totalReward.toFixed(3)}, ${c.session.status}`;
    c.cap.parentElement.dataset.status = c.session.status;
    c.cap.parentElement.dataset.digest = c.session.digest();
  }
  document.body.dataset.compareDone = state.compare.length && state.compare.every((c) => c.session.isDone) ? "1" : "0";
  $("compare-play").textContent = state.comparePlaying ? "Pause" : "Play";
}

async function compareStep() {
  const live = state.compare.filter((c) => !c.session.isDone && c.agent);
  try {
    await Promise.all(live.map((c, i) => agentMove(c.agent, c.session, i, c.model)));
  } catch (e) { showError(errText(e)); state.comparePlaying = false; }
  renderCompare();
  return live.length > 0 && state.compare.some((c) => !c.session.isDone && c.agent);
}

async function compareLoop() {
  if (!state.comparePlaying) return;
  const more = await compareStep();
  if (!more) { state.comparePlaying = false; renderCompare(); return; }
  setTimeout(compareLoop, 1000 / Number($("speed").value));
}

function stopCompare() {
  state.comparePlaying = false;
}

// ---------------------------------------------------------------------------------------------
// evaluate on N seeds, in slices so the page stays responsive

async function evaluate() {
  const keys = pickedAgents().filter((k) => !registry.get(k)?.llm);
  if (!keys.length) { showError("pick at least one agent to evaluate (LLM agents are evaluated by the server)"); return; }
  const n = Math.max(1, Math.min(10000, Number($("eval-n").value) | 0));
  let seed0;
  try { seed0 = parseSeed($("eval-seed").value, "first seed"); } catch (e) { showError(errText(e)); return; }
  const env = $("env").value;
  const run = ++state.evalRun;
  const tbody = $("eval-table").tBodies[0];
  tbody.replaceChildren();
  const rows = [];
  for (const key of keys) {
    try { await prepare(key); } catch (e) { showError(errText(e)); return; }
    const agent = registry.get(key).make();
    const tr = tbody.insertRow();
    tr.dataset.key = key;
    rows.push({ key, label: registry.get(key).label, agent, tr, n: 0, wins: 0, ret: 0, steps: 0, calls: 0 });
  }
  const total = n * rows.length;
  let done = 0;
  $("eval-progress").max = total;
  document.body.dataset.evalDone = "0";
  for (const r of rows) {
    // A checkpoint runs batched (core's evaluate, as the server's leaderboard) in chunks sized
    // to keep each slice short; other agents play one episode at a time.
    let chunk = 4;
    for (let k = 0; k < n && r.agent.trainedEnv && !r.agent.isMediator;) {
      const m = Math.min(chunk, n - k);
      const t0 = performance.now();
      let e;
      try { e = r.agent.evaluateBatched(env, seed0 + BigInt(k), m); } catch (err) { showError(errText(err)); return; }
      r.n += m; r.wins += Math.round(e.successRate * m); r.ret += e.meanReturn * m; r.steps += e.meanSteps * m;
      k += m; done += m;
      if (performance.now() - t0 < 20 && chunk < 256) chunk *= 2;
      fillRow(r);
      $("eval-progress").value = done;
      await new Promise((res) => setTimeout(res, 0));
      if (run !== state.evalRun) return;
    }
    for (let k = r.n; k < n;) {
      const t0 = performance.now();
      while (k < n && performance.now() - t0 < 12) {
        let out;
        try { out = r.agent.runEpisode(env, seed0 + BigInt(k)); } catch (e) { showError(errText(e)); return; }
        r.n++; r.wins += out.success ? 1 : 0; r.ret += out.return; r.steps += out.steps; r.calls += out.plannerCalls;
        k++; done++;
      }
      fillRow(r);
      $("eval-progress").value = done;
      await new Promise((res) => setTimeout(res, 0));
      if (run !== state.evalRun) return; // stopped or restarted
    }
  }
  drawChart(rows);
  document.body.dataset.evalDone = "1";
}

function fillRow(r) {
  const cells = [r.label, r.n, (r.wins / r.n).toFixed(3), (r.ret / r.n).toFixed(3), (r.steps / r.n).toFixed(1), (r.calls / r.n).toFixed(2)];
  r.tr.replaceChildren(...cells.map((c) => { const td = document.createElement("td"); td.textContent = String(c); return td; }));
}

function drawChart(rows) {
  const canvas = $("eval-chart");
  const h = 24 * rows.length + 8;
  const width = Math.min(560, canvas.parentElement.clientWidth || 560);
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`; canvas.style.height = `${h}px`;
  canvas.width = width * dpr; canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, h);
  ctx.font = "12px system-ui";
  rows.forEach((r, i) => {
    const rate = r.n ? r.wins / r.n : 0;
    ctx.fillStyle = "#4c8bf5";
    ctx.fillRect(0, 4 + i * 24, (width - 60) * rate, 18);
    ctx.fillStyle = "#e6e6e6";
    ctx.fillText(`${(rate * 100).toFixed(0)}% ${r.label.slice(0, 40)}`, 4, 17 + i * 24);
  });
}

// ---------------------------------------------------------------------------------------------
// share links: /#s=<code> (self-contained) or /#ep=<id> (stored with the transcript)

function currentEpisode() {
  if (state.compare.length) {
    return { env: state.compare[0].session.envId, seed: state.compare[0].session.seed,
      agents: state.compare.map((c) => c.spec), actions: state.compare.map((c) => c.session.actions()) };
  }
  const s = state.session;
  const spec = state.agent ? (registry.get(state.agentKey)?.spec ?? state.agent.spec) : "human";
  return { env: s.envId, seed: s.seed, agents: [spec], actions: [s.actions()] };
}

async function copyLink() {
  try {
    const ep = currentEpisode();
    let url = `${location.origin}${location.pathname}#s=${shareEncode(ep.env, ep.seed, ep.agents, ep.actions)}`;
    let note = "";
    // The scripted expert's asks are replayed by core; an LLM's answers must be stored.
    const kept = state.compare.length ? state.transcript.filter((t) => !t.main) : liveTranscript();
    if (kept.some((t) => t.llm)) {
      const agents = ep.agents.map(specToRecord);
      const transcript = kept.map(({ llm, main, ...t }) => t);
      const body = { v: 1, env: ep.env, seed: ep.seed.toString(), agents, actions: ep.actions.map((a) => [...a]), transcript };
      const res = await fetch("/api/episodes", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (res.ok) url = `${location.origin}${location.pathname}#ep=${(await res.json()).id}`;
      else note = ` (without the LLM transcript: the server could not store it: ${await apiError(res)})`;
    }
    const box = $("share-url");
    box.value = url; box.hidden = false;
    try { await navigator.clipboard.writeText(url); notice(`link copied${note}`); } catch { notice(`copy the link below${note}`); box.select(); }
  } catch (e) {
    showError(errText(e));
  }
}

function specToRecord(spec) {
  const [kind, a, ...rest] = spec.split(":");
  if (kind === "checkpoint") return { kind, id: a };
  if (kind === "planner") return { kind, planner: rest.join(":"), style: a };
  if (kind === "random") return { kind, seed: a };
  return { kind: "human" };
}

function recordToSpec(r) {
  if (r.kind === "checkpoint") return `checkpoint:${r.id}`;
  if (r.kind === "planner") return `planner:${r.style ?? "when2ask"}:${r.planner}`;
  if (r.kind === "random") return `random:${r.seed}`;
  return "human";
}

// Replays an episode exactly and says so, or says why it cannot.
async function openEpisode(ep) {
  if (!envIds().includes(ep.env)) throw new Error(`the link's env ${ep.env} is not in this build`);
  $("env").value = ep.env;
  $("seed").value = ep.seed.toString();
  const missing = [];
  for (const spec of ep.agents) {
    if (!spec.startsWith("checkpoint:") || registry.has(spec)) continue;
    const id = spec.slice("checkpoint:".length);
    try { await loadCheckpointBytes(await fetchCheckpoint(id), `checkpoint ${id.slice(0, 12)}…`); } catch (e) { missing.push(errText(e)); }
  }
  for (const spec of ep.agents) {
    if (!registry.has(spec)) registry.set(spec, { label: spec, spec, alias: true, make: () => { throw new Error(`agent ${spec} is not available here`); } });
  }
  if (ep.agents.length > 1) {
    if (!(await startCompare(ep.agents, ep.actions))) return;
    newSession();
  } else {
    state.session = Session.fromActions(ep.env, BigInt(ep.seed), ep.actions[0] ?? new Uint8Array());
    state.timeline = [];
    const note = await takeOver(ep.agents[0]);
    if (note) missing.push(note);
  }
  const steps = ep.actions.map((a) => a.length).join(" + ");
  notice(`replayed the shared episode exactly: ${ep.env}, seed ${ep.seed}, ${steps} steps` + (missing.length ? ` (${missing.join("; ")})` : ""));
  renderTranscript();
  // Drawn now, not at the next frame: whoever sees `replayed` must see the replayed episode.
  render();
  document.body.dataset.replayed = "1";
}

// The agent named by a shared episode's `spec` takes over the main board, rebuilt as if it had
// played the episode so far; when it is not available here the replay stands without it.
async function takeOver(spec) {
  const key = registry.has(`${spec}@server`) ? `${spec}@server` : spec;
  const entry = registry.get(key);
  if (!entry || spec === "human") return "";
  try {
    await prepare(key);
    const agent = entry.make();
    if (!agent) return "";
    // An LLM agent replays its asks with the answers of the stored transcript.
    if (agent.isLlm) for (const t of state.transcript) if (!t.agent) agent.keepAnswer(t.step, t.answer, t.latency_ms ?? 0, !!t.cached);
    pause();
    state.agent = agent;
    state.agentKey = key;
    $("agent").value = key;
    $("agent-label").textContent = agent.label;
    return agent.rebuild(state.session, true) ? "" : "the agent's LLM answers could not be replayed: it starts from what it sees now";
  } catch { return ""; /* not available here (e.g. a deleted checkpoint): the replay stands */ }
}

async function openFromHash() {
  const h = location.hash;
  try {
    if (h.startsWith("#s=")) {
      const link = shareDecode(decodeURIComponent(h.slice(3)));
      const agents = link.agents();
      await openEpisode({ env: link.env, seed: link.seed, agents, actions: agents.map((_, i) => link.actions(i)) });
      return true;
    }
    if (h.startsWith("#ep=")) {
      const id = h.slice(4);
      const res = await fetch(`/api/episodes/${encodeURIComponent(id)}`);
      if (!res.ok) throw new Error(`shared episode ${id} cannot be opened: ${await apiError(res)}`);
      const r = await res.json();
      if (r.v !== 1) throw new Error(`shared episode ${id} has format version ${r.v}; this page reads version 1`);
      state.transcript = (r.transcript ?? []).map((t) => ({ ...t, llm: true, main: r.agents.length === 1 }));
      renderTranscript();
      await openEpisode({ env: r.env, seed: parseSeed(r.seed), agents: r.agents.map(recordToSpec), actions: r.actions.map((a) => Uint8Array.from(a)) });
      return true;
    }
  } catch (e) {
    showError(`cannot open the shared link: ${errText(e)}`);
    document.body.dataset.replayed = "0";
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// GIF export

function exportGif() {
  try {
    const s = state.compare.length ? state.compare[0].session : state.session;
    const bytes = s.exportGif(16, 15);
    const url = URL.createObjectURL(new Blob([bytes], { type: "image/gif" }));
    const a = document.createElement("a");
    a.href = url; a.download = `${s.envId}-seed${s.seed}.gif`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notice(`GIF of ${s.stepCount} steps: ${(bytes.length / 1024).toFixed(1)} KB`);
  } catch (e) {
    showError(errText(e));
  }
}

// ---------------------------------------------------------------------------------------------

async function main() {
  await init();
  // For tests and `make bench-browser`: the shell's classes.
  window.gridmentor = { Session, Agent, shareEncode, shareDecode };
  state.names = actionNames();
  const ids = envIds();
  const params = new URLSearchParams(location.search);
  for (const id of ids) $("env").add(new Option(id, id));
  $("env").value = params.get("env") && ids.includes(params.get("env")) ? params.get("env") : "MiniGrid-DoorKey-8x8-v0";
  if (params.get("seed")) $("seed").value = params.get("seed");

  addAgent("human", { label: "you (keyboard)", spec: "human", make: () => null });
  addAgent("expert:when2ask", { label: "planner + skills: scripted expert, not an LLM (when2ask)", spec: "planner:when2ask:gridmentor-expert", make: () => Agent.expert("when2ask") });
  addAgent("expert:llm4teach", { label: "planner + skills: scripted expert, not an LLM (llm4teach)", spec: "planner:llm4teach:gridmentor-expert", make: () => Agent.expert("llm4teach") });
  addAgent("random:1", { label: "random actions", spec: "random:1", make: () => Agent.random(1n) });
  // Share links name agents by spec; these specs are the built-in experts.
  registry.set("planner:when2ask:gridmentor-expert", { ...registry.get("expert:when2ask"), alias: true });
  registry.set("planner:llm4teach:gridmentor-expert", { ...registry.get("expert:llm4teach"), alias: true });

  $("reset").addEventListener("click", reset);
  $("env").addEventListener("change", reset);
  $("seed").addEventListener("change", reset);
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("fog").addEventListener("change", redraw);
  $("copy-link").addEventListener("click", copyLink);
  $("export-gif").addEventListener("click", exportGif);
  $("leaderboard").addEventListener("click", () => {
    $("leaderboard-box").open = true;
    $("leaderboard-box").scrollIntoView({ block: "start" });
    loadLeaderboard();
  });
  $("leaderboard-box").addEventListener("toggle", () => { if ($("leaderboard-box").open) loadLeaderboard(); });
  $("agent").addEventListener("change", async (e) => {
    try { await prepare(e.target.value); } catch (err) { showError(errText(err)); return; }
    selectAgent(e.target.value);
  });
  $("ckpt-file").addEventListener("change", onCheckpointFile);
  $("play").addEventListener("click", () => (state.playing ? pause() : play()));
  $("step").addEventListener("click", stepAgent);
  $("speed").addEventListener("input", () => { $("speed-val").textContent = $("speed").value; });
  $("compare-start").addEventListener("click", () => startCompare());
  $("compare-play").addEventListener("click", () => {
    state.comparePlaying = !state.comparePlaying;
    renderCompare();
    compareLoop();
  });
  $("compare-step").addEventListener("click", () => { state.comparePlaying = false; compareStep(); });
  $("eval-start").addEventListener("click", evaluate);
  $("eval-stop").addEventListener("click", () => { state.evalRun++; });
  window.addEventListener("resize", () => { redraw(); if (state.compare.length) renderCompare(); });
  window.addEventListener("hashchange", openFromHash);
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); e.shiftKey ? redo() : undo(); return; }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); return; }
    if (e.key in KEYS && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); act(KEYS[e.key]); }
  });

  reset();
  selectAgent("human");
  await Promise.all([loadServerCheckpoints(), loadModels()]);
  await openFromHash();
  document.body.dataset.ready = "1";
}

main().catch((e) => showError(`could not start the playground: ${errText(e)}`));
