//! N envs of an algorithm's own action space (When2Ask's ask / don't ask, skills-rl's options),
//! stepped on the training thread: observations, episode returns, the snapshot `--resume` replays.

use crate::ppo::Envs;
use crate::ppo::vec_env::{Snapshot, StepInfo};
use gridmentor_core::nn::{ObsKind, Observer};
use gridmentor_core::rng::Rng;
use gridmentor_core::{Env, EnvSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::rc::Rc;

/// What one action of a [`Slot`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// The reward PPO learns from.
    pub reward: f32,
    /// The env's reward, what the episode's return sums (the task's score).
    pub score: f32,
    /// Primitive env steps taken (the episode's length counts these).
    pub steps: u32,
    /// The episode ended.
    pub done: bool,
}

/// An env with its own stream of layout seeds and the observer that makes the network's input.
pub struct Board {
    pub env: Env,
    seeds: Rng,
    pub observer: Observer,
}

impl Board {
    /// Env `index` of a set seeded with `seed` (`stream`: the set's own seed streams), observed
    /// as `obs` says.
    pub fn new(
        spec: &'static EnvSpec,
        seed: u64,
        stream: u64,
        obs: impl Fn(&Env) -> ObsKind,
    ) -> anyhow::Result<Board> {
        let mut seeds = Rng::derive(seed, stream);
        let env = Env::new(spec, seeds.next_u64());
        let observer = Observer::new(obs(&env), &env).map_err(anyhow::Error::msg)?;
        Ok(Board {
            env,
            seeds,
            observer,
        })
    }

    fn next_episode(&mut self) {
        self.env.reset(self.seeds.next_u64());
        self.observer.reset(&self.env);
    }
}

/// What plays one [`Board`] below the network (skills, a planner), taking its actions.
pub trait Slot {
    /// What all slots count together, for the algorithm's metrics (kept in `latest.state`).
    type Counters: Default + Serialize + DeserializeOwned;
    /// Take the network's `action` on `board`.
    fn act(&mut self, board: &mut Board, action: u8, counters: &mut Self::Counters) -> Outcome;
    /// A new episode started on `env`.
    fn started(&mut self, _env: &Env) {}
}

/// N [`Slot`]s as PPO's [`Envs`]; the counters are readable while PPO holds the envs.
pub struct SlotEnvs<S: Slot> {
    boards: Vec<Board>,
    slots: Vec<S>,
    /// The return and primitive length of each slot's episode so far.
    episodes: Vec<(f32, u32)>,
    obs: Vec<f32>,
    info: Vec<StepInfo>,
    mirror: Snapshot,
    pub counters: Rc<RefCell<S::Counters>>,
}

impl<S: Slot> SlotEnvs<S> {
    /// `slots` at their first episodes, or brought to where `resumed` says: each skips the
    /// episodes it had ended and replays the actions of its current one (exactly, when what plays
    /// below the network is deterministic; a replay that ends the episode sooner goes on from
    /// there), then counting goes on from the saved counters.
    pub fn new(
        slots: Vec<(Board, S)>,
        resumed: Option<(&Snapshot, S::Counters)>,
    ) -> anyhow::Result<SlotEnvs<S>> {
        let n = slots.len();
        anyhow::ensure!(n >= 1, "at least one env");
        let (boards, slots): (Vec<Board>, Vec<S>) = slots.into_iter().unzip();
        let obs_len = boards[0].observer.kind().len();
        let mut envs = SlotEnvs {
            boards,
            slots,
            episodes: vec![(0.0, 0); n],
            obs: vec![0.0; n * obs_len],
            info: vec![StepInfo::default(); n],
            mirror: Snapshot::fresh(n),
            counters: Rc::default(),
        };
        if let Some((snap, counters)) = resumed {
            snap.expect_envs(n)?;
            for i in 0..n {
                for _ in 0..snap.resets[i] {
                    envs.next_episode(i);
                    envs.mirror.record(i, 0, true);
                }
                for &a in &snap.actions[i] {
                    if envs.step_slot(i, a).done {
                        break;
                    }
                }
            }
            *envs.counters.borrow_mut() = counters;
        }
        for (b, out) in envs.boards.iter_mut().zip(envs.obs.chunks_mut(obs_len)) {
            b.observer.write(&b.env, out);
        }
        Ok(envs)
    }

