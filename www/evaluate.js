// Evaluate: the picked agents on N seeds, in slices so the page stays responsive; a table and
// a chart of success rates.
import { $, state, registry, showError, errText, parseSeed } from "./page.js";
import { prepare } from "./agents.js";
import { reset, selectAgent } from "./play.js";
import { wilsonInterval } from "./pkg/gridmentor_web.js";

// Evaluates the picked agents (LLM agents are the server's to evaluate) on the env shown, one
// row each; an agent that cannot be made or cannot play this env gets a row saying why.
export async function evaluate(picked) {
  const keys = picked.filter((k) => !registry.get(k)?.llm);
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
    const tr = tbody.insertRow();
    tr.dataset.key = key;
    const r = { key, label: registry.get(key).label, agent: null, problem: "", tr, n: 0, wins: 0, ret: 0, steps: 0, calls: 0, failed: [] };
    try {
      await prepare(key);
      r.agent = registry.get(key).make();
    } catch (e) { r.problem = `cannot be made: ${errText(e)}`; }
    rows.push(r);
  }
  let done = 0;
  $("eval-progress").max = n * rows.length;
  document.body.dataset.evalDone = "0";
  showError("");
  for (const r of rows) {
    if (!r.problem) {
      try {
        await playEpisodes(r, env, seed0, n, (m) => {
          done += m;
          fillRow(r);
          $("eval-progress").value = done;
          return run === state.evalRun;
        });
      } catch (e) { r.problem = `cannot play ${env}: ${errText(e)}`; }
    }
    if (run !== state.evalRun) return; // stopped or restarted
    if (r.problem) {
      done += n - r.n;
      fillRow(r);
      showError(`${r.label} ${r.problem}`);
    }
  }
  drawChart(rows.filter((r) => !r.problem));
  document.body.dataset.evalDone = "1";
}

// Plays `n` episodes of `r.agent` from seed `seed0` on with core's evaluation (the one the
// trainer and the server's leaderboard run, so the figures match theirs for the same seeds), in
// chunks that keep the page responsive, adding them up in `r`; after each chunk
// `slice(episodes)` says whether to go on. Each episode plays the same whatever the chunking.
async function playEpisodes(r, env, seed0, n, slice) {
  let chunk = 1;
  for (let k = 0; k < n;) {
    const m = Math.min(chunk, n - k);
    const t0 = performance.now();
    const e = r.agent.evaluate(env, seed0 + BigInt(k), m);
    r.n += e.episodes; r.wins += e.wins; r.ret += e.returnSum; r.steps += e.stepSum; r.calls += e.plannerCalls;
    for (const s of e.failedSeeds) if (r.failed.length < 8) r.failed.push(s);
    e.free();
    k += m;
    if (performance.now() - t0 < 15 && chunk < 256) chunk *= 2;
    await new Promise((res) => setTimeout(res, 0));
    if (!slice(m)) return;
  }
}

// Opens the episode of `seed` on the board with the agent of `key`.
function openSeed(key, seed) {
  $("seed").value = String(seed);
  reset();
  selectAgent(key);
  $("grid").focus();
  $("grid").scrollIntoView({ block: "nearest" });
}

function fillRow(r) {
  const td = (text) => { const c = document.createElement("td"); c.textContent = String(text); return c; };
  if (r.problem) {
    const why = td(r.problem);
    why.colSpan = 7;
    why.className = "why";
    r.tr.replaceChildren(td(r.label), why);
    r.tr.dataset.problem = r.problem;
    return;
  }
  const [lo, hi] = wilsonInterval(r.wins, r.n);
  const cells = [r.label, r.n, (r.wins / r.n).toFixed(3), `${lo.toFixed(3)}–${hi.toFixed(3)}`, (r.ret / r.n).toFixed(3), (r.steps / r.n).toFixed(1), (r.calls / r.n).toFixed(2)].map(td);
  const failed = td("");
  failed.className = "failed";
  for (const seed of r.failed) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = String(seed);
    b.title = `open the episode of seed ${seed} with this agent`;
    b.addEventListener("click", () => openSeed(r.key, seed));
    failed.append(b, " ");
  }
  r.tr.replaceChildren(...cells, failed);
}

// One row per agent: its label on the page's background (14:1), then its success-rate bar
// (5.4:1 against the page); a label drawn over the bar had 2.7:1.
function drawChart(rows) {
  const canvas = $("eval-chart");
  const rowH = 36;
  const h = rowH * rows.length + 4;
  const width = Math.min(560, canvas.parentElement.clientWidth || 560);
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`; canvas.style.height = `${h}px`;
  canvas.width = width * dpr; canvas.height = h * dpr;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, h);
  ctx.font = "13px system-ui, sans-serif";
  ctx.textBaseline = "alphabetic";
  rows.forEach((r, i) => {
    const rate = r.n ? r.wins / r.n : 0;
    const y = i * rowH;
    ctx.fillStyle = "#e6e6e6";
    ctx.fillText(`${(rate * 100).toFixed(0)}% ${r.label}`.slice(0, Math.floor(width / 6.5)), 0, y + 14);
    ctx.fillStyle = "#4c8bf5";
    ctx.fillRect(0, y + 19, Math.max(2, width * rate), 12);
  });
  canvas.setAttribute("aria-label", `success rate per agent: ${rows.map((r) => `${r.label} ${(100 * (r.n ? r.wins / r.n : 0)).toFixed(0)}%`).join(", ")}`);
}

// Stops a running evaluation (what it measured so far stays in the table).
export function stopEvaluate() {
  state.evalRun++;
}
