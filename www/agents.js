// Agents and LLM calls: the registry of agents the page can make (built in, checkpoint files,
// the server's checkpoints and models), one move of an agent with the LLM answers it asks for,
// and the planner transcript.
import { Agent, AgentSpec, sha256Hex } from "./pkg/gridmentor_web.js";
import { $, state, registry, apiError, parseSeed } from "./page.js";

// Called after the registry changed (the agent menus are redrawn).
const listeners = [];
export function onAgentsChanged(fn) {
  listeners.push(fn);
}

// The menu key of checkpoint `id`: its greedy spec (core writes it); whether it plays greedy or
// sampled is the page's toggle (`samplingSeed`).
export function checkpointKey(id) {
  return AgentSpec.checkpoint(id).text;
}

// The sampling seed of checkpoint agents, or undefined when they play greedy.
export function samplingSeed() {
  return $("sampled").checked ? parseSeed($("sample-seed").value, "sampling seed") : undefined;
}

// The menu key of the agent named by `spec` (a share link's), with a sampled checkpoint's seed.
export function keyOfSpec(spec) {
  const s = AgentSpec.parse(spec);
  try {
    return s.kind === "checkpoint" ? { key: s.greedy().text, id: s.checkpointId, sampleSeed: s.sampleSeed } : { key: s.text };
  } finally { s.free(); }
}

// Checkpoint agents play as the link says: sampled with its seed, or greedy.
export function setSampling(sampleSeed) {
  $("sampled").checked = sampleSeed !== undefined;
  if (sampleSeed !== undefined) $("sample-seed").value = sampleSeed.toString();
}

export function addAgent(key, entry) {
  registry.set(key, entry);
  for (const fn of listeners) fn();
}

// The agents of the registry (aliases of share links left out) grouped by the env they were
// trained on: the current env's first, then those for any env, then the other envs'.
export function agentGroups(env) {
  const byEnv = new Map();
  for (const [key, entry] of registry) {
    if (entry.alias) continue;
    const e = entry.env ?? "";
    if (!byEnv.has(e)) byEnv.set(e, []);
    byEnv.get(e).push(key);
  }
  const groups = [];
  if (byEnv.has(env)) groups.push({ env, label: `trained on ${env} (this env)`, keys: byEnv.get(env) });
  if (byEnv.has("")) groups.push({ env: "", label: "any env", keys: byEnv.get("") });
  for (const e of [...byEnv.keys()].filter((e) => e && e !== env).sort()) {
    groups.push({ env: e, label: `trained on ${e}`, keys: byEnv.get(e) });
  }
  return groups;
}

// The "who plays" menu, grouped by env (the current env's group first).
export function renderAgentMenu() {
  const sel = $("agent");
  const chosen = state.agentKey;
  sel.replaceChildren(...agentGroups($("env").value).map((g) => {
    const group = document.createElement("optgroup");
    group.label = g.label;
    for (const key of g.keys) group.append(new Option(registry.get(key).label, key));
    return group;
  }));
  sel.value = chosen;
}

export function modelOf(key) {
  return registry.get(key)?.model ?? "";
}

async function llmAnswer(d, model) {
  const messages = d.promptRoles.map((role, i) => ({ role, content: d.promptContents[i] }));
  const t0 = performance.now();
  const res = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages }),
  });
  const latency = performance.now() - t0;
  if (!res.ok) throw new Error(`the planner ${model} failed: ${await apiError(res)}`);
  const j = await res.json();
  const answer = j.choices?.[0]?.message?.content ?? "";
  const cached = res.headers.get("x-cache") === "HIT";
  return { answer, latency, cached, usage: j.usage ?? {} };
}

// Thrown when undo / redo / reset overtook a move waiting for an LLM answer.
export class Overtaken extends Error {}

// One move of `agent` on `session`, fetching LLM answers as needed; records asks in the
// transcript. `main`: the main board, whose undone future of the transcript a new step replaces.
export async function agentMove(agent, session, index, model, main = false) {
  const gen = state.gen;
  for (let tries = 0; tries < 4; tries++) {
    const step = session.stepCount;
    const d = agent.play(session);
    if (!d.needsAnswer) {
      if (main) dropTranscriptFrom(step);
      if (d.asked && d.promptText) {
        state.transcript.push({ agent: index, step, prompt: d.promptText, answer: d.answer, latency_ms: d.latencyMs, cached: d.cached, llm: agent.isLlm, main });
        renderTranscript();
      }
      return d;
    }
    const r = await llmAnswer(d, model);
    if (gen !== state.gen) throw new Overtaken("the episode changed while the LLM answered");
    agent.supplyAnswer(r.answer, r.latency, r.cached, r.usage.prompt_tokens ?? 0, r.usage.completion_tokens ?? 0);
  }
  throw new Error("the planner did not give a usable answer");
}

