//! skills-rl's options: the skills an env's layouts call for, run one at a time until they end;
//! a network over the memory map chooses the next option (the trainer learns it by PPO).

use super::random::episode_rng;
use super::{Agent, AgentError, AgentStats, Decision, Step};
use crate::nn::policy::PolicyAgent;
use crate::nn::{ActorCritic, NetKind, NetSpec, ObsKind, Observer};
use crate::obs::memory_map::MemoryMap;
use crate::rng::Rng;
use crate::skills::{Skill, SkillRun, SkillStep, Target};
use crate::world::{Action, Color, Kind, Transition};
use crate::{Env, EnvSpec};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The most primitive steps one option may take.
pub const MAX_OPTION_STEPS: u32 = 30;

/// The options of `env_id`: what its layouts hold, probed over the first 64 seeds.
pub fn options(spec: &'static EnvSpec) -> Vec<Skill> {
    let mut colours: BTreeMap<Kind, BTreeSet<Color>> = BTreeMap::new();
    let mut several: BTreeSet<Kind> = BTreeSet::new();
    let mut objects = |world: &crate::world::World| {
        let mut count: BTreeMap<Kind, usize> = BTreeMap::new();
        let carried = world.carrying.into_iter();
        for o in world.grid.objects().map(|(_, o)| o).chain(carried) {
            let mut push = |o: crate::world::Obj| {
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
            if let crate::world::Obj::Box(_, Some(item)) = o {
                push(item.to_obj());
            }
        }
        several.extend(count.into_iter().filter(|&(_, n)| n > 1).map(|(k, _)| k));
    };
    for seed in 0..64 {
        objects(&Env::new(spec, seed).world);
    }
    let mut out = alloc::vec![Skill::Explore];
    for (kind, cs) in colours {
        let targets: Vec<Target> = if several.contains(&kind) {
            cs.into_iter().map(|c| Target::new(kind, Some(c))).collect()
        } else {
            alloc::vec![Target::new(kind, None)]
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
    out
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

/// Who chooses the next option.
enum Chooser {
    /// A trained network over the memory map.
    Network(alloc::boxed::Box<PolicyAgent>),
    /// Uniformly at random (the baseline skills-rl must beat); the seed and this episode's
    /// stream.
    Random(u64, Rng),
}

/// A skills-rl agent: it chooses an option, the option's skill acts until it finishes, fails or
/// has taken [`MAX_OPTION_STEPS`] steps (an option that cannot act at all takes `done`), then it
/// chooses again: [`run_option`] step by step.
pub struct OptionAgent {
    chooser: Chooser,
    label: String,
    /// The memory map the skills read.
    map: Option<MemoryMap>,
    /// The env the options were made for, and its options.
    env: Option<(&'static str, Vec<Skill>)>,
    running: Option<SkillRun>,
    /// Steps the running option has taken.
    taken: u32,
    /// The critic's value when the running option was chosen.
    value: Option<f32>,
    /// The step decided but not yet taken (a repeated decision returns it).
    pending: Option<Step>,
    stats: AgentStats,
}

impl OptionAgent {
    /// `model` (a network over the options of the env it will play) choosing options; `seed`
    /// drives sampling (per episode, as every agent's).
    pub fn new(model: ActorCritic, seed: u64, greedy: bool) -> Result<OptionAgent, String> {
        let policy = PolicyAgent::with_stream(model, seed, 0x5C1, greedy)?;
        Ok(OptionAgent::with(
            Chooser::Network(alloc::boxed::Box::new(policy)),
            "skills-rl option policy".into(),
        ))
    }

    /// Options chosen uniformly at random.
    pub fn random(seed: u64) -> OptionAgent {
        OptionAgent::with(
            Chooser::Random(seed, Rng::new(seed)),
            format!("random options (seed {seed})"),
        )
    }

    fn with(chooser: Chooser, label: String) -> OptionAgent {
        OptionAgent {
            chooser,
            label,
            map: None,
            env: None,
            running: None,
            taken: 0,
            value: None,
            pending: None,
            stats: AgentStats::default(),
        }
    }

    pub fn set_label(&mut self, label: String) {
        self.label = label;
    }

    fn next_step(&mut self, env: &Env) -> Result<Step, AgentError> {
        let opts = &self.env.as_ref().ok_or(AgentError::NotStarted)?.1;
        // Two rounds at most: an option that ends at once still acts (`done`).
        loop {
            if self.running.is_some() && self.taken >= MAX_OPTION_STEPS {
                self.running = None;
            }
            if self.running.is_none() {
                let k = match &mut self.chooser {
                    Chooser::Network(p) => {
                        let c = p.choose(env).ok_or(AgentError::NotStarted)?;
                        self.value = Some(c.value);
                        c.action
                    }
                    Chooser::Random(_, rng) => rng.index(opts.len()),
                };
                self.running = Some(SkillRun::new(opts[k]));
                self.taken = 0;
                self.stats.options += 1;
            }
            let map = self.map.as_ref().ok_or(AgentError::NotStarted)?;
            let run = self.running.as_mut().expect("set above");
            let skill = run.skill;
            let action = match run.next(map, env.world.view_size) {
                SkillStep::Act(a) => a,
                end => {
                    if let SkillStep::Failed(_) = end {
                        self.stats.skill_failures += 1;
                    }
                    self.running = None;
                    if self.taken > 0 {
                        continue;
                    }
                    Action::Done
                }
            };
            let mut step = Step::certain(action);
            step.value = self.value;
            step.skill = Some(skill);
            return Ok(step);
        }
    }
}

impl Agent for OptionAgent {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn reset(&mut self, env: &Env, env_id: &str) -> Result<(), AgentError> {
        let spec = env
            .spec()
            .or_else(|| crate::registry::find(env_id).ok())
            .ok_or_else(|| AgentError::Unplayable(format!("unknown env {env_id}")))?;
        if self.env.as_ref().is_none_or(|(id, _)| *id != spec.id) {
            let opts = options(spec);
            if let Chooser::Network(p) = &self.chooser {
                let want = p.model().spec();
                if want.actions != opts.len() || !matches!(want.obs, ObsKind::MemoryMap { .. }) {
                    return Err(AgentError::Unplayable(format!(
                        "this skills-rl network chooses among {} options over {}; {} has {} \
                         options over the memory map",
                        want.actions,
                        want.obs,
                        spec.id,
                        opts.len()
                    )));
                }
            }
            self.env = Some((spec.id, opts));
        }
        match &mut self.chooser {
            Chooser::Network(p) => p.start(env).map_err(AgentError::Unplayable)?,
            Chooser::Random(seed, rng) => *rng = episode_rng(*seed, env.seed(), 0x5C1),
        }
        self.map = Some(MemoryMap::new(&env.world));
        self.running = None;
        self.taken = 0;
        self.pending = None;
        Ok(())
    }

    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        if self.pending.is_none() {
            self.pending = Some(self.next_step(env)?);
        }
        Ok(Decision::Act(self.pending.clone().expect("set above")))
    }

    fn observe(&mut self, env: &Env, _taken: Action) {
        if let Chooser::Network(p) = &mut self.chooser {
            p.take_in(env);
        }
        if let Some(m) = &mut self.map {
            m.update(&env.world);
        }
        self.taken += 1;
        self.pending = None;
    }

    fn stats(&self) -> AgentStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    #[test]
    fn simple_door_key_options_cover_key_and_door() {
        let o = options(registry::find("SimpleDoorKey").unwrap());
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

    /// A task with more options than MiniGrid has actions (KeyInBox: 9) plays through an
    /// option network: its choices are option indices, not actions (the check for 7 actions
    /// once refused it, so `train --algo skills-rl` on KeyInBox failed at its evaluation).
    #[test]
    fn a_network_over_more_options_than_actions_plays() {
        let id = "KeyInBox";
        let spec = registry::find(id).unwrap();
        let env = Env::new(spec, 0);
        let n = options(spec).len();
        assert!(n > Action::COUNT, "{n} options");
        let model = ActorCritic::new(net_spec(&env, n), 1, &burn::tensor::Device::flex()).unwrap();
        let mut agent = OptionAgent::new(model.clone(), 3, false).unwrap();
        let s = crate::agent::evaluate(&mut agent, id, 0..2).unwrap();
        assert_eq!(s.episodes.len(), 2);
        // As an agent of primitive actions the same network is refused, with a reason.
        let mut policy = PolicyAgent::with_stream(model, 3, 0, false).unwrap();
        let err = policy.reset(&env, id).unwrap_err();
        assert!(format!("{err}").contains("an env has 7"), "{err}");
    }

    /// The agent plays options step by step exactly as the trainer's option-level env runs them
    /// ([`run_option`] a whole option at a time): same choices, same episode.
    #[test]
    fn the_agent_steps_options_as_the_trainer_runs_them() {
        let id = "SimpleDoorKey";
        let spec = registry::find(id).unwrap();
        let opts = options(spec);
        for seed in 0..12 {
            let mut agent = OptionAgent::random(7);
            let mut env = Env::new(spec, seed);
            let by_agent =
                crate::agent::play_episode(&mut agent, &mut env, id, seed, |_, _, _| {}).unwrap();
            let mut env = Env::new(spec, seed);
            let mut rng = episode_rng(7, seed, 0x5C1);
            let mut obs = Observer::new(net_spec(&env, opts.len()).obs, &env).unwrap();
            let (mut ret, mut chosen) = (0.0, 0);
            loop {
                let o = run_option(&mut env, &mut obs, opts[rng.index(opts.len())]);
                chosen += 1;
                ret += o.reward;
                if o.terminated || o.truncated {
                    break;
                }
            }
            assert_eq!(by_agent.steps, env.world.step_count, "seed {seed}");
            assert_eq!(by_agent.ret, ret, "seed {seed}");
            assert_eq!(by_agent.stats.options, chosen, "seed {seed}");
        }
    }
}
