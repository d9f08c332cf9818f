//! PPO (CleanRL's `ppo.py` shape, torch-ac's losses): rollouts from N envs, GAE, then epochs of
//! minibatch updates with the clipped surrogate, clipped value loss and entropy bonus.

use crate::ppo::clip::clip_global_norm;
use crate::ppo::config::Config;
use crate::ppo::vec_env::{StepInfo, VecEnv};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use gridmentor_core::nn::{ActorCritic, NetSpec};
use gridmentor_core::rng::Rng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One rollout: T steps of N envs, flattened as `t * N + env`.
struct Rollout {
    obs: Vec<f32>,
    actions: Vec<u8>,
    logp: Vec<f32>,
    values: Vec<f32>,
    rewards: Vec<f32>,
    dones: Vec<bool>,
    advantages: Vec<f32>,
    returns: Vec<f32>,
    /// With a [`Guide`]: the teacher's distribution per step (`actions` wide) and the
    /// behaviour policy's log-prob of the action taken (`logp` stays the student's).
    teacher: Vec<f32>,
    behaviour_logp: Vec<f32>,
}

/// What an LLM-guided algorithm adds to PPO in one update (all zero: plain PPO).
#[derive(Default, Debug, Clone, Copy, PartialEq)]
pub struct Guidance {
    /// LLM4Teach: weight `c` of cross-entropy(teacher, student) in the loss.
    pub distill: f32,
    /// IHAC: act by softmax(student logits + guide x log teacher).
    pub guide: f32,
    /// in5490 policy influencing: added to the logits in proportion to the teacher's
    /// distribution (its suggested action for a hard teacher) when acting.
    pub bias: f32,
    /// IHAC's alignment phase: act by the teacher and learn only to imitate it (and the value).
    pub align: bool,
    /// Cap on the importance weight student / behaviour of a guided step.
    pub max_weight: f32,
}

/// A teacher consulted at every step of the rollout (see `crate::algo`). It reads the envs
/// itself, so guided training steps them on the training thread.
pub trait Guide {
    /// The teacher's action distribution for every env's current state (`n x actions`).
    fn teacher(&mut self, envs: &dyn Envs, out: &mut [f32]) -> anyhow::Result<()>;
    /// The envs took `actions` (finished episodes are already reset): add any reward bonus.
    fn stepped(&mut self, envs: &dyn Envs, actions: &[u8], bonus: &mut [f32]);
    /// The weights of update `update` (1-based) of `updates`.
    fn guidance(&self, update: usize, updates: usize) -> Guidance;
}

/// Where the time of a run went.
#[derive(Default, Debug, Clone, Copy)]
pub struct Timings {
    pub policy: Duration,
    pub envs: Duration,
    pub update: Duration,
}

/// One update's statistics (CleanRL's scalars).
#[derive(Default, Debug, Clone, Copy)]
pub struct Stats {
    pub policy_loss: f32,
    pub value_loss: f32,
    pub entropy: f32,
    pub approx_kl: f32,
    pub clipfrac: f32,
    pub grad_norm: f32,
    pub explained_variance: f32,
    /// Guided runs: cross-entropy(teacher, student), and how often the student's most likely
    /// action is the teacher's over the rollout.
    pub teacher_ce: f32,
    pub agreement: f32,
    /// The weights used in this update.
    pub guidance: Guidance,
    /// The learning rate of this update ([`Config::lr_at`]).
    pub learning_rate: f64,
}

impl Stats {
    /// Adds one minibatch's losses and diagnostics; [`Stats::average_minibatches`] turns the
    /// sums into the update's means (the symbolic PPO and GLAM's both report them so).
    pub fn add_minibatch(
        &mut self,
        policy_loss: f32,
        value_loss: f32,
        entropy: f32,
        approx_kl: f32,
        clipfrac: f32,
        grad_norm: f32,
    ) {
        self.policy_loss += policy_loss;
        self.value_loss += value_loss;
        self.entropy += entropy;
        self.approx_kl += approx_kl;
        self.clipfrac += clipfrac;
        self.grad_norm += grad_norm;
    }

