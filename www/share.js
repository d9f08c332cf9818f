// Share links and GIF export: /#s=<code> (self-contained, core's codec) or /#ep=<id> (stored
// by the server with the LLM transcript); opening one replays the episode exactly.
import { Session, envIds, shareEncode, shareDecode, episodeRecord, episodeRead } from "./pkg/gridmentor_web.js";
import { $, state, registry, showError, notice, errText, apiError } from "./page.js";
import { liveTranscript, renderTranscript, loadCheckpointBytes, fetchCheckpoint, prepare, keyOfSpec, setSampling } from "./agents.js";
import { startCompare } from "./compare.js";
import { newSession, render, pause, openAtStart } from "./play.js";

function currentEpisode() {
  if (state.compare.length) {
    return { env: state.compare[0].session.envId, seed: state.compare[0].session.seed,
      agents: state.compare.map((c) => c.spec), actions: state.compare.map((c) => c.session.actions()) };
  }
  const s = state.session;
  // The agent knows its spec (a checkpoint's says greedy or sampled with which seed).
  const spec = state.agent ? state.agent.spec : "human";
  return { env: s.envId, seed: s.seed, agents: [spec], actions: [s.actions()] };
}

export async function copyLink() {
  try {
    const ep = currentEpisode();
    let url = `${location.origin}${location.pathname}#s=${shareEncode(ep.env, ep.seed, ep.agents, ep.actions)}`;
    let note = "";
    // The scripted expert's asks are replayed by core; an LLM's answers must be stored.
    const kept = state.compare.length ? state.transcript.filter((t) => !t.main) : liveTranscript();
    if (kept.some((t) => t.llm)) {
      // Core writes and checks the record the server stores.
      const body = episodeRecord(ep.env, ep.seed, ep.agents, ep.actions, JSON.stringify(kept));
      const res = await fetch("/api/episodes", { method: "POST", headers: { "content-type": "application/json" }, body });
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

// Replays an episode exactly and says so, or says why it cannot.
async function openEpisode(ep) {
  if (!envIds().includes(ep.env)) throw new Error(`the link's env ${ep.env} is not in this build`);
  $("env").value = ep.env;
  $("seed").value = ep.seed.toString();
  const missing = [];
  for (const spec of ep.agents) {
    const { key, id, sampleSeed } = keyOfSpec(spec);
    if (sampleSeed !== undefined) setSampling(sampleSeed);
    if (!id || registry.has(key)) continue;
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
    const acts = ep.actions[0] ?? new Uint8Array();
    openAtStart(ep.agents[0] === "human" ? Array.from(acts, () => null) : decisionsOf(ep.agents[0], ep.env, ep.seed, acts));
  }
  const steps = ep.actions.map((a) => a.length).join(" + ");
  notice(`replayed the shared episode exactly: ${ep.env}, seed ${ep.seed}, ${steps} steps` + (missing.length ? ` (${missing.join("; ")})` : ""));
  renderTranscript();
  // Drawn now, not at the next frame: whoever sees `replayed` must see the replayed episode.
  render();
  document.body.dataset.replayed = "1";
}

// What the agent named by `spec` decided at each step of a shared episode (its probabilities
// for the timeline and beside the board), worked out by a copy of it that plays the recorded
// actions. The list stops where the copy cannot go on (an LLM agent would need answers).
function decisionsOf(spec, env, seed, actions) {
  const own = keyOfSpec(spec);
  const entry = registry.get(registry.has(`${own.key}@server`) ? `${own.key}@server` : own.key);
  const out = [];
  if (!entry || entry.llm) return out;
  let agent = null;
  const s = new Session(env, BigInt(seed));
  try {
    agent = entry.make();
    if (!agent) return out;
    agent.reset(s);
    for (const a of actions) {
      const d = agent.decide(s);
      if (d.needsAnswer) break;
      out.push(d);
      s.step(a);
      agent.observe(s);
    }
  } catch { /* the list stops where the copy could not go on */ }
  agent?.free();
  s.free();
  return out;
}

// The agent named by a shared episode's `spec` takes over the main board, rebuilt as if it had
// played the episode so far; when it is not available here the replay stands without it.
async function takeOver(spec) {
  const own = keyOfSpec(spec);
  setSampling(own.sampleSeed);
  const key = registry.has(`${own.key}@server`) ? `${own.key}@server` : own.key;
  const entry = registry.get(key);
  if (!entry || spec === "human") return "";
  try {
    await prepare(key);
    const agent = entry.make();
    if (!agent) return "";
    // An LLM agent replays its calls with the replies of the stored transcript (the scores
    // of a scoring planner's calls, the answers, usable or not, of a generating one's).
    if (agent.isLlm) {
      for (const t of state.transcript) {
        if (t.agent) continue;
        if (t.scores?.length) {
          agent.keepScores(t.step, t.scores.map((c) => c.candidate), Float64Array.from(t.scores, (c) => c.logprob), Uint32Array.from(t.scores, (c) => c.tokens ?? 0), t.latency_ms ?? 0);
        } else {
          agent.keepAnswer(t.step, t.answer, t.latency_ms ?? 0, !!t.cached);
        }
      }
    }
    pause();
    state.agent = agent;
    state.agentKey = key;
    state.agentProblem = "";
    $("agent").value = key;
    $("agent-label").textContent = agent.label;
    return agent.rebuild(state.session, true) ? "" : "the agent's LLM answers could not be replayed: it starts from what it sees now";
  } catch { return ""; /* not available here (e.g. a deleted checkpoint): the replay stands */ }
}

export async function openFromHash() {
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
      // Core reads and checks the record (its version, agents and actions).
      let ep;
      try { ep = episodeRead(await res.text()); } catch (e) { throw new Error(`shared episode ${id}: ${errText(e)}`); }
      const agents = ep.agents();
      state.transcript = JSON.parse(ep.transcriptJson()).map((t) => ({ ...t, llm: true, main: agents.length === 1, spec: agents[t.agent] }));
      renderTranscript();
      await openEpisode({ env: ep.env, seed: ep.seed, agents, actions: agents.map((_, i) => ep.actions(i)) });
      return true;
    }
  } catch (e) {
    showError(`cannot open the shared link: ${errText(e)}`);
    document.body.dataset.replayed = "0";
  }
  return false;
}

// An agent's spec as a word of a file name: a checkpoint's id cut to 12 digits, no colons.
function fileWord(spec) {
  return spec.replace(/^checkpoint:([0-9a-f]{12})[0-9a-f]*/, "checkpoint-$1").replace(/[^A-Za-z0-9._-]+/g, "-");
}

// An animated GIF of the episode on the main board (or the first compare card), by core.
export function exportGif() {
  try {
    const s = state.compare.length ? state.compare[0].session : state.session;
    const spec = state.compare.length ? state.compare[0].spec : (state.agent?.spec ?? "human");
    const tile = Number($("gif-tile").value), delayCs = Number($("gif-frame").value);
    const bytes = s.exportGif(tile, delayCs);
    const url = URL.createObjectURL(new Blob([bytes], { type: "image/gif" }));
    const a = document.createElement("a");
    a.href = url; a.download = `${s.envId}-seed${s.seed}-${fileWord(spec)}.gif`;
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    notice(`GIF of ${s.stepCount} steps: ${(bytes.length / 1024).toFixed(1)} KB`);
  } catch (e) {
    showError(errText(e));
  }
}

