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
  // The baselines (no checkpoint), evaluated by the server on the same held-out seeds.
  for (const c of baselines) {
    const tr = body.insertRow();
    tr.className = "baseline";
    tr.dataset.agent = c.agent;
    const pct = (x) => (typeof x === "number" ? `${(100 * x).toFixed(1)}%` : "–");
    const num = (x, d) => (typeof x === "number" ? x.toFixed(d) : "–");
    const cells = ["–", c.name, "baseline", "–", c.error ? "cannot play" : pct(c.success_rate), num(c.mean_return, 3), num(c.mean_steps, 1)];
    for (const t of cells) tr.insertCell().textContent = t;
    if (c.error) tr.cells[4].title = c.error;
    const key = [...registry].find(([, e]) => e.spec === c.agent && !e.alias)?.[0];
    const b = document.createElement("button");
    b.textContent = "Watch";
    b.disabled = !key || !!c.error;
    b.addEventListener("click", () => watch(key));
    tr.insertCell().append(b);
  }
  $("leaderboard-status").textContent = msg || (entries.length ? "" : `no checkpoint has been evaluated on ${env} yet`);
}
