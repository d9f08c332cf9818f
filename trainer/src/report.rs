//! `gridmentor report`: one markdown table per env over run folders (config.json, metrics.csv,
//! eval.json) and `gridmentor eval --json` result files, and SVG learning curves.

use crate::results::{EvalReport, RunConfig, TrainResult, read_json};
use anyhow::{Context, bail};
use gridmentor_core::agent::KindTally;
use gridmentor_core::rules::TaskKind;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// When2Ask's four seed tasks.
pub const DEFAULT_ENVS: [&str; 4] = [
    "SimpleDoorKey",
    "KeyInBox",
    "RandomBoxKey",
    "ColoredDoorKey",
];

/// Arguments of `gridmentor report`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// Envs to report (repeat the flag); default: the four When2Ask seed tasks.
    #[arg(long)]
    pub env: Vec<String>,
    /// Folder searched (three levels deep) for run folders and eval result files (*.json).
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Where report.md and the SVG curves go.
    #[arg(long, default_value = "report")]
    pub out: PathBuf,
}

/// One learning curve point: frames, success rate (or return when the run did not log it).
type Curve = Vec<(f64, f64)>;

/// One training run or one evaluation.
#[derive(Clone, Debug)]
pub struct Entry {
    pub env: String,
    /// The algorithm with the settings that differ from the defaults: `ppo (norm_adv=true)`.
    pub algo: String,
    /// The algorithm alone (`ppo`): runs of one `base` and planner with several `algo`s are a
    /// sweep of its settings, which the plot draws in a panel of its own.
    pub base: String,
    pub planner: String,
    pub seed: Option<u64>,
    pub success: Option<f64>,
    pub ret: Option<f64>,
    pub steps: Option<f64>,
    pub calls: Option<f64>,
    pub seconds: Option<f64>,
    pub frames_to_90: Option<f64>,
    /// Some run reached 90% (None: no success curve at all).
    pub reached_90: Option<bool>,
    /// The teacher still steered the actions played when the run reached 90% (IHAC's guided
    /// sampling), so that figure is the teacher's and student's together.
    pub steered_90: bool,
    pub curve: Curve,
    pub curve_is_success: bool,
    /// BabyAI levels: the final evaluation's episodes and successes per task kind.
    pub by_kind: Vec<KindTally>,
    /// Episodes of the final evaluation (or eval file).
    pub episodes: Option<u64>,
    /// The first layout seed of the final evaluation (or eval file).
    pub eval_seed: Option<u64>,
    /// Frames trained (runs with a final evaluation).
    pub frames: Option<u64>,
    /// The environment's mean return over every episode played while training (in5490's
    /// measure; runs that kept it).
    pub training_return: Option<f64>,
    pub source: PathBuf,
}

/// The learning curve of a metrics.csv: success rate when logged, else mean return.
/// The rolling success rate covers the last this many finished episodes (`ppo::update`).
const WINDOW: f64 = 100.0;

/// A run's metrics.csv as the report reads it.
struct CurveFile {
    curve: Curve,
    /// The curve is the success rate (else the mean return).
    is_success: bool,
    /// The frames from which the rolling window is full. Before that the rate is over the few
    /// episodes that have ended, and early on those are the quick successes (an episode can only
    /// end early by succeeding), so "frames to 90%" counts only from there. A file without an
    /// `episodes` column counts from its first row.
    full_from: f64,
    /// The last frames at which the teacher steered the actions played (IHAC's guided sampling:
    /// a `guide_coef` above 0), so the rolling success up to there is not the student's alone;
    /// minus infinity for a run it never steered.
    steered_until: f64,
}

fn read_curve(path: &Path) -> anyhow::Result<CurveFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let frames = col("frames").with_context(|| format!("{}: no frames column", path.display()))?;
    let (y, is_success) = match (col("success_rate"), col("return_mean")) {
        (Some(c), _) => (c, true),
        (None, Some(c)) => (c, false),
        _ => bail!("{}: no success_rate or return_mean column", path.display()),
    };
    let episodes = col("episodes");
    let guide = col("guide_coef");
    let mut curve = Vec::new();
    let mut full_from = episodes.is_none().then_some(0.0);
    let mut steered_until = f64::NEG_INFINITY;
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |c: usize| cells.get(c).and_then(|v| v.parse::<f64>().ok());
        // An empty cell is a value the run did not have (no episode had ended yet; older files
        // wrote inf or -0 there): the row is no point of the curve. Anything else unreadable is
        // a broken file.
        let empty = |c: usize| cells.get(c).is_some_and(|v| v.is_empty());
        match (get(frames), get(y)) {
            (Some(f), Some(v)) => curve.push((f, v)),
            _ if empty(frames) || empty(y) => {}
            _ => bail!("{} line {}: unreadable row", path.display(), i + 2),
        }
        if full_from.is_none() && episodes.and_then(get).is_some_and(|n| n >= WINDOW) {
            full_from = get(frames);
        }
        if let Some(g) = guide.filter(|&g| !empty(g)) {
            let coef = get(g).with_context(|| {
                format!("{} line {}: unreadable guide_coef", path.display(), i + 2)
            })?;
            if let (Some(f), true) = (get(frames), coef > 0.0) {
                steered_until = f;
            }
        }
    }
    Ok(CurveFile {
        curve,
        is_success,
        full_from: full_from.unwrap_or(f64::INFINITY),
        steered_until,
    })
}

