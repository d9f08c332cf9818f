//! What a run of an algorithm is set up with (`--algo`, the planner and the teacher's flags)
//! and what it records of itself in config.json.

use crate::planner_spec::PlannerSpec;
use crate::ppo::config::defaults_of_args;
use std::fmt;

/// `train --algo`: what PPO's network learns to do, and with whose help.
#[derive(
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
)]
#[serde(rename_all = "kebab-case")]
pub enum Algo {
    /// PPO alone on the env's actions.
    #[default]
    Ppo,
    /// When2Ask: a mediator learns when to ask the planner, whose plans the skills run.
    When2ask,
    /// PPO choosing among the skills (options), no LLM.
    SkillsRl,
    /// LLM4Teach: PPO plus a distillation term towards the planner's soft-plan teacher.
    Llm4teach,
    /// IHAC: LLM4Teach plus guided sampling and an alignment phase.
    Ihac,
    /// in5490: a bonus for taking the planner's suggestion, and a logit bias towards it.
    Shaping,
    /// GLAM: PPO on the embedded LLM itself (LoRA adapters and a value head), the policy the
    /// softmax over the action texts' log-likelihoods (BabyAI-Text tasks).
    Glam,
}

impl Algo {
    /// What the trained network's outputs choose among (the checkpoint header's `acts`).
    pub fn action_space(self) -> gridmentor_core::nn::ActionSpace {
        use gridmentor_core::nn::ActionSpace;
        match self {
            Algo::When2ask => ActionSpace::Ask,
            Algo::SkillsRl => ActionSpace::Options,
            Algo::Ppo | Algo::Llm4teach | Algo::Ihac | Algo::Shaping | Algo::Glam => {
                ActionSpace::Primitive
            }
        }
    }
}

impl fmt::Display for Algo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let value = self
            .to_possible_value()
            .expect("every algorithm is a value");
        f.write_str(value.get_name())
    }
}

/// What an algorithm adds to config.json beside the PPO settings (flattened into it, as older
/// run folders have these keys).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct AlgoSettings {
    /// The planner (When2Ask: its spec; skills-rl: `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planner_name: Option<String>,
    /// The planner's and teacher's settings, for every algorithm that asks a planner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guide: Option<GuideRecord>,
    #[serde(flatten)]
    pub when2ask: Option<When2askSettings>,
    #[serde(flatten)]
    pub skills: Option<SkillsSettings>,
}

/// When2Ask's: the prompt style, whether plans are cached per observation text, and the query
/// cost `0.01 + 0.1 r`.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct When2askSettings {
    pub style: String,
    pub cache_plans: bool,
    pub query_cost: f32,
    pub repeat_weight: f32,
}

/// skills-rl's: the options (skills) the policy chooses among, and how long one may run.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct SkillsSettings {
    pub options: Vec<String>,
    pub max_option_steps: u32,
}

/// config.json's `guide`: the settings `--resume` goes on with, and the planner's name.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq)]
pub struct GuideRecord {
    #[serde(default)]
    pub args: GuideArgs,
    #[serde(default)]
    pub planner: String,
}

