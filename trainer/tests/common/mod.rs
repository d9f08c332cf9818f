//! Test support for the `gridmentor` command: run it, read the JSON it prints, and read the run
//! folders it writes.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `gridmentor` binary of this build, to run with arguments.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gridmentor"))
}

/// Run the `gridmentor` binary of this build to the end.
pub fn gridmentor(args: &[&str]) -> Output {
    command().args(args).output().expect("run gridmentor")
}

/// The result of a successful command: the last line of its stdout, as JSON.
pub fn json(out: &Output) -> Value {
    let stdout = success(out);
    serde_json::from_str(stdout.lines().last().expect("a JSON line")).unwrap()
}

/// The result of a successful command that prints exactly one line, as JSON.
pub fn json_line(out: &Output) -> Value {
    let stdout = success(out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line expected, got {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The repository root, read at run time. `cargo test` sets `CARGO_MANIFEST_DIR` for the test it
/// runs; the path compiled in (`env!`) names the clone that built the test, which is another
/// clone when clones share a target dir.
pub fn repo_root() -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .expect("run by `cargo test`, which sets CARGO_MANIFEST_DIR");
    PathBuf::from(dir).join("..")
}

/// An empty directory of this test process (what an earlier run left there is removed).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gridmentor-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The lines of a run folder's metrics.csv, the header first.
pub fn metrics_rows(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("metrics.csv"))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// metrics.csv without its wall-clock columns (fps, wall_seconds): what two runs of one seed
/// must share.
pub fn metrics(run: &Path) -> Vec<String> {
    let rows = metrics_rows(run);
    let clock: Vec<usize> = rows[0]
        .split(',')
        .enumerate()
        .filter(|(_, h)| matches!(*h, "fps" | "wall_seconds"))
        .map(|(i, _)| i)
        .collect();
    assert!(!clock.is_empty(), "no fps column in {}", rows[0]);
    rows.iter()
        .map(|row| {
            row.split(',')
                .enumerate()
                .filter(|(i, _)| !clock.contains(i))
                .map(|(_, cell)| cell)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

/// The values of the metrics.csv column `name` (`rows` as [`metrics_rows`] gives them).
pub fn column(rows: &[String], name: &str) -> Vec<f64> {
    let header: Vec<&str> = rows[0].split(',').collect();
    let i = header.iter().position(|h| *h == name).expect(name);
    rows[1..]
        .iter()
        .map(|r| r.split(',').nth(i).unwrap().parse().unwrap())
        .collect()
}

/// A JSON file of a run folder (config.json, eval.json).
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