/// The settings of a run that differ from the defaults, as `key=value, ...`: the PPO keys (not
/// seed, frames, env and how the run was executed) and the teacher's (not its planner, which has
/// its own column). Runs of one algorithm with other settings get a row of their own.
fn variant(config: &RunConfig) -> anyhow::Result<String> {
    const SKIP: [&str; 6] = [
        "seed",
        "frames",
        "env",
        "eval_episodes",
        "env_threads",
        "planner",
    ];
    let show = |v: &Value| match v {
        // Settings are f32: print 0.2, not 0.20000000298023224.
        Value::Number(n) if n.is_f64() => format!("{}", n.as_f64().unwrap_or_default() as f32),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    let guide = config.settings.guide.as_ref().map(|g| &g.args);
    let settings = [
        (
            config.ppo.as_ref().map(serde_json::to_value).transpose()?,
            serde_json::to_value(crate::ppo::Config::default())?,
        ),
        (
            guide.map(serde_json::to_value).transpose()?,
            serde_json::to_value(crate::algo::GuideArgs::default())?,
        ),
    ];
    for (given, default) in settings {
        let (Some(Value::Object(given)), Value::Object(default)) = (given, default) else {
            continue;
        };
        // serde_json's maps are sorted: the keys come in alphabetical order.
        for (k, v) in given {
            if SKIP.contains(&k.as_str()) {
                continue;
            }
            if default.get(&k).is_some_and(|d| show(d) != show(&v)) {
                out.push(format!("{k}={}", show(&v)));
            }
        }
    }
    Ok(out.join(", "))
}

fn run_entry(dir: &Path) -> anyhow::Result<Entry> {
    let config = RunConfig::read(dir)?;
    let eval: Option<TrainResult> = if dir.join("eval.json").exists() {
        Some(read_json(&dir.join("eval.json"))?)
    } else {
        None
    };
    let CurveFile {
        curve,
        is_success: curve_is_success,
        full_from,
        steered_until,
    } = if dir.join("metrics.csv").exists() {
        read_curve(&dir.join("metrics.csv"))?
    } else {
        CurveFile {
            curve: Vec::new(),
            is_success: false,
            full_from: f64::INFINITY,
            steered_until: f64::NEG_INFINITY,
        }
    };
    let frames_to_90 = curve_is_success
        .then(|| {
            curve
                .iter()
                .find(|p| p.0 >= full_from && p.1 >= 0.9)
                .map(|p| p.0)
        })
        .flatten();
    let figures = eval.as_ref().map(|e| &e.figures);
    Ok(Entry {
        env: config.env.clone(),
        base: config.algo.to_string(),
        algo: match variant(&config)? {
            v if v.is_empty() => config.algo.to_string(),
            v => format!("{} ({v})", config.algo),
        },
        planner: config.planner().to_string(),
        seed: config.ppo.as_ref().map(|p| p.seed),
        success: figures.map(|f| f.success_rate),
        ret: figures.map(|f| f.mean_return),
        steps: figures.map(|f| f.mean_steps),
        calls: figures.map(|f| f.llm_calls_per_episode),
        seconds: eval.as_ref().map(|e| e.seconds),
        reached_90: curve_is_success.then_some(frames_to_90.is_some()),
        steered_90: frames_to_90.is_some_and(|f| f <= steered_until),
        frames_to_90,
        curve,
        curve_is_success,
        by_kind: eval.as_ref().map(|e| e.by_kind.clone()).unwrap_or_default(),
        episodes: figures.map(|f| f.episodes as u64),
        eval_seed: eval.as_ref().map(|e| e.eval_seed),
        frames: eval.as_ref().map(|e| e.frames),
        training_return: eval
            .as_ref()
            .and_then(|e| e.training)
            .map(|t| t.mean_return),
        source: dir.to_path_buf(),
    })
}

/// The `eval --json` records of a file (one JSON object, or several, one per line); JSON that is
/// not an eval record (another tool's file) is passed over.
fn eval_entries(path: &Path) -> anyhow::Result<Vec<Entry>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let Ok(v) = v else { return Ok(Vec::new()) };
        // A train command's printed result (it names its algorithm) repeats its run folder's
        // eval.json, which is read with the run: as an eval record it would be a second row.
        if v.get("algo").is_some() {
            continue;
        }
        let Ok(r) = serde_json::from_value::<EvalReport>(v) else {
            continue;
        };
        let f = &r.figures;
        let algo = if r.greedy {
            format!("eval:{} (greedy)", r.agent)
        } else {
            format!("eval:{}", r.agent)
        };
        out.push(Entry {
            base: algo.clone(),
            algo,
            seed: Some(r.seed),
            success: Some(f.success_rate),
            ret: Some(f.mean_return),
            steps: Some(f.mean_steps),
            calls: Some(f.llm_calls_per_episode),
            seconds: None,
            frames_to_90: None,
            reached_90: None,
            steered_90: false,
            curve: Vec::new(),
            curve_is_success: false,
            by_kind: r.by_kind.clone(),
            episodes: Some(f.episodes as u64),
            eval_seed: Some(r.seed),
            frames: None,
            training_return: None,
            source: path.to_path_buf(),
            env: r.env,
            planner: r.planner,
        });
    }
    Ok(out)
}

/// Every run folder and eval file under `root` (three levels deep).
pub fn collect(root: &Path) -> anyhow::Result<Vec<Entry>> {
    if !root.is_dir() {
        bail!("--runs {} is not a folder", root.display());
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if dir.join("config.json").exists() {
            out.push(run_entry(&dir).with_context(|| format!("run folder {}", dir.display()))?);
            continue;
        }
        let mut children: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        children.sort();
        for p in children {
            if p.is_dir() && depth < 3 {
                stack.push((p, depth + 1));
            } else if p.extension().is_some_and(|e| e == "json") {
                out.extend(eval_entries(&p)?);
            }
        }
    }
    Ok(out)
}

fn mean(xs: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let v: Vec<f64> = xs.flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cell(v: Option<f64>, fmt: impl Fn(f64) -> String) -> String {
    v.map(fmt).unwrap_or_else(|| "–".into())
}

/// Mean and, over two or more values, the sample standard deviation: "0.480 ± 0.031".
fn mean_sd(xs: impl Iterator<Item = Option<f64>>) -> String {
    let v: Vec<f64> = xs.flatten().collect();
    let Some(m) = mean(v.iter().map(|x| Some(*x))) else {
        return "–".into();
    };
    if v.len() < 2 {
        return format!("{m:.3}");
    }
    let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
    format!("{m:.3} ± {:.3}", var.sqrt())
}

/// The markdown table of one env's entries, one row per (algorithm, planner, frames trained),
/// means over runs.
pub fn table(entries: &[&Entry]) -> String {
    let mut groups: BTreeMap<(String, String, Option<u64>), Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        groups
            .entry((e.algo.clone(), e.planner.clone(), e.frames))
            .or_default()
            .push(e);
    }
    let mut s = String::from(
        "| algorithm | planner | runs | success rate | mean return | mean steps | LLM calls / episode | frames to 90% success | mean return while training | wall time (s) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for ((algo, planner, _), es) in groups {
        let m = |f: &dyn Fn(&Entry) -> Option<f64>| mean(es.iter().map(|e| f(e)));
        let reached: Vec<bool> = es.iter().filter_map(|e| e.reached_90).collect();
        let mut f90 = if reached.is_empty() {
            "–".to_string()
        } else if reached.iter().all(|r| *r) {
            format!("{:.0}", m(&|e| e.frames_to_90).unwrap_or(0.0))
        } else {
            let n = reached.iter().filter(|r| **r).count();
            match m(&|e| e.frames_to_90) {
                Some(f) => format!("{f:.0} ({n}/{} runs)", reached.len()),
                None => {
                    // How far the runs got: the fewest frames any of them trained.
                    let trained = es
                        .iter()
                        .filter_map(|e| e.curve.last().map(|p| p.0))
                        .fold(f64::INFINITY, f64::min);
                    // And where their rolling success rate was at their last update.
                    let last = mean(es.iter().map(|e| {
                        e.curve_is_success
                            .then(|| e.curve.last().map(|p| p.1))
                            .flatten()
                    }));
                    if trained.is_finite() {
                        match last {
                            Some(v) => format!(
                                "not reached in {trained:.0} (rolling {:.1}% at the end)",
                                100.0 * v
                            ),
                            None => format!("not reached in {trained:.0}"),
                        }
                    } else {
                        // A run that logged no update yet (metrics.csv is only its header).
                        "not reached".to_string()
                    }
                }
            }
        };
        if es.iter().any(|e| e.steered_90) {
            f90.push_str(" (teacher-steered)");
        }
        let _ = writeln!(
            s,
            "| {algo} | {planner} | {} | {} | {} | {} | {} | {f90} | {} | {} |",
            es.len(),
            cell(m(&|e| e.success), |v| format!("{:.1}%", 100.0 * v)),
            cell(m(&|e| e.ret), |v| format!("{v:.3}")),
            cell(m(&|e| e.steps), |v| format!("{v:.1}")),
            cell(m(&|e| e.calls), |v| format!("{v:.2}")),
            mean_sd(es.iter().map(|e| e.training_return)),
            cell(m(&|e| e.seconds), |v| format!("{v:.0}")),
        );
    }
    s
}

