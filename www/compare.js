// Compare: 2-4 agents play the same env and seed in lock-step, one card each.
import { Session } from "./pkg/gridmentor_web.js";
import { $, state, registry, showError, errText, parseSeed } from "./page.js";
import { drawSession } from "./board.js";
import { agentGroups, agentMove, prepare, unfitReason } from "./agents.js";

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
// each card replays its actions instead of making its agent. False when it cannot start.
export async function startCompare(keys = pickedAgents(), actions = null) {
  stopCompare();
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
    // A card whose agent cannot be made or cannot play this env stays, saying why.
    let agent = null, problem = "";
    if (!actions) {
      try {
        await prepare(key);
        agent = entry.make();
        problem = unfitReason(agent, session, label);
      } catch (e) { problem = `${label} cannot play: ${errText(e)}`; }
    }
    const card = document.createElement("figure");
    card.className = "card";
    card.dataset.index = String(i);
    const canvas = document.createElement("canvas");
    const cap = document.createElement("figcaption");
    card.append(canvas, cap);
    box.append(card);
    state.compare.push({ key, label, spec: agent?.spec ?? entry?.spec ?? key, model: entry?.model, agent, problem, session, canvas, cap });
  }
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
  }
  document.body.dataset.compareDone = state.compare.length && state.compare.every((c) => c.session.isDone || c.problem) ? "1" : "0";
  $("compare-play").textContent = state.comparePlaying ? "Pause" : "Play";
}

// The cards whose agents still move.
function liveCards() {
  return state.compare.filter((c) => !c.session.isDone && c.agent && !c.problem);
}

// One lock-step move of every card still playing; false when none is left.
export async function compareStep() {
  const live = liveCards();
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
