//! The run folder every `gridmentor train` algorithm writes: config.json, metrics.csv and
//! TensorBoard events (shared RL columns, then the algorithm's own), latest.ckpt and best.ckpt.

use crate::ppo::{Ppo, Stats};
use crate::tensorboard::EventWriter;
use anyhow::{Context, bail};
use burn::module::Module;
use gridmentor_core::nn::{ActorCritic, Checkpoint, Metadata};
use serde_json::Value;
use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The metrics.csv columns of every run; an algorithm's own columns follow them.
pub const COLUMNS: &str = "update,frames,fps,episodes,return_mean,return_min,return_max,\
length_mean,success_rate,wall_seconds,policy_loss,value_loss,entropy,approx_kl,clipfrac,\
explained_variance,grad_norm,learning_rate";

/// Refuse an `out` that already holds a run (`resumable`: the message suggests `--resume`).
pub fn refuse_existing(out: &Path, resumable: bool) -> anyhow::Result<()> {
    if out.join("config.json").exists() {
        bail!(
            "{} already holds a run; choose another --out{}",
            out.display(),
            if resumable { " (or --resume it)" } else { "" }
        );
    }
    Ok(())
}

/// Create `out` if needed and write `config` as its config.json.
pub fn write_config(out: &Path, config: &Value) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join("config.json");
    std::fs::write(&path, serde_json::to_string_pretty(config)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Write a checkpoint of `model` to `path`, through a temporary file and a rename so that a
/// crash never leaves half a checkpoint.
pub fn save_checkpoint(path: &Path, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
    let ck = Checkpoint::from_model(&model.valid(), meta)?;
    let tmp = path.with_extension("ckpt.tmp");
    std::fs::write(&tmp, ck.to_bytes()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// An algorithm's own metric: its metrics.csv column and, if any, its TensorBoard tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extra {
    pub column: String,
    pub tag: Option<String>,
}

impl Extra {
    pub fn new(column: &str, tag: Option<&str>) -> Extra {
        Extra {
            column: column.into(),
            tag: tag.map(String::from),
        }
    }
}

/// A value of an algorithm's own metric, written to metrics.csv as it prints (an `f32` stays
/// `9.995`, not `9.994999885559082`).
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Num {
    F32(f32),
    F64(f64),
    Int(u64),
}

impl Num {
    fn as_f32(self) -> f32 {
        match self {
            Num::F32(v) => v,
            Num::F64(v) => v as f32,
            Num::Int(v) => v as f32,
        }
    }
}

impl From<f32> for Num {
    fn from(v: f32) -> Num {
        Num::F32(v)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Num {
        Num::F64(v)
    }
}

impl From<u64> for Num {
    fn from(v: u64) -> Num {
        Num::Int(v)
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::F32(v) => write!(f, "{v}"),
            Num::F64(v) => write!(f, "{v}"),
            Num::Int(v) => write!(f, "{v}"),
        }
    }
}

/// The last finished episodes PPO keeps (up to 100), summed up.
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct Recent {
    pub episodes: usize,
    pub mean: f32,
    pub min: f32,
    pub max: f32,
    pub length: f32,
    /// The seed tasks and MiniGrid reward only success: a positive return is a success.
    pub success: f32,
}

impl Recent {
    pub fn of(ppo: &Ppo) -> Recent {
        let r = &ppo.recent;
        let n = r.len().max(1) as f32;
        Recent {
            episodes: r.len(),
            mean: r.iter().map(|e| e.0).sum::<f32>() / n,
            min: r.iter().map(|e| e.0).fold(f32::INFINITY, f32::min),
            max: r.iter().map(|e| e.0).fold(f32::NEG_INFINITY, f32::max),
            length: r.iter().map(|e| e.1 as f32).sum::<f32>() / n,
            success: r.iter().filter(|e| e.0 > 0.0).count() as f32 / n,
        }
    }
}

/// What one PPO update did, as the run folder records it.
pub struct Update<'a> {
    /// The update's number (from 1).
    pub update: usize,
    pub ppo: &'a Ppo,
    pub stats: &'a Stats,
    pub fps: f64,
    pub wall_seconds: f64,
    pub learning_rate: f64,
}

/// metrics.csv and the TensorBoard events of a run being trained, and its checkpoints.
pub struct RunLog {
    out: PathBuf,
    csv: BufWriter<File>,
    tb: EventWriter,
    extras: Vec<Extra>,
    best: Option<f32>,
    wall_before: f64,
}

impl RunLog {
    /// Start metrics.csv (the shared columns, then `extras`) and a TensorBoard event file in
    /// `out`. `resumed`: the update a resumed run's state has reached and its best rolling
    /// return; metrics.csv is then cut back to the rows up to that update (the later ones are
    /// redone by the resumed run).
    pub fn open(
        out: &Path,
        extras: Vec<Extra>,
        resumed: Option<(usize, Option<f32>)>,
    ) -> anyhow::Result<RunLog> {
        let path = out.join("metrics.csv");
        let mut header = String::from(COLUMNS);
        for e in &extras {
            header.push(',');
            header.push_str(&e.column);
        }
        let mut text = match resumed {
            None => String::new(),
            Some((update, _)) => {
                let old = std::fs::read_to_string(&path)
                    .with_context(|| format!("--resume: reading {}", path.display()))?;
                let found = old.lines().next().unwrap_or_default();
                if !old.is_empty() && found != header {
                    bail!(
                        "--resume: the columns of {} are not the ones this run writes \
                         (an older gridmentor wrote it?): {found}",
                        path.display()
                    );
                }
                let mut kept = String::new();
                for (i, line) in old.lines().enumerate() {
                    let u = line.split(',').next().and_then(|u| u.parse::<usize>().ok());
                    if i == 0 || u.is_some_and(|u| u <= update) {
                        kept.push_str(line);
                        kept.push('\n');
                    }
                }
                kept
            }
        };
        if text.is_empty() {
            text = format!("{header}\n");
        }
        // A resumed run's clock goes on from the last kept row's wall_seconds.
        let wall_col = COLUMNS.split(',').position(|c| c == "wall_seconds");
        let wall_before = text
            .lines()
            .skip(1)
            .last()
            .and_then(|row| row.split(',').nth(wall_col?)?.parse::<f64>().ok())
            .unwrap_or(0.0);
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, &text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path)?;
        let csv = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let tb = EventWriter::create(out).context("creating the TensorBoard event file")?;
        Ok(RunLog {
            out: out.to_path_buf(),
            csv: BufWriter::new(csv),
            tb,
            extras,
            best: resumed.and_then(|r| r.1),
            wall_before,
        })
    }

    /// Seconds the earlier legs of a resumed run trained (0 for a new run): wall_seconds in
    /// metrics.csv and the final record's `seconds` count the whole run.
    pub fn wall_before(&self) -> f64 {
        self.wall_before
    }

    /// The best rolling mean return a `best.ckpt` was saved for.
    pub fn best(&self) -> Option<f32> {
        self.best
    }

    /// One metrics.csv row and the TensorBoard scalars of an update; `extras` are the values
    /// of the run's own columns, in order. Returns the rolling figures it recorded.
    pub fn record(&mut self, u: &Update, extras: &[Num]) -> anyhow::Result<Recent> {
        assert_eq!(
            extras.len(),
            self.extras.len(),
            "one value per extra metrics.csv column"
        );
        let (p, s) = (u.ppo, u.stats);
        let r = Recent::of(p);
        let mut line = format!(
            "{},{},{:.0},{},{},{},{},{},{},{:.3},{},{},{},{},{},{},{},{}",
            u.update,
            p.frames,
            u.fps,
            p.episodes,
            r.mean,
            r.min,
            r.max,
            r.length,
            r.success,
            u.wall_seconds,
            s.policy_loss,
            s.value_loss,
            s.entropy,
            s.approx_kl,
            s.clipfrac,
            s.explained_variance,
            s.grad_norm,
            u.learning_rate
        );
        for v in extras {
            line.push_str(&format!(",{v}"));
        }
        writeln!(self.csv, "{line}")?;
        let step = p.frames as i64;
        if r.episodes > 0 {
            self.tb.add_scalar("charts/episodic_return", r.mean, step)?;
            self.tb
                .add_scalar("charts/episodic_length", r.length, step)?;
            self.tb.add_scalar("charts/success_rate", r.success, step)?;
        }
        for (tag, v) in [
            ("charts/learning_rate", u.learning_rate as f32),
            ("charts/SPS", u.fps as f32),
            ("losses/policy_loss", s.policy_loss),
            ("losses/value_loss", s.value_loss),
            ("losses/entropy", s.entropy),
            ("losses/approx_kl", s.approx_kl),
            ("losses/clipfrac", s.clipfrac),
            ("losses/explained_variance", s.explained_variance),
            ("losses/grad_norm", s.grad_norm),
        ] {
            self.tb.add_scalar(tag, v, step)?;
        }
        for (e, v) in self.extras.iter().zip(extras) {
            if let Some(tag) = &e.tag {
                self.tb.add_scalar(tag, v.as_f32(), step)?;
            }
        }
        Ok(r)
    }

    /// After an update: `best.ckpt` when the rolling mean return (over at least 10 episodes)
    /// beats every earlier one, and, when `latest`, `latest.ckpt` with metrics.csv and the
    /// events flushed. `meta` describes the model now.
    pub fn checkpoint(
        &mut self,
        model: &ActorCritic,
        recent: &Recent,
        latest: bool,
        meta: impl Fn() -> Metadata,
    ) -> anyhow::Result<()> {
        if recent.episodes >= 10 && self.best.is_none_or(|b| recent.mean > b) {
            self.best = Some(recent.mean);
            save_checkpoint(&self.out.join("best.ckpt"), model, meta())?;
        }
        if latest {
            save_checkpoint(&self.out.join("latest.ckpt"), model, meta())?;
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.csv.flush()?;
        self.tb.flush()?;
        Ok(())
    }

    /// The end of training: everything flushed, `latest.ckpt` with `meta` (which carries the
    /// final evaluation), and `best.ckpt` the same when no rolling best was ever saved.
    pub fn finish(&mut self, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
        self.flush()?;
        let latest = self.out.join("latest.ckpt");
        save_checkpoint(&latest, model, meta)?;
        let best = self.out.join("best.ckpt");
        if !best.exists() {
            std::fs::copy(&latest, &best)
                .with_context(|| format!("copying {} to {}", latest.display(), best.display()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "gridmentor-run-folder-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn metrics_start_with_the_shared_then_the_extra_columns() {
        let dir = temp_dir("header");
        let extras = vec![Extra::new("llm_calls", Some("llm/calls"))];
        drop(RunLog::open(&dir, extras, None).unwrap());
        let rows = lines(&dir.join("metrics.csv"));
        assert_eq!(rows, [format!("{COLUMNS},llm_calls")]);
        let events = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().contains("tfevents")
            })
            .count();
        assert_eq!(events, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_resumed_run_keeps_the_rows_its_state_has_seen() {
        let dir = temp_dir("resume");
        let old: String = core::iter::once(String::from(COLUMNS))
            .chain((1..=5).map(|u| format!("{u},{}", u * 128)))
            .map(|l| l + "\n")
            .collect();
        std::fs::write(dir.join("metrics.csv"), old).unwrap();
        let log = RunLog::open(&dir, Vec::new(), Some((3, Some(0.5)))).unwrap();
        assert_eq!(log.best(), Some(0.5));
        drop(log);
        let rows = lines(&dir.join("metrics.csv"));
        assert_eq!(rows, [COLUMNS, "1,128", "2,256", "3,384"]);
        // Other columns (another algorithm, an older layout) are refused, not mixed.
        let other = RunLog::open(&dir, vec![Extra::new("llm_calls", None)], Some((3, None)));
        let e = other.err().unwrap();
        assert!(format!("{e:#}").contains("columns"), "{e:#}");
        assert_eq!(lines(&dir.join("metrics.csv")).len(), 4, "left as it was");
        // A missing metrics.csv on resume is an error that names it.
        std::fs::remove_file(dir.join("metrics.csv")).unwrap();
        let e = RunLog::open(&dir, Vec::new(), Some((3, None)))
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("metrics.csv"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_run_is_refused() {
        let dir = temp_dir("refuse");
        refuse_existing(&dir, true).unwrap();
        write_config(&dir, &serde_json::json!({"algo": "ppo"})).unwrap();
        let resumable = refuse_existing(&dir, true).unwrap_err().to_string();
        assert!(resumable.contains("already holds a run") && resumable.contains("--resume"));
        let fresh = refuse_existing(&dir, false).unwrap_err().to_string();
        assert!(fresh.contains("already holds a run") && !fresh.contains("--resume"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn extra_values_print_as_their_type_does() {
        assert_eq!(Num::from(9.995f32).to_string(), "9.995");
        assert_eq!(Num::from(0.1f64).to_string(), "0.1");
        assert_eq!(Num::from(42u64).to_string(), "42");
        assert_eq!(Num::from(9.995f32).as_f32(), 9.995);
    }
}