/// The BALROG-style table of one BabyAI level's entries that report success per task kind: one
/// row per (algorithm, planner, frames trained), successes / episodes per kind and overall,
/// summed over runs, with the evaluations' first layout seeds. `None` when no entry has
/// per-kind figures.
pub fn kind_table(entries: &[&Entry]) -> Option<String> {
    type Key = (String, String, Option<u64>);
    let mut groups: BTreeMap<Key, Vec<&Entry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.by_kind.is_empty()) {
        groups
            .entry((e.algo.clone(), e.planner.clone(), e.frames))
            .or_default()
            .push(e);
    }
    let kinds: Vec<TaskKind> = TaskKind::ALL
        .into_iter()
        .filter(|k| {
            groups
                .values()
                .flatten()
                .any(|e| e.by_kind.iter().any(|t| t.kind == *k))
        })
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut s = String::from("| algorithm | planner | frames | runs | first layout seeds |");
    for k in &kinds {
        let _ = write!(s, " {} |", k.name());
    }
    s.push_str(" overall |\n|---|---|---|---|---|");
    s.push_str(&"---|".repeat(kinds.len() + 1));
    s.push('\n');
    for ((algo, planner, frames), es) in groups {
        let seeds: Vec<String> = es
            .iter()
            .map(|e| e.eval_seed.map_or("–".into(), |v| v.to_string()))
            .collect();
        let frames = frames.map_or("–".into(), |f| f.to_string());
        let _ = write!(
            s,
            "| {algo} | {planner} | {frames} | {} | {} |",
            es.len(),
            seeds.join(", ")
        );
        let (mut wins, mut n) = (0u32, 0u32);
        for k in &kinds {
            let (w, e) = es
                .iter()
                .flat_map(|e| e.by_kind.iter().filter(|t| t.kind == *k))
                .fold((0, 0), |(w, n), t| (w + t.successes, n + t.episodes));
            wins += w;
            n += e;
            match e {
                0 => s.push_str(" – |"),
                _ => {
                    let _ = write!(s, " {w}/{e} |");
                }
            }
        }
        let _ = writeln!(s, " {:.3} ({wins}/{n}) |", wins as f64 / n.max(1) as f64);
    }
    Some(s)
}

/// A number as a tick reads it: 500, 20k, 1.5M, 2M, 0.25 (not 2000000.0).
fn si(v: f64) -> String {
    // Four significant digits first: a tick back from a log axis (10^6.0 = 999999.9999...) must
    // read 1M, not 1000k.
    let v = if v == 0.0 || !v.is_finite() {
        0.0
    } else {
        let unit = 10f64.powf(v.abs().log10().floor() - 3.0);
        (v / unit).round() * unit
    };
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e9 => (v / 1e9, "G"),
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let digits = format!("{scaled:.2}");
    format!(
        "{}{suffix}",
        digits.trim_end_matches('0').trim_end_matches('.')
    )
}

/// Whether a frames axis from `lo` to `hi` (the first and last frames any line logged) is
/// logarithmic: when it spans more than a decade and a half, a linear axis squeezes the early
/// frames, where runs that learn fast do everything, into a sliver.
fn log_frames(lo: f64, hi: f64) -> bool {
    lo > 0.0 && hi / lo > 10f64.powf(1.5)
}

/// Ticks of a linear axis from 0 to `hi`: steps of 1, 2 or 5 times a power of ten, 3 to 8 ticks.
fn linear_ticks(hi: f64) -> Vec<f64> {
    let power = 10f64.powf((hi / 6.0).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|step| hi / step <= 8.0)
        .unwrap_or(10.0 * power);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= hi * (1.0 + 1e-9))
        .collect()
}

/// Ticks of a logarithmic axis from `lo` to `hi`: the powers of ten, and 2 and 5 times them
/// when the axis spans less than three decades (else they crowd).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let factors: &[f64] = if hi / lo < 1e3 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let first = lo.log10().floor() as i32;
    let last = hi.log10().ceil() as i32;
    (first..=last)
        .flat_map(|k| factors.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|t| *t >= lo * (1.0 - 1e-9) && *t <= hi * (1.0 + 1e-9))
        .collect()
}

/// The frames axis: linear in what it is given (frames, or their log10) with the ticks we pick.
/// (plotters' own f64 axis picks its ticks itself; on log10 frames they would fall at 10^3.5.)
struct FramesAxis {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for FramesAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let at = if span > 0.0 {
            (v - self.range.start) / span
        } else {
            0.5
        };
        limit.0 + (at * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Grid lines at the ticks only, none between them.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A curve's value at `x` within its frames, linear between the points logged around it.
fn interpolate(curve: &Curve, x: f64) -> f64 {
    let i = curve.partition_point(|p| p.0 < x);
    match (i.checked_sub(1).and_then(|j| curve.get(j)), curve.get(i)) {
        (Some(a), Some(b)) if b.0 > a.0 => a.1 + (b.1 - a.1) * (x - a.0) / (b.0 - a.0),
        (_, Some(b)) => b.1,
        (Some(a), None) => a.1,
        (None, None) => f64::NAN,
    }
}

/// Frames, and the mean, least and greatest value of several runs' curves there (one run: its
/// own points). The frames are those any of the runs logged from where the last of them starts
/// to where the first of them ends, each curve interpolated linearly onto them: a mean over
/// whichever runs happen to reach a frame would jump where one stops.
fn spread(curves: &[&Curve]) -> Vec<(f64, f64, f64, f64)> {
    let from = curves.iter().filter_map(|c| c.first()).map(|p| p.0);
    let to = curves.iter().filter_map(|c| c.last()).map(|p| p.0);
    let (from, to) = (from.fold(f64::MIN, f64::max), to.fold(f64::MAX, f64::min));
    let mut grid: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.iter().map(|p| p.0))
        .filter(|x| (from..=to).contains(x))
        .collect();
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    grid.into_iter()
        .map(|x| {
            let ys: Vec<f64> = curves.iter().map(|c| interpolate(c, x)).collect();
            let mean = ys.iter().sum::<f64>() / ys.len() as f64;
            let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (x, mean, lo, hi)
        })
        .collect()
}

/// At most this many points a line: a 20M-frame run logs some 10,000 updates, many more than
/// the plot's 700-odd pixels across show, and each is text in the SVG.
const MAX_POINTS: usize = 600;

/// Every so many of `points`, at most `MAX_POINTS`, and the last.
fn thin<T: Copy>(points: Vec<T>) -> Vec<T> {
    if points.len() <= MAX_POINTS {
        return points;
    }
    let step = points.len().div_ceil(MAX_POINTS);
    let mut out: Vec<T> = points.iter().copied().step_by(step).collect();
    if !(points.len() - 1).is_multiple_of(step) {
        out.extend(points.last());
    }
    out
}

/// One line of a plot: the runs of one algorithm with its settings (`Entry::algo`) and planner,
/// averaged over their seeds.
struct Series {
    base: String,
    planner: String,
    label: String,
    runs: usize,
    /// Frames, and the mean, least and greatest value over the runs there.
    points: Vec<(f64, f64, f64, f64)>,
    is_success: bool,
    /// The mean final success rate of the runs (eval.json's, else the curve's last value): the
    /// main panel shows each algorithm at the settings where it is highest.
    score: f64,
    /// Its colour, the same in every panel.
    colour: usize,
}

/// The lines of one env's runs that logged a curve, one per (algorithm with settings, planner).
fn series(entries: &[&Entry]) -> Vec<Series> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Entry>> = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.curve.is_empty()) {
        groups.entry((&e.algo, &e.planner)).or_default().push(e);
    }
    groups
        .into_iter()
        .enumerate()
        .map(|(colour, ((algo, planner), es))| {
            let mut label = match planner {
                "none" => algo.to_string(),
                p => format!("{algo} · {p}"),
            };
            match (es.len(), es[0].seed) {
                (1, Some(seed)) => {
                    let _ = write!(label, ", seed {seed}");
                }
                (1, None) => {}
                (n, _) => {
                    let _ = write!(label, ", mean of {n} runs (shaded: their min to max)");
                }
            }
            let curves: Vec<&Curve> = es.iter().map(|e| &e.curve).collect();
            let finals = es.iter().map(|e| e.success.or(e.curve.last().map(|p| p.1)));
            Series {
                base: es[0].base.clone(),
                planner: planner.to_string(),
                label,
                runs: es.len(),
                points: thin(spread(&curves)),
                is_success: es.iter().all(|e| e.curve_is_success),
                score: mean(finals).unwrap_or(f64::NEG_INFINITY),
                colour,
            }
        })
        .collect()
}

