// The leaderboard: the server's held-out evaluations of its stored checkpoints, for the current
// env; "Watch" hands the checkpoint to the main board, which plays it.
import { $, state, registry, showError, errText, apiError } from "./page.js";
import { checkpointKey, loadServerCheckpoints, prepare } from "./agents.js";

let watch = () => {};

// `fn(key)`: what "Watch" does with a checkpoint's agent key.
export function onWatch(fn) {
  watch = fn;
}

export async function loadLeaderboard() {
  const env = $("env").value;
  const url = `/api/leaderboard?env=${encodeURIComponent(env)}`;
  const run = ++state.leaderboardRun;
  $("leaderboard-env").textContent = env;
  $("leaderboard-json").href = url;
  $("leaderboard-status").textContent = "loading…";
  let entries = [], baselines = [], msg = "";
  try {
    const res = await fetch(url);
    if (res.ok) ({ entries = [], baselines = [] } = await res.json());
    else msg = `the server has no leaderboard for ${env}: ${await apiError(res)}`;
  } catch (e) {
    msg = `no leaderboard on this server (${errText(e)})`;
  }
  // A checkpoint stored after the page loaded is not in the agent menu yet.
  if (entries.some((c) => !registry.has(checkpointKey(c.id)))) await loadServerCheckpoints();
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
    const key = checkpointKey(c.id);
    const b = document.createElement("button");
    b.textContent = "Watch";
    b.disabled = !registry.has(key);
    b.addEventListener("click", async () => {
      try { await prepare(key); } catch (e) { showError(errText(e)); return; }
      watch(key);
    });
    tr.insertCell().append(b);
  });
  // The baselines (no checkpoint) and the embedded LLM's planner, evaluated by the server on
  // the same held-out seeds (the LLM on the first of them, in the background).
  let evaluating = false;
  for (const c of baselines) {
    const tr = body.insertRow();
    const llm = c.agent.startsWith("planner:") && !c.agent.endsWith(":gridmentor-expert");
    tr.className = llm ? "baseline llm" : "baseline";
    tr.dataset.agent = c.agent;
    tr.dataset.status = c.status ?? "done";
    const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(1)}%` : "–");
    const num = (x, d) => (typeof x === "number" ? x.toFixed(d) : "–");
    const waiting = c.status === "pending" || c.status === "running";
    evaluating ||= waiting;
    const success = waiting ? "evaluating…" : c.error ? "cannot play" : pct(c.success_rate);
    // The episode count is the row's own when it differs from the checkpoints' (the LLM's).
    const name = llm ? `${c.name}, ${c.episodes} seeds` : c.name;
    const cells = ["–", name, llm ? "LLM planner" : "baseline", "–", success, num(c.mean_return, 3), num(c.mean_steps, 1)];
    for (const t of cells) tr.insertCell().textContent = t;
    if (c.error) tr.cells[4].title = c.error;
    // The page's agent of the same spec: for the LLM row, the page's planner via the server,
    // which ranks the plans by score as this row's agent did.
    const key = [...registry].find(([, e]) => e.spec === c.agent && !e.alias)?.[0];
    const b = document.createElement("button");
    b.textContent = "Watch";
    b.disabled = !key || !!c.error;
    b.addEventListener("click", () => watch(key));
    tr.insertCell().append(b);
  }
  $("leaderboard-status").textContent = msg || (entries.length ? "" : `no checkpoint has been evaluated on ${env} yet`);
  // Ask again while the LLM row is being evaluated, as long as the same env is shown.
  clearTimeout(recheck);
  if (evaluating && !msg) recheck = setTimeout(() => { if (run === state.leaderboardRun && $("leaderboard-box").open) loadLeaderboard(); }, 5000);
}

let recheck = 0;
