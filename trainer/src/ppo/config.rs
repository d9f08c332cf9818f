//! Every PPO hyper-parameter, named once with its default beside it: rl-starter-files' (its flag
//! in brackets), CleanRL's where rl-starter-files has none.

use gridmentor_core::EnvSpec;
use gridmentor_core::nn::{NetKind, NetSpec, ObsKind};
use gridmentor_core::world::Action;

/// The observation a policy reads (see [`Config::obs`]).
#[derive(
    clap::ValueEnum, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq,
)]
#[serde(rename_all = "kebab-case")]
pub enum ObsChoice {
    Auto,
    View,
    MemoryMap,
    /// The memory map centred on the agent and turned to face up (core's `ObsKind::EgoMap`).
    EgoMap,
    /// The egocentric map as one-hot planes of type, colour and door state (core's
    /// `ObsKind::EgoMapOneHot`): a colour is a plane of its own, so a key can be matched to its
    /// door's colour.
    EgoMapOnehot,
    /// The one-hot egocentric map with colours relative to the first door seen (core's
    /// `ObsKind::EgoMapDoorRelative`): the key of the door's colour always reads as red.
    EgoMapDoorRelative,
    /// The view plus the BabyAI mission as constant index planes (core's
    /// `ObsKind::ViewMission`): what a level that mixes tasks needs.
    ViewMission,
}

/// The policy network (see [`Config::net`]).
#[derive(
    clap::ValueEnum, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq,
)]
#[serde(rename_all = "kebab-case")]
pub enum NetChoice {
    Auto,
    MinigridCnn,
    MemoryMapCnn,
    Mlp,
}

/// How the rollout's value targets are computed (see [`Config::returns`]).
#[derive(
    clap::ValueEnum, serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq,
)]
#[serde(rename_all = "kebab-case")]
pub enum Returns {
    /// GAE(lambda), bootstrapped from the value where the rollout cuts an episode.
    Gae,
    /// Monte-Carlo: the discounted sum of the rewards to the episode's end within the rollout,
    /// no bootstrap; advantage = return - value.
    Mc,
}

/// Every field is also a key of `--config file.toml` (its Rust name, e.g. `lambda`, `ent_coef`);
/// unknown keys are refused.
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    #[arg(long, default_value = "MiniGrid-DoorKey-5x5-v0")]
    pub env: String,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Total env frames (steps summed over envs); the run stops before exceeding it.
    #[arg(long, default_value_t = 150_000)]
    pub frames: u64,
    /// Parallel environments (`--procs 16`).
    #[arg(long, default_value_t = 16)]
    pub envs: usize,
    /// Steps per env per rollout (`--frames-per-proc 128`).
    #[arg(long, default_value_t = 128)]
    pub steps: usize,
    /// Threads stepping the envs (0: the training thread does it).
    #[arg(long, default_value_t = 0)]
    pub env_threads: usize,
    /// Optimisation epochs per rollout (`--epochs 4`).
    #[arg(long, default_value_t = 4)]
    pub epochs: usize,
    /// Minibatch size (`--batch-size 256`).
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Adam learning rate (`--lr 0.001`).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Adam epsilon (`--optim-eps 1e-8`).
    #[arg(long, default_value_t = 1e-8)]
    pub adam_eps: f32,
    /// Linear decay of the learning rate to 0 over the run (CleanRL `anneal_lr`; rl-starter: off).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub anneal_lr: bool,
    /// Discount (`--discount 0.99`).
    #[arg(long, default_value_t = 0.99)]
    pub gamma: f32,
    /// GAE lambda (`--gae-lambda 0.95`).
    #[arg(long = "gae-lambda", default_value_t = 0.95)]
    #[serde(alias = "gae_lambda")]
    pub lambda: f32,
    /// Value targets: `gae` (rl-starter-files, CleanRL) or `mc`, Monte-Carlo returns (the seeds'
    /// fidelity option).
    #[arg(long, value_enum, default_value_t = Returns::Gae)]
    pub returns: Returns,
    /// Surrogate and value clip range (`--clip-eps 0.2`).
    #[arg(long, default_value_t = 0.2)]
    pub clip: f32,
    /// Entropy bonus (`--entropy-coef 0.01`).
    #[arg(long, default_value_t = 0.01)]
    pub ent_coef: f32,
    /// Value loss weight (`--value-loss-coef 0.5`).
    #[arg(long, default_value_t = 0.5)]
    pub vf_coef: f32,
    /// Global gradient-norm limit (`--max-grad-norm 0.5`).
    #[arg(long, default_value_t = 0.5)]
    pub max_grad_norm: f32,
    /// Normalise advantages per minibatch (CleanRL `norm_adv`; torch-ac: off). Off by default:
    /// with it, a rollout without any reward turns value noise into policy drift, and one seed in
    /// six never found the key-door-goal reward on DoorKey-5x5 within 150k frames.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub norm_adv: bool,
    /// Clip the value loss (torch-ac always does; CleanRL `clip_vloss`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub clip_vloss: bool,
    /// Episodes for the final evaluation.
    #[arg(long, default_value_t = 100)]
    pub eval_episodes: usize,
    /// What the network observes: `auto` is the memory map for the seed tasks (as the seed
    /// repositories) and MiniGrid's 7x7 view elsewhere (as rl-starter-files); `ego-map` is the
    /// memory map centred on the agent and turned to face up, read like the view;
    /// `ego-map-onehot` the same map as one-hot planes (type, colour, door state);
    /// `ego-map-door-relative` those planes with the first seen door's colour swapped with red;
    /// `view-mission` is the view with the BabyAI instruction as index planes (for levels whose
    /// task changes between episodes, e.g. MixedTrainLocal).
    #[arg(long, value_enum, default_value_t = ObsChoice::Auto)]
    pub obs: ObsChoice,
    /// The network: `auto` is MiniGrid's CNN for the views and the egocentric map, LLM4Teach's
    /// CNN for the memory map.
    #[arg(long, value_enum, default_value_t = NetChoice::Auto)]
    pub net: NetChoice,
    /// Where the checkpoint goes.
    #[arg(skip)]
    #[serde(skip)]
    pub out: Option<String>,
}