    /// The sums of `count` minibatches as their means.
    pub fn average_minibatches(&mut self, count: f32) {
        for s in [
            &mut self.policy_loss,
            &mut self.value_loss,
            &mut self.entropy,
            &mut self.approx_kl,
            &mut self.clipfrac,
            &mut self.grad_norm,
            &mut self.teacher_ce,
        ] {
            *s /= count;
        }
    }
}

/// Log-probabilities and sampling are core's, so every shell decides alike.
pub use gridmentor_core::nn::policy::{argmax as policy_argmax, log_softmax as log_probs, sample};

/// GAE(lambda) advantages and returns (`advantage + value`) of a rollout laid out `t * n + env`,
/// bootstrapping from `last` (the value after the final step); `done` cuts both.
fn gae(r: &mut Rollout, last: &[f32], gamma: f32, lambda: f32) {
    let (adv, ret) = gae_of(&r.rewards, &r.dones, &r.values, last, gamma, lambda);
    r.advantages = adv;
    r.returns = ret;
}

/// [`gae`] on plain slices (GLAM's rollout is not a network's): `(advantages, returns)`.
pub fn gae_of(
    rewards: &[f32],
    dones: &[bool],
    values: &[f32],
    last: &[f32],
    gamma: f32,
    lambda: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = last.len();
    let t_max = rewards.len() / n;
    let mut advantages = vec![0.0; rewards.len()];
    let mut returns = vec![0.0; rewards.len()];
    for (env, &bootstrap) in last.iter().enumerate() {
        let mut next_adv = 0.0;
        let mut next_value = bootstrap;
        for t in (0..t_max).rev() {
            let i = t * n + env;
            let mask = if dones[i] { 0.0 } else { 1.0 };
            let delta = rewards[i] + gamma * next_value * mask - values[i];
            next_adv = delta + gamma * lambda * next_adv * mask;
            advantages[i] = next_adv;
            returns[i] = next_adv + values[i];
            next_value = values[i];
        }
    }
    (advantages, returns)
}

/// N environments stepped together with discrete actions: all a rollout needs. [`VecEnv`] is the
/// primitive-action one; the LLM-guided algorithms bring their own (a mediator's ask / don't
/// ask, options over skills).
pub trait Envs {
    /// The observations of all envs, one after the other, in the network's input layout.
    fn obs(&self) -> &[f32];
    /// What each env did in the last step.
    fn info(&self) -> &[StepInfo];
    fn step(&mut self, actions: &[u8]);
    /// Where the envs stand, for `--resume` (envs that cannot be replayed give `None`).
    fn snapshot(&self) -> Option<crate::ppo::vec_env::Snapshot> {
        None
    }
    /// Env `i` as it is now, for teachers that read it (envs stepped on the caller's thread).
    fn env(&self, _i: usize) -> Option<&gridmentor_core::Env> {
        None
    }
}

impl Envs for VecEnv {
    fn obs(&self) -> &[f32] {
        &self.obs
    }
    fn info(&self) -> &[StepInfo] {
        &self.info
    }
    fn step(&mut self, actions: &[u8]) {
        VecEnv::step(self, actions)
    }
    fn snapshot(&self) -> Option<crate::ppo::vec_env::Snapshot> {
        Some(VecEnv::snapshot(self))
    }
    fn env(&self, i: usize) -> Option<&gridmentor_core::Env> {
        VecEnv::env(self, i)
    }
}

/// Monte-Carlo returns of a rollout laid out `t * n + env`: the discounted rewards to the end of
/// the episode, cut (not bootstrapped) where the rollout ends; advantage = return - value.
fn monte_carlo(r: &mut Rollout, n: usize, gamma: f32) {
    let t_max = r.rewards.len() / n;
    for env in 0..n {
        let mut next = 0.0;
        for t in (0..t_max).rev() {
            let i = t * n + env;
            let mask = if r.dones[i] { 0.0 } else { 1.0 };
            next = r.rewards[i] + gamma * next * mask;
            r.returns[i] = next;
            r.advantages[i] = next - r.values[i];
        }
    }
}

