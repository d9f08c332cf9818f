//! N environments stepped together, split over worker threads; each episode that ends is reset
//! at once from the env's own seed stream (like gym's autoreset).

use gridmentor_core::nn::{ObsKind, Observer};
use gridmentor_core::rng::Rng;
use gridmentor_core::world::Action;
use gridmentor_core::{Env, registry};
use std::ops::Range;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

/// What one env did in one step.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepInfo {
    pub reward: f32,
    /// terminated or truncated: the rollout does not bootstrap across it (as rl-starter-files).
    pub done: bool,
    /// The return and length of the episode that just ended.
    pub episode: Option<(f32, u32)>,
}

/// Where every env stands: how many episodes it has reset past and the actions of its current
/// episode. Envs are deterministic, so replaying this rebuilds them exactly (`--resume`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub resets: Vec<u64>,
    pub actions: Vec<Vec<u8>>,
}

impl Snapshot {
    /// `n` envs at the start of their first episode.
    pub fn fresh(n: usize) -> Snapshot {
        Snapshot {
            resets: vec![0; n],
            actions: vec![Vec::new(); n],
        }
    }

    /// Env `i` took `action`; `done`: that ended its episode and it was reset.
    pub fn record(&mut self, i: usize, action: u8, done: bool) {
        if done {
            self.resets[i] += 1;
            self.actions[i].clear();
        } else {
            self.actions[i].push(action);
        }
    }

    /// Check that this snapshot is of `n` envs.
    pub fn expect_envs(&self, n: usize) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.resets.len() == n && self.actions.len() == n,
            "the saved env state holds {} envs, not {n}",
            self.resets.len()
        );
        Ok(())
    }
}

struct Slot {
    env: Env,
    seeds: Rng,
    observer: Observer,
    ep_return: f32,
    ep_len: u32,
}

impl Slot {
    fn new(id: &str, obs: ObsKind, seed: u64, index: u64) -> anyhow::Result<Slot> {
        let mut seeds = Rng::derive(seed, 1_000 + index);
        let env = registry::make(id, seeds.next_u64()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let observer = Observer::new(obs, &env).map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        Ok(Slot {
            env,
            seeds,
            observer,
            ep_return: 0.0,
            ep_len: 0,
        })
    }

    /// Bring a fresh slot to where `resets` and `actions` say (see [`Snapshot`]).
    fn replay(&mut self, resets: u64, actions: &[u8], out: &mut [f32]) -> anyhow::Result<()> {
        for _ in 0..resets {
            let seed = self.seeds.next_u64();
            self.env.reset(seed);
        }
        self.observer.reset(&self.env);
        for &a in actions {
            anyhow::ensure!(
                (a as usize) < Action::COUNT && !self.step(a, out).done,
                "the saved env state does not replay (another env version?)"
            );
        }
        Ok(())
    }

    fn observe(&mut self, out: &mut [f32]) {
        self.observer.write(&self.env, out);
    }

    fn step(&mut self, action: u8, out: &mut [f32]) -> StepInfo {
        let t = self.env.step(Action::ALL[action as usize]);
        self.ep_return += t.reward;
        self.ep_len += 1;
        let done = t.terminated || t.truncated;
        let mut info = StepInfo {
            reward: t.reward,
            done,
            episode: None,
        };
        if done {
            info.episode = Some((self.ep_return, self.ep_len));
            self.ep_return = 0.0;
            self.ep_len = 0;
            let seed = self.seeds.next_u64();
            self.env.reset(seed);
            self.observer.reset(&self.env);
        } else {
            self.observer.update(&self.env);
        }
        self.observe(out);
        info
    }
}

struct Worker {
    range: Range<usize>,
    to: Sender<Vec<u8>>,
    from: Receiver<(Vec<f32>, Vec<StepInfo>)>,
    handle: Option<JoinHandle<()>>,
}

/// The environments, their current observations (network input layout) and last step's info.
pub struct VecEnv {
    pub n: usize,
    pub obs_len: usize,
    pub obs: Vec<f32>,
    pub info: Vec<StepInfo>,
    inline: Vec<Slot>,
    workers: Vec<Worker>,
    mirror: Snapshot,
}

impl VecEnv {
    /// `n` copies of env `id`; `threads` = 0 steps them on the caller's thread.
    pub fn new(
        id: &str,
        obs: ObsKind,
        n: usize,
        seed: u64,
        threads: usize,
    ) -> anyhow::Result<VecEnv> {
        Self::restore(id, obs, n, seed, threads, &Snapshot::fresh(n))
    }

