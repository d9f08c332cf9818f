//! A trained network acting in an env: the observer that turns an env into the network's input
//! (view, view and mission, memory map or its change) and the decision rule. The trainer, the server's leaderboard
//! and the browser all act through this, so a checkpoint behaves the same everywhere.

use crate::agent::{AgentError, Decision, Step};
use crate::env::Env;
use crate::nn::infer::Inference;
use crate::nn::net::ActorCritic;
use crate::nn::spec::{NetSpec, ObsKind};
use crate::obs::{MemoryMap, mission_code};
use crate::rng::Rng;
use crate::world::Action;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Builds one env's network input, keeping what the observation kind needs between steps (the
/// memory map, and for its change the map before the last step).
#[derive(Clone, Debug)]
pub struct Observer {
    kind: ObsKind,
    map: Option<MemoryMap>,
    /// The view's or the egocentric map's bytes (empty for the other kinds).
    image: Vec<u8>,
    /// For the view with the mission (empty otherwise): the view's cells each followed by the
    /// mission's code, as [`ObsKind::shape`] lays it out; for the one-hot map, its planes.
    cells: Vec<u8>,
    /// For the map's change only (empty otherwise): the map's data before the last update (all
    /// unseen after a reset).
    before: Vec<u8>,
    diff: Vec<i16>,
    /// For the door-relative map: the colour swapped with red, fixed this episode once a door
    /// is seen (so it holds while the agent stands in the doorway, where the map shows what it
    /// carries instead of the door).
    door: Option<u8>,
}

impl Observer {
    /// An observer of `env` (at the start of an episode); refuses a kind that does not fit it.
    pub fn new(kind: ObsKind, env: &Env) -> Result<Observer, String> {
        let world = &env.world;
        match kind {
            ObsKind::View { size } | ObsKind::ViewMission { size }
                if size as u8 as u16 != size || size as u8 != world.view_size =>
            {
                return Err(format!(
                    "the network reads a {size}x{size} view but this env's agent sees {0}x{0}",
                    world.view_size
                ));
            }
            ObsKind::MemoryMap { width, height }
            | ObsKind::MemoryMapDiff { width, height }
            | ObsKind::EgoMap { width, height }
            | ObsKind::EgoMapOneHot { width, height }
            | ObsKind::EgoMapDoorRelative { width, height }
                if width as i32 != world.width() || height as i32 != world.height() =>
            {
                return Err(format!(
                    "the network reads a {width}x{height} memory map but this env is {}x{}",
                    world.width(),
                    world.height()
                ));
            }
            _ => {}
        }
        let map = match kind {
            ObsKind::View { .. } | ObsKind::ViewMission { .. } => None,
            _ => Some(MemoryMap::new(world)),
        };
        let cells = kind.len();
        let (image, with_mission, map_cells) = match kind {
            ObsKind::View { .. } | ObsKind::EgoMap { .. } => (cells, 0, 0),
            // The egocentric codes, then their planes.
            ObsKind::EgoMapOneHot { .. } | ObsKind::EgoMapDoorRelative { .. } => {
                (cells / crate::obs::ONE_HOT_CHANNELS * 3, cells, 0)
            }
            ObsKind::ViewMission { size } => ((size as usize).pow(2) * 3, cells, 0),
            ObsKind::MemoryMap { .. } => (0, 0, 0),
            ObsKind::MemoryMapDiff { .. } => (0, 0, cells),
        };
        let mut observer = Observer {
            kind,
            image: vec![0; image],
            cells: vec![0; with_mission],
            before: vec![0; map_cells],
            diff: vec![0; map_cells],
            map,
            door: None,
        };
        observer.note_door();
        Ok(observer)
    }

    pub fn kind(&self) -> ObsKind {
        self.kind
    }

    /// Is `env` one this observer was made for (the same view, the same map size)?
    pub fn fits(&self, env: &Env) -> bool {
        let w = &env.world;
        match self.kind {
            ObsKind::View { size } | ObsKind::ViewMission { size } => {
                size as i32 == w.view_size as i32
            }
            ObsKind::MemoryMap { width, height }
            | ObsKind::MemoryMapDiff { width, height }
            | ObsKind::EgoMap { width, height }
            | ObsKind::EgoMapOneHot { width, height }
            | ObsKind::EgoMapDoorRelative { width, height } => {
                width as i32 == w.width() && height as i32 == w.height()
            }
        }
    }