/// The defaults are the clap attributes above, written once: a `Config` parsed from no flags.
impl Default for Config {
    fn default() -> Config {
        defaults_of_args::<Config>()
    }
}

/// The value of a `clap::Args` struct when no flag is given: its defaults as the attributes state
/// them (for `Default` impls, so that each default is written once, beside its field).
pub fn defaults_of_args<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every flag has a default");
    T::from_arg_matches(&matches).expect("the defaults parse")
}

impl Config {
    /// PPO updates in the run: whole rollouts of `envs x steps` frames within `frames` (at least
    /// one).
    pub fn updates(&self) -> usize {
        (self.frames / (self.envs * self.steps) as u64).max(1) as usize
    }

    /// The learning rate of update `update` (1-based) of [`Config::updates`]: `lr`, decayed
    /// linearly to 0 over the run with `anneal_lr` (CleanRL's `frac = 1 - (update - 1) / updates`).
    pub fn lr_at(&self, update: usize) -> f64 {
        if self.anneal_lr {
            self.lr * (1.0 - (update - 1) as f64 / self.updates() as f64)
        } else {
            self.lr
        }
    }

    /// The network this run trains on `env`, checked against the env's size and view.
    pub fn net_spec(&self, env: &'static EnvSpec) -> anyhow::Result<NetSpec> {
        let probe = gridmentor_core::Env::new(env, self.seed);
        let obs = match self.obs {
            ObsChoice::View => ObsKind::View {
                size: probe.world.view_size as u16,
            },
            ObsChoice::MemoryMap => ObsKind::MemoryMap {
                width: probe.world.width() as u16,
                height: probe.world.height() as u16,
            },
            ObsChoice::ViewMission => ObsKind::ViewMission {
                size: probe.world.view_size as u16,
            },
            ObsChoice::EgoMap => ObsKind::EgoMap {
                width: probe.world.width() as u16,
                height: probe.world.height() as u16,
            },
            ObsChoice::EgoMapOnehot => ObsKind::EgoMapOneHot {
                width: probe.world.width() as u16,
                height: probe.world.height() as u16,
            },
            ObsChoice::EgoMapDoorRelative => ObsKind::EgoMapDoorRelative {
                width: probe.world.width() as u16,
                height: probe.world.height() as u16,
            },
            ObsChoice::Auto if env.family == "seed" => ObsKind::MemoryMap {
                width: probe.world.width() as u16,
                height: probe.world.height() as u16,
            },
            ObsChoice::Auto => ObsKind::View {
                size: probe.world.view_size as u16,
            },
        };
        let net = match (self.net, obs) {
            (
                NetChoice::Auto,
                ObsKind::View { .. }
                | ObsKind::ViewMission { .. }
                | ObsKind::EgoMap { .. }
                | ObsKind::EgoMapOneHot { .. }
                | ObsKind::EgoMapDoorRelative { .. },
            )
            | (NetChoice::MinigridCnn, _) => NetKind::MiniGridCnn,
            (NetChoice::Auto, _) | (NetChoice::MemoryMapCnn, _) => NetKind::MemoryMapCnn,
            (NetChoice::Mlp, _) => NetKind::Mlp,
        };
        let spec = NetSpec {
            net,
            obs,
            actions: Action::COUNT,
        };
        spec.check()
            .map_err(|e| anyhow::anyhow!("--net {net} cannot read {obs} on {}: {e}", env.id))?;
        Ok(spec)
    }

    /// Checks that clap cannot express.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.envs >= 1 && self.steps >= 1,
            "--envs and --steps must be at least 1"
        );
        anyhow::ensure!(
            self.batch >= 1 && (self.envs * self.steps).is_multiple_of(self.batch),
            "--envs x --steps ({}) must be a multiple of --batch ({})",
            self.envs * self.steps,
            self.batch
        );
        anyhow::ensure!(
            self.frames >= (self.envs * self.steps) as u64,
            "--frames must cover at least one rollout ({} frames)",
            self.envs * self.steps
        );
        anyhow::ensure!(
            self.lr > 0.0 && self.lr.is_finite(),
            "--lr must be positive"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.gamma) && (0.0..=1.0).contains(&self.lambda),
            "--gamma and --gae-lambda must be within 0..=1"
        );
        // Checked before training, not after it: the final evaluation needs an episode.
        anyhow::ensure!(
            self.eval_episodes >= 1,
            "--eval-episodes must be at least 1"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--obs view-mission` reads the env's view plus the mission's planes with MiniGrid's CNN;
    /// `auto` on a BabyAI level stays the plain view.
    #[test]
    fn view_mission_is_the_view_and_the_mission_with_minigrids_cnn() {
        let env = gridmentor_core::registry::find("BabyAI-MixedTrainLocal-v0").unwrap();
        let cfg = Config {
            obs: ObsChoice::ViewMission,
            ..Config::default()
        };
        let spec = cfg.net_spec(env).unwrap();
        assert_eq!(spec.obs, ObsKind::ViewMission { size: 7 });
        assert_eq!(spec.net, NetKind::MiniGridCnn);
        assert_eq!(spec.obs.input_shape(), [10, 7, 7]);
        let auto = Config::default().net_spec(env).unwrap();
        assert_eq!(auto.obs, ObsKind::View { size: 7 });
    }
}