/// One panel of a plot: its title and its lines.
struct Panel<'a> {
    title: String,
    series: Vec<&'a Series>,
}

/// The panels an env's lines make, one per question. An algorithm with one planner trained with
/// several settings is a sweep: it gets a panel of its own ("ppo settings"), one line per
/// setting, and the main panel ("each algorithm at its best settings") shows only its setting
/// with the highest final success rate (ties: the first in the table's order). Every other line
/// is in the main panel. Without sweeps the main panel is the only one ("learning curves"); a
/// main panel that would show one line, a sweep's best, is left out.
fn panels(all: &[Series]) -> Vec<Panel<'_>> {
    let mut by_algo: BTreeMap<(&str, &str), Vec<&Series>> = BTreeMap::new();
    for s in all {
        by_algo.entry((&s.base, &s.planner)).or_default().push(s);
    }
    let mut main = Vec::new();
    let mut sweeps = Vec::new();
    for ((base, planner), lines) in by_algo {
        let best = lines
            .iter()
            .copied()
            .reduce(|best, s| if s.score > best.score { s } else { best });
        main.extend(best);
        if lines.len() > 1 {
            let title = match planner {
                "none" => format!("{base} settings"),
                p => format!("{base} · {p} settings"),
            };
            sweeps.push(Panel {
                title,
                series: lines,
            });
        }
    }
    if sweeps.is_empty() {
        return vec![Panel {
            title: "learning curves".into(),
            series: main,
        }];
    }
    let mut out = Vec::new();
    if main.len() > 1 {
        out.push(Panel {
            title: "each algorithm at its best settings".into(),
            series: main,
        });
    }
    out.extend(sweeps);
    out
}

/// A rectangle in SVG pixels: x from left to right, y from top to bottom.
pub type Rect = (Range<i32>, Range<i32>);

/// Where `plot` drew one panel.
#[derive(Debug)]
pub struct Drawn {
    pub caption: String,
    /// The legend's entries, one per line.
    pub legend: Vec<String>,
    pub log_frames: bool,
    /// The area inside the axes, where the lines are.
    pub data: Rect,
    /// The legend's box, below the axes.
    pub legend_box: Rect,
}

/// The SVG's least width; it grows with the longest legend entry.
const MIN_WIDTH: u32 = 800;
/// A panel's height above its legend: caption, axes and the data between them.
const CHART_HEIGHT: u32 = 420;
/// One legend entry's height, and the room around the legend's box.
const ROW: u32 = 20;
const PAD: u32 = 12;
/// Font sizes (an SVG gets them in pixels, 1/1.24 of these), and about how wide the legend's
/// characters are on average.
const CAPTION_FONT: u32 = 24;
const TICK_FONT: u32 = 15;
const LEGEND_FONT: u32 = 17;
const CHAR_WIDTH: u32 = 8;
/// A legend entry's sample of its line, and the gap before its text.
const SWATCH: u32 = 30;
const GAP: u32 = 8;

/// Line colours, Tableau's ten: Palette99's first ones include a pale yellow that hardly shows
/// on white.
const COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn colour(i: usize) -> RGBAColor {
    match COLOURS.get(i) {
        Some(c) => c.to_rgba(),
        None => Palette99::pick(i).to_rgba(),
    }
}

fn legend_height(entries: usize) -> u32 {
    3 * PAD + entries as u32 * ROW
}

fn svg_error(e: DrawingAreaErrorKind<std::io::Error>) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// SVG learning curves of one env's runs: one panel per question (see `panels`), stacked; each
/// with its legend below its axes, the SVG as tall as the panels and their legends need. The
/// frames axis is logarithmic when the runs span more than a decade and a half (`log_frames`).
/// Returns where each panel went.
pub fn plot(path: &Path, env: &str, entries: &[&Entry]) -> anyhow::Result<Vec<Drawn>> {
    let all = series(entries);
    let panels = panels(&all);
    let longest = all.iter().map(|s| s.label.chars().count()).max();
    // The legend's box, PAD in from the sides; in it a swatch, PAD in, then the text.
    let text = CHAR_WIDTH * longest.unwrap_or(0) as u32;
    let width = MIN_WIDTH.max(2 * PAD + PAD + SWATCH + GAP + text + PAD);
    let heights: Vec<u32> = panels
        .iter()
        .map(|p| CHART_HEIGHT + legend_height(p.series.len()))
        .collect();
    let root = SVGBackend::new(path, (width, heights.iter().sum())).into_drawing_area();
    let draw = || -> anyhow::Result<Vec<Drawn>> {
        root.fill(&WHITE).map_err(svg_error)?;
        let tops: Vec<u32> = heights
            .iter()
            .scan(0, |top, h| {
                *top += h;
                Some(*top)
            })
            .collect();
        let areas = root.split_by_breakpoints::<u32, u32, _, _>([], &tops[..tops.len() - 1]);
        let mut drawn = Vec::new();
        for (panel, area) in panels.iter().zip(areas) {
            drawn.push(draw_panel(&area, format!("{env}: {}", panel.title), panel)?);
        }
        root.present().map_err(svg_error)?;
        Ok(drawn)
    };
    draw().with_context(|| format!("drawing {}", path.display()))
}

