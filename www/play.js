// The main board's episode: a new episode, moves by keyboard or by the chosen agent, undo /
// redo, play / pause, and what is shown beside the board (status, timeline, the agent's decision).
import { Session, envIds } from "./pkg/gridmentor_web.js";
import { $, state, registry, showError, notice, errText, parseSeed } from "./page.js";
import { drawSession, drawView } from "./board.js";
import { agentMove, dropTranscriptFrom, renderTranscript, renderAgentMenu, modelOf, unfitReason, Overtaken } from "./agents.js";
import { renderComparePick } from "./compare.js";
import { loadLeaderboard } from "./leaderboard.js";

let dirty = false;
export function redraw() {
  if (dirty) return;
  dirty = true;
  requestAnimationFrame(() => { dirty = false; render(); });
}

export function render() {
  const s = state.session;
  if (!s) return;
  drawSession($("grid"), s, { fog: $("fog").checked });
  renderObservation(s);
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
  renderReplay();
}

// The replay bar of a shared episode: where the board is in the episode (the steps after it
// wait in the session's redo list, so any new move ends the replay there).
function renderReplay() {
  const s = state.session;
  $("replay").hidden = !state.replay;
  if (!state.replay) return;
  const total = s.stepCount + s.redoCount;
  $("scrub").max = String(total);
  $("scrub").value = String(s.stepCount);
  $("scrub-pos").textContent = `${s.stepCount} / ${total}`;
  $("replay-play").textContent = state.replay.timer ? "Pause replay" : "Play replay";
  $("replay-step").disabled = !s.canRedo;
}

// A shared episode opens at its first step: its steps go to the redo list, and `decisions[k]`
// (what the agent decided at step k, when it could be worked out) fills the timeline.
export function openAtStart(decisions) {
  const s = state.session;
  while (s.undo()) { /* back to step 0 */ }
  rebuildAgent();
  state.timeline = [];
  decisions.forEach((d, k) => recordStep(k, d));
  state.replay = { decisions, timer: 0 };
  showReplayed(0);
}

function showReplayed(k) {
  const d = state.replay?.decisions[k];
  showDecision(d ?? null);
}

// Move the shared episode to step `k` (the agent is rebuilt there, so Play continues from it).
export function scrubTo(k) {
  const s = state.session;
  if (!state.replay || !s) return;
  stopReplay();
  pause();
  state.gen++;
  while (s.stepCount > k && s.undo()) { /* back */ }
  while (s.stepCount < k && s.redo()) { /* on */ }
  rebuildAgent();
  showReplayed(s.stepCount);
  redraw();
  renderTranscript();
}

function stopReplay() {
  if (!state.replay?.timer) return;
  clearTimeout(state.replay.timer);
  state.replay.timer = 0;
  rebuildAgent();
  redraw();
}

// Play / pause the shared episode at the speed of the Speed slider.
export function toggleReplay() {
  if (!state.replay) return;
  if (state.replay.timer) { stopReplay(); return; }
  pause();
  if (!state.session.canRedo) scrubTo(0);
  const tick = () => {
    const s = state.session;
    if (!state.replay || !s.redo()) { if (state.replay) state.replay.timer = 0; rebuildAgent(); redraw(); return; }
    state.gen++;
    showReplayed(s.stepCount);
    renderTranscript();
    redraw();
    state.replay.timer = setTimeout(tick, 1000 / Number($("speed").value));
  };
  state.replay.timer = setTimeout(tick, 0);
  redraw();
}

// What the agent sees now: its view and memory map as core draws them, and the texts core
// writes for the planners.
function renderObservation(s) {
  drawView($("obs-view"), s);
  drawSession($("obs-map"), s, { fog: true, maxCss: 160 });
  const [w2a, l4t, babyai] = s.observationTexts();
  $("obs-when2ask").textContent = w2a;
  $("obs-llm4teach").textContent = l4t;
  $("obs-babyai").textContent = babyai || "–";
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
  box.setAttribute("aria-label", `timeline: ${steps.length} steps, ${asks} asked the planner`);
  box.dataset.steps = String(steps.length);
}