pub struct Ppo {
    pub cfg: Config,
    pub model: ActorCritic,
    pub(crate) optim: ModuleOptimizer,
    pub(crate) device: Device,
    pub(crate) rng: Rng,
    pub timings: Timings,
    /// Return and length of the last 100 finished episodes.
    pub recent: VecDeque<(f32, u32)>,
    /// Episodes finished so far.
    pub episodes: u64,
    /// The environment's return summed over every episode finished so far (shaping bonuses
    /// excluded): in5490's "mean reward" is this over `episodes`. None after resuming a state
    /// written before it was kept, so a wrong mean is never reported.
    pub return_total: Option<f64>,
    pub frames: u64,
    /// Updates done so far (the LR schedule's position; `train` continues from it).
    pub update: usize,
    /// The envs as they were after the last rollout (what `--resume` restores).
    pub env_snapshot: Option<crate::ppo::vec_env::Snapshot>,
}

impl Ppo {
    /// PPO on `device` (an autodiff device: flex or wgpu, see [`crate::device`]): the network,
    /// every tensor of the update and the rollouts' forward passes (on its inference side) live
    /// there; sampling, GAE and the statistics are plain f32 on the CPU.
    pub fn new(cfg: Config, spec: NetSpec, device: Device) -> anyhow::Result<Ppo> {
        let model = ActorCritic::new(spec, cfg.seed, &device).map_err(anyhow::Error::msg)?;
        let optim = AdamConfig::new().with_epsilon(cfg.adam_eps).init();
        let rng = Rng::derive(cfg.seed, 7);
        Ok(Ppo {
            cfg,
            model,
            optim,
            device,
            rng,
            timings: Timings::default(),
            recent: VecDeque::new(),
            episodes: 0,
            return_total: Some(0.0),
            frames: 0,
            update: 0,
            env_snapshot: None,
        })
    }

    fn collect(
        &mut self,
        envs: &mut dyn Envs,
        mut guide: Option<(&mut dyn Guide, Guidance)>,
        agreement: &mut f32,
    ) -> anyhow::Result<Rollout> {
        let (n, t_max) = (self.cfg.envs, self.cfg.steps);
        let obs_len = envs.obs().len() / n;
        let actions_n = self.model.spec().actions;
        let mut r = Rollout {
            obs: Vec::with_capacity(n * t_max * obs_len),
            actions: Vec::with_capacity(n * t_max),
            logp: Vec::with_capacity(n * t_max),
            values: Vec::with_capacity(n * t_max),
            rewards: Vec::with_capacity(n * t_max),
            dones: Vec::with_capacity(n * t_max),
            advantages: vec![0.0; n * t_max],
            returns: vec![0.0; n * t_max],
            teacher: Vec::new(),
            behaviour_logp: Vec::new(),
        };
        let mut teacher = vec![0.0f32; if guide.is_some() { n * actions_n } else { 0 }];
        let mut behaviour = vec![0.0f32; actions_n];
        let mut bonus = vec![0.0f32; n];
        let mut agree = 0usize;
        // The inference copy: no autodiff graph is built while acting.
        let policy = self.model.valid();
        let device = self.device.clone().without_autodiff();
        let mut lp = vec![0.0f32; actions_n];
        let mut acts = vec![0u8; n];
        for _ in 0..t_max {
            let t0 = Instant::now();
            let out = policy.forward(policy.input(envs.obs().to_vec(), n, &device));
            let logits = out
                .logits
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 logits");
            let values = out
                .value
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 values");
            if let Some((g, _)) = &mut guide {
                g.teacher(&*envs, &mut teacher)?;
                r.teacher.extend_from_slice(&teacher);
            }
            for i in 0..n {
                let row = &logits[i * actions_n..(i + 1) * actions_n];
                log_probs(row, &mut lp);
                let Some((_, w)) = &guide else {
                    let a = sample(&lp, &mut self.rng);
                    acts[i] = a as u8;
                    r.logp.push(lp[a]);
                    continue;
                };
                // The behaviour policy: the student's logits moved towards the teacher (IHAC,
                // in5490), or the teacher itself in the alignment phase.
                let t = &teacher[i * actions_n..(i + 1) * actions_n];
                for ((b, &l), &p) in behaviour.iter_mut().zip(row).zip(t) {
                    let log_t = p.max(1e-6).ln();
                    *b = if w.align {
                        log_t
                    } else {
                        l + w.guide * log_t + w.bias * p
                    };
                }
                let mut blp = vec![0.0f32; actions_n];
                log_probs(&behaviour, &mut blp);
                let a = sample(&blp, &mut self.rng);
                acts[i] = a as u8;
                r.logp.push(lp[a]);
                r.behaviour_logp.push(blp[a]);
                agree += (policy_argmax(&lp) == policy_argmax(t)) as usize;
            }
            r.obs.extend_from_slice(envs.obs());
            r.actions.extend_from_slice(&acts);
            r.values.extend_from_slice(&values);
            let t1 = Instant::now();
            envs.step(&acts);
            let t2 = Instant::now();
            if let Some((g, _)) = &mut guide {
                bonus.fill(0.0);
                g.stepped(&*envs, &acts, &mut bonus);
            }
            for (info, b) in envs.info().iter().zip(bonus.iter()) {
                r.rewards.push(info.reward + b);
                r.dones.push(info.done);
                if let Some((ret, len)) = info.episode {
                    self.episodes += 1;
                    if let Some(t) = &mut self.return_total {
                        *t += f64::from(ret);
                    }
                    self.recent.push_back((ret, len));
                    if self.recent.len() > 100 {
                        self.recent.pop_front();
                    }
                }
            }
            self.timings.policy += t1 - t0;
            self.timings.envs += t2 - t1;
        }
        self.frames += (n * t_max) as u64;

        // GAE(lambda), bootstrapping from the value of the observation after the last step.
        let t0 = Instant::now();
        let last = policy
            .forward(policy.input(envs.obs().to_vec(), n, &device))
            .value
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 values");
        self.timings.policy += t0.elapsed();
        match self.cfg.returns {
            crate::ppo::config::Returns::Gae => gae(&mut r, &last, self.cfg.gamma, self.cfg.lambda),
            crate::ppo::config::Returns::Mc => monte_carlo(&mut r, n, self.cfg.gamma),
        }
        *agreement = agree as f32 / (n * t_max) as f32;
        Ok(r)
    }