// A new step at `step` on the main board replaces any undone future of the transcript.
export function dropTranscriptFrom(step) {
  const before = state.transcript.length;
  state.transcript = state.transcript.filter((t) => !t.main || t.step < step);
  if (state.transcript.length !== before) renderTranscript();
}

// Transcript entries of the episode as shown (undone steps hidden).
export function liveTranscript() {
  const n = state.session?.stepCount ?? 0;
  return state.transcript.filter((t) => !t.main || t.step < n);
}

export function renderTranscript() {
  const ol = $("transcript");
  ol.replaceChildren();
  const shown = liveTranscript();
  for (const t of shown) {
    const li = document.createElement("li");
    const head = document.createElement("p");
    head.textContent = `agent ${t.agent}, step ${t.step}: ${t.latency_ms.toFixed(1)} ms${t.cached ? " (cached)" : ""}`;
    const prompt = document.createElement("details");
    const sum = document.createElement("summary");
    sum.textContent = "prompt";
    const pre = document.createElement("pre");
    pre.textContent = t.prompt;
    prompt.append(sum, pre);
    const ans = document.createElement("pre");
    ans.className = "answer";
    ans.textContent = t.answer;
    li.append(head, prompt, ans);
    ol.append(li);
  }
  $("transcript-count").textContent = String(shown.length);
}

export async function loadCheckpointBytes(bytes, name) {
  const probe = Agent.checkpoint(bytes); // throws core's reason for a bad file
  const key = checkpointKey(sha256Hex(bytes));
  addAgent(key, { label: `${name} (${probe.label.replace(/, greedy$/, "")})`, spec: key, env: probe.trainedEnv, make: () => Agent.checkpoint(bytes, samplingSeed()) });
  probe.free();
  return key;
}

export async function fetchCheckpoint(id) {
  const res = await fetch(`/api/checkpoints/${id}`);
  if (res.status === 404) throw new Error(`checkpoint ${id.slice(0, 12)}… is not on this server (deleted, or never uploaded)`);
  if (!res.ok) throw new Error(`cannot fetch checkpoint ${id.slice(0, 12)}…: ${await apiError(res)}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function loadServerCheckpoints() {
  try {
    const res = await fetch(`/api/checkpoints`);
    if (!res.ok) return;
    const j = await res.json();
    for (const c of j.checkpoints ?? []) {
      const key = checkpointKey(c.id);
      if (registry.has(key)) continue;
      let bytes = null;
      const make = () => {
        if (!bytes) throw new Error("the checkpoint is still downloading");
        return Agent.checkpoint(bytes, samplingSeed());
      };
      const entry = { label: `${c.name} (${c.env}, server)`, spec: key, env: c.env, make, load: async () => { bytes ??= await fetchCheckpoint(c.id); } };
      addAgent(key, entry);
    }
  } catch { /* no checkpoint store on this server */ }
}

export async function loadModels() {
  try {
    const res = await fetch("/v1/models");
    if (!res.ok) return;
    const j = await res.json();
    for (const m of j.data ?? []) {
      for (const style of ["when2ask", "llm4teach"]) {
        let spec;
        try { spec = AgentSpec.planner(style, m.id).text; } catch { continue; /* a model name core cannot carry */ }
        const key = `${spec}@server`;
        const kind = m.llm ? "LLM" : "scripted expert, not an LLM";
        addAgent(key, { label: `planner + skills, ${m.id} via server (${kind}, ${style})`, spec, model: m.id, llm: true, make: () => Agent.llm(m.id, style) });
      }
    }
  } catch { /* no LLM endpoint on this server */ }
}

// Why `agent` (named `label`) cannot play `session`'s env, or "" when it can: it is reset for
// the episode, which checks that its network reads what this env's agent sees.
export function unfitReason(agent, session, label = agent.label) {
  try {
    agent.reset(session);
    return "";
  } catch (e) {
    const trained = agent.trainedEnv ? ` (trained on ${agent.trainedEnv})` : "";
    return `${label}${trained} cannot play ${session.envId}: ${e?.message ?? e}`;
  }
}

// Fetch what `key`'s agent needs before it can be made (a server checkpoint's bytes).
export async function prepare(key) {
  const e = registry.get(key);
  if (e?.load) await e.load();
}

// The agents every page has: the keyboard, the scripted expert in both styles, random actions.
export function addBuiltinAgents() {
  addAgent("human", { label: "you (keyboard)", spec: "human", make: () => null });
  for (const style of ["when2ask", "llm4teach"]) {
    const spec = AgentSpec.planner(style, "gridmentor-expert").text;
    addAgent(`expert:${style}`, { label: `planner + skills: scripted expert, not an LLM (${style})`, spec, make: () => Agent.expert(style) });
    // Share links name agents by spec; these specs are the built-in experts.
    registry.set(spec, { ...registry.get(`expert:${style}`), alias: true });
  }
  const random = Agent.random(1n);
  addAgent("random:1", { label: "random actions", spec: random.spec, make: () => Agent.random(1n) });
  random.free();
}
