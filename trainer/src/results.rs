//! The JSON the trainer writes and reads back, as types: a run's config.json, the line `train`
//! prints (also the run's eval.json), and the line `eval` prints. `report` reads all three.

use crate::algo::{Algo, AlgoSettings, TeacherTotals};
use crate::ppo::Config;
use crate::summary::Figures;
use anyhow::Context;
use gridmentor_core::agent::KindTally;
use std::fmt;
use std::path::Path;

/// A run folder's config.json: what was trained, where, and with which settings.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct RunConfig {
    pub algo: Algo,
    pub env: String,
    /// The network: its kind, what it reads and how many actions it has.
    #[serde(default)]
    pub net: String,
    #[serde(default)]
    pub obs: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<usize>,
    /// The device PPO trained on, and why.
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub device_reason: String,
    /// PPO's settings (`--resume` goes on with them).
    #[serde(default)]
    pub ppo: Option<Config>,
    #[serde(flatten)]
    pub settings: AlgoSettings,
    /// The gridmentor version that wrote it.
    #[serde(default)]
    pub gridmentor: String,
}

impl RunConfig {
    /// The config.json of the run folder `dir`.
    pub fn read(dir: &Path) -> anyhow::Result<RunConfig> {
        read_json(&dir.join("config.json"))
    }

    /// The planner the run asked, as the report names it: When2Ask's spec, the teacher's
    /// planner, or `none`.
    pub fn planner(&self) -> &str {
        let s = &self.settings;
        s.planner
            .as_deref()
            .or(s.guide.as_ref().map(|g| g.planner.as_str()))
            .unwrap_or("none")
    }
}

/// What `train` prints when the run ends, and writes to the run's eval.json: the run and its
/// final evaluation. Fields a hand-written or older file lacks read as their defaults.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct TrainResult {
    pub env: String,
    pub algo: Algo,
    pub seed: u64,
    /// Frames trained, all legs of a resumed run together.
    pub frames: u64,
    /// Wall time of the whole run (all legs).
    pub seconds: f64,
    /// Frames per second of this leg.
    pub fps: f64,
    pub device: String,
    /// The run folder.
    pub run: String,
    /// The final evaluation: the `eval --agent` that plays the network the same way, its
    /// planner, seed (`eval_seed + i` for episode i) and whether it acted greedily.
    pub agent: String,
    pub planner: String,
    pub eval_seed: u64,
    pub greedy: bool,
    #[serde(flatten)]
    pub figures: Figures,
    /// The guided algorithms: what the teacher cost over the whole training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub teacher: Option<TeacherTotals>,
    /// BabyAI tasks: the final evaluation's episodes and successes per task kind (GLAM's runs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_kind: Vec<KindTally>,
    /// The episodes training itself played (absent for runs that did not keep it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingEpisodes>,
}

/// Every episode a run played while it trained: in5490 compares methods by the environment's
/// return averaged over all of them (shaping bonuses excluded), which rewards learning early as
/// well as learning well.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, Default, PartialEq)]
pub struct TrainingEpisodes {
    pub episodes: u64,
    pub mean_return: f64,
}

/// The line `eval` prints (`--json`), one per evaluation; `report` reads files of them.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct EvalReport {
    pub env: String,
    /// `--agent` as named there (`planner`, `checkpoint`, `mediator`, `always`...).
    pub agent: String,
    #[serde(default = "none")]
    pub planner: String,
    /// Episode i used layout seed `seed + i`.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub greedy: bool,
    #[serde(flatten)]
    pub figures: Figures,
    /// The mediator's checkpoint file and its sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// `--record`: the episode drawn into a GIF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordReport>,
    /// BabyAI tasks: episodes and successes per task kind (core's `EvalSummary::by_kind`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_kind: Vec<KindTally>,
}