    /// The envs of [`VecEnv::new`] brought to `snap` (taken by [`VecEnv::snapshot`]).
    pub fn restore(
        id: &str,
        obs: ObsKind,
        n: usize,
        seed: u64,
        threads: usize,
        snap: &Snapshot,
    ) -> anyhow::Result<VecEnv> {
        snap.expect_envs(n)?;
        let obs_len = obs.len();
        let mut slots: Vec<Slot> = (0..n)
            .map(|i| Slot::new(id, obs, seed, i as u64))
            .collect::<anyhow::Result<_>>()?;
        let mut first = vec![0.0; n * obs_len];
        for (i, (s, out)) in slots.iter_mut().zip(first.chunks_mut(obs_len)).enumerate() {
            s.replay(snap.resets[i], &snap.actions[i], out)?;
            s.observe(out);
        }
        let mut workers = Vec::new();
        if threads > 0 {
            let per = n.div_ceil(threads);
            let mut start = 0;
            while !slots.is_empty() {
                let mut mine: Vec<Slot> = slots.drain(..per.min(slots.len())).collect();
                let range = start..start + mine.len();
                start = range.end;
                let (to, rx) = channel::<Vec<u8>>();
                let (tx, from) = channel();
                let handle = std::thread::spawn(move || {
                    let mut buf = vec![0.0f32; mine.len() * obs_len];
                    while let Ok(actions) = rx.recv() {
                        let info: Vec<StepInfo> = mine
                            .iter_mut()
                            .zip(buf.chunks_mut(obs_len))
                            .zip(actions)
                            .map(|((s, out), a)| s.step(a, out))
                            .collect();
                        if tx.send((buf.clone(), info)).is_err() {
                            break;
                        }
                    }
                });
                workers.push(Worker {
                    range,
                    to,
                    from,
                    handle: Some(handle),
                });
            }
        }
        Ok(VecEnv {
            n,
            obs_len,
            obs: first,
            info: vec![StepInfo::default(); n],
            inline: slots,
            workers,
            mirror: snap.clone(),
        })
    }

    /// Where the envs stand now (cheap: counts and the current episodes' actions).
    pub fn snapshot(&self) -> Snapshot {
        self.mirror.clone()
    }

    fn record(&mut self, actions: &[u8]) {
        for (i, &a) in actions.iter().enumerate() {
            self.mirror.record(i, a, self.info[i].done);
        }
    }

    /// Env `i` as it is now, when the envs are stepped on the caller's thread (`threads` = 0);
    /// teachers read it.
    pub fn env(&self, i: usize) -> Option<&Env> {
        self.inline.get(i).map(|s| &s.env)
    }

    pub fn step(&mut self, actions: &[u8]) {
        self.step_envs(actions);
        self.record(actions);
    }

    fn step_envs(&mut self, actions: &[u8]) {
        assert_eq!(actions.len(), self.n);
        if self.workers.is_empty() {
            for (i, s) in self.inline.iter_mut().enumerate() {
                let out = &mut self.obs[i * self.obs_len..(i + 1) * self.obs_len];
                self.info[i] = s.step(actions[i], out);
            }
            return;
        }
        for w in &self.workers {
            w.to.send(actions[w.range.clone()].to_vec())
                .expect("env worker died");
        }
        for w in &self.workers {
            let (obs, info) = w.from.recv().expect("env worker died");
            let r = w.range.clone();
            self.obs[r.start * self.obs_len..r.end * self.obs_len].copy_from_slice(&obs);
            self.info[r].copy_from_slice(&info);
        }
    }
}

impl Drop for VecEnv {
    fn drop(&mut self) {
        for w in &mut self.workers {
            // Closing the channel ends the worker's loop.
            let (dead, _) = channel();
            w.to = dead;
            if let Some(h) = w.handle.take() {
                let _ = h.join();
            }
        }
    }
}
