//! Where a training run's settings come from, the same for every algorithm: the defaults, then
//! `--config file.toml` (or, on `--resume`, the run folder's config.json), then the flags given.

use crate::algo::{Algo, GuideArgs};
use crate::ppo::Config;
use crate::results::RunConfig;
use anyhow::{Context, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::Path;

/// What a run trains with: the algorithm, PPO's settings, and the planner and teacher.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub algo: Algo,
    pub ppo: Config,
    pub guide: GuideArgs,
}

/// The flags as given on the command line, and which of them the user typed.
pub struct Flags<'a> {
    pub settings: &'a Settings,
    /// Argument ids (the fields' names) given on the command line, not defaulted.
    pub explicit: &'a [String],
}

/// The ids of the arguments the user typed (not defaults) in `matches`.
pub fn explicit_flags(matches: Option<&clap::ArgMatches>) -> Vec<String> {
    let Some(m) = matches else {
        return Vec::new();
    };
    m.ids()
        .filter(|id| m.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine))
        .map(|id| id.as_str().to_string())
        .collect()
}

/// The settings of a new run: `file`'s PPO keys under the flags given.
pub fn for_new_run(file: Option<&Path>, flags: &Flags) -> anyhow::Result<Settings> {
    let mut settings = flags.settings.clone();
    if let Some(file) = file {
        settings.ppo = overlay(&from_toml(file)?, &flags.settings.ppo, flags.explicit)?;
    }
    Ok(settings)
}

/// Parse a TOML file of [`Config`] keys; an unknown key or a bad value is one line naming it.
pub fn from_toml(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --config {}", path.display()))?;
    toml::from_str::<Config>(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| format!(" (line {})", text[..s.start].matches('\n').count() + 1))
            .unwrap_or_default();
        let msg = e.message().trim().replace('\n', " ");
        anyhow::anyhow!("--config {}{line}: {msg}", path.display())
    })
}

/// `base` with the fields the user gave as flags taken from `flags`.
fn overlay<T: Serialize + DeserializeOwned>(
    base: &T,
    flags: &T,
    explicit: &[String],
) -> anyhow::Result<T> {
    let mut merged = serde_json::to_value(base)?;
    let given = serde_json::to_value(flags)?;
    for id in explicit {
        if let Some(v) = given.get(id) {
            merged[id.as_str()] = v.clone();
        }
    }
    serde_json::from_value(merged).context("merging the flags into the configuration")
}

/// What `--resume` may change: how long to go on and how to run, never what is learnt.
const RESUMABLE: [&str; 3] = ["frames", "eval_episodes", "env_threads"];

/// The settings of the run in `out` (its config.json: the algorithm, PPO's settings, the planner
/// and teacher), with the flags `--resume` allows. A flag that would change anything else is
/// refused, unless it repeats the run's own value (the first command with `--resume` added).
pub fn for_resume(out: &Path, flags: &Flags) -> anyhow::Result<Settings> {
    let path = out.join("config.json");
    let saved = RunConfig::read(out).with_context(|| format!("--resume: {}", path.display()))?;
    let ppo = saved
        .ppo
        .with_context(|| format!("--resume: {} has no \"ppo\" settings", path.display()))?;
    // Guided runs and When2Ask keep their planner and teacher under "guide".
    let guide = saved.settings.guide.map(|g| g.args).unwrap_or_default();
    let kept = Settings {
        algo: saved.algo,
        ppo,
        guide,
    };
    let changed = |saved: serde_json::Value, given: serde_json::Value| -> Vec<String> {
        flags
            .explicit
            .iter()
            .filter(|id| given.get(id).is_some_and(|v| saved.get(id) != Some(v)))
            .cloned()
            .collect()
    };
    let as_json = |s: &Settings| -> anyhow::Result<[serde_json::Value; 3]> {
        Ok([
            serde_json::json!({ "algo": s.algo }),
            serde_json::to_value(&s.ppo)?,
            serde_json::to_value(&s.guide)?,
        ])
    };
    let (now, asked) = (as_json(&kept)?, as_json(flags.settings)?);
    for (saved, given) in now.into_iter().zip(asked) {
        if let Some(id) = changed(saved, given)
            .into_iter()
            .find(|id| !RESUMABLE.contains(&id.as_str()))
        {
            bail!(
                "--resume continues {} with its own settings: --{} cannot change (only --frames, \
                 --eval-episodes, --env-threads can)",
                out.display(),
                if id == "lambda" {
                    "gae-lambda".into()
                } else {
                    id.replace('_', "-")
                }
            );
        }
    }
    Ok(Settings {
        ppo: overlay(&kept.ppo, &flags.settings.ppo, flags.explicit)?,
        ..kept
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_folder(name: &str, config: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gm-run-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("config.json"), config).unwrap();
        d
    }

    const GUIDED: &str = r#"{"algo":"llm4teach","env":"SimpleDoorKey",
        "ppo":{"env":"SimpleDoorKey","frames":4096,"envs":2,"steps":32,"batch":32},
        "guide":{"args":{"planner":"expert:noise=0.2,seed=4","teach_coef":5.0},"planner":"x"}}"#;

    #[test]
    fn resume_takes_every_setting_from_config_json() {
        let dir = run_folder("resume", GUIDED);
        let given = Settings {
            algo: Algo::Ppo,
            ppo: Config {
                frames: 8192,
                ..Config::default()
            },
            guide: GuideArgs::default(),
        };
        let explicit = ["frames".to_string()];
        let flags = Flags {
            settings: &given,
            explicit: &explicit,
        };
        let s = for_resume(&dir, &flags).unwrap();
        assert_eq!(s.algo, Algo::Llm4teach, "not the --algo default");
        assert_eq!(s.guide.teach_coef, 5.0, "not the --teach-coef default");
        assert_eq!(s.guide.planner.to_string(), "expert:noise=0.2,seed=4");
        assert_eq!((s.ppo.envs, s.ppo.frames), (2, 8192), "--frames may change");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn resume_refuses_to_change_what_is_learnt() {
        let dir = run_folder("refuse", GUIDED);
        let refused = |given: Settings, id: &str| {
            let explicit = [id.to_string()];
            let flags = Flags {
                settings: &given,
                explicit: &explicit,
            };
            format!("{:#}", for_resume(&dir, &flags).unwrap_err())
        };
        let base = || Settings {
            algo: Algo::Llm4teach,
            ppo: Config::default(),
            guide: GuideArgs::default(),
        };
        let e = refused(
            Settings {
                algo: Algo::Ihac,
                ..base()
            },
            "algo",
        );
        assert!(e.contains("--algo cannot change"), "{e}");
        let mut s = base();
        s.guide.teach_coef = 3.0;
        let e = refused(s, "teach_coef");
        assert!(e.contains("--teach-coef cannot change"), "{e}");
        let mut s = base();
        s.ppo.lambda = 0.5;
        let e = refused(s, "lambda");
        assert!(e.contains("--gae-lambda cannot change"), "{e}");
        // Repeating the run's own value is not a change.
        let mut s = base();
        s.guide.teach_coef = 5.0;
        let explicit = ["teach_coef".to_string(), "algo".to_string()];
        let flags = Flags {
            settings: &s,
            explicit: &explicit,
        };
        for_resume(&dir, &flags).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