impl fmt::Display for EvalReport {
    /// The sentence `eval` prints without `--json`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.figures;
        write!(
            f,
            "{} with {} ({}): success {:.1}%, mean return {:.3}, mean steps {:.1}, LLM calls/episode {:.2}",
            self.env,
            self.agent,
            self.planner,
            100.0 * r.success_rate,
            r.mean_return,
            r.mean_steps,
            r.llm_calls_per_episode,
        )?;
        if let (Some(u), Some(b)) = (r.unusable_answers_per_episode, r.fallbacks_per_episode)
            && u + b > 0.0
        {
            write!(
                f,
                ", unusable answers/episode {u:.2}, fallbacks/episode {b:.2}"
            )?;
        }
        for (i, k) in self.by_kind.iter().enumerate() {
            let sep = if i == 0 { "; by kind: " } else { ", " };
            write!(f, "{sep}{} {}/{}", k.kind, k.successes, k.episodes)?;
        }
        Ok(())
    }
}

fn none() -> String {
    "none".into()
}

/// The episode `eval --record` drew.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq)]
pub struct RecordReport {
    /// The GIF file.
    pub path: String,
    pub seed: u64,
    pub steps: u32,
    /// Images in the GIF: the start and one a step.
    pub frames: usize,
    #[serde(rename = "return")]
    pub ret: f32,
    pub success: bool,
}

/// A JSON file as `T`; a missing or unreadable file is an error that names it.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not readable", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_older_versions_read() {
        // A PPO run's eval.json before the results were typed.
        let old: TrainResult = serde_json::from_str(
            r#"{"teacher":null,"env":"SimpleDoorKey","algo":"ppo","seed":1,"frames":2048,
            "seconds":3.5,"fps":600.0,"device":"cpu (flex)","eval_episodes":100,
            "mean_return":0.5,"success_rate":0.6,"mean_steps":40.0,"run":"runs/x"}"#,
        )
        .unwrap();
        assert_eq!(old.figures.episodes, 100);
        assert_eq!(old.figures.llm_calls_per_episode, 0.0);
        assert_eq!(old.algo, Algo::Ppo);
        // A guided run's config.json, with its teacher's settings.
        let config: RunConfig = serde_json::from_str(
            r#"{"guide":{"args":{"planner":"expert:noise=0.3","teach_coef":5.0},
            "planner":"scripted expert (noise 0.3)"},"algo":"llm4teach","device":"cpu (flex)",
            "device_reason":"--device cpu","env":"SimpleDoorKey","net":"memory-map-cnn",
            "obs":"memory map 10x10","ppo":{"seed":2},"gridmentor":"0.1.0"}"#,
        )
        .unwrap();
        let guide = config.settings.guide.as_ref().unwrap();
        assert_eq!(guide.args.teach_coef, 5.0);
        assert_eq!(
            guide.args.teach_decay, 0.005,
            "a missing key keeps its default"
        );
        assert_eq!(config.planner(), "scripted expert (noise 0.3)");
        assert_eq!(config.ppo.unwrap().seed, 2);
        assert!(config.settings.when2ask.is_none() && config.settings.skills.is_none());
        // A When2Ask run's, with its settings at the top.
        let w2a: RunConfig = serde_json::from_str(
            r#"{"algo":"when2ask","env":"SimpleDoorKey","planner":"expert","style":"when2ask",
            "cache_plans":true,"query_cost":0.01,"repeat_weight":0.1,"ppo":{}}"#,
        )
        .unwrap();
        assert_eq!(w2a.planner(), "expert");
        assert!(w2a.settings.when2ask.as_ref().unwrap().cache_plans);
        let again = serde_json::to_value(&w2a).unwrap();
        assert_eq!(again["style"], "when2ask", "{again}");
        // An eval line with its record.
        let line = r#"{"env":"SimpleDoorKey","agent":"planner","planner":"scripted expert",
            "episodes":1,"seed":3,"greedy":true,"success_rate":1.0,"mean_return":0.9,
            "mean_steps":12.0,"llm_calls_per_episode":2.0,"tokens_per_episode":0.0,
            "planner_ms_per_episode":0.1,"record":{"path":"a.gif","seed":3,"steps":12,
            "frames":13,"return":0.9,"success":true}}"#;
        let r: EvalReport = serde_json::from_str(line).unwrap();
        assert_eq!(r.record.as_ref().unwrap().frames, 13);
        let again: EvalReport = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(again, r);
    }
}
