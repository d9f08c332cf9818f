// The playground page: loads the wasm shell (all game logic is core's), registers the agents
// and wires the controls to the modules (board, play, agents, compare, evaluate, share). Seeds
// are BigInt.
import init, { Session, Agent, envIds, actionNames, shareEncode, shareDecode } from "./pkg/gridmentor_web.js";
import { $, state, showError, notice, errText, apiError } from "./page.js";
import { addBuiltinAgents, loadCheckpointBytes, loadServerCheckpoints, loadModels, onAgentsChanged, prepare, renderAgentMenu } from "./agents.js";
import { reset, act, undo, redo, play, pause, stepAgent, selectAgent, redraw, toggleReplay, scrubTo } from "./play.js";
import { renderComparePick, startCompare, renderCompare, compareStep, compareLoop, compareScrubTo, rewindIfReplayEnded, pickedAgents } from "./compare.js";
import { evaluate, stopEvaluate } from "./evaluate.js";
import { copyLink, exportGif, openFromHash } from "./share.js";
import { loadLeaderboard, onWatch } from "./leaderboard.js";

const KEYS = { ArrowLeft: 0, ArrowRight: 1, ArrowUp: 2, p: 3, d: 4, " ": 5, Enter: 6 };

// When an arrow key last went to the env menu (a change it makes keeps the focus there).
let envArrowAt = -Infinity;

// Game keys act only where no control has its own use for them: on the board (the canvas has
// the focus) or on the page itself. Buttons, toggles, menus, links and fields keep Enter, Space
// and the arrows.
function onGameKey(e) {
  const t = e.target;
  if (t !== document.body && t !== document.documentElement && t !== $("grid")) return;
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); e.shiftKey ? redo() : undo(); return; }
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") { e.preventDefault(); redo(); return; }
  if (e.key in KEYS && !e.ctrlKey && !e.metaKey && !e.altKey) { e.preventDefault(); act(KEYS[e.key]); }
}

async function onCheckpointFile(ev) {
  const file = ev.target.files?.[0];
  if (!file) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const key = await loadCheckpointBytes(bytes, file.name);
    selectAgent(key);
    notice(`loaded checkpoint ${file.name}`, { quiet: true });
    // Store it on the server so share links can name it (best effort).
    fetch(`/api/checkpoints?name=${encodeURIComponent(file.name.replace(/\.ckpt$/, ""))}`, {
      method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes,
    }).then(async (res) => {
      if (res.status === 404 || res.status === 405) notice(`loaded ${file.name}; this server does not store checkpoints, so share links replay its actions only`, { quiet: true });
      else if (!res.ok) notice(`loaded ${file.name}; the server refused to store it: ${await apiError(res)}`, { quiet: true });
    }).catch(() => {});
  } catch (e) {
    showError(`cannot load ${file.name}: ${errText(e)}`);
  } finally {
    ev.target.value = "";
  }
}

const INTRO_SEEN = "gridmentor.introSeen";

// The first-visit introduction, until it is dismissed (remembered in localStorage; shown every
// time where storage is refused).
function showIntro() {
  let seen = false;
  try { seen = localStorage.getItem(INTRO_SEEN) === "1"; } catch { /* storage refused */ }
  $("intro").hidden = seen;
  $("intro-close").addEventListener("click", () => {
    $("intro").hidden = true;
    try { localStorage.setItem(INTRO_SEEN, "1"); } catch { /* storage refused */ }
    $("grid").focus();
  });
}

async function main() {
  showIntro();
  await init();
  // For tests and `make bench-browser`: the shell's classes.
  window.gridmentor = { Session, Agent, shareEncode, shareDecode };
  state.names = actionNames();
  const ids = envIds();
  const params = new URLSearchParams(location.search);
  for (const id of ids) $("env").add(new Option(id, id));
  $("env").value = params.get("env") && ids.includes(params.get("env")) ? params.get("env") : "MiniGrid-DoorKey-8x8-v0";
  if (params.get("seed")) $("seed").value = params.get("seed");

  onAgentsChanged(renderAgentMenu);
  onAgentsChanged(renderComparePick);
  addBuiltinAgents();
  // Watch: the entry plays a new episode of the board's seed at once.
  onWatch((key) => {
    selectAgent(key);
    reset();
    $("grid").scrollIntoView({ block: "nearest" });
    play();
  });

  $("reset").addEventListener("click", reset);
  $("env").addEventListener("change", () => {
    reset();
    // Picked with the mouse (or Enter): the arrows are for the board again. Arrows on the
    // closed menu change the env too; those keep the focus, so one can go on browsing.
    if (performance.now() - envArrowAt > 300) $("grid").focus();
  });
  $("env").addEventListener("keydown", (e) => {
    if (e.key.startsWith("Arrow") || e.key === "Home" || e.key === "End") envArrowAt = performance.now();
    if (e.key === "Enter") { e.preventDefault(); $("grid").focus(); }
  });
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
  // Greedy or sampled (and the seed) is how a checkpoint agent is made: make it again.
  for (const id of ["sampled", "sample-seed"]) $(id).addEventListener("change", () => selectAgent(state.agentKey));
  for (const b of $("pad").querySelectorAll("button")) b.addEventListener("click", () => act(Number(b.dataset.action)));
  $("play").addEventListener("click", () => (state.playing ? pause() : play()));
  $("step").addEventListener("click", stepAgent);
  $("speed").addEventListener("input", () => { $("speed-val").textContent = $("speed").value; });
  $("replay-play").addEventListener("click", toggleReplay);
  $("replay-step").addEventListener("click", () => scrubTo(state.session.stepCount + 1));
  $("scrub").addEventListener("input", () => scrubTo(Number($("scrub").value)));
  $("compare-start").addEventListener("click", () => startCompare());
  $("compare-play").addEventListener("click", () => {
    if (!state.comparePlaying) rewindIfReplayEnded();
    state.comparePlaying = !state.comparePlaying;
    renderCompare();
    compareLoop();
  });
  $("compare-step").addEventListener("click", () => { state.comparePlaying = false; compareStep(); });
  $("compare-scrub").addEventListener("input", () => compareScrubTo(Number($("compare-scrub").value)));
  $("eval-start").addEventListener("click", () => evaluate(pickedAgents()));
  $("eval-stop").addEventListener("click", stopEvaluate);
  window.addEventListener("resize", () => { redraw(); if (state.compare.length) renderCompare(); });
  window.addEventListener("hashchange", openFromHash);
  document.addEventListener("keydown", onGameKey);

  reset();
  selectAgent("human");
  await Promise.all([loadServerCheckpoints(), loadModels()]);
  await openFromHash();
  document.body.dataset.ready = "1";
}

main().catch((e) => showError(`could not start the playground: ${errText(e)}`));