/// One panel in `area`: its axes and lines above, its legend below.
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    caption: String,
    panel: &Panel<'_>,
) -> anyhow::Result<Drawn> {
    let (chart_area, legend_area) = area.split_vertically(CHART_HEIGHT);
    let frames = || {
        panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let first = frames().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
    let last = frames().fold(1.0, f64::max);
    let log = log_frames(first, last);
    // On a log axis the lines are drawn at log10(frames), the ticks labelled back in frames.
    let x = |frames: f64| if log { frames.log10() } else { frames };
    let (x_range, ticks) = if log {
        let ticks = log_ticks(first, last).into_iter().map(f64::log10).collect();
        (first.log10()..last.log10(), ticks)
    } else {
        (0.0..last, linear_ticks(last))
    };
    let (y_min, y_max) = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().flat_map(|p| [p.2, p.3]))
        .fold((0.0f64, 1.0f64), |(a, b), y| (a.min(y), b.max(y)));
    // A little room above and below: a line at 0% or 100% success would hide in the axis.
    let room = 0.02 * (y_max - y_min);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(&caption, ("sans-serif", CAPTION_FONT))
        .margin(PAD)
        .x_label_area_size(45)
        .y_label_area_size(55)
        .build_cartesian_2d(
            FramesAxis {
                range: x_range,
                ticks,
            },
            y_min - room..y_max + room,
        )
        .map_err(svg_error)?;
    let all_success = panel.series.iter().all(|s| s.is_success);
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", TICK_FONT))
        .axis_desc_style(("sans-serif", TICK_FONT))
        .x_desc(if log { "frames (log scale)" } else { "frames" })
        .y_desc(if all_success {
            "success rate (last 100 episodes)"
        } else {
            "success rate / mean return"
        })
        .x_label_formatter(&|v| si(if log { 10f64.powf(*v) } else { *v }))
        .y_label_formatter(&|v| si(*v))
        .draw()
        .map_err(svg_error)?;
    for s in &panel.series {
        let colour = colour(s.colour);
        let points: Vec<(f64, f64, f64, f64)> = s
            .points
            .iter()
            .filter(|p| !log || p.0 > 0.0)
            .map(|&(f, m, lo, hi)| (x(f), m, lo, hi))
            .collect();
        if s.runs > 1 {
            let band = points
                .iter()
                .map(|p| (p.0, p.2))
                .chain(points.iter().rev().map(|p| (p.0, p.3)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band.collect::<Vec<_>>(),
                    colour.mix(0.2).filled(),
                )))
                .map_err(svg_error)?;
        }
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                colour.stroke_width(2),
            ))
            .map_err(svg_error)?;
    }
    let data = chart.plotting_area().get_pixel_range();

    // The legend: a box under the axes, as wide as the SVG, one entry a row.
    let (width, _) = legend_area.dim_in_pixel();
    let (left, top) = (PAD as i32, 0);
    let (right, bottom) = (
        (width - PAD) as i32,
        (PAD + ROW * panel.series.len() as u32 + PAD) as i32,
    );
    legend_area
        .draw(&Rectangle::new(
            [(left, top), (right, bottom)],
            BLACK.mix(0.4).stroke_width(1),
        ))
        .map_err(svg_error)?;
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, s) in panel.series.iter().enumerate() {
        let colour = colour(s.colour);
        let y = (PAD + ROW * i as u32 + ROW / 2) as i32;
        let (x0, x1) = (left + PAD as i32, left + (PAD + SWATCH) as i32);
        if s.runs > 1 {
            legend_area
                .draw(&Rectangle::new(
                    [(x0, y - 6), (x1, y + 6)],
                    colour.mix(0.2).filled(),
                ))
                .map_err(svg_error)?;
        }
        legend_area
            .draw(&PathElement::new(
                vec![(x0, y), (x1, y)],
                colour.stroke_width(2),
            ))
            .map_err(svg_error)?;
        legend_area
            .draw(&Text::new(
                s.label.clone(),
                (x1 + GAP as i32, y),
                font.clone(),
            ))
            .map_err(svg_error)?;
    }
    let (xs, ys) = legend_area.get_pixel_range();
    Ok(Drawn {
        caption,
        legend: panel.series.iter().map(|s| s.label.clone()).collect(),
        log_frames: log,
        data,
        legend_box: (
            xs.start + left..xs.start + right,
            ys.start + top..ys.start + bottom,
        ),
    })
}

