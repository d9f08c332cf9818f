//! `gridmentor train --algo skills-rl`: PPO choosing among the skills directly, no LLM. One
//! action of this option-level env runs a skill (explore; go to / pick up / toggle each object
//! kind (and colour, where a task has several of a kind) the task holds; drop) until it
//! finishes, fails, or `MAX_OPTION_STEPS` primitive steps pass; its reward is the env reward
//! summed over those steps. A skill that ends without acting costs one `done` step, so time
//! always passes. The policy reads the memory map.

use super::run::{self, RunSpec};
use crate::ppo::Envs;
use crate::ppo::vec_env::StepInfo;
use crate::train::TrainArgs;
use anyhow::Context;
use burn::tensor::Device;
use gridmentor_core::nn::{ActorCritic, Checkpoint, NetKind, NetSpec, ObsKind, Observer, policy};
use gridmentor_core::rng::Rng;
use gridmentor_core::skills::{Skill, SkillRun, SkillStep, Target};
use gridmentor_core::world::{Action, Color, Kind, Transition};
use gridmentor_core::{Env, registry};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// The most primitive steps one option may take.
pub const MAX_OPTION_STEPS: u32 = 30;

/// The options of `env_id`: what its layouts hold, probed over the first 64 seeds.
pub fn options(env_id: &str) -> anyhow::Result<Vec<Skill>> {
    let spec = registry::find(env_id)?;
    let mut colours: BTreeMap<Kind, BTreeSet<Color>> = BTreeMap::new();
    let mut several: BTreeSet<Kind> = BTreeSet::new();
    let mut objects = |world: &gridmentor_core::world::World| {
        let mut count: BTreeMap<Kind, usize> = BTreeMap::new();
        let carried = world.carrying.into_iter();
        for o in world.grid.objects().map(|(_, o)| o).chain(carried) {
            let mut push = |o: gridmentor_core::world::Obj| {
                let k = o.kind();
                if matches!(
                    k,
                    Kind::Key | Kind::Ball | Kind::Box | Kind::Door | Kind::Goal
                ) {
                    colours.entry(k).or_default().insert(o.color());
                    *count.entry(k).or_default() += 1;
                }
            };
            push(o);
            if let gridmentor_core::world::Obj::Box(_, Some(item)) = o {
                push(item.to_obj());
            }
        }
        several.extend(count.into_iter().filter(|&(_, n)| n > 1).map(|(k, _)| k));
    };
    for seed in 0..64 {
        objects(&Env::new(spec, seed).world);
    }
    let mut out = vec![Skill::Explore];
    for (kind, cs) in colours {
        let targets: Vec<Target> = if several.contains(&kind) {
            cs.into_iter().map(|c| Target::new(kind, Some(c))).collect()
        } else {
            vec![Target::new(kind, None)]
        };
        for t in targets {
            out.push(Skill::GoTo(t));
            if matches!(kind, Kind::Key | Kind::Ball | Kind::Box) {
                out.push(Skill::PickUp(t));
            }
            if matches!(kind, Kind::Door | Kind::Box) {
                out.push(Skill::Toggle(t));
            }
        }
    }
    out.push(Skill::Drop);
    Ok(out)
}

/// The policy network for `env`'s options.
pub fn net_spec(env: &Env, options: usize) -> NetSpec {
    NetSpec {
        net: NetKind::MemoryMapCnn,
        obs: ObsKind::MemoryMap {
            width: env.world.width() as u16,
            height: env.world.height() as u16,
        },
        actions: options,
    }
}

/// What running one option did.
#[derive(Clone, Copy, Debug, Default)]
pub struct OptionOutcome {
    pub reward: f32,
    pub steps: u32,
    pub terminated: bool,
    pub truncated: bool,
    /// The skill failed (object unseen, no path, locked door...).
    pub failed: bool,
}

