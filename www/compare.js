// Compare: 2-4 agents play the same env and seed in lock-step, one card each.
import { Session } from "./pkg/gridmentor_web.js";
import { $, state, registry, showError, errText, parseSeed } from "./page.js";
import { drawSession } from "./board.js";
import { agentMove, prepare } from "./agents.js";

export function renderComparePick() {
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

export function pickedAgents() {
  return [...$("compare-pick").querySelectorAll("input:checked")].map((i) => i.value);
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

export function renderCompare() {
  for (const c of state.compare) {
    drawSession(c.canvas, c.session, { maxCss: 260 });
    c.cap.textContent = `${c.label}: step ${c.session.stepCount}, return ${c.session.totalReward.toFixed(3)}, ${c.session.status}`;
    c.cap.parentElement.dataset.status = c.session.status;
    c.cap.parentElement.dataset.digest = c.session.digest();
  }
  document.body.dataset.compareDone = state.compare.length && state.compare.every((c) => c.session.isDone) ? "1" : "0";
  $("compare-play").textContent = state.comparePlaying ? "Pause" : "Play";
}

// One lock-step move of every card still playing; false when none is left.
export async function compareStep() {
  const live = state.compare.filter((c) => !c.session.isDone && c.agent);
  try {
    await Promise.all(live.map((c, i) => agentMove(c.agent, c.session, i, c.model)));
  } catch (e) { showError(errText(e)); state.comparePlaying = false; }
  renderCompare();
  return live.length > 0 && state.compare.some((c) => !c.session.isDone && c.agent);
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
