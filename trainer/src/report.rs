//! `gridmentor report`: one markdown table per env over run folders (config.json, metrics.csv,
//! eval.json) and `gridmentor eval --json` result files, and SVG learning curves.

use crate::results::{EvalReport, RunConfig, TrainResult, read_json};
use anyhow::{Context, bail};
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
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
    pub algo: String,
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
    pub curve: Curve,
    pub curve_is_success: bool,
    pub source: PathBuf,
}

/// The learning curve of a metrics.csv: success rate when logged, else mean return.
/// The rolling success rate covers the last this many finished episodes (`ppo::update`).
const WINDOW: f64 = 100.0;

/// A run's learning curve from its metrics.csv, whether it is the success rate (else the mean
/// return), and the frames from which its rolling window is full. Before that the rate is over
/// the few episodes that have ended, and early on those are the quick successes (an episode
/// can only end early by succeeding), so "frames to 90%" counts only from there. A file without
/// an `episodes` column counts from its first row.
fn read_curve(path: &Path) -> anyhow::Result<(Curve, bool, f64)> {
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
    let mut curve = Vec::new();
    let mut full_from = episodes.is_none().then_some(0.0);
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let get = |c: usize| cells.get(c).and_then(|v| v.parse::<f64>().ok());
        match (get(frames), get(y)) {
            (Some(f), Some(v)) => curve.push((f, v)),
            // No episode had ended yet (older files wrote inf or -0 there).
            (Some(_), None) if cells.get(y) == Some(&"") => {}
            _ => bail!("{} line {}: unreadable row", path.display(), i + 2),
        }
        if full_from.is_none() && episodes.and_then(get).is_some_and(|n| n >= WINDOW) {
            full_from = get(frames);
        }
    }
    Ok((curve, is_success, full_from.unwrap_or(f64::INFINITY)))
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
    let (curve, curve_is_success, full_from) = if dir.join("metrics.csv").exists() {
        read_curve(&dir.join("metrics.csv"))?
    } else {
        (Vec::new(), false, f64::INFINITY)
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
        frames_to_90,
        curve,
        curve_is_success,
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
        let Ok(r) = serde_json::from_value::<EvalReport>(v) else {
            continue;
        };
        let f = &r.figures;
        out.push(Entry {
            algo: if r.greedy {
                format!("eval:{} (greedy)", r.agent)
            } else {
                format!("eval:{}", r.agent)
            },
            seed: Some(r.seed),
            success: Some(f.success_rate),
            ret: Some(f.mean_return),
            steps: Some(f.mean_steps),
            calls: Some(f.llm_calls_per_episode),
            seconds: None,
            frames_to_90: None,
            reached_90: None,
            curve: Vec::new(),
            curve_is_success: false,
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

/// The markdown table of one env's entries, one row per (algorithm, planner), means over runs.
pub fn table(entries: &[&Entry]) -> String {
    let mut groups: BTreeMap<(String, String), Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        groups
            .entry((e.algo.clone(), e.planner.clone()))
            .or_default()
            .push(e);
    }
    let mut s = String::from(
        "| algorithm | planner | runs | success rate | mean return | mean steps | LLM calls / episode | frames to 90% success | wall time (s) |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for ((algo, planner), es) in groups {
        let m = |f: &dyn Fn(&Entry) -> Option<f64>| mean(es.iter().map(|e| f(e)));
        let reached: Vec<bool> = es.iter().filter_map(|e| e.reached_90).collect();
        let f90 = if reached.is_empty() {
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
        let _ = writeln!(
            s,
            "| {algo} | {planner} | {} | {} | {} | {} | {} | {f90} | {} |",
            es.len(),
            cell(m(&|e| e.success), |v| format!("{:.1}%", 100.0 * v)),
            cell(m(&|e| e.ret), |v| format!("{v:.3}")),
            cell(m(&|e| e.steps), |v| format!("{v:.1}")),
            cell(m(&|e| e.calls), |v| format!("{v:.2}")),
            cell(m(&|e| e.seconds), |v| format!("{v:.0}")),
        );
    }
    s
}

/// SVG learning curves of one env's runs.
pub fn plot(path: &Path, env: &str, entries: &[&Entry]) -> anyhow::Result<()> {
    let runs: Vec<&&Entry> = entries.iter().filter(|e| !e.curve.is_empty()).collect();
    let all_success = runs.iter().all(|e| e.curve_is_success);
    let x_max = runs
        .iter()
        .flat_map(|e| e.curve.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let (y_min, y_max) = runs
        .iter()
        .flat_map(|e| e.curve.iter().map(|p| p.1))
        .fold((0.0f64, 1.0f64), |(a, b), y| (a.min(y), b.max(y)));
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    let err = |e: DrawingAreaErrorKind<_>| anyhow::anyhow!("drawing {}: {e:?}", path.display());
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{env}: learning curves"), ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(55)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("frames")
        .y_desc(if all_success {
            "success rate (last 100 episodes)"
        } else {
            "success rate / mean return"
        })
        .draw()
        .map_err(err)?;
    for (i, e) in runs.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let label = format!(
            "{} ({}) seed {}",
            e.algo,
            e.planner,
            e.seed.map(|s| s.to_string()).unwrap_or("?".into())
        );
        chart
            .draw_series(LineSeries::new(
                e.curve.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
    }
    if !runs.is_empty() {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
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
         episodes in `metrics.csv`, counted once 100 episodes have ended.\n",
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
            r#"{"success_rate":0.99,"mean_return":0.8,"mean_steps":20,"llm_calls_per_episode":4.5,"seconds":12}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("always.json"),
            r#"{"env":"SimpleDoorKey","agent":"always","planner":"expert","success_rate":1.0,"mean_return":0.82,"mean_steps":19,"llm_calls_per_episode":19}
{"env":"SimpleDoorKey","agent":"teacher","planner":"t","greedy":true,"success_rate":0.5}
{"env":"SimpleDoorKey","agent":"teacher","planner":"t","greedy":false,"success_rate":0.8}"#,
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
        let hard = dir.join("teach-hard-1");
        std::fs::create_dir_all(&hard).unwrap();
        std::fs::write(
            hard.join("config.json"),
            r#"{"algo":"llm4teach","env":"SimpleDoorKey","guide":{"planner":"expert","args":{"planner":"expert:noise=0.3","hard_teacher":true,"teacher_samples":1,"teach_coef":10.0}},"ppo":{"seed":1}}"#,
        )
        .unwrap();
        let out = dir.join("out");
        let md = run_report(&ReportArgs {
            env: vec!["SimpleDoorKey".into()],
            runs: dir.clone(),
            out: out.clone(),
        })
        .unwrap();
        assert!(
            md.contains("| when2ask | expert | 1 | 99.0% | 0.800 | 20.0 | 4.50 | 200 | 12 |"),
            "{md}"
        );
        assert!(md.contains("| eval:always | expert | 1 | 100.0% |"), "{md}");
        // Greedy and sampled evaluations of one agent are rows of their own, not averaged.
        assert!(md.contains("| eval:teacher | t | 1 | 80.0% |"), "{md}");
        assert!(
            md.contains("| eval:teacher (greedy) | t | 1 | 50.0% |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| llm4teach | expert:noise=0.3 | 1 | – | – | – | – | not reached in 4096 (rolling 60.0% at the end) | – |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| shaping | expert | 1 | – | – | – | – | not reached | – |"),
            "{md}"
        );
        assert!(md.contains("| ppo | none | 1 |"), "{md}");
        assert!(
            md.contains("| ppo (ent_coef=0.05, norm_adv=true) | none | 1 |"),
            "{md}"
        );
        assert!(
            md.contains("| llm4teach (hard_teacher=true, teacher_samples=1) | expert | 1 |"),
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
}