/// Run `skill` in `env` until it ends (the observer keeps the memory map the skill reads).
pub fn run_option(env: &mut Env, observer: &mut Observer, skill: Skill) -> OptionOutcome {
    let mut run = SkillRun::new(skill);
    let mut out = OptionOutcome::default();
    let view = env.world.view_size;
    let take = |env: &mut Env, observer: &mut Observer, a: Action, out: &mut OptionOutcome| {
        let t: Transition = env.step(a);
        observer.update(env);
        out.reward += t.reward;
        out.steps += 1;
        out.terminated |= t.terminated;
        out.truncated |= t.truncated;
        t.terminated || t.truncated
    };
    while out.steps < MAX_OPTION_STEPS {
        let map = observer.memory_map().expect("a memory-map observer");
        match run.next(map, view) {
            SkillStep::Act(a) => {
                if take(env, observer, a, &mut out) {
                    return out;
                }
            }
            SkillStep::Finished => break,
            SkillStep::Failed(_) => {
                out.failed = true;
                break;
            }
        }
    }
    if out.steps == 0 {
        take(env, observer, Action::Done, &mut out);
    }
    out
}

/// Counters the training loop reads while PPO holds the envs.
#[derive(Default)]
pub struct Shared {
    /// Primitive env steps so far.
    pub env_steps: u64,
    pub options: u64,
    pub failed: u64,
}

struct Slot {
    env: Env,
    seeds: Rng,
    observer: Observer,
    ep_return: f32,
    ep_len: u32,
}

/// N option-level envs.
pub struct SkillEnvs {
    options: Vec<Skill>,
    slots: Vec<Slot>,
    obs: Vec<f32>,
    info: Vec<StepInfo>,
    obs_len: usize,
    pub shared: Rc<RefCell<Shared>>,
}

impl SkillEnvs {
    pub fn new(env_id: &str, n: usize, seed: u64) -> anyhow::Result<SkillEnvs> {
        let spec = registry::find(env_id)?;
        let options = options(spec.id)?;
        let mut slots = Vec::with_capacity(n);
        for i in 0..n {
            let mut seeds = Rng::derive(seed, 3_000 + i as u64);
            let env = Env::new(spec, seeds.next_u64());
            let kind = net_spec(&env, options.len()).obs;
            let observer = Observer::new(kind, &env).map_err(anyhow::Error::msg)?;
            slots.push(Slot {
                env,
                seeds,
                observer,
                ep_return: 0.0,
                ep_len: 0,
            });
        }
        let obs_len = slots[0].observer.kind().len();
        let mut obs = vec![0.0; n * obs_len];
        for (s, out) in slots.iter_mut().zip(obs.chunks_mut(obs_len)) {
            s.observer.write(&s.env, out);
        }
        Ok(SkillEnvs {
            options,
            slots,
            obs,
            info: vec![StepInfo::default(); n],
            obs_len,
            shared: Rc::new(RefCell::new(Shared::default())),
        })
    }

    pub fn options(&self) -> &[Skill] {
        &self.options
    }
}

impl Envs for SkillEnvs {
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn info(&self) -> &[StepInfo] {
        &self.info
    }
    fn step(&mut self, actions: &[u8]) {
        let mut shared = self.shared.borrow_mut();
        for (i, s) in self.slots.iter_mut().enumerate() {
            let o = run_option(
                &mut s.env,
                &mut s.observer,
                self.options[actions[i] as usize],
            );
            shared.env_steps += o.steps as u64;
            shared.options += 1;
            shared.failed += o.failed as u64;
            s.ep_return += o.reward;
            s.ep_len += o.steps;
            let done = o.terminated || o.truncated;
            self.info[i] = StepInfo {
                reward: o.reward,
                done,
                episode: None,
            };
            if done {
                // Episode length in primitive steps, as every other agent reports it.
                self.info[i].episode = Some((s.ep_return, s.ep_len));
                s.ep_return = 0.0;
                s.ep_len = 0;
                s.env.reset(s.seeds.next_u64());
                s.observer.reset(&s.env);
            }
            s.observer.write(
                &s.env,
                &mut self.obs[i * self.obs_len..(i + 1) * self.obs_len],
            );
        }
    }
}

