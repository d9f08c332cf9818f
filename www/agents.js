// Agents and LLM calls: the registry of agents the page can make (built in, checkpoint files,
// the server's checkpoints and models), one move of an agent with the LLM answers it asks for,
// and the planner transcript.
import { Agent, AgentSpec, sha256Hex, planOf, candidateProbs, retryWaitMs } from "./pkg/gridmentor_web.js";
import { $, state, registry, apiError, parseSeed, notice } from "./page.js";

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
    if (s.kind === "checkpoint") return { key: s.greedy().text, id: s.checkpointId, sampleSeed: s.sampleSeed };
    // An LLM policy's menu entry is its greedy spec; the sampling toggle says how it plays.
    if (s.kind === "llm-policy") return { key: s.greedy().text, sampleSeed: s.sampleSeed };
    return { key: s.text };
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

// The `env` of agents that play any BabyAI-Text level (the LLM policies).
const BABYAI = "BabyAI-Text";

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
  // LLM policies play BabyAI-Text levels only: their group comes first on those.
  const babyai = byEnv.get(BABYAI) ?? [];
  byEnv.delete(BABYAI);
  const babyaiGroup = { env: BABYAI, label: "BabyAI-Text levels (LLM policy)", keys: babyai };
  if (babyai.length && env.startsWith("BabyAI-")) groups.push(babyaiGroup);
  if (byEnv.has(env)) groups.push({ env, label: `trained on ${env} (this env)`, keys: byEnv.get(env) });
  if (byEnv.has("")) groups.push({ env: "", label: "any env", keys: byEnv.get("") });
  for (const e of [...byEnv.keys()].filter((e) => e && e !== env).sort()) {
    groups.push({ env: e, label: `trained on ${e}`, keys: byEnv.get(e) });
  }
  if (babyai.length && !env.startsWith("BabyAI-")) groups.push(babyaiGroup);
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

// What the page sends a model that generates: a deterministic first answer (temperature 0 and
// 128 tokens, as the trainer's HTTP planner), which the server caches, and sampled retries, so
// that a retry after an unusable answer can differ from it.
const FIRST_TEMPERATURE = 0;
const RETRY_TEMPERATURE = 0.7;
const MAX_TOKENS = 128;
// Core bounds the calls of one decision (asks x retries, then it explores on its own); this
// only stops a move that would go on asking because of a fault in the page.
const MAX_CALLS_PER_MOVE = 16;

// Thrown when undo / redo / reset overtook a move waiting for an LLM answer.
export class Overtaken extends Error {}

// The LLM calls in flight, by agent index, shown in the status line while they last: what is
// asked (announced), and the time it has taken or the countdown to its retry (not announced).
const inFlight = new Map();
let clock = 0;

function renderLlmStatus() {
  const now = performance.now();
  const calls = [...inFlight.entries()];
  const said = calls.map(([agent, f]) => f.retryAt ? `agent ${agent}: ${f.what}: ${f.why}; waiting to retry` : `agent ${agent} ${f.what}`).join("; ");
  if ($("llm-status").textContent !== said) $("llm-status").textContent = said;
  $("llm-clock").textContent = calls.map(([, f]) => f.retryAt ? `retry in ${Math.max(0, Math.ceil((f.retryAt - now) / 1000))} s` : `${((now - f.t0) / 1000).toFixed(1)} s`).join("; ");
  $("llm-box").hidden = !calls.length;
  document.body.dataset.llmCalls = String(calls.length);
  document.body.dataset.llmWaits = String(calls.filter(([, f]) => f.retryAt).length);
  if (!calls.length) { clearInterval(clock); clock = 0; }
}

function track(agent, call) {
  inFlight.set(agent, call);
  if (!clock) clock = setInterval(renderLlmStatus, 200);
  renderLlmStatus();
}

