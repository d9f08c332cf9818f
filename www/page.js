// What every part of the playground shares: the page's state, the agent registry, the one
// notice area, and small helpers for seeds and server errors.

export const $ = (id) => document.getElementById(id);

export const state = {
  session: null,
  agent: null,        // the Agent instance playing the main board, or null for the keyboard
  agentKey: "human",
  agentProblem: "",   // why the chosen agent cannot play the board's env ("" when it can)
  playing: false,
  timer: 0,
  transcript: [],     // {agent, step, prompt, answer, latency_ms, cached, llm, main}
  timeline: [],       // per step of the main board: {agent, asked, forced, pAsk, queries}
  gen: 0,             // bumped by undo / redo / reset: a move in flight for an older state is dropped
  replay: null,       // a shared episode on the main board: {decisions, timer}; null when none
  compare: [],        // {key, agent, session, canvas, done}
  comparePlaying: false,
  compareReplay: false, // the cards replay a shared comparison (from step 0) instead of playing
  evalRun: 0,
  leaderboardRun: 0,  // bumped per fetch: an answer for an env no longer shown is dropped
  names: [],
};

// Agents the page can make: key -> {label, spec, make()}.
export const registry = new Map();

// The notice area holds one message: an error replaces a notice and a notice an error. An
// empty message clears only its own kind. `quiet`: a notice that leaves an error standing (a
// background task's news must not hide why something failed).
export function showError(msg) {
  $("error").textContent = msg;
  $("error").hidden = !msg;
  if (msg) $("notice").hidden = true;
}

export function notice(msg, { quiet = false } = {}) {
  if (msg && quiet && !$("error").hidden) return;
  $("notice").textContent = msg;
  $("notice").hidden = !msg;
  if (msg) $("error").hidden = true;
}

export function errText(e) {
  return e?.message ?? String(e);
}

export function parseSeed(text, what = "seed") {
  const t = String(text).trim();
  if (!/^\d{1,20}$/.test(t)) throw new Error(`${what} must be a whole number from 0 to 2^64-1, got "${text}"`);
  const s = BigInt(t);
  if (s >= 1n << 64n) throw new Error(`${what} must be below 2^64`);
  return s;
}

export async function apiError(res) {
  try {
    const j = await res.json();
    return j?.error?.message ?? `HTTP ${res.status}`;
  } catch {
    return `HTTP ${res.status}`;
  }
}