/// Write report.md and one SVG per env; returns the markdown.
pub fn run_report(args: &ReportArgs) -> anyhow::Result<String> {
    let envs: Vec<String> = if args.env.is_empty() {
        DEFAULT_ENVS.iter().map(|s| s.to_string()).collect()
    } else {
        args.env.clone()
    };
    let ids: Vec<&str> = envs
        .iter()
        .map(|e| gridmentor_core::registry::find(e).map(|s| s.id))
        .collect::<Result<_, _>>()?;
    let entries = collect(&args.runs)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let mut md = format!(
        "# gridmentor report\n\nFrom the runs and eval results under `{}`. Rows: mean over runs (seeds); \
         success, return and steps from each run's final evaluation (`eval.json`, actions \
         sampled) or eval file; frames to 90% from the rolling success rate over the last 100 \
         episodes in `metrics.csv`, counted once 100 episodes have ended; \"teacher-steered\" \
         marks a run whose teacher still mixed into the actions played then (IHAC's guided \
         sampling), so that those episodes are not the student's alone.\n",
        args.runs.display()
    );
    for id in ids {
        let mine: Vec<&Entry> = entries.iter().filter(|e| e.env == id).collect();
        let _ = write!(md, "\n## {id}\n\n");
        if mine.is_empty() {
            md.push_str("No runs or eval results.\n");
            continue;
        }
        md.push_str(&table(&mine));
        if let Some(t) = kind_table(&mine) {
            md.push_str(
                "\nSuccess per task kind (successes / episodes of the final evaluations):\n\n",
            );
            md.push_str(&t);
        }
        if mine.iter().any(|e| !e.curve.is_empty()) {
            let svg = format!("{id}.svg");
            plot(&args.out.join(&svg), id, &mine)?;
            let _ = write!(md, "\n![{id} learning curves]({svg})\n");
        }
    }
    std::fs::write(args.out.join("report.md"), &md)
        .with_context(|| format!("writing {}", args.out.join("report.md").display()))?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_runs_and_evals_into_a_table_and_plot() {
        let dir = std::env::temp_dir().join(format!("gm-report-{}", std::process::id()));
        let run = dir.join("w2a-1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("config.json"),
            r#"{"algo":"when2ask","env":"SimpleDoorKey","planner":"expert","ppo":{"seed":3}}"#,
        )
        .unwrap();
        std::fs::write(
            run.join("metrics.csv"),
            "update,frames,success_rate\n1,100,0.5\n2,200,0.95\n3,300,1.0\n",
        )
        .unwrap();
        std::fs::write(
            run.join("eval.json"),
            r#"{"success_rate":0.99,"mean_return":0.8,"mean_steps":20,"llm_calls_per_episode":4.5,"seconds":12,"training":{"episodes":50,"mean_return":0.4}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("always.json"),
            r#"{"env":"SimpleDoorKey","agent":"always","planner":"expert","success_rate":1.0,"mean_return":0.82,"mean_steps":19,"llm_calls_per_episode":19}
{"env":"SimpleDoorKey","agent":"teacher","planner":"t","greedy":true,"success_rate":0.5}
{"env":"SimpleDoorKey","agent":"teacher","planner":"t","greedy":false,"success_rate":0.8}"#,
        )
        .unwrap();
        // A train command's output saved beside its run folder is not an evaluation of its own.
        std::fs::write(
            dir.join("w2a-1.json"),
            r#"{"env":"SimpleDoorKey","algo":"when2ask","agent":"mediator","planner":"expert","success_rate":0.99}"#,
        )
        .unwrap();
        // A teacher-guided run that has not reached 90% (yet): its planner and how far it got.
        let teach = dir.join("teach-1");
        std::fs::create_dir_all(&teach).unwrap();
        std::fs::write(
            teach.join("config.json"),
            r#"{"algo":"llm4teach","env":"SimpleDoorKey","guide":{"planner":"expert:noise=0.3"},"ppo":{"seed":1}}"#,
        )
        .unwrap();
        // Its first update ended no episode (an empty cell), its second only two (lucky,
        // quick) ones: 100% over a window of two is not 90% over the last 100.
        std::fs::write(
            teach.join("metrics.csv"),
            "update,frames,episodes,success_rate\n1,1024,0,\n2,2048,2,1.0\n3,4096,120,0.6\n",
        )
        .unwrap();
        // One that has not logged an update yet.
        let fresh = dir.join("fresh-1");
        std::fs::create_dir_all(&fresh).unwrap();
        std::fs::write(
            fresh.join("config.json"),
            r#"{"algo":"shaping","env":"SimpleDoorKey","guide":{"planner":"expert"},"ppo":{"seed":1}}"#,
        )
        .unwrap();
        std::fs::write(fresh.join("metrics.csv"), "update,frames,success_rate\n").unwrap();
        // Settings other than the defaults make a row of their own (seed and frames do not).
        let plain = dir.join("ppo-1");
        let normed = dir.join("ppo-normadv-1");
        for (run, extra) in [
            (&plain, ""),
            (&normed, r#","norm_adv":true,"ent_coef":0.05"#),
        ] {
            std::fs::create_dir_all(run).unwrap();
            std::fs::write(
                run.join("config.json"),
                format!(
                    r#"{{"algo":"ppo","env":"SimpleDoorKey","ppo":{{"seed":2,"frames":9{extra}}}}}"#
                ),
            )
            .unwrap();
        }
        // Two seeds of one setting: in5490's mean return while training, as mean ± sd.
        for (seed, training) in [(3, 0.3), (4, 0.5)] {
            let run = dir.join(format!("shaping-both-{seed}"));
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(
                run.join("config.json"),
                format!(r#"{{"algo":"shaping","env":"SimpleDoorKey","guide":{{"planner":"expert","args":{{"shaping_bias":1.0}}}},"ppo":{{"seed":{seed}}}}}"#),
            )
            .unwrap();
            std::fs::write(
                run.join("eval.json"),
                format!(r#"{{"frames":4096,"success_rate":1.0,"training":{{"episodes":10,"mean_return":{training}}}}}"#),
            )
            .unwrap();
        }
        let hard = dir.join("teach-hard-1");
        std::fs::create_dir_all(&hard).unwrap();
        std::fs::write(
            hard.join("config.json"),
            r#"{"algo":"llm4teach","env":"SimpleDoorKey","guide":{"planner":"expert","args":{"planner":"expert:noise=0.3","hard_teacher":true,"teacher_samples":1,"teach_coef":10.0}},"ppo":{"seed":1}}"#,
        )
        .unwrap();
        // IHAC's rolling success while its teacher steers the actions played is not the
        // student's alone: marked. A run whose guide had faded to 0 by then is not.
        for (name, args, metrics) in [
            ("ihac-1", "", "1,100,0.95,1\n2,200,1.0,0.5\n"),
            (
                "ihac-faded-1",
                r#","args":{"guide_coef":0.5}"#,
                "1,100,0.5,0.5\n2,200,0.95,0\n",
            ),
        ] {
            let run = dir.join(name);
            std::fs::create_dir_all(&run).unwrap();
            std::fs::write(
                run.join("config.json"),
                format!(
                    r#"{{"algo":"ihac","env":"SimpleDoorKey","guide":{{"planner":"expert"{args}}},"ppo":{{"seed":1}}}}"#
                ),
            )
            .unwrap();
            std::fs::write(
                run.join("metrics.csv"),
                format!("update,frames,success_rate,guide_coef\n{metrics}"),
            )
            .unwrap();
        }
        let out = dir.join("out");
        let md = run_report(&ReportArgs {
            env: vec!["SimpleDoorKey".into()],
            runs: dir.clone(),
            out: out.clone(),
        })
        .unwrap();
        assert!(
            md.contains(
                "| when2ask | expert | 1 | 99.0% | 0.800 | 20.0 | 4.50 | 200 | 0.400 | 12 |"
            ),
            "{md}"
        );
        assert!(md.contains("| eval:always | expert | 1 | 100.0% |"), "{md}");
        assert!(!md.contains("eval:mediator"), "{md}");
        // Greedy and sampled evaluations of one agent are rows of their own, not averaged.
        assert!(md.contains("| eval:teacher | t | 1 | 80.0% |"), "{md}");
        assert!(
            md.contains("| eval:teacher (greedy) | t | 1 | 50.0% |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| llm4teach | expert:noise=0.3 | 1 | – | – | – | – | not reached in 4096 (rolling 60.0% at the end) | – | – |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| shaping | expert | 1 | – | – | – | – | not reached | – | – |"),
            "{md}"
        );
        assert!(md.contains("| ppo | none | 1 |"), "{md}");
        assert!(
            md.contains(
                "| shaping (shaping_bias=1) | expert | 2 | 100.0% | 0.000 | 0.0 | 0.00 | – | 0.400 ± 0.141 | 0 |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| ppo (ent_coef=0.05, norm_adv=true) | none | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| llm4teach (hard_teacher=true, teacher_samples=1) | expert | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| ihac | expert | 1 | – | – | – | – | 100 (teacher-steered) |"),
            "{md}"
        );
        assert!(
            md.contains("| ihac (guide_coef=0.5) | expert | 1 | – | – | – | – | 200 |"),
            "{md}"
        );
        let svg = std::fs::read_to_string(out.join("SimpleDoorKey.svg")).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("when2ask"),
            "{}",
            &svg[..200.min(svg.len())]
        );
        assert!(
            run_report(&ReportArgs {
                env: vec!["NoSuchEnv".into()],
                runs: dir.clone(),
                out
            })
            .is_err()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// An unreadable guide coefficient is a broken file, not "never steered"; an empty one is a
    /// row without it.
    #[test]
    fn a_broken_guide_coef_is_an_error() {
        let dir = std::env::temp_dir().join(format!("gm-report-guide-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("metrics.csv");
        std::fs::write(
            &path,
            "update,frames,success_rate,guide_coef\n1,100,0.5,\n2,200,1,0.3\n",
        )
        .unwrap();
        assert_eq!(read_curve(&path).unwrap().steered_until, 200.0);
        std::fs::write(
            &path,
            "update,frames,success_rate,guide_coef\n1,100,0.5,x\n",
        )
        .unwrap();
        let err = read_curve(&path).err().expect("a broken cell is refused");
        assert!(
            format!("{err:#}").contains("unreadable guide_coef"),
            "{err:#}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ticks_read_like_20k_and_1_5m() {
        let read: Vec<String> = [
            0.0,
            500.0,
            20_000.0,
            2e6,
            1.5e6,
            2048.0,
            0.25,
            10f64.powf(6.0),
        ]
        .into_iter()
        .map(si)
        .collect();
        assert_eq!(
            read,
            ["0", "500", "20k", "2M", "1.5M", "2.05k", "0.25", "1M"]
        );
        // A tick back from log10 on a log axis.
        assert_eq!(si(10f64.powf(1e5f64.log10())), "100k");
        assert_eq!(linear_ticks(40_960.0), [0.0, 1e4, 2e4, 3e4, 4e4]);
        assert_eq!(linear_ticks(8192.0), [0.0, 2e3, 4e3, 6e3, 8e3]);
        assert_eq!(log_ticks(2048.0, 2.1e7), [1e4, 1e5, 1e6, 1e7]);
        assert_eq!(log_ticks(64.0, 3200.0), [100.0, 200.0, 500.0, 1e3, 2e3]);
    }

    #[test]
    fn frames_axis_is_logarithmic_past_a_decade_and_a_half() {
        assert!(log_frames(2048.0, 2e7));
        // GLAM's 64 to 3,200 frames: 1.7 decades.
        assert!(log_frames(64.0, 3200.0));
        assert!(!log_frames(100.0, 3000.0));
        assert!(!log_frames(2048.0, 8192.0));
        // Nothing logged above 0 frames: linear.
        assert!(!log_frames(f64::INFINITY, 1.0));
    }

    #[test]
    fn seeds_average_on_the_frames_every_run_reached() {
        let a: Curve = vec![(0.0, 0.0), (10.0, 1.0)];
        let b: Curve = vec![(0.0, 1.0), (5.0, 1.0), (20.0, 0.0)];
        // From 0 to 10 (where a ends), on the frames either logged; b at 10 is 2/3.
        let got = spread(&[&a, &b]);
        let want = [
            (0.0, 0.5, 0.0, 1.0),
            (5.0, 0.75, 0.5, 1.0),
            (10.0, (1.0 + 2.0 / 3.0) / 2.0, 2.0 / 3.0, 1.0),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g.0 - w.0).abs() + (g.1 - w.1).abs() + (g.2 - w.2).abs() + (g.3 - w.3).abs()
                    < 1e-9,
                "{got:?}"
            );
        }
        // One run: its own points.
        assert_eq!(spread(&[&a]), [(0.0, 0.0, 0.0, 0.0), (10.0, 1.0, 1.0, 1.0)]);
        let long: Vec<usize> = (0..10_001).collect();
        let thinned = thin(long);
        assert!(thinned.len() <= MAX_POINTS + 1 && thinned.last() == Some(&10_000));
    }

    /// A run folder under `dir`: its config.json and a metrics.csv of (frames, success rate).
    fn write_run(dir: &Path, name: &str, config: &str, curve: &[(u64, f64)]) {
        let run = dir.join(name);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("config.json"), config).unwrap();
        let mut csv = String::from("update,frames,success_rate\n");
        for (i, (f, v)) in curve.iter().enumerate() {
            let _ = writeln!(csv, "{},{f},{v}", i + 1);
        }
        std::fs::write(run.join("metrics.csv"), csv).unwrap();
    }

    fn overlap(a: &Rect, b: &Rect) -> bool {
        a.0.start < b.0.end && b.0.start < a.0.end && a.1.start < b.1.end && b.1.start < a.1.end
    }

    #[test]
    fn seeds_make_one_line_and_the_legend_keeps_off_the_data() {
        let dir = std::env::temp_dir().join(format!("gm-report-seeds-{}", std::process::id()));
        let frames = |top: f64| -> Vec<(u64, f64)> {
            (1..=20)
                .map(|k| (2048 * k, top * k as f64 / 20.0))
                .collect()
        };
        for seed in 1..=3 {
            write_run(
                &dir,
                &format!("ppo-{seed}"),
                &format!(r#"{{"algo":"ppo","env":"SimpleDoorKey","ppo":{{"seed":{seed}}}}}"#),
                &frames(0.5 + 0.1 * seed as f64),
            );
        }
        write_run(
            &dir,
            "w2a-1",
            r#"{"algo":"when2ask","env":"SimpleDoorKey","planner":"expert","ppo":{"seed":1}}"#,
            &frames(1.0),
        );
        let out = dir.join("out");
        run_report(&ReportArgs {
            env: vec!["SimpleDoorKey".into()],
            runs: dir.clone(),
            out: out.clone(),
        })
        .unwrap();
        let svg = std::fs::read_to_string(out.join("SimpleDoorKey.svg")).unwrap();
        // 2,048 to 40,960 frames: a linear axis from 0, its ticks 10k apart.
        assert!(svg.contains("\n10k\n") && svg.contains("\n40k\n"), "{svg}");
        assert!(
            !svg.contains("10000") && !svg.contains("log scale"),
            "{svg}"
        );
        // Three seeds, one line: 2 legend entries, not 4.
        let entries = collect(&dir).unwrap();
        let mine: Vec<&Entry> = entries.iter().collect();
        let drawn = plot(&dir.join("again.svg"), "SimpleDoorKey", &mine).unwrap();
        assert_eq!(drawn.len(), 1);
        assert_eq!(
            drawn[0].legend,
            [
                "ppo, mean of 3 runs (shaded: their min to max)",
                "when2ask · expert, seed 1"
            ]
        );
        for label in &drawn[0].legend {
            assert_eq!(svg.matches(label.as_str()).count(), 1, "{label}");
        }
        assert!(!drawn[0].log_frames);
        let (data, legend) = (&drawn[0].data, &drawn[0].legend_box);
        assert!(!overlap(data, legend), "{data:?} {legend:?}");
        assert!(legend.1.start >= data.1.end, "{data:?} {legend:?}");
        // The SVG is tall enough for the legend.
        let height = (CHART_HEIGHT + legend_height(2)) as i32;
        assert!(svg.contains(&format!(r#"height="{height}""#)) && legend.1.end < height);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_sweep_gets_its_own_panel_and_the_main_one_its_best_setting() {
        let dir = std::env::temp_dir().join(format!("gm-report-sweep-{}", std::process::id()));
        // 2,048 to 2M frames, three decades: a log axis.
        let frames = |end: f64| -> Vec<(u64, f64)> {
            (0..=10)
                .map(|k| (2048 << k, end * k as f64 / 10.0))
                .collect()
        };
        let ppo = |extra: &str| {
            format!(r#"{{"algo":"ppo","env":"SimpleDoorKey","ppo":{{"seed":1{extra}}}}}"#)
        };
        write_run(&dir, "ppo", &ppo(""), &frames(0.3));
        write_run(
            &dir,
            "ppo-normadv",
            &ppo(r#","norm_adv":true"#),
            &frames(0.9),
        );
        write_run(
            &dir,
            "w2a",
            r#"{"algo":"when2ask","env":"SimpleDoorKey","planner":"expert","ppo":{"seed":1}}"#,
            &frames(1.0),
        );
        let entries = collect(&dir).unwrap();
        let mine: Vec<&Entry> = entries.iter().collect();
        let path = dir.join("SimpleDoorKey.svg");
        let drawn = plot(&path, "SimpleDoorKey", &mine).unwrap();
        let summary: Vec<(&str, Vec<&str>)> = drawn
            .iter()
            .map(|d| {
                let legend = d.legend.iter().map(|l| l.as_str()).collect();
                (d.caption.as_str(), legend)
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "SimpleDoorKey: each algorithm at its best settings",
                    vec!["ppo (norm_adv=true), seed 1", "when2ask · expert, seed 1"]
                ),
                (
                    "SimpleDoorKey: ppo settings",
                    vec!["ppo, seed 1", "ppo (norm_adv=true), seed 1"]
                ),
            ]
        );
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(
            svg.contains("frames (log scale)") && svg.contains("\n1M\n"),
            "{svg}"
        );
        assert!(drawn.iter().all(|d| d.log_frames));
        // No legend box over any panel's data, the second panel below the first's legend.
        for d in &drawn {
            assert!(
                drawn.iter().all(|e| !overlap(&d.data, &e.legend_box)),
                "{drawn:?}"
            );
        }
        assert!(
            drawn[1].data.1.start > drawn[0].legend_box.1.end,
            "{drawn:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A BabyAI level's evaluations with per-kind figures get the BALROG-style table: a row per
    /// agent, runs summed, kinds no row has left out, evaluations without them not in it.
    #[test]
    fn a_babyai_level_gets_a_table_per_task_kind() {
        let dir = std::env::temp_dir().join(format!("gm-report-kinds-{}", std::process::id()));
        let run = dir.join("glam-mtl");
        std::fs::create_dir_all(&run).unwrap();
        let env = "BabyAI-MixedTrainLocal-v0";
        std::fs::write(
            run.join("config.json"),
            format!(r#"{{"algo":"glam","env":"{env}","planner":"SmolLM2","ppo":{{"seed":1}}}}"#),
        )
        .unwrap();
        std::fs::write(
            run.join("eval.json"),
            format!(
                r#"{{"env":"{env}","algo":"glam","seed":1,"frames":5120,"seconds":9.0,"fps":1.0,
                "device":"cpu","run":"glam-mtl","agent":"llm-policy","planner":"grounded",
                "eval_seed":4295967299,"greedy":false,"episodes":12,"success_rate":0.5,
                "by_kind":[{{"kind":"go_to","episodes":4,"successes":4,"success_rate":1.0}},
                {{"kind":"put_next","episodes":8,"successes":2,"success_rate":0.25}}]}}"#
            ),
        )
        .unwrap();
        // The same settings trained longer: a row of its own, not a second seed of the first.
        let longer = dir.join("glam-mtl-longer");
        std::fs::create_dir_all(&longer).unwrap();
        std::fs::copy(run.join("config.json"), longer.join("config.json")).unwrap();
        std::fs::write(
            longer.join("eval.json"),
            std::fs::read_to_string(run.join("eval.json"))
                .unwrap()
                .replace("5120", "10240")
                .replace(r#""successes":2"#, r#""successes":6"#),
        )
        .unwrap();
        let line = |agent: &str, seed: u64, kinds: &str| {
            format!(
                r#"{{"env":"{env}","agent":"{agent}","planner":"none","seed":{seed},"success_rate":0.3,"by_kind":[{kinds}]}}"#
            )
        };
        let tally = |kind: &str, n: u32, w: u32| {
            format!(
                r#"{{"kind":"{kind}","episodes":{n},"successes":{w},"success_rate":{}}}"#,
                w as f64 / n as f64
            )
        };
        std::fs::write(
            dir.join("random.json"),
            [
                line("random", 7, &tally("go_to", 10, 3)),
                line(
                    "random",
                    9,
                    &[tally("go_to", 10, 4), tally("open", 5, 1)].join(","),
                ),
                // No per-kind figures: in the main table only.
                format!(r#"{{"env":"{env}","agent":"expert","planner":"x","success_rate":1.0}}"#),
            ]
            .join("\n"),
        )
        .unwrap();
        let md = run_report(&ReportArgs {
            env: vec![env.into()],
            runs: dir.clone(),
            out: dir.join("out"),
        })
        .unwrap();
        let want = "| algorithm | planner | frames | runs | first layout seeds | GoTo | Open | PutNext | overall |\n\
                    |---|---|---|---|---|---|---|---|---|\n\
                    | eval:random | none | – | 2 | 7, 9 | 7/20 | 1/5 | – | 0.320 (8/25) |\n\
                    | glam | SmolLM2 | 5120 | 1 | 4295967299 | 4/4 | – | 2/8 | 0.500 (6/12) |\n\
                    | glam | SmolLM2 | 10240 | 1 | 4295967299 | 4/4 | – | 6/8 | 0.833 (10/12) |\n";
        assert!(md.contains(want), "{md}");
        assert_eq!(
            md.matches("| glam | SmolLM2 | 1 | 50.0% |").count(),
            2,
            "{md}"
        );
        assert!(md.contains("| eval:expert | x | 1 | 100.0% |"), "{md}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_glam_run_with_empty_cells_plots() {
        let dir = std::env::temp_dir().join(format!("gm-report-glam-{}", std::process::id()));
        let run = dir.join("glam-gotoobj");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("config.json"),
            r#"{"algo":"glam","env":"BabyAI-GoToObj-v0","planner":"SmolLM2-135M-Instruct","ppo":{"seed":1}}"#,
        )
        .unwrap();
        // GLAM's columns; the second update's figures and the third's return_min are missing.
        std::fs::write(
            run.join("metrics.csv"),
            "update,frames,fps,episodes,return_mean,return_min,return_max,length_mean,success_rate,wall_seconds,prompts_cached\n\
             1,64,1,0,-0,inf,-inf,-0,0,43.5,58\n\
             2,128,1,0,,,,,,90.4,114\n\
             3,192,1,2,0.78,,0.90,15.5,1,166.2,162\n\
             4,3200,1,56,0.15,0,0.90,54.6,0.25,3574.2,702\n",
        )
        .unwrap();
        let out = dir.join("out");
        let md = run_report(&ReportArgs {
            env: vec!["BabyAI-GoToObj-v0".into()],
            runs: dir.clone(),
            out: out.clone(),
        })
        .unwrap();
        assert!(md.contains("| glam | SmolLM2-135M-Instruct | 1 |"), "{md}");
        let entries = collect(&dir).unwrap();
        assert_eq!(
            entries[0].curve,
            [(64.0, 0.0), (192.0, 1.0), (3200.0, 0.25)]
        );
        let svg = std::fs::read_to_string(out.join("BabyAI-GoToObj-v0.svg")).unwrap();
        assert!(
            svg.contains("glam · SmolLM2-135M-Instruct, seed 1") && svg.contains("log scale"),
            "{svg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