function untrack(agent) {
  inFlight.delete(agent);
  renderLlmStatus();
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// One call for the reply decision `d` awaits: the scores of its candidates (`/v1/score`), or a
// generated answer (`/v1/chat/completions`). A call the server refuses for now (429, 5xx) waits
// as it asks (core's retry policy) with a countdown, then goes again; other failures throw.
async function llmCall(d, model, agent, gen) {
  const messages = d.promptRoles.map((role, i) => ({ role, content: d.promptContents[i] }));
  const candidates = d.candidates;
  const scoring = candidates.length > 0;
  const url = scoring ? "/v1/score" : "/v1/chat/completions";
  const body = scoring ? { model, messages, candidates }
    : { model, messages, temperature: d.attempt ? RETRY_TEMPERATURE : FIRST_TEMPERATURE, max_tokens: MAX_TOKENS };
  const what = scoring ? `asks ${model} to score ${candidates.length} plans`
    : `asks ${model} for a plan${d.attempt ? ` (retry ${d.attempt})` : ""}`;
  try {
    for (let retry = 0; ; retry++) {
      const t0 = performance.now();
      track(agent, { what, t0 });
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const latency = performance.now() - t0;
      if (gen !== state.gen) throw new Overtaken("the episode changed while the LLM answered");
      if (res.ok) return readReply(await res.json(), res, candidates, latency, model);
      const wait = retryWaitMs(res.status, retry, res.headers.get("retry-after-ms") ?? undefined, res.headers.get("retry-after") ?? undefined);
      const why = await apiError(res);
      if (wait === undefined) throw new Error(`the planner ${model} failed: ${why}`);
      track(agent, { what, t0, retryAt: performance.now() + wait, why: `HTTP ${res.status} (${why})` });
      await sleep(wait);
      if (gen !== state.gen) throw new Overtaken("the episode changed while the page waited to ask again");
    }
  } finally {
    untrack(agent);
  }
}

// A reply as the agent takes it, and as the transcript keeps it.
function readReply(j, res, candidates, latency, model) {
  const cached = res.headers.get("x-cache") === "HIT";
  if (!candidates.length) {
    const usage = j.usage ?? {};
    return { answer: j.choices?.[0]?.message?.content ?? "", latency, cached, promptTokens: usage.prompt_tokens ?? 0, completionTokens: usage.completion_tokens ?? 0 };
  }
  // Matched by text, as the server names each candidate.
  const byText = new Map((j.scores ?? []).map((s) => [s.candidate, s]));
  const scores = candidates.map((candidate) => {
    const s = byText.get(candidate);
    if (typeof s?.logprob !== "number") throw new Error(`the planner ${model} did not score the candidate "${candidate}"`);
    return { candidate, logprob: s.logprob, tokens: s.tokens ?? 0 };
  });
  return { scores, latency, cached, promptTokens: j.usage?.prompt_tokens ?? 0 };
}

// One move of `agent` on `session`, fetching the LLM replies it asks for; records every call in
// the transcript once the move is made. `main`: the main board, whose undone future of the
// transcript a new step replaces.
export async function agentMove(agent, session, index, model, main = false) {
  const gen = state.gen;
  const step = session.stepCount;
  const calls = [];
  for (;;) {
    const d = agent.play(session);
    if (!d.needsAnswer) {
      if (main) dropTranscriptFrom(step);
      // An LLM policy's answer is the action it took (sampled, not always the most likely).
      const texts = agent.actionTexts;
      if (texts.length && calls.length) calls[calls.length - 1].answer = texts[d.action] ?? "";
      // The scripted expert in the page answers without a call; its asks are shown too.
      if (!calls.length && d.asked && d.promptText && !agent.isLlm) {
        calls.push({ prompt: d.promptText, answer: d.answer, latency_ms: d.latencyMs, cached: d.cached });
      }
      if (calls.length) {
        for (const c of calls) state.transcript.push({ agent: index, step, ...c, llm: agent.isLlm, main });
        renderTranscript();
      }
      // Said once an episode: past its limit the agent explores without asking.
      if (agent.isLlm && agent.overLimit && document.body.dataset.overLimit !== String(index)) {
        document.body.dataset.overLimit = String(index);
        notice(`agent ${index} reached its limit of LLM calls or tokens for this episode (${agent.plannerCalls} calls): it explores on its own now`);
      }
      return d;
    }
    if (calls.length >= MAX_CALLS_PER_MOVE) throw new Error(`the planner ${model} was called ${calls.length} times for one move`);
    const r = await llmCall(d, model, index, gen);
    if (r.scores) {
      agent.supplyScores(Float64Array.from(r.scores, (s) => s.logprob), Uint32Array.from(r.scores, (s) => s.tokens), r.latency, r.promptTokens);
    } else {
      agent.supplyAnswer(r.answer, r.latency, r.cached, r.promptTokens, r.completionTokens);
    }
    const entry = { prompt: d.promptText, answer: r.answer ?? "", latency_ms: r.latency, cached: r.cached, spec: agent.spec };
    if (r.scores) {
      entry.scores = r.scores;
      entry.answer = ranked(r.scores, agent.spec)[0].candidate;
    }
    calls.push(entry);
  }
}

// A scored call's candidates with the probability the agent named by `spec` gives them (an
// LLM policy's softmax, else core's plan ranking), most likely first.
function ranked(scores, spec) {
  const p = candidateProbs(spec ?? "", Float64Array.from(scores, (s) => s.logprob), Uint32Array.from(scores, (s) => s.tokens));
  return scores.map((s, i) => ({ ...s, p: p[i] })).sort((a, b) => b.p - a.p);
}

// Is `spec` an LLM policy's (its calls score actions, not plans)? Core reads the spec.
function isPolicy(spec) {
  let s;
  try { s = AgentSpec.parse(spec ?? ""); } catch { return false; }
  try { return s.kind === "llm-policy"; } finally { s.free(); }
}

// What core makes of a transcript entry: the plan it runs, or why the answer was rejected (an
// LLM policy's answer is the action it took).
function readEntry(t) {
  if (isPolicy(t.spec)) return { plan: "", action: t.answer, rejected: "" };
  try {
    return { plan: planOf(t.answer), rejected: "" };
  } catch (e) {
    return { plan: "", rejected: e?.message ?? String(e) };
  }
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

// Candidates a scored call shows (with their probabilities); the rest are summed up.
const SHOWN_CANDIDATES = 3;

// Every call: the prompt, and side by side the raw answer (or the top scored candidates) and
// what core made of it (the plan, or why it was rejected).
export function renderTranscript() {
  const ol = $("transcript");
  ol.replaceChildren();
  const shown = liveTranscript();
  let rejected = 0;
  for (const t of shown) {
    const li = document.createElement("li");
    const { plan, action, rejected: why } = readEntry(t);
    const what = isPolicy(t.spec) ? "actions" : "plans";
    if (why) { rejected++; li.className = "rejected"; }
    const head = document.createElement("p");
    head.textContent = `agent ${t.agent}, step ${t.step}: ${t.latency_ms.toFixed(1)} ms${t.cached ? " (cached)" : ""}${t.scores?.length ? `, scored ${t.scores.length} ${what}` : ""}`;
    const prompt = document.createElement("details");
    const sum = document.createElement("summary");
    sum.textContent = "prompt";
    const pre = document.createElement("pre");
    pre.textContent = t.prompt;
    prompt.append(sum, pre);
    const pair = document.createElement("div");
    pair.className = "call";
    const ans = document.createElement("pre");
    ans.className = "answer";
    if (t.scores?.length) {
      const top = ranked(t.scores, t.spec);
      const lines = top.slice(0, SHOWN_CANDIDATES).map((c) => `${(c.p * 100).toFixed(1).padStart(5)}%  ${c.candidate}`);
      if (top.length > SHOWN_CANDIDATES) lines.push(`       (${top.length - SHOWN_CANDIDATES} more)`);
      ans.textContent = lines.join("\n");
      ans.setAttribute("aria-label", `the most likely ${what}`);
    } else {
      ans.textContent = t.answer;
      ans.setAttribute("aria-label", "the raw answer");
    }
    const read = document.createElement("p");
    read.className = "read";
    read.textContent = why ? `rejected: ${why}` : action !== undefined ? `action: ${action}` : `plan: ${plan}`;
    pair.append(ans, read);
    li.append(head, prompt, pair);
    ol.append(li);
  }
  $("transcript-count").textContent = String(shown.length);
  ol.dataset.rejected = String(rejected);
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
        const kind = !m.llm ? "scripted expert, not an LLM" : m.scores ? "LLM, scoring plans" : "LLM";
        addAgent(key, { label: `planner + skills, ${m.id} via server (${kind}, ${style})`, spec, model: m.id, llm: true, make: () => Agent.llm(m.id, style, !!m.scores) }); // the page's per-episode limits
      }
      // GLAM's LLM policy needs scores of the six action texts: an LLM the server can score,
      // at the temperature a grounded model was trained at (GLAM's 1 zero-shot).
      if (!m.llm || !m.scores) continue;
      const t = typeof m.policy_temperature === "number" ? m.policy_temperature : 1;
      let spec;
      try { spec = AgentSpec.llmPolicy(m.id, t).text; } catch { continue; }
      const grounded = typeof m.policy_temperature === "number" ? "grounded" : "zero-shot";
      addAgent(`${spec}@server`, { label: `LLM policy (GLAM), ${m.id} via server (${grounded}, temperature ${t})`, spec, model: m.id, llm: true, env: BABYAI, make: () => Agent.llmPolicy(m.id, t, samplingSeed()) });
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