    fn next_episode(&mut self, i: usize) {
        self.boards[i].next_episode();
        self.slots[i].started(&self.boards[i].env);
    }

    fn step_slot(&mut self, i: usize, action: u8) -> StepInfo {
        let o = self.slots[i].act(&mut self.boards[i], action, &mut self.counters.borrow_mut());
        let ep = &mut self.episodes[i];
        ep.0 += o.score;
        ep.1 += o.steps;
        let mut info = StepInfo {
            reward: o.reward,
            done: o.done,
            episode: None,
        };
        if o.done {
            info.episode = Some(std::mem::take(ep));
            self.next_episode(i);
        }
        self.mirror.record(i, action, o.done);
        info
    }
}

impl<S: Slot> Envs for SlotEnvs<S> {
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn info(&self) -> &[StepInfo] {
        &self.info
    }
    fn step(&mut self, actions: &[u8]) {
        let len = self.obs.len() / self.slots.len();
        for (i, &a) in actions.iter().enumerate() {
            self.info[i] = self.step_slot(i, a);
            let b = &mut self.boards[i];
            b.observer
                .write(&b.env, &mut self.obs[i * len..(i + 1) * len]);
        }
    }
    fn snapshot(&self) -> Option<Snapshot> {
        Some(self.mirror.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridmentor_core::registry;
    use gridmentor_core::world::Action;

    /// Turns left; its third action ends the episode. Counts the actions' values.
    #[derive(Default)]
    struct Three {
        count: u32,
        episodes: u32,
    }

    impl Slot for Three {
        type Counters = u64;
        fn act(&mut self, board: &mut Board, action: u8, counters: &mut u64) -> Outcome {
            board.env.step(Action::Left);
            board.observer.update(&board.env);
            self.count += 1;
            *counters += action as u64;
            Outcome {
                reward: 0.5,
                score: 1.0,
                steps: 2,
                done: self.count == 3,
            }
        }
        fn started(&mut self, _env: &Env) {
            self.count = 0;
            self.episodes += 1;
        }
    }

    fn slots(n: u64) -> Vec<(Board, Three)> {
        let spec = registry::find("MiniGrid-Empty-5x5-v0").unwrap();
        let view = |env: &Env| ObsKind::View {
            size: env.world.view_size as u16,
        };
        (0..n)
            .map(|i| (Board::new(spec, 1, i, view).unwrap(), Three::default()))
            .collect()
    }

    #[test]
    fn episodes_end_and_a_snapshot_replays_to_the_same_place() {
        let mut envs = SlotEnvs::new(slots(2), None).unwrap();
        for _ in 0..4 {
            envs.step(&[1, 0]);
        }
        assert_eq!(*envs.counters.borrow(), 4);
        envs.step(&[1, 1]);
        assert!(envs.info()[0].episode.is_none());
        envs.step(&[1, 1]);
        assert_eq!(
            envs.info()[0].episode,
            Some((3.0, 6)),
            "score and steps summed"
        );
        assert_eq!(envs.info()[0].reward, 0.5);
        envs.step(&[1, 1]);
        let snap = envs.snapshot().unwrap();
        assert_eq!(snap.resets, [2, 2]);
        assert_eq!(snap.actions, [vec![1], vec![1]]);
        let again = SlotEnvs::new(slots(2), Some((&snap, 7))).unwrap();
        assert_eq!(again.obs(), envs.obs());
        assert_eq!(again.slots[0].episodes, 2);
        assert_eq!(again.slots[0].count, 1);
        assert_eq!(
            *again.counters.borrow(),
            7,
            "the saved counters, not the replay's"
        );
        assert!(SlotEnvs::new(slots(1), Some((&snap, 0))).is_err());
    }
}