/// Totals of an option-policy evaluation.
#[derive(Clone, Copy, Debug, Default)]
pub struct SkillTotals {
    pub episodes: u32,
    pub wins: u32,
    pub ret: f64,
    pub steps: u64,
    pub options: u64,
}

impl SkillTotals {
    pub fn json(&self) -> serde_json::Value {
        let n = self.episodes.max(1) as f64;
        serde_json::json!({
            "episodes": self.episodes, "success_rate": self.wins as f64 / n,
            "mean_return": self.ret / n, "mean_steps": self.steps as f64 / n,
            "options_per_episode": self.options as f64 / n, "llm_calls_per_episode": 0.0,
        })
    }
}

/// Play episodes choosing options with `choose(observation, rng)`.
pub fn play(
    env_id: &str,
    episodes: u32,
    seed: u64,
    mut choose: impl FnMut(&[f32], &mut Rng) -> anyhow::Result<usize>,
) -> anyhow::Result<SkillTotals> {
    anyhow::ensure!(episodes >= 1, "--episodes must be at least 1");
    let spec = registry::find(env_id)?;
    let opts = options(spec.id)?;
    let mut rng = Rng::derive(seed, 0x5C1);
    let mut tot = SkillTotals {
        episodes,
        ..Default::default()
    };
    for i in 0..episodes {
        let mut env = Env::new(spec, seed.wrapping_add(i as u64));
        let kind = net_spec(&env, opts.len()).obs;
        let mut observer = Observer::new(kind, &env).map_err(anyhow::Error::msg)?;
        let mut input = vec![0.0; kind.len()];
        loop {
            observer.write(&env, &mut input);
            let a = choose(&input, &mut rng)?;
            anyhow::ensure!(a < opts.len(), "option {a} out of range");
            let o = run_option(&mut env, &mut observer, opts[a]);
            tot.options += 1;
            tot.ret += o.reward as f64;
            if o.terminated || o.truncated {
                tot.wins += (o.terminated && o.reward > 0.0) as u32;
                tot.steps += env.world.step_count as u64;
                break;
            }
        }
    }
    Ok(tot)
}

/// Play a trained option policy.
pub fn eval_policy(
    model: &ActorCritic,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<SkillTotals> {
    let spec = model.spec();
    let n = options(env_id)?.len();
    anyhow::ensure!(
        spec.actions == n && matches!(spec.obs, ObsKind::MemoryMap { .. }),
        "not a skills-rl policy for {env_id}: the network reads {} and has {} actions ({n} options)",
        spec.obs,
        spec.actions
    );
    let device = Device::flex();
    let mut logp = vec![0.0f32; n];
    play(env_id, episodes, seed, |input, rng| {
        let logits = model
            .forward(model.input(input.to_vec(), 1, &device))
            .logits
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading logits: {e:?}"))?;
        Ok(if greedy {
            policy::argmax(&logits)
        } else {
            policy::log_softmax(&logits, &mut logp);
            policy::sample(&logp, rng)
        })
    })
}

/// A uniformly random option policy (the baseline skills-rl must beat).
pub fn eval_random(env_id: &str, episodes: u32, seed: u64) -> anyhow::Result<SkillTotals> {
    let n = options(env_id)?.len();
    play(env_id, episodes, seed, |_, rng| Ok(rng.index(n)))
}

/// Load a skills-rl checkpoint trained on `env_id`.
pub fn load_policy(path: &std::path::Path, env_id: &str) -> anyhow::Result<(ActorCritic, String)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading checkpoint {}", path.display()))?;
    let ck = Checkpoint::from_bytes(&bytes)
        .with_context(|| format!("loading checkpoint {}", path.display()))?;
    ck.expect_env(env_id)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    anyhow::ensure!(
        ck.meta.algorithm == "skills-rl",
        "checkpoint {} was trained by {:?}, not skills-rl",
        path.display(),
        ck.meta.algorithm
    );
    Ok((ck.model(&Device::flex())?, ck.weights_sha256()))
}

