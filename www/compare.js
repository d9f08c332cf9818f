// Compare: 2-4 agents play the same env and seed in lock-step, one card each, with their
// learning curves; a shared comparison replays from step 0 (play, step, scrubber).
import { Session } from "./pkg/gridmentor_web.js";
import { $, state, registry, showError, errText, parseSeed } from "./page.js";
import { drawSession } from "./board.js";
import { agentGroups, agentMove, prepare, unfitReason } from "./agents.js";
import { curveOf, renderCurves } from "./curves.js";

// The agents to pick, grouped by env like the "who plays" menu (the current env's first).
export function renderComparePick() {
  const box = $("compare-pick");
  const checked = new Set([...box.querySelectorAll("input:checked")].map((i) => i.value));
  box.replaceChildren();
  for (const g of agentGroups($("env").value)) {
    const keys = g.keys.filter((k) => k !== "human");
    if (!keys.length) continue;
    const set = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = g.label;
    set.append(legend);
    for (const key of keys) {
      const label = document.createElement("label");
      const cb = document.createElement("input");
      cb.type = "checkbox"; cb.value = key; cb.checked = checked.has(key);
      const text = document.createElement("span");
      text.textContent = registry.get(key).label;
      label.append(cb, " ", text);
      set.append(label);
    }
    box.append(set);
  }
}

// The picked agents in the order they joined the registry (the built-in ones first), whatever
// env's group is shown first.
export function pickedAgents() {
  const picked = new Set([...$("compare-pick").querySelectorAll("input:checked")].map((i) => i.value));
  return [...registry.keys()].filter((k) => picked.has(k));
}

// Starts a comparison of `keys` on the current env and seed; with `actions` (a shared episode)
// each card replays its actions instead of making its agent, from step 0: the recorded steps
// wait in each card's redo list. False when it cannot start.
export async function startCompare(keys = pickedAgents(), actions = null) {
  stopCompare();
  state.compareReplay = !!actions;
  if (keys.length < 2 || keys.length > 4) { showError(`pick 2 to 4 agents to compare (picked ${keys.length})`); return false; }
  const env = $("env").value;
  const seed = parseSeed($("seed").value);
  const box = $("compare");
  box.replaceChildren();
  state.compare = [];
  for (const [i, key] of keys.entries()) {
    const entry = registry.get(key);
    const label = entry?.label ?? key;
    const session = actions ? Session.fromActions(env, seed, actions[i]) : new Session(env, seed);
    if (actions) while (session.undo()) { /* back to step 0 */ }
    // A card whose agent cannot be made or cannot play this env stays, saying why.
    let agent = null, problem = "", curve = null;
    try {
      await prepare(key);
      const made = entry.make();
      curve = curveOf(made);
      if (actions) made?.free();
      else { agent = made; problem = unfitReason(agent, session, label); }
    } catch (e) { if (!actions) problem = `${label} cannot play: ${errText(e)}`; }
    const card = document.createElement("figure");
    card.className = "card";
    card.dataset.index = String(i);
    const canvas = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    card.append(canvas, cap);
    box.append(card);
    state.compare.push({ key, label, spec: agent?.spec ?? entry?.spec ?? key, model: entry?.model, agent, problem, session, canvas, cap, curve });
  }
  renderCurves(state.compare.map((c) => ({ label: c.label, curve: c.curve })));
  const unfit = state.compare.filter((c) => c.problem);
  if (unfit.length) showError(`${unfit.length} of the ${keys.length} agents cannot play ${env}: ${unfit[0].problem}`);
  else showError("");
  renderCompare();
  return true;
}

export function renderCompare() {
  for (const c of state.compare) {
    drawSession(c.canvas, c.session, { maxCss: 260 });
    const card = c.cap.parentElement;
    c.cap.textContent = c.problem || `${c.label}: step ${c.session.stepCount}, return ${c.session.totalReward.toFixed(3)}, ${c.session.status}`;
    card.dataset.status = c.problem ? "cannot play" : c.session.status;
    card.dataset.digest = c.session.digest();
    card.dataset.steps = String(c.session.stepCount);
  }
  // A replayed card is finished when its recorded steps are (a card that could not play has
  // none).
  const finished = (c) => (state.compareReplay ? !c.session.canRedo : c.session.isDone || c.problem);
  document.body.dataset.compareDone = state.compare.length && state.compare.every(finished) ? "1" : "0";
  $("compare-play").textContent = state.comparePlaying ? "Pause" : "Play";
  renderCompareReplay();
}

// The scrubber of a shared comparison: the step the cards are at, over the longest episode.
function renderCompareReplay() {
  const replay = state.compareReplay && state.compare.length > 0;
  $("compare-replay").hidden = !replay;
  if (!replay) { $("compare-step").disabled = false; return; }
  const at = Math.max(...state.compare.map((c) => c.session.stepCount));
  const total = Math.max(...state.compare.map((c) => c.session.stepCount + c.session.redoCount));
  $("compare-scrub").max = String(total);
  $("compare-scrub").value = String(at);
  $("compare-scrub-pos").textContent = `${at} / ${total}`;
  $("compare-step").disabled = !state.compare.some((c) => c.session.canRedo);
}

// Every card of a shared comparison at step `k` (a shorter episode stays at its end).
export function compareScrubTo(k) {
  if (!state.compareReplay) return;
  state.comparePlaying = false;
  for (const c of state.compare) {
    while (c.session.stepCount > k && c.session.undo()) { /* back */ }
    while (c.session.stepCount < k && c.session.redo()) { /* on */ }
  }
  renderCompare();
}

// The cards that still move: their agents play, or (a shared comparison) their recorded steps
// are left.
function liveCards() {
  if (state.compareReplay) return state.compare.filter((c) => c.session.canRedo);
  return state.compare.filter((c) => !c.session.isDone && c.agent && !c.problem);
}

// Play from the start when a shared comparison is at its end.
export function rewindIfReplayEnded() {
  if (state.compareReplay && !liveCards().length) compareScrubTo(0);
}

// One lock-step move of every card still playing; false when none is left.
export async function compareStep() {
  const live = liveCards();
  if (state.compareReplay) {
    for (const c of live) c.session.redo();
    renderCompare();
    return liveCards().length > 0;
  }
  try {
    await Promise.all(live.map((c) => agentMove(c.agent, c.session, state.compare.indexOf(c), c.model)));
  } catch (e) { showError(errText(e)); state.comparePlaying = false; }
  renderCompare();
  return live.length > 0 && liveCards().length > 0;
}

export async function compareLoop() {
  if (!state.comparePlaying) return;
  const more = await compareStep();
  if (!more) { state.comparePlaying = false; renderCompare(); return; }
  setTimeout(compareLoop, 1000 / Number($("speed").value));
}

export function stopCompare() {
  state.comparePlaying = false;
}