/// The planner of every LLM-using algorithm, and the teacher and schedules of the guided ones,
/// with the papers' defaults.
#[derive(clap::Args, serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
#[serde(default)]
pub struct GuideArgs {
    /// The planner (the teacher's, When2Ask's): `expert`, `expert:noise=P[,seed=N]`, or
    /// `http://HOST/v1#model`.
    #[arg(long, default_value = "expert")]
    pub planner: PlannerSpec,
    /// Answers asked per abstract observation; their frequencies are the soft plan (LLM4Teach: 10).
    #[arg(long, default_value_t = 10)]
    pub teacher_samples: u32,
    /// A hard teacher: all weight on the most frequent plan.
    #[arg(long)]
    pub hard_teacher: bool,
    /// LLM4Teach: weight c of cross-entropy(teacher, student) at the first update (paper: 10).
    #[arg(long, default_value_t = 10.0)]
    pub teach_coef: f32,
    /// ... minus this per update (paper: 0.005) ...
    #[arg(long, default_value_t = 0.005)]
    pub teach_decay: f32,
    /// ... down to this floor (paper: 0.1) ...
    #[arg(long, default_value_t = 0.1)]
    pub teach_floor: f32,
    /// ... and no term at all after this update (paper: 3000).
    #[arg(long, default_value_t = 3000)]
    pub teach_until: usize,
    /// IHAC: c of softmax(student logits + c log teacher) at the start (paper: 1) ...
    #[arg(long, default_value_t = 1.0)]
    pub guide_coef: f32,
    /// ... multiplied by this (paper: 0.99) ...
    #[arg(long, default_value_t = 0.99)]
    pub guide_decay: f32,
    /// ... every this many updates (paper: 10).
    #[arg(long, default_value_t = 10)]
    pub guide_every: usize,
    /// IHAC: the share of updates spent cloning the teacher first (paper: 0.1).
    #[arg(long, default_value_t = 0.1)]
    pub align_fraction: f64,
    /// Cap on the importance weight student / behaviour of a guided step.
    #[arg(long, default_value_t = 5.0)]
    pub max_weight: f32,
    /// in5490: reward bonus when the action is the planner's suggestion, once per suggestion
    /// (the action and the object it acts on, as "pick up the key") per episode.
    #[arg(long, default_value_t = 0.1)]
    pub shaping_bonus: f32,
    /// in5490 policy influencing: logit bias on the suggested action at the start (0: off) ...
    #[arg(long, default_value_t = 0.0)]
    pub shaping_bias: f32,
    /// ... annealed linearly to zero over this share of the updates.
    #[arg(long, default_value_t = 0.5)]
    pub shaping_bias_fraction: f64,
    /// GLAM: the LLM trained (the embedded SmolLM2-135M-Instruct; its file from
    /// `$GRIDMENTOR_MODEL` or scripts/fetch-model.sh).
    #[arg(long, value_enum, default_value_t = LlmModel::Smollm2)]
    pub model: LlmModel,
    /// GLAM: LoRA adapters in this many top decoder blocks (the rest stay frozen).
    #[arg(long, default_value_t = 2)]
    pub lora_layers: usize,
    /// GLAM: LoRA rank ...
    #[arg(long, default_value_t = 8)]
    pub lora_rank: usize,
    /// ... and alpha (scale alpha / rank).
    #[arg(long, default_value_t = 16.0)]
    pub lora_alpha: f32,
    /// GLAM: adapt the MLP projections too, not only q and v.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set)]
    pub lora_mlp: bool,
    /// GLAM: the policy is softmax(log-likelihood / T) (GLAM: 1). Above 1 it explores the
    /// actions the zero-shot model finds unlikely (SmolLM2 gives "go forward" about 1e-4).
    #[arg(long, default_value_t = 1.0)]
    pub policy_temperature: f32,
    /// GLAM: training-only potential-based reward shaping (Ng et al. 1999): a step's reward
    /// gains gamma Phi(s') - Phi(s), Phi = -C x the fewest actions left to complete the
    /// instruction on the true state (every kind of GLAM's mixed level: core's
    /// `rules::shaping`; other instructions get none). The policy never sees the state; success, the returns in
    /// metrics.csv and every evaluation use the env's reward alone. 0: off (GLAM's own setting).
    #[arg(long, default_value_t = 0.0)]
    pub distance_shaping: f32,
    /// GLAM: CPU threads of the LLM.
    #[arg(long, default_value_t = 2)]
    pub llm_threads: usize,
}

/// `train --model`: the LLMs GLAM can ground.
#[derive(
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
)]
#[serde(rename_all = "kebab-case")]
pub enum LlmModel {
    /// SmolLM2-135M-Instruct, in-process (candle, CPU).
    #[default]
    Smollm2,
}

/// The defaults are the clap attributes above, written once.
impl Default for GuideArgs {
    fn default() -> GuideArgs {
        defaults_of_args::<GuideArgs>()
    }
}

impl GuideArgs {
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.teacher_samples >= 1,
            "--teacher-samples must be at least 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.align_fraction)
                && (0.0..=1.0).contains(&self.shaping_bias_fraction),
            "--align-fraction and --shaping-bias-fraction must be within 0..=1"
        );
        anyhow::ensure!(
            self.distance_shaping >= 0.0 && self.distance_shaping.is_finite(),
            "--distance-shaping must be a number >= 0"
        );
        anyhow::ensure!(
            self.guide_every >= 1 && self.max_weight > 0.0,
            "--guide-every must be at least 1 and --max-weight positive"
        );
        Ok(())
    }

    /// LLM4Teach's c at update `u` (1-based).
    pub fn teach_coef_at(&self, u: usize) -> f32 {
        if u > self.teach_until {
            return 0.0;
        }
        (self.teach_coef - self.teach_decay * (u - 1) as f32).max(self.teach_floor)
    }

    /// IHAC's guidance c at update `u` (1-based).
    pub fn guide_coef_at(&self, u: usize) -> f32 {
        self.guide_coef * self.guide_decay.powi(((u - 1) / self.guide_every) as i32)
    }
}