    /// A new episode began in `env`.
    pub fn reset(&mut self, env: &Env) {
        if let Some(map) = &mut self.map {
            map.reset(&env.world);
            self.before.fill(0);
        }
        self.door = None;
        self.note_door();
    }

    /// For the door-relative map: the first door the map shows fixes the colour swapped with red
    /// for the rest of the episode (kept on every update, so it does not depend on when the
    /// input is written).
    fn note_door(&mut self) {
        if let (ObsKind::EgoMapDoorRelative { .. }, None, Some(map)) =
            (self.kind, self.door, &self.map)
        {
            self.door = crate::obs::door_colour(map);
        }
    }

    /// `env` took a step: remember what it shows now.
    pub fn update(&mut self, env: &Env) {
        if let Some(map) = &mut self.map {
            if !self.before.is_empty() {
                self.before.copy_from_slice(map.data());
            }
            map.update(&env.world);
        }
        self.note_door();
    }

    /// The memory map, for observation kinds that keep one.
    pub fn memory_map(&self) -> Option<&MemoryMap> {
        self.map.as_ref()
    }

    /// Write the network input for `env`'s current state (`out.len() == kind.len()`).
    pub fn write(&mut self, env: &Env, out: &mut [f32]) {
        match (&self.map, self.kind) {
            (None, ObsKind::ViewMission { .. }) => {
                env.world.image_into(&mut self.image);
                let code = mission_code(&env.rule);
                let width = 3 + code.len();
                for (cell, view) in self.cells.chunks_exact_mut(width).zip(self.image.chunks(3)) {
                    cell[..3].copy_from_slice(view);
                    cell[3..].copy_from_slice(&code);
                }
                self.kind.write_input(&self.cells, out);
            }
            (None, _) => {
                env.world.image_into(&mut self.image);
                self.kind.write_input(&self.image, out);
            }
            (Some(map), ObsKind::MemoryMapDiff { .. }) => {
                // Signed: the seed code's uint8 subtraction wraps a decrease to 255.
                for ((d, &a), &b) in self.diff.iter_mut().zip(map.data()).zip(&self.before) {
                    *d = a as i16 - b as i16;
                }
                self.kind.write_input(&self.diff, out);
            }
            (Some(map), ObsKind::EgoMap { .. }) => {
                map.egocentric_into(&mut self.image);
                self.kind.write_input(&self.image, out);
            }
            (Some(map), ObsKind::EgoMapOneHot { .. }) => {
                map.egocentric_into(&mut self.image);
                crate::obs::one_hot_into(&self.image, &mut self.cells);
                self.kind.write_input(&self.cells, out);
            }
            (Some(map), ObsKind::EgoMapDoorRelative { .. }) => {
                map.egocentric_into(&mut self.image);
                if let Some(colour) = self.door {
                    crate::obs::door_relative_colours(&mut self.image, colour);
                }
                crate::obs::one_hot_into(&self.image, &mut self.cells);
                self.kind.write_input(&self.cells, out);
            }
            (Some(map), _) => self.kind.write_input(map.data(), out),
        }
    }
}

/// Log-probabilities of a categorical from its logits (numerically stable).
pub fn log_softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| libm::expf(l - max)).sum();
    let lse = max + libm::logf(sum);
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = l - lse;
    }
}

/// Sample an index from log-probabilities with one uniform draw.
pub fn sample(logp: &[f32], rng: &mut Rng) -> usize {
    let u = rng.f32();
    let mut acc = 0.0;
    for (i, &l) in logp.iter().enumerate() {
        acc += libm::expf(l);
        if u < acc {
            return i;
        }
    }
    logp.len() - 1
}

pub use crate::agent::argmax;

/// What the network chose and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    pub action: usize,
    /// The policy's probability of each action.
    pub probs: Vec<f32>,
    /// The critic's estimate of the return from here.
    pub value: f32,
}

/// Can a network with `spec` act in an env (no more actions than an env has)?
pub fn check_actions(spec: NetSpec) -> Result<(), String> {
    if spec.actions > Action::COUNT {
        return Err(format!(
            "the network chooses among {} actions; an env has {}",
            spec.actions,
            Action::COUNT
        ));
    }
    Ok(())
}

/// A network acting in one env at a time, step by step: the checkpoint agent of the trainer, the
/// server's leaderboard and the browser, and the When2Ask mediator's network.
pub struct PolicyAgent {
    model: ActorCritic,
    /// The model's forward pass without burn (the same outputs, much faster for one input).
    net: Inference,
    /// Made at the first episode (it is sized by the env).
    observer: Option<Observer>,
    seed: u64,
    stream: u64,
    rng: Rng,
    input: Vec<f32>,
    logits: Vec<f32>,
    logp: Vec<f32>,
    /// Take the most likely action instead of sampling.
    pub greedy: bool,
    /// Who this is in results (the checkpoint's name).
    pub label: String,
}

