//! `gridmentor train --algo skills-rl`: PPO choosing among the skills directly, no LLM. One
//! action of this option-level env runs a skill (explore; go to / pick up / toggle each object
//! kind (and colour, where a task has several of a kind) the task holds; drop) until it
//! finishes, fails, or `MAX_OPTION_STEPS` primitive steps pass; its reward is the env reward
//! summed over those steps. A skill that ends without acting costs one `done` step, so time
//! always passes. The policy reads the memory map.

use super::settings::{Algo, AlgoSettings, SkillsSettings};
use super::trainee::{Evaluated, Resumed, Trainee};
use crate::metric::Metric;
use crate::ppo::Config;
use crate::ppo::slot_envs::{Board, Outcome, Slot, SlotEnvs};
use crate::summary::Totals;
use burn::tensor::Device;
use gridmentor_core::nn::{ActorCritic, NetKind, NetSpec, ObsKind, Observer, policy};
use gridmentor_core::rng::Rng;
use gridmentor_core::skills::{Skill, SkillRun, SkillStep, Target};
use gridmentor_core::world::{Action, Color, Kind, Transition};
use gridmentor_core::{Env, EnvSpec, registry};
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

/// What the options did so far (the run's metrics; `latest.state` keeps them).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Primitive env steps so far.
    pub env_steps: u64,
    pub options: u64,
    pub failed: u64,
}

/// What plays an option-level env: an action runs a skill.
pub struct OptionSlot {
    options: Rc<[Skill]>,
}

impl Slot for OptionSlot {
    type Counters = Counters;

    fn act(&mut self, board: &mut Board, action: u8, c: &mut Counters) -> Outcome {
        let skill = self.options[action as usize];
        let o = run_option(&mut board.env, &mut board.observer, skill);
        c.env_steps += o.steps as u64;
        c.options += 1;
        c.failed += o.failed as u64;
        Outcome {
            reward: o.reward,
            score: o.reward,
            steps: o.steps,
            done: o.terminated || o.truncated,
        }
    }
}

/// N option-level envs.
pub type SkillEnvs = SlotEnvs<OptionSlot>;

/// `n` option-level envs of `env_id` (or those of a saved state: the skills are deterministic,
/// so replaying the options chosen brings each env back exactly), and their options.
pub fn skill_envs(
    env_id: &str,
    n: usize,
    seed: u64,
    resumed: Option<&Resumed>,
) -> anyhow::Result<(SkillEnvs, Rc<[Skill]>)> {
    let spec = registry::find(env_id)?;
    let options: Rc<[Skill]> = options(spec.id)?.into();
    let obs = |env: &Env| net_spec(env, options.len()).obs;
    let slots = (0..n as u64)
        .map(|i| {
            let board = Board::new(spec, seed, 3_000 + i, obs)?;
            let options = options.clone();
            Ok((board, OptionSlot { options }))
        })
        .collect::<anyhow::Result<_>>()?;
    let resumed = match resumed {
        Some(r) => {
            let known = |a: &u8| (*a as usize) < options.len();
            anyhow::ensure!(
                r.envs.actions.iter().flatten().all(known),
                "the saved env state does not replay (another env version?)"
            );
            Some((r.envs, r.counters()?))
        }
        None => None,
    };
    Ok((SlotEnvs::new(slots, resumed)?, options))
}

/// Play episodes choosing options with `choose(observation, rng)`.
pub fn play(
    env_id: &str,
    episodes: u32,
    seed: u64,
    mut choose: impl FnMut(&[f32], &mut Rng) -> anyhow::Result<usize>,
) -> anyhow::Result<Totals> {
    anyhow::ensure!(episodes >= 1, "--episodes must be at least 1");
    let spec = registry::find(env_id)?;
    let opts = options(spec.id)?;
    let mut rng = Rng::derive(seed, 0x5C1);
    let mut tot = Totals::default();
    let mut chosen = 0;
    for i in 0..episodes {
        let mut env = Env::new(spec, seed.wrapping_add(i as u64));
        let kind = net_spec(&env, opts.len()).obs;
        let mut observer = Observer::new(kind, &env).map_err(anyhow::Error::msg)?;
        let mut input = vec![0.0; kind.len()];
        let mut ret = 0.0;
        loop {
            observer.write(&env, &mut input);
            let a = choose(&input, &mut rng)?;
            anyhow::ensure!(a < opts.len(), "option {a} out of range");
            let o = run_option(&mut env, &mut observer, opts[a]);
            chosen += 1;
            ret += o.reward as f64;
            if o.terminated || o.truncated {
                let success = o.terminated && o.reward > 0.0;
                tot.episode(ret, env.world.step_count as u64, success);
                break;
            }
        }
    }
    tot.options = Some(chosen);
    Ok(tot)
}

/// Play a trained option policy.
pub fn eval_policy(
    model: &ActorCritic,
    env_id: &str,
    episodes: u32,
    seed: u64,
    greedy: bool,
) -> anyhow::Result<Totals> {
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
pub fn eval_random(env_id: &str, episodes: u32, seed: u64) -> anyhow::Result<Totals> {
    let n = options(env_id)?.len();
    play(env_id, episodes, seed, |_, rng| Ok(rng.index(n)))
}

/// Load a skills-rl checkpoint trained on `env_id`.
pub fn load_policy(
    path: &std::path::Path,
    env_id: &str,
) -> anyhow::Result<crate::checkpoint::Loaded> {
    crate::checkpoint::load(path, env_id, Some(&Algo::SkillsRl.to_string()))
}

/// The metrics.csv columns of a skills-rl run: what the options did so far.
fn metrics(c: &Counters) -> anyhow::Result<Vec<Metric>> {
    Ok(vec![
        Metric::new("env_steps", Some("skills-rl/env_steps"), c.env_steps as f64),
        Metric::new("options", Some("skills-rl/options"), c.options as f64),
        Metric::new(
            "failed_option_share",
            Some("skills-rl/failed_option_share"),
            c.failed as f64 / c.options.max(1) as f64,
        ),
    ])
}

/// `train --algo skills-rl`: the option policy over `cfg.envs` option-level envs, evaluated
/// sampling, as PPO's: a greedy option policy can repeat an option that changes nothing (the
/// memory map stays the same, so it chooses it again).
pub fn setup(
    cfg: &Config,
    env: &'static EnvSpec,
    resumed: Option<&Resumed>,
) -> anyhow::Result<Trainee> {
    let (envs, options) = skill_envs(env.id, cfg.envs, cfg.seed, resumed)?;
    let settings = AlgoSettings {
        planner: Some("none".into()),
        skills: Some(SkillsSettings {
            options: options.iter().map(|s| s.to_string()).collect(),
            max_option_steps: MAX_OPTION_STEPS,
        }),
        ..AlgoSettings::default()
    };
    let spec = net_spec(&Env::new(env, cfg.seed), options.len());
    let id = env.id;
    let evaluate = move |model: &ActorCritic, episodes: usize, seed| {
        Ok(Evaluated {
            agent: "skills",
            planner: "none".into(),
            greedy: false,
            totals: eval_policy(model, id, episodes as u32, seed, false)?,
        })
    };
    Ok(Trainee::of_slots(spec, envs, settings, metrics, evaluate))
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