// The main board's agent chose step `step` with decision `d` (null: the keyboard did).
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
  // An LLM policy acts by text: its six action texts label the bars (done is not one of them).
  const texts = state.agent?.actionTexts ?? [];
  d.probs.forEach((p, i) => {
    if (texts.length && i >= texts.length) return;
    const tr = table.insertRow();
    tr.insertCell().textContent = texts.length ? texts[i] : state.names[i];
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

// A fresh episode of the env and seed the controls name (the agent is not told).
export function newSession() {
  delete document.body.dataset.overLimit;
  const seed = parseSeed($("seed").value);
  const env = $("env").value;
  state.session = new Session(env, seed);
  if (menuEnv !== env) {
    menuEnv = env;
    renderAgentMenu();
    renderComparePick();
  }
  if ($("leaderboard-env").textContent !== env) {
    $("leaderboard-env").textContent = env;
    if ($("leaderboard-box").open) loadLeaderboard();
  }
}
// The env the agent menus are grouped for (its group first).
let menuEnv = "";

export function reset() {
  pause();
  stopReplay();
  state.replay = null;
  try {
    newSession();
    state.transcript = [];
    state.timeline = [];
    state.gen++;
    renderTranscript();
    showError("");
    showDecision(null);
    resetAgent();
  } catch (e) {
    showError(errText(e));
  }
  redraw();
}

// The agent starts the new episode; one that cannot play this env stays chosen and says why
// (here and whenever it is asked to play).
function resetAgent() {
  if (!state.agent || !state.session) return;
  state.agentProblem = unfitReason(state.agent, state.session, registry.get(state.agentKey)?.label);
  if (state.agentProblem) showError(state.agentProblem);
}

// The keyboard (or an on-screen control) takes action `a`.
export function act(a) {
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
  if (!state.agent || !state.session || state.agentProblem) return;
  try {
    if (!state.agent.rebuild(state.session, false)) notice("the agent's LLM answers for this episode were not kept: it starts from what it sees now");
  } catch (e) { showError(errText(e)); }
}

export function undo() {
  pause();
  state.gen++;
  if (!state.session?.undo()) return;
  rebuildAgent();
  redraw();
  renderTranscript();
}

export function redo() {
  pause();
  state.gen++;
  if (!state.session?.redo()) return;
  rebuildAgent();
  redraw();
  renderTranscript();
}

// One move of the main board's agent, shown on the timeline and in the decision panel.
async function agentStep() {
  const s = state.session;
  const step = s.stepCount;
  const d = await agentMove(state.agent, s, 0, modelOf(state.agentKey), true);
  recordStep(step, d);
  showDecision(d);
}

async function tick() {
  const s = state.session;
  if (!state.playing || !s || !state.agent) return;
  if (s.isDone) { pause(); return; }
  try {
    await agentStep();
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

// Why the chosen agent cannot move now (shown instead of moving), or "".
function cannotPlay() {
  if (state.agentProblem) return state.agentProblem;
  if (!state.agent) return "pick an agent to play (or use the keyboard)";
  return "";
}

export function play() {
  if (state.session?.isDone) reset();
  const why = cannotPlay();
  if (why) { showError(why); return; }
  state.playing = true;
  redraw();
  tick();
}

export function pause() {
  state.playing = false;
  clearTimeout(state.timer);
  redraw();
}

export async function stepAgent() {
  if (state.session?.isDone) return;
  const why = cannotPlay();
  if (why) { showError(why); return; }
  pause();
  try { await agentStep(); } catch (e) { if (!(e instanceof Overtaken)) showError(errText(e)); }
  redraw();
}

// `assumeChosen`: the agent played the episode so far (a shared episode), so its history is
// replayed as its own decisions; otherwise it watched the steps made before it took over. An
// agent trained on another env moves the board to that env and says so; one that cannot play
// the board's env stays chosen and says why.
export function selectAgent(key, assumeChosen = false) {
  pause();
  state.agentKey = key;
  state.agentProblem = "";
  $("agent").value = key;
  const entry = registry.get(key);
  const label = entry?.label ?? key;
  let agent = null;
  try {
    agent = entry?.make() ?? null;
  } catch (e) {
    state.agentProblem = `${label} cannot play: ${errText(e)}`;
  }
  state.agent = agent;
  $("agent-label").textContent = agent ? agent.label : state.agentProblem ? label : "you, at the keyboard";
  const news = [];
  if (agent?.trainedEnv && agent.trainedEnv !== $("env").value) {
    if (envIds().includes(agent.trainedEnv)) {
      news.push(`${label} was trained on ${agent.trainedEnv}: the board switched to that env`);
      $("env").value = agent.trainedEnv;
      newSession();
      state.timeline = [];
      state.transcript = [];
      renderTranscript();
    }
  }
  if (agent) {
    try {
      if (!agent.rebuild(state.session, assumeChosen)) news.push("the agent's LLM answers for this episode are not here: it starts from what it sees now");
    } catch (e) {
      const trained = agent.trainedEnv && agent.trainedEnv !== state.session.envId ? ` (trained on ${agent.trainedEnv}, which this build lacks)` : "";
      state.agentProblem = `${label}${trained} cannot play ${state.session.envId}: ${errText(e)}`;
    }
  }
  if (state.agentProblem) showError(state.agentProblem);
  else if (news.length) notice(news.join("; "));
  else showError("");
  showDecision(null);
  redraw();
}