    /// One PPO update on a rollout, at learning rate `lr`.
    fn learn(&mut self, r: &Rollout, lr: f64, g: Guidance) -> Stats {
        let guided = !r.teacher.is_empty();
        let c = &self.cfg;
        let total = r.actions.len();
        let obs_len = r.obs.len() / total;
        let spec = self.model.spec();
        let [ch, h, w] = spec.obs.input_shape();
        let mut idx: Vec<usize> = (0..total).collect();
        let mut stats = Stats::default();
        let mut count = 0.0;
        for _ in 0..c.epochs {
            self.rng.shuffle(&mut idx);
            for mb in idx.chunks(c.batch) {
                let b = mb.len();
                let mut obs = Vec::with_capacity(b * obs_len);
                for &i in mb {
                    obs.extend_from_slice(&r.obs[i * obs_len..(i + 1) * obs_len]);
                }
                let pick = |v: &[f32]| mb.iter().map(|&i| v[i]).collect::<Vec<f32>>();
                let mut adv = pick(&r.advantages);
                if c.norm_adv {
                    let mean = adv.iter().sum::<f32>() / b as f32;
                    let var =
                        adv.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / (b as f32 - 1.0);
                    let std = var.sqrt() + 1e-8;
                    adv.iter_mut().for_each(|a| *a = (*a - mean) / std);
                }
                let d = &self.device;
                let t1 = |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [b]), d);
                let obs = Tensor::<4>::from_data(TensorData::new(obs, [b, ch, h, w]), d);
                let actions = Tensor::<2, Int>::from_data(
                    TensorData::new(
                        mb.iter().map(|&i| r.actions[i] as i64).collect::<Vec<_>>(),
                        [b, 1],
                    ),
                    d,
                );
                let old_logp = t1(pick(&r.logp));
                let old_values = t1(pick(&r.values));
                let returns = t1(pick(&r.returns));
                let adv = t1(adv);
                let actions_n = spec.actions;
                let teacher = guided.then(|| {
                    let mut t = Vec::with_capacity(b * actions_n);
                    for &i in mb {
                        t.extend_from_slice(&r.teacher[i * actions_n..(i + 1) * actions_n]);
                    }
                    Tensor::<2>::from_data(TensorData::new(t, [b, actions_n]), d)
                });
                // Guided sampling: PPO's clipped ratio stays student-new / student-old, and the
                // step is reweighted by student-old / behaviour (the original IHAC uses the
                // student's own log-prob as if it had acted, a biased estimate).
                let weight = guided.then(|| {
                    t1(mb
                        .iter()
                        .map(|&i| (r.logp[i] - r.behaviour_logp[i]).exp().min(g.max_weight))
                        .collect())
                });

                let out = self.model.forward(obs);
                let logp_all = log_softmax(out.logits, 1);
                let logp = logp_all.clone().gather(1, actions).flatten::<1>(0, 1);
                let teacher_ce = teacher.map(|t| (t * logp_all.clone()).sum_dim(1).mean().neg());
                let entropy = logp_all.clone().exp().mul(logp_all).sum_dim(1).mean().neg();
                let log_ratio = logp - old_logp;
                let ratio = log_ratio.clone().exp();
                let surr1 = ratio.clone() * adv.clone();
                let surr2 = ratio.clone().clamp(1.0 - c.clip, 1.0 + c.clip) * adv;
                let surr = surr1.min_pair(surr2);
                let policy_loss = match weight {
                    Some(w) => (surr * w).mean().neg(),
                    None => surr.mean().neg(),
                };
                let value = out.value;
                let value_loss = if c.clip_vloss {
                    let clipped =
                        old_values.clone() + (value.clone() - old_values).clamp(-c.clip, c.clip);
                    let a = (value - returns.clone()).square();
                    let b2 = (clipped - returns).square();
                    a.max_pair(b2).mean()
                } else {
                    (value - returns).square().mean()
                };
                let mut loss = if g.align {
                    value_loss.clone().mul_scalar(c.vf_coef)
                } else {
                    policy_loss.clone() - entropy.clone().mul_scalar(c.ent_coef)
                        + value_loss.clone().mul_scalar(c.vf_coef)
                };
                if let Some(ce) = &teacher_ce {
                    let coef = if g.align {
                        g.distill.max(1.0)
                    } else {
                        g.distill
                    };
                    if coef > 0.0 {
                        loss = loss + ce.clone().mul_scalar(coef);
                    }
                    stats.teacher_ce += ce.clone().into_scalar::<f32>();
                }

                let mut grads = GradientsParams::from_grads(loss.backward(), &self.model);
                let norm = clip_global_norm(&self.model, &mut grads, c.max_grad_norm);
                self.model = self.optim.step(lr, self.model.clone(), grads);

                // Diagnostics, read after the step (flex is eager: these are plain reads; on
                // wgpu each read waits for the queued kernels).
                let ratio = ratio.into_data().try_into_vec::<f32>().unwrap();
                let lr_ = log_ratio.into_data().try_into_vec::<f32>().unwrap();
                let kl: f32 = ratio
                    .iter()
                    .zip(&lr_)
                    .map(|(r, l)| (r - 1.0) - l)
                    .sum::<f32>()
                    / b as f32;
                let cf =
                    ratio.iter().filter(|r| (**r - 1.0).abs() > c.clip).count() as f32 / b as f32;
                stats.add_minibatch(
                    policy_loss.into_scalar::<f32>(),
                    value_loss.into_scalar::<f32>(),
                    entropy.into_scalar::<f32>(),
                    kl,
                    cf,
                    norm,
                );
                count += 1.0;
            }
        }
        stats.average_minibatches(count);
        let var = |xs: &mut dyn Iterator<Item = f32>| {
            let v: Vec<f32> = xs.collect();
            let m = v.iter().sum::<f32>() / v.len() as f32;
            v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / v.len() as f32
        };
        let var_ret = var(&mut r.returns.iter().copied());
        let var_res = var(&mut r.returns.iter().zip(&r.values).map(|(y, v)| y - v));
        stats.explained_variance = if var_ret == 0.0 {
            f32::NAN
        } else {
            1.0 - var_res / var_ret
        };
        stats
    }

    /// Train until the frame budget (continuing from `self.update`), with an LLM-guided
    /// algorithm's teacher or none (plain PPO); `log` sees each update. Fails when the teacher's
    /// planner does.
    pub fn train(
        &mut self,
        envs: &mut dyn Envs,
        mut guide: Option<&mut dyn Guide>,
        mut log: impl FnMut(&Ppo, usize, &Stats),
    ) -> anyhow::Result<()> {
        let updates = self.cfg.updates();
        for u in self.update + 1..=updates {
            let lr = self.cfg.lr_at(u);
            let g = guide
                .as_ref()
                .map_or_else(Guidance::default, |g| g.guidance(u, updates));
            let mut agreement = 0.0;
            let rollout = self.collect(
                envs,
                guide.as_mut().map(|x| (&mut **x as &mut dyn Guide, g)),
                &mut agreement,
            )?;
            let t0 = Instant::now();
            let mut stats = self.learn(&rollout, lr, g);
            stats.agreement = agreement;
            stats.guidance = g;
            stats.learning_rate = lr;
            self.timings.update += t0.elapsed();
            self.update = u;
            self.env_snapshot = envs.snapshot();
            log(self, u, &stats);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(rewards: Vec<f32>, values: Vec<f32>, dones: Vec<bool>) -> Rollout {
        let k = rewards.len();
        Rollout {
            obs: vec![],
            actions: vec![0; k],
            logp: vec![0.0; k],
            values,
            rewards,
            dones,
            advantages: vec![0.0; k],
            returns: vec![0.0; k],
            teacher: vec![],
            behaviour_logp: vec![],
        }
    }

    #[test]
    fn gae_with_lambda_one_is_the_discounted_return_minus_value() {
        // One env, 3 steps, episode ends at step 1; then a new one bootstraps from `last`.
        let mut r = rollout(
            vec![0.0, 1.0, 0.5],
            vec![0.2, 0.4, 0.1],
            vec![false, true, false],
        );
        gae(&mut r, &[2.0], 0.9, 1.0);
        let want_ret = [0.9 * 1.0, 1.0, 0.5 + 0.9 * 2.0];
        for (got, want) in r.returns.iter().zip(want_ret) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert!((r.advantages[0] - (0.9 - 0.2)).abs() < 1e-6);
    }

    #[test]
    fn monte_carlo_returns_stop_at_episode_ends_and_do_not_bootstrap() {
        // Two envs interleaved, 3 steps: env 0 ends at t=1, env 1 never ends.
        let mut r = rollout(
            vec![0.0, 0.0, 1.0, 0.0, 0.5, 2.0],
            vec![0.1; 6],
            vec![false, false, true, false, false, false],
        );
        monte_carlo(&mut r, 2, 0.9);
        // env 0: t0 -> 0.9 * 1.0, t1 -> 1.0 (done), t2 -> 0.5 (no bootstrap).
        for (i, want) in [(0, 0.9), (2, 1.0), (4, 0.5)] {
            assert!((r.returns[i] - want).abs() < 1e-6, "{i}: {}", r.returns[i]);
        }
        // env 1: 0 + 0.9 * (0 + 0.9 * 2).
        assert!((r.returns[1] - 0.81 * 2.0).abs() < 1e-6);
        assert!((r.advantages[5] - (2.0 - 0.1)).abs() < 1e-6);
    }

    #[test]
    fn gae_keeps_envs_apart() {
        // Two envs interleaved: env 1's reward must not leak into env 0.
        let mut r = rollout(vec![0.0, 1.0, 0.0, 0.0], vec![0.0; 4], vec![false; 4]);
        gae(&mut r, &[0.0, 0.0], 0.99, 0.95);
        assert_eq!(r.advantages[0], 0.0);
        assert_eq!(r.advantages[2], 0.0);
        assert!((r.advantages[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn log_probs_normalise_and_sampling_follows_them() {
        let mut lp = [0.0; 3];
        log_probs(&[1.0, 2.0, 3.0], &mut lp);
        let total: f32 = lp.iter().map(|l| l.exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
        let mut rng = Rng::new(0);
        let mut counts = [0; 3];
        for _ in 0..30_000 {
            counts[sample(&lp, &mut rng)] += 1;
        }
        let p2 = lp[2].exp();
        assert!(
            (counts[2] as f32 / 30_000.0 - p2).abs() < 0.01,
            "{counts:?}"
        );
    }
}