/// The metrics.csv columns of a skills-rl run.
pub const COLUMNS: &[&str] = &["env_steps", "options", "failed_option_share"];

/// `gridmentor train --algo skills-rl`.
pub fn train(args: &TrainArgs) -> anyhow::Result<serde_json::Value> {
    let cfg = &args.ppo;
    cfg.check()?;
    let env_spec = registry::find(&cfg.env)?;
    let mut envs = SkillEnvs::new(env_spec.id, cfg.envs, cfg.seed)?;
    let probe = Env::new(env_spec, cfg.seed);
    let spec = net_spec(&probe, envs.options().len());
    let names: Vec<String> = envs.options().iter().map(|s| s.to_string()).collect();
    let shared = envs.shared.clone();
    let run = RunSpec {
        args,
        algo: "skills-rl",
        env_id: env_spec.id,
        spec,
        config: serde_json::json!({
            "options": names, "max_option_steps": MAX_OPTION_STEPS, "planner": "none",
        }),
        columns: COLUMNS,
    };
    let extra = || -> anyhow::Result<Vec<f64>> {
        let s = shared.borrow();
        Ok(vec![
            s.env_steps as f64,
            s.options as f64,
            s.failed as f64 / s.options.max(1) as f64,
        ])
    };
    let eval_seed = cfg.seed.wrapping_mul(1_000_003).wrapping_add(1 << 32);
    let evaluate = |model: &ActorCritic| -> anyhow::Result<serde_json::Value> {
        // Sampled, as `train --algo ppo` evaluates: a greedy option policy can repeat an option that
        // changes nothing (the memory map stays the same, so it chooses it again).
        let t = eval_policy(
            model,
            env_spec.id,
            cfg.eval_episodes as u32,
            eval_seed,
            false,
        )?;
        let mut v = t.json();
        v["agent"] = "skills".into();
        v["planner"] = "none".into();
        v["eval_seed"] = eval_seed.into();
        v["greedy"] = false.into();
        Ok(v)
    };
    run::train(&run, &mut envs, &extra, &evaluate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_door_key_options_cover_key_and_door() {
        let o = options("SimpleDoorKey").unwrap();
        let key = Target::new(Kind::Key, None);
        let door = Target::new(Kind::Door, None);
        for s in [
            Skill::GoTo(key),
            Skill::PickUp(key),
            Skill::GoTo(door),
            Skill::Toggle(door),
        ] {
            assert!(o.contains(&s), "{s} missing from {o:?}");
        }
    }

    /// The seed's skills-RL baseline had a go-to that never moved the agent: ours must walk to
    /// the key once it is seen and end facing it.
    #[test]
    fn go_to_moves_the_agent_to_the_object() {
        let spec = registry::find("SimpleDoorKey").unwrap();
        let key = Target::new(Kind::Key, None);
        let mut moved = 0;
        for seed in 0..20 {
            let mut env = Env::new(spec, seed);
            let kind = net_spec(&env, 1).obs;
            let mut obs = Observer::new(kind, &env).unwrap();
            // Explore until the key is seen.
            for _ in 0..5 {
                let seen = obs
                    .memory_map()
                    .unwrap()
                    .objects()
                    .any(|(_, o)| key.matches(o));
                if seen {
                    break;
                }
                run_option(&mut env, &mut obs, Skill::Explore);
            }
            let start = (env.world.agent_pos, env.world.agent_dir);
            let o = run_option(&mut env, &mut obs, Skill::GoTo(key));
            if o.failed || o.terminated || o.truncated {
                continue;
            }
            let front = env.world.front_pos();
            assert!(
                env.world.grid.get(front).is_some_and(|f| key.matches(f)),
                "seed {seed}: go to key ended facing {:?}",
                env.world.grid.get(front)
            );
            moved += (start != (env.world.agent_pos, env.world.agent_dir)) as u32;
        }
        assert!(
            moved >= 15,
            "go to moved the agent in only {moved}/20 episodes"
        );
    }
}