impl PolicyAgent {
    /// `model` acting; `seed` drives sampling (each episode draws from a stream of the seed and
    /// the layout's seed, so an episode replays alone).
    pub fn new(model: ActorCritic, seed: u64, greedy: bool) -> Result<PolicyAgent, String> {
        check_actions(model.spec())?;
        PolicyAgent::with_stream(model, seed, 0xE7A2, greedy)
    }

    /// The same with sampling drawn from the random stream `(seed, stream)`: agents that must
    /// not share draws with a policy on the same seed (the When2Ask mediator) take their own.
    /// Its choices are indices of any size (skills-rl chooses among up to 9 options); only
    /// playing it as an agent of primitive actions needs [`check_actions`].
    pub fn with_stream(
        model: ActorCritic,
        seed: u64,
        stream: u64,
        greedy: bool,
    ) -> Result<PolicyAgent, String> {
        let spec = model.spec();
        Ok(PolicyAgent {
            observer: None,
            input: vec![0.0; spec.obs.len()],
            logits: vec![0.0; spec.actions],
            logp: vec![0.0; spec.actions],
            net: Inference::new(&model)?,
            seed,
            stream,
            rng: Rng::derive(seed, stream),
            label: format!("{} policy", spec.net.name()),
            model,
            greedy,
        })
    }

    pub fn model(&self) -> &ActorCritic {
        &self.model
    }

    pub fn observer(&self) -> Option<&Observer> {
        self.observer.as_ref()
    }

    /// A new episode began in `env` (of any size); refuses an env whose observation is not the
    /// network's.
    pub fn start(&mut self, env: &Env) -> Result<(), String> {
        match &mut self.observer {
            Some(o) if o.fits(env) => o.reset(env),
            _ => {
                self.observer = None;
                self.observer = Some(Observer::new(self.model.spec().obs, env)?);
            }
        }
        self.rng = crate::agent::random::episode_rng(self.seed, env.seed(), self.stream);
        Ok(())
    }

    /// `env` took a step.
    pub fn take_in(&mut self, env: &Env) {
        if let Some(o) = &mut self.observer {
            o.update(env);
        }
    }

    /// Choose an action for `env`'s current state; `None` before the first episode.
    pub fn choose(&mut self, env: &Env) -> Option<Choice> {
        self.observer.as_mut()?.write(env, &mut self.input);
        let value = self.net.forward_one(&self.input, &mut self.logits);
        log_softmax(&self.logits, &mut self.logp);
        let action = if self.greedy {
            argmax(&self.logits)
        } else {
            sample(&self.logp, &mut self.rng)
        };
        Some(Choice {
            action,
            probs: self.logp.iter().map(|&l| libm::expf(l)).collect(),
            value,
        })
    }
}

impl crate::agent::Agent for PolicyAgent {
    fn name(&self) -> String {
        self.label.clone()
    }

    fn reset(&mut self, env: &Env, _env_id: &str) -> Result<(), AgentError> {
        check_actions(self.model.spec()).map_err(AgentError::Unplayable)?;
        self.start(env).map_err(AgentError::Unplayable)
    }

    fn decide(&mut self, env: &Env) -> Result<Decision, AgentError> {
        let c = self.choose(env).ok_or(AgentError::NotStarted)?;
        let mut probs = c.probs;
        probs.resize(Action::COUNT, 0.0);
        let mut step = Step::with_probs(Action::ALL[c.action], probs);
        step.value = Some(c.value);
        Ok(Decision::Act(step))
    }

