//! The run folder every `gridmentor train` algorithm writes: config.json, metrics.csv and
//! TensorBoard events (shared RL columns, then the algorithm's own), latest.ckpt and best.ckpt
//! (which carry the run's learning curve, as metrics.csv has it so far).

use crate::checkpoint;
use crate::metric::{Metric, Num};
use crate::ppo::{Ppo, Stats};
use crate::tensorboard::EventWriter;
use anyhow::{Context, bail};
use gridmentor_core::nn::{ActorCritic, CurvePoint, MAX_CURVE_POINTS, Metadata, thin_curve};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Refuse an `out` that already holds a run (the message suggests `--resume`).
pub fn refuse_existing(out: &Path) -> anyhow::Result<()> {
    if out.join("config.json").exists() {
        bail!(
            "{} already holds a run; choose another --out (or --resume it)",
            out.display()
        );
    }
    Ok(())
}

/// Create `out` if needed and write `value` as its file `name` (config.json, eval.json).
pub fn write_json(out: &Path, name: &str, value: &impl serde::Serialize) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let path = out.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// The last finished episodes PPO keeps (up to 100), summed up.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
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
        Recent::of_window(&ppo.recent)
    }

    /// The window of finished episodes, each (return, length).
    pub fn of_window(r: &VecDeque<(f32, u32)>) -> Recent {
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
#[derive(Clone, Debug, Default)]
pub struct Update {
    /// The update's number (from 1).
    pub update: usize,
    pub frames: u64,
    pub episodes: u64,
    pub recent: Recent,
    pub fps: f64,
    pub wall_seconds: f64,
    pub stats: Stats,
}

impl Update {
    pub fn of(update: usize, ppo: &Ppo, stats: &Stats, fps: f64, wall_seconds: f64) -> Update {
        Update {
            update,
            frames: ppo.frames,
            episodes: ppo.episodes,
            recent: Recent::of(ppo),
            fps,
            wall_seconds,
            stats: *stats,
        }
    }

    /// The metrics.csv columns of every run (CleanRL's scalars and the rolling episode figures);
    /// an algorithm's own columns follow them.
    pub fn metrics(&self) -> Vec<Metric> {
        let (r, s) = (&self.recent, &self.stats);
        // The episode figures mean nothing before an episode has ended: empty cells, no
        // TensorBoard scalar.
        let episodic = |tag| (r.episodes > 0).then_some(tag);
        let figure = |v: f32| {
            if r.episodes > 0 {
                Num::F32(v)
            } else {
                Num::Missing
            }
        };
        vec![
            Metric::new("update", None, self.update),
            Metric::new("frames", None, self.frames),
            Metric::new("fps", Some("charts/SPS"), Num::Fixed(self.fps, 0)),
            Metric::new("episodes", None, self.episodes),
            Metric::new(
                "return_mean",
                episodic("charts/episodic_return"),
                figure(r.mean),
            ),
            Metric::new("return_min", None, figure(r.min)),
            Metric::new("return_max", None, figure(r.max)),
            Metric::new(
                "length_mean",
                episodic("charts/episodic_length"),
                figure(r.length),
            ),
            Metric::new(
                "success_rate",
                episodic("charts/success_rate"),
                figure(r.success),
            ),
            Metric::new("wall_seconds", None, Num::Fixed(self.wall_seconds, 3)),
            Metric::new("policy_loss", Some("losses/policy_loss"), s.policy_loss),
            Metric::new("value_loss", Some("losses/value_loss"), s.value_loss),
            Metric::new("entropy", Some("losses/entropy"), s.entropy),
            Metric::new("approx_kl", Some("losses/approx_kl"), s.approx_kl),
            Metric::new("clipfrac", Some("losses/clipfrac"), s.clipfrac),
            Metric::new(
                "explained_variance",
                Some("losses/explained_variance"),
                s.explained_variance,
            ),
            Metric::new("grad_norm", Some("losses/grad_norm"), s.grad_norm),
            Metric::new(
                "learning_rate",
                Some("charts/learning_rate"),
                s.learning_rate,
            ),
        ]
    }
}

/// The header of a metrics.csv whose rows are `row`s.
fn header(row: &[Metric]) -> String {
    let names: Vec<&str> = row.iter().map(|m| m.column).collect();
    names.join(",")
}

/// The columns of metrics.csv a checkpoint's learning curve is made of.
const CURVE_COLUMNS: [&str; 4] = ["frames", "episodes", "return_mean", "success_rate"];

/// The curve point of one metrics.csv row, given its cells by [`CURVE_COLUMNS`]; none before an
/// episode has ended (the rolling figures are empty then).
fn curve_point(cells: [f64; 4]) -> Option<CurvePoint> {
    let [frames, episodes, mean_return, success_rate] = cells;
    (episodes > 0.0).then_some(CurvePoint {
        frames: frames as u64,
        mean_return: mean_return as f32,
        success_rate: (success_rate as f32).clamp(0.0, 1.0),
    })
}

/// The learning curve of the rows of a metrics.csv `text` (its header first).
fn curve_of_csv(text: &str) -> Vec<CurvePoint> {
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let Some(at) = CURVE_COLUMNS
        .iter()
        .map(|c| names.iter().position(|n| n == c))
        .collect::<Option<Vec<usize>>>()
    else {
        return Vec::new();
    };
    lines
        .filter_map(|row| {
            let cells: Vec<&str> = row.split(',').collect();
            let value = |i: usize| cells.get(at[i])?.parse::<f64>().ok();
            curve_point([value(0)?, value(1)?, value(2)?, value(3)?])
        })
        .collect()
}

/// metrics.csv and the TensorBoard events of a run being trained, and its checkpoints.
pub struct RunLog {
    out: PathBuf,
    csv: BufWriter<File>,
    tb: EventWriter,
    header: String,
    best: Option<f32>,
    wall_before: f64,
    /// Every row's curve point so far (thinned only when a checkpoint is written).
    curve: Vec<CurvePoint>,
}

impl RunLog {
    /// Start metrics.csv (the columns of `row`, a row like the ones [`RunLog::record`] will
    /// get) and a TensorBoard event file in `out`. `resumed`: the update a resumed run's state
    /// has reached and its best rolling return; metrics.csv is then cut back to the rows up to
    /// that update (the later ones are redone by the resumed run).
    pub fn open(
        out: &Path,
        row: &[Metric],
        resumed: Option<(usize, Option<f32>)>,
    ) -> anyhow::Result<RunLog> {
        let path = out.join("metrics.csv");
        let header = header(row);
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
        let wall_col = header.split(',').position(|c| c == "wall_seconds");
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
            header,
            best: resumed.and_then(|r| r.1),
            wall_before,
            curve: curve_of_csv(&text),
        })
    }

    /// Seconds the earlier legs of a resumed run trained (0 for a new run): wall_seconds in
    /// metrics.csv and the final record's `seconds` count the whole run.
    pub fn wall_before(&self) -> f64 {
        self.wall_before
    }

    /// The learning curve so far, thinned to what a checkpoint holds.
    pub fn curve(&self) -> Vec<CurvePoint> {
        thin_curve(&self.curve, MAX_CURVE_POINTS)
    }

    /// `meta` with the learning curve so far.
    fn with_curve(&self, mut meta: Metadata) -> Metadata {
        meta.curve = self.curve();
        meta
    }

    /// The best rolling mean return a `best.ckpt` was saved for.
    pub fn best(&self) -> Option<f32> {
        self.best
    }

    /// One metrics.csv row and the TensorBoard scalars of an update at `frames`: the columns
    /// [`RunLog::open`] was given, in the same order.
    pub fn record(&mut self, frames: u64, row: &[Metric]) -> anyhow::Result<()> {
        assert_eq!(
            header(row),
            self.header,
            "the columns metrics.csv was opened with"
        );
        let cells: Vec<String> = row.iter().map(|m| m.value.to_string()).collect();
        writeln!(self.csv, "{}", cells.join(","))?;
        let value = |column: &str| {
            row.iter()
                .find(|m| m.column == column)
                .map(|m| f64::from(m.value.as_f32()))
        };
        if let [Some(episodes), Some(ret), Some(success)] = [
            value("episodes"),
            value("return_mean"),
            value("success_rate"),
        ] && let Some(p) = curve_point([frames as f64, episodes, ret, success])
        {
            self.curve.push(p);
        }
        for m in row {
            if let Some(tag) = m.tag
                && m.value != Num::Missing
            {
                self.tb.add_scalar(tag, m.value.as_f32(), frames as i64)?;
            }
        }
        Ok(())
    }

    /// After an update: `best.ckpt` when the rolling mean return (over at least 10 episodes)
    /// beats every earlier one, and, when `latest`, `latest.ckpt` with metrics.csv and the
    /// events flushed. `meta` describes the model now (the learning curve is added here).
    pub fn checkpoint(
        &mut self,
        model: &ActorCritic,
        recent: &Recent,
        latest: bool,
        meta: impl Fn() -> Metadata,
    ) -> anyhow::Result<()> {
        if recent.episodes >= 10 && self.best.is_none_or(|b| recent.mean > b) {
            self.best = Some(recent.mean);
            checkpoint::save(&self.out.join("best.ckpt"), model, self.with_curve(meta()))?;
        }
        if latest {
            checkpoint::save(
                &self.out.join("latest.ckpt"),
                model,
                self.with_curve(meta()),
            )?;
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
    /// final evaluation) and the whole learning curve, and `best.ckpt` the same when no rolling
    /// best was ever saved.
    pub fn finish(&mut self, model: &ActorCritic, meta: Metadata) -> anyhow::Result<()> {
        self.flush()?;
        let latest = self.out.join("latest.ckpt");
        checkpoint::save(&latest, model, self.with_curve(meta))?;
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

    /// A row of the shared columns and one of an algorithm's.
    fn row() -> Vec<Metric> {
        let mut row = Update::default().metrics();
        row.push(Metric::new("llm_calls", Some("llm/calls"), 3u64));
        row
    }

    fn shared_header() -> String {
        header(&Update::default().metrics())
    }

    #[test]
    fn metrics_start_with_the_shared_then_the_extra_columns() {
        let dir = temp_dir("header");
        let mut log = RunLog::open(&dir, &row(), None).unwrap();
        let mut r = row();
        r[0].value = Num::from(1usize);
        log.record(128, &r).unwrap();
        drop(log);
        let rows = lines(&dir.join("metrics.csv"));
        let shared = shared_header();
        assert!(shared.starts_with("update,frames,fps,episodes,return_mean,"));
        assert!(shared.ends_with(",grad_norm,learning_rate"));
        assert_eq!(rows[0], format!("{shared},llm_calls"));
        assert!(rows[1].starts_with("1,0,0,0,"), "{}", rows[1]);
        assert!(rows[1].ends_with(",3"), "{}", rows[1]);
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
        let shared = shared_header();
        let plain = Update::default().metrics();
        let old: String = core::iter::once(shared.clone())
            .chain((1..=5).map(|u| format!("{u},{}", u * 128)))
            .map(|l| l + "\n")
            .collect();
        std::fs::write(dir.join("metrics.csv"), old).unwrap();
        let log = RunLog::open(&dir, &plain, Some((3, Some(0.5)))).unwrap();
        assert_eq!(log.best(), Some(0.5));
        drop(log);
        let rows = lines(&dir.join("metrics.csv"));
        assert_eq!(rows, [shared.as_str(), "1,128", "2,256", "3,384"]);
        // Other columns (another algorithm, an older layout) are refused, not mixed.
        let other = RunLog::open(&dir, &row(), Some((3, None)));
        let e = other.err().unwrap();
        assert!(format!("{e:#}").contains("columns"), "{e:#}");
        assert_eq!(lines(&dir.join("metrics.csv")).len(), 4, "left as it was");
        // A missing metrics.csv on resume is an error that names it.
        std::fs::remove_file(dir.join("metrics.csv")).unwrap();
        let e = RunLog::open(&dir, &plain, Some((3, None))).err().unwrap();
        assert!(format!("{e:#}").contains("metrics.csv"), "{e:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The shared columns of an update at `frames` after `episodes` episodes.
    fn update_row(update: usize, frames: u64, episodes: usize, mean: f32) -> Vec<Metric> {
        Update {
            update,
            frames,
            episodes: episodes as u64,
            recent: Recent {
                episodes,
                mean,
                success: mean,
                ..Recent::default()
            },
            ..Update::default()
        }
        .metrics()
    }

    /// The checkpoints carry the curve metrics.csv has (rows before the first finished episode
    /// left out), and a resumed run's curve goes on from the rows it kept.
    #[test]
    fn checkpoints_carry_the_learning_curve_and_resume_keeps_it() {
        use gridmentor_core::nn::{ActionSpace, Checkpoint, NetSpec};
        let dir = temp_dir("curve");
        let plain = Update::default().metrics();
        let mut log = RunLog::open(&dir, &plain, None).unwrap();
        log.record(128, &update_row(1, 128, 0, 0.0)).unwrap();
        for u in 2..=4 {
            let f = u as u64 * 128;
            log.record(f, &update_row(u, f, u, 0.25 * u as f32))
                .unwrap();
        }
        let want: Vec<(u64, f32, f32)> = vec![(256, 0.5, 0.5), (384, 0.75, 0.75), (512, 1.0, 1.0)];
        let points = |c: &[CurvePoint]| -> Vec<(u64, f32, f32)> {
            c.iter()
                .map(|p| (p.frames, p.mean_return, p.success_rate))
                .collect()
        };
        assert_eq!(points(&log.curve()), want);
        let spec = NetSpec::minigrid(7);
        let model = ActorCritic::new(spec, 1, &burn::tensor::Device::flex()).unwrap();
        let meta = Metadata {
            spec,
            acts: ActionSpace::Primitive,
            env: "MiniGrid-DoorKey-5x5-v0".into(),
            algorithm: "ppo".into(),
            frames: 512,
            seed: 1,
            eval: None,
            curve: Vec::new(),
        };
        log.finish(&model, meta).unwrap();
        drop(log);
        let saved = Checkpoint::from_bytes(&std::fs::read(dir.join("latest.ckpt")).unwrap());
        assert_eq!(points(&saved.unwrap().meta.curve), want);
        // Resumed at update 3: the rows after it are redone, so the curve ends at 384 frames.
        let log = RunLog::open(&dir, &plain, Some((3, None))).unwrap();
        assert_eq!(points(&log.curve()), want[..2]);
        // A long run's curve is thinned to what a checkpoint holds, its last point kept.
        let mut log = RunLog::open(&dir, &plain, Some((0, None))).unwrap();
        for u in 1..=1000 {
            log.record(u as u64, &update_row(u, u as u64, 10, 0.5))
                .unwrap();
        }
        let c = log.curve();
        assert_eq!(c.len(), MAX_CURVE_POINTS);
        assert_eq!((c[0].frames, c[c.len() - 1].frames), (1, 1000));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_run_is_refused() {
        let dir = temp_dir("refuse");
        refuse_existing(&dir).unwrap();
        write_json(&dir, "config.json", &"a run").unwrap();
        let refused = refuse_existing(&dir).unwrap_err().to_string();
        assert!(refused.contains("already holds a run") && refused.contains("--resume"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