    fn observe(&mut self, env: &Env, _taken: Action) {
        self.take_in(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::spec::{NetKind, NetSpec};
    use crate::registry;
    use crate::world::object::EMPTY_CODE;
    use burn::tensor::Device;

    fn model(obs: ObsKind) -> ActorCritic {
        let net = match obs {
            ObsKind::View { .. }
            | ObsKind::ViewMission { .. }
            | ObsKind::EgoMap { .. }
            | ObsKind::EgoMapOneHot { .. }
            | ObsKind::EgoMapDoorRelative { .. } => NetKind::MiniGridCnn,
            _ => NetKind::MemoryMapCnn,
        };
        let spec = NetSpec {
            net,
            obs,
            actions: 7,
        };
        ActorCritic::new(spec, 3, &Device::flex()).unwrap()
    }

    #[test]
    fn observer_refuses_a_kind_that_does_not_fit_the_env() {
        let env = registry::make("SimpleDoorKey", 1).unwrap();
        let err = Observer::new(ObsKind::View { size: 7 }, &env).unwrap_err();
        assert!(err.contains("3x3"), "{err}");
        let err = Observer::new(
            ObsKind::MemoryMap {
                width: 8,
                height: 8,
            },
            &env,
        )
        .unwrap_err();
        assert!(err.contains("10x10"), "{err}");
    }

    /// The egocentric input is the map turned to the agent's frame and fed like the view: the
    /// object ahead of the agent moves with it, and the observer keeps the map across steps.
    #[test]
    fn egocentric_input_follows_the_map_through_an_episode() {
        let mut env = registry::make("SimpleDoorKey", 11).unwrap();
        let kind = ObsKind::EgoMap {
            width: 10,
            height: 10,
        };
        assert_eq!(kind.input_shape(), [3, 19, 19]);
        let mut obs = Observer::new(kind, &env).unwrap();
        let mut map = MemoryMap::new(&env.world);
        let mut input = vec![0.0; kind.len()];
        for (i, a) in [
            Action::Left,
            Action::Forward,
            Action::Right,
            Action::Forward,
        ]
        .into_iter()
        .cycle()
        .take(24)
        .enumerate()
        {
            obs.write(&env, &mut input);
            let ego = map.egocentric();
            for row in 0..19 {
                for col in 0..19 {
                    for c in 0..3 {
                        assert_eq!(
                            input[(c * 19 + col) * 19 + row],
                            ego[(row * 19 + col) * 3 + c] as f32,
                            "step {i}"
                        );
                    }
                }
            }
            // What is ahead in the world is right above the centre.
            let ahead = env.world.agent_dir.step(env.world.agent_pos);
            if map.is_seen(ahead) {
                let code = env.world.grid.get(ahead).map_or(EMPTY_CODE, |o| o.encode());
                for (c, v) in code.into_iter().enumerate() {
                    assert_eq!(input[(c * 19 + 9) * 19 + 8], v as f32, "step {i}");
                }
            }
            env.step(a);
            obs.update(&env);
            map.update(&env.world);
        }
    }

    /// The view with the mission is the plain view's input followed by one constant plane per
    /// index of the mission's code, through an episode and across episodes of other tasks; an
    /// env without a BabyAI instruction gets zero planes.
    #[test]
    fn view_with_mission_is_the_view_and_the_mission_planes() {
        let kind = ObsKind::ViewMission { size: 7 };
        let plain = ObsKind::View { size: 7 };
        let view_len = plain.len();
        let mut env = registry::make("BabyAI-MixedTrainLocal-v0", 3).unwrap();
        let mut obs = Observer::new(kind, &env).unwrap();
        let mut view = Observer::new(plain, &env).unwrap();
        let (mut input, mut want) = (vec![0.0; kind.len()], vec![0.0; view_len]);
        let mut codes = alloc::collections::BTreeSet::new();
        for episode in 0..12u64 {
            env.reset(100 + episode);
            obs.reset(&env);
            let code = mission_code(&env.rule);
            assert_ne!(code[0], 0, "{}", env.mission);
            codes.insert(code);
            for a in [
                Action::Left,
                Action::Forward,
                Action::Pickup,
                Action::Forward,
            ] {
                obs.write(&env, &mut input);
                view.write(&env, &mut want);
                assert_eq!(input[..view_len], want[..]);
                for (plane, &c) in input[view_len..].chunks(49).zip(&code) {
                    assert!(plane.iter().all(|&v| v == c as f32), "{plane:?} {code:?}");
                }
                let t = env.step(a);
                if t.terminated || t.truncated {
                    break;
                }
                obs.update(&env);
            }
        }
        assert!(codes.len() >= 5, "{codes:?}");
        let goal = registry::make("MiniGrid-DoorKey-5x5-v0", 1).unwrap();
        let mut obs = Observer::new(kind, &goal).unwrap();
        obs.write(&goal, &mut input);
        assert!(input[view_len..].iter().all(|&v| v == 0.0));
        assert!(input[..view_len].iter().any(|&v| v != 0.0));
    }

    #[test]
    fn memory_map_change_is_signed_and_starts_from_unseen() {
        let mut env = registry::make("SimpleDoorKey", 5).unwrap();
        let kind = ObsKind::MemoryMapDiff {
            width: 10,
            height: 10,
        };
        let mut obs = Observer::new(kind, &env).unwrap();
        let mut first = vec![0.0; kind.len()];
        obs.write(&env, &mut first);
        // The first change is everything seen so far: non-negative, some positive.
        assert!(first.iter().all(|&v| v >= 0.0) && first.iter().any(|&v| v > 0.0));
        // The direction channel of the agent's cell changes by new - old: negative on the
        // turn from 1 to 0, which uint8 arithmetic would wrap to 255.
        let mut saw_negative = false;
        for _ in 0..4 {
            let before = env.world.agent_dir as u8 as f32;
            env.step(Action::Left);
            obs.update(&env);
            let mut change = vec![0.0; kind.len()];
            obs.write(&env, &mut change);
            let p = obs.memory_map().unwrap().agent_pos();
            let idx = (3 * 10 + p.y as usize) * 10 + p.x as usize;
            let after = env.world.agent_dir as u8 as f32;
            assert_eq!(change[idx], after - before);
            saw_negative |= change[idx] < 0.0;
        }
        assert!(saw_negative);
    }

    /// The one-hot input is the egocentric input plane by plane, cell for cell: through an
    /// episode each cell lights its type's plane, a coloured object's colour plane and a door's
    /// state plane, and nothing else.
    #[test]
    fn one_hot_input_is_the_egocentric_input_as_planes() {
        let mut env = registry::make("ColoredDoorKey", 5).unwrap();
        let (width, height) = (env.world.width() as u16, env.world.height() as u16);
        let ego = ObsKind::EgoMap { width, height };
        let hot = ObsKind::EgoMapOneHot { width, height };
        let mut ego_obs = Observer::new(ego, &env).unwrap();
        let mut hot_obs = Observer::new(hot, &env).unwrap();
        let (mut a, mut b) = (vec![0.0; ego.len()], vec![0.0; hot.len()]);
        let cells = ego.len() / 3;
        let (mut doors, mut keys) = (0, 0);
        for t in 0..24 {
            let act = [Action::Left, Action::Forward, Action::Forward][t % 3];
            ego_obs.write(&env, &mut a);
            hot_obs.write(&env, &mut b);
            for i in 0..cells {
                let (kind, colour, state) =
                    (a[i] as usize, a[cells + i] as usize, a[2 * cells + i]);
                let mut want = vec![kind];
                if ![0, 1, 10].contains(&kind) {
                    want.push(11 + colour);
                }
                if kind == 4 {
                    want.push(17 + state as usize);
                    doors += 1;
                }
                keys += (kind == 5) as usize;
                let lit: Vec<usize> = (0..20).filter(|&k| b[k * cells + i] != 0.0).collect();
                assert_eq!(lit, want, "cell {i}");
                assert!((0..20).all(|k| [0.0, 1.0].contains(&b[k * cells + i])));
            }
            env.step(act);
            ego_obs.update(&env);
            hot_obs.update(&env);
        }
        assert!(
            doors > 0 && keys > 0,
            "the walk saw {doors} door and {keys} key cells"
        );
    }

    /// The door-relative planes are the one-hot planes with red and the door's colour swapped on
    /// keys, balls, boxes and doors from the step the door is first seen (walls stay grey):
    /// while the expert plays ColoredDoorKey, the key that opens the door lights the red plane
    /// wherever the map shows it, and the other key never does, whatever colour the door has.
    #[test]
    fn door_relative_planes_show_the_doors_key_as_red() {
        use crate::agent::{PlannerAgent, play_episode};
        use crate::planner::{ExpertPlanner, PromptStyle};
        use crate::world::Obj;
        let id = "ColoredDoorKey";
        let (mut door_colours, mut door_keys, mut other_keys) = (Vec::new(), 0, 0);
        for seed in 0..12 {
            let mut env = registry::make(id, seed).unwrap();
            let (width, height) = (env.world.width() as u16, env.world.height() as u16);
            let hot = ObsKind::EgoMapOneHot { width, height };
            let rel = ObsKind::EgoMapDoorRelative { width, height };
            let mut hot_obs = Observer::new(hot, &env).unwrap();
            let mut rel_obs = Observer::new(rel, &env).unwrap();
            let door = env
                .world
                .grid
                .objects()
                .find_map(|(_, o)| match o {
                    Obj::Door(c, _) => Some(c as usize),
                    _ => None,
                })
                .unwrap();
            door_colours.push(door);
            let (mut a, mut b) = (vec![0.0; hot.len()], vec![0.0; rel.len()]);
            let cells = hot.len() / 20;
            let mut seen_door = false;
            let mut expert = PlannerAgent::new(ExpertPlanner::new(), PromptStyle::When2Ask);
            let outcome = play_episode(&mut expert, &mut env, id, seed, |env, _, _| {
                hot_obs.update(env);
                rel_obs.update(env);
                hot_obs.write(env, &mut a);
                rel_obs.write(env, &mut b);
                let map = hot_obs.memory_map().unwrap();
                seen_door |= map.objects().any(|(_, o)| matches!(o, Obj::Door(..)));
                for i in 0..cells {
                    let plane = |x: &[f32], k: usize| x[k * cells + i];
                    let mut want: Vec<f32> = (0..20).map(|k| plane(&a, k)).collect();
                    let swaps = [4, 5, 6, 7].iter().any(|&k| want[k] == 1.0);
                    if seen_door && swaps {
                        want.swap(11, 11 + door);
                    }
                    let got: Vec<f32> = (0..20).map(|k| plane(&b, k)).collect();
                    assert_eq!(got, want, "seed {seed} cell {i}");
                    if seen_door && want[5] == 1.0 {
                        if plane(&a, 11 + door) == 1.0 {
                            assert_eq!(got[11], 1.0, "the door's key reads as red");
                            door_keys += 1;
                        } else {
                            assert_eq!(got[11], 0.0, "another key reads as red");
                            other_keys += 1;
                        }
                    }
                }
            })
            .unwrap();
            assert!(outcome.success && seen_door, "seed {seed}");
        }
        assert!(
            door_colours.iter().filter(|&&c| c != 0).count() >= 6,
            "door colours {door_colours:?}"
        );
        assert!(
            door_keys > 0 && other_keys > 0,
            "{door_keys} / {other_keys}"
        );
    }

    /// Sampled play draws from a stream of the agent's seed and the layout's seed alone, so an
    /// episode evaluates the same whatever was played before it (the page opens one failed seed
    /// of an evaluation, and undo rebuilds the agent from the episode's start); greedy play takes
    /// the most likely action.
    #[test]
    fn an_episode_plays_the_same_whatever_came_before() {
        use crate::agent::{Agent, Decision, evaluate};
        for (env_id, obs) in [
            ("MiniGrid-DoorKey-5x5-v0", ObsKind::View { size: 7 }),
            (
                "SimpleDoorKey",
                ObsKind::EgoMap {
                    width: 10,
                    height: 10,
                },
            ),
            (
                "ColoredDoorKey",
                ObsKind::EgoMapOneHot {
                    width: 10,
                    height: 10,
                },
            ),
        ] {
            let m = model(obs);
            let mut agent = PolicyAgent::new(m.clone(), 40, false).unwrap();
            let all = evaluate(&mut agent, env_id, 40..44).unwrap();
            let mut fresh = PolicyAgent::new(m.clone(), 40, false).unwrap();
            let last = evaluate(&mut fresh, env_id, 42..44).unwrap();
            assert_eq!(all.episodes[2..], last.episodes[..], "{env_id}");
            let mut greedy = PolicyAgent::new(m, 40, true).unwrap();
            let mut env = registry::make(env_id, 40).unwrap();
            greedy.reset(&env, env_id).unwrap();
            for _ in 0..5 {
                let Decision::Act(s) = greedy.decide(&env).unwrap() else {
                    panic!("a policy never waits")
                };
                assert!((s.probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
                assert_eq!(s.action as usize, argmax(&s.probs));
                env.step(s.action);
                greedy.observe(&env, s.action);
            }
        }
    }

    #[test]
    fn log_softmax_and_sampling_follow_the_distribution() {
        let mut lp = [0.0; 3];
        log_softmax(&[1000.0, 1000.0, f32::NEG_INFINITY], &mut lp);
        assert!((lp[0] - libm::logf(0.5)).abs() < 1e-4 && lp[2] == f32::NEG_INFINITY);
        let mut rng = Rng::new(9);
        let mut counts = [0u32; 3];
        log_softmax(&[0.0, libm::logf(3.0), f32::NEG_INFINITY], &mut lp);
        for _ in 0..20_000 {
            counts[sample(&lp, &mut rng)] += 1;
        }
        assert_eq!(counts[2], 0);
        let share = counts[1] as f32 / 20_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }
}
