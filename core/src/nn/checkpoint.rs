//! The checkpoint file: a short text header (what was trained, on what, how well, and the weights'
//! sha256) followed by the weights as a burnpack record. Loading checks all of it.
//!
//! ```text
//! GRIDMENTOR CHECKPOINT
//! format 2
//! net minigrid-cnn
//! obs view7
//! actions 7
//! acts primitive
//! env MiniGrid-DoorKey-5x5-v0
//! algo ppo
//! frames 150016
//! seed 1
//! eval 100 0.9531 1
//! weights 78104 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!
//! <78104 bytes of burnpack>
//! ```
//!
//! `acts` (format 2) says what the network's outputs mean, so that every shell plays it the
//! same way; a format-1 file (no `acts` line) is read with the action space its `algo` implies.
//!
//! Format 3 adds the training curve after `eval`: `curve N`, then N `point` lines of frames,
//! rolling mean return and rolling success rate (what the trainer's metrics.csv says then):
//!
//! ```text
//! eval 100 0.9531 1
//! curve 2
//! point 2048 0 0
//! point 150016 0.9412 1
//! weights 78104 9f86...
//! ```
//!
//! A file without a curve is still written as format 2, which older builds read.

use crate::nn::net::ActorCritic;
use crate::nn::spec::{NetKind, NetSpec, ObsKind};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device};
use core::fmt::Write as _;
use sha2::{Digest, Sha256};

/// The first line of every checkpoint.
pub const MAGIC: &str = "GRIDMENTOR CHECKPOINT";
/// The newest header layout this build writes and reads (a file without a curve is written as
/// format 2).
pub const FORMAT_VERSION: u32 = 3;
/// The oldest header layout this build reads.
pub const OLDEST_FORMAT: u32 = 1;

/// What a network's outputs choose among.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ActionSpace {
    /// MiniGrid's 7 actions: a policy.
    Primitive,
    /// When2Ask's mediator: don't ask (0) or ask (1), for the planner + skills agent.
    Ask,
    /// skills-rl: the options (skills) of the env it was trained on (`agent::options`).
    Options,
}

impl ActionSpace {
    pub const ALL: [ActionSpace; 3] = [
        ActionSpace::Primitive,
        ActionSpace::Ask,
        ActionSpace::Options,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ActionSpace::Primitive => "primitive",
            ActionSpace::Ask => "ask",
            ActionSpace::Options => "options",
        }
    }

    /// The action space a format-1 header's `algo` implies.
    pub fn of_algorithm(algorithm: &str) -> ActionSpace {
        match algorithm {
            "when2ask" => ActionSpace::Ask,
            "skills-rl" => ActionSpace::Options,
            _ => ActionSpace::Primitive,
        }
    }
}

impl core::fmt::Display for ActionSpace {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for ActionSpace {
    type Err = String;
    fn from_str(s: &str) -> Result<ActionSpace, String> {
        ActionSpace::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown action space {s:?} (primitive, ask, options)"))
    }
}

/// Why a checkpoint was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a gridmentor checkpoint (it does not start with {MAGIC:?})")]
    NotACheckpoint,
    #[error(
        "checkpoint format version {found} is not supported (this build reads versions {OLDEST_FORMAT} to {FORMAT_VERSION})"
    )]
    UnsupportedVersion { found: String },
    #[error("checkpoint is truncated: {0}")]
    Truncated(String),
    #[error("checkpoint is corrupt: {0}")]
    Corrupt(String),
    #[error("checkpoint weights are corrupt: their sha256 is {found}, the header says {recorded}")]
    HashMismatch { recorded: String, found: String },
    #[error("checkpoint is for {field} {checkpoint}, not {wanted}")]
    Mismatch {
        field: &'static str,
        checkpoint: String,
        wanted: String,
    },
    #[error("checkpoint weights do not fit a {net} network: {reason}")]
    Weights { net: NetKind, reason: String },
    #[error("checkpoint cannot play {env}: {reason}")]
    Unplayable { env: String, reason: String },
}

/// How a trained policy scored in evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalResult {
    pub episodes: u32,
    pub mean_return: f32,
    pub success_rate: f32,
}

/// The most points a checkpoint's training curve holds: plenty for a plot, and it bounds what a
/// loader reads (a longer run's curve is thinned with [`thin_curve`] before it is saved).
pub const MAX_CURVE_POINTS: usize = 256;

/// One point of a training curve: the rolling figures over the last finished episodes (up to
/// 100) after the update that reached `frames`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CurvePoint {
    pub frames: u64,
    pub mean_return: f32,
    /// In 0..=1.
    pub success_rate: f32,
}

/// At most `max` points of `points`, evenly spread over them, the first and the last kept.
pub fn thin_curve(points: &[CurvePoint], max: usize) -> Vec<CurvePoint> {
    let n = points.len();
    if n <= max {
        return points.to_vec();
    }
    match max {
        0 => Vec::new(),
        1 => points[n - 1..].to_vec(),
        _ => (0..max).map(|i| points[i * (n - 1) / (max - 1)]).collect(),
    }
}

/// Everything a checkpoint says about its weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Metadata {
    pub spec: NetSpec,
    /// What the network's outputs choose among.
    pub acts: ActionSpace,
    /// The registry id of the env it was trained on.
    pub env: String,
    /// `ppo`, `llm4teach`, ...
    pub algorithm: String,
    pub frames: u64,
    pub seed: u64,
    pub eval: Option<EvalResult>,
    /// The training curve, frames rising (empty: none was recorded, as in files before format 3);
    /// at most [`MAX_CURVE_POINTS`].
    pub curve: Vec<CurvePoint>,
}

/// Why `curve` cannot be a checkpoint's: too long, frames falling, a figure out of range.
fn check_curve(curve: &[CurvePoint]) -> Result<(), CheckpointError> {
    if curve.len() > MAX_CURVE_POINTS {
        return Err(CheckpointError::Corrupt(format!(
            "a curve of {} points (at most {MAX_CURVE_POINTS})",
            curve.len()
        )));
    }
    for (i, p) in curve.iter().enumerate() {
        if !p.mean_return.is_finite() || !(0.0..=1.0).contains(&p.success_rate) {
            return Err(CheckpointError::Corrupt(format!(
                "curve point {i}: mean return {} and success rate {} (finite, and 0 to 1)",
                p.mean_return, p.success_rate
            )));
        }
        if i > 0 && p.frames < curve[i - 1].frames {
            return Err(CheckpointError::Corrupt(format!(
                "curve point {i} is at {} frames, before the one before it ({})",
                p.frames,
                curve[i - 1].frames
            )));
        }
    }
    Ok(())
}

/// Weights with their metadata.
#[derive(Clone, Debug)]
pub struct Checkpoint {
    pub meta: Metadata,
    weights: Vec<u8>,
    sha256: [u8; 32],
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A header value must be one word: no spaces, no line breaks.
fn word<'a>(field: &str, value: &'a str) -> Result<&'a str, CheckpointError> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        Err(CheckpointError::Corrupt(format!(
            "{field} {value:?} is not one word"
        )))
    } else {
        Ok(value)
    }
}

impl Checkpoint {
    /// Record `model`'s weights. `meta.spec` must be the model's.
    pub fn from_model(model: &ActorCritic, meta: Metadata) -> Result<Checkpoint, CheckpointError> {
        if meta.spec != model.spec() {
            return Err(CheckpointError::Mismatch {
                field: "network",
                checkpoint: format!("{:?}", meta.spec),
                wanted: format!("{:?}", model.spec()),
            });
        }
        word("env", &meta.env)?;
        word("algo", &meta.algorithm)?;
        check_curve(&meta.curve)?;
        let weights = model
            .valid()
            .into_record()
            .into_bytes()
            .map_err(|e| CheckpointError::Weights {
                net: meta.spec.net,
                reason: e.to_string(),
            })?
            .to_vec();
        let sha256 = sha256(&weights);
        Ok(Checkpoint {
            meta,
            weights,
            sha256,
        })
    }

    /// The sha256 of the weights, in hex.
    pub fn weights_sha256(&self) -> String {
        hex(&self.sha256)
    }

    /// The burnpack record.
    pub fn weights(&self) -> &[u8] {
        &self.weights
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let m = &self.meta;
        let mut h = String::new();
        let _ = writeln!(h, "{MAGIC}");
        let format = if m.curve.is_empty() {
            2
        } else {
            FORMAT_VERSION
        };
        let _ = writeln!(h, "format {format}");
        let _ = writeln!(h, "net {}", m.spec.net);
        let _ = writeln!(h, "obs {}", m.spec.obs);
        let _ = writeln!(h, "actions {}", m.spec.actions);
        let _ = writeln!(h, "acts {}", m.acts);
        let _ = writeln!(h, "env {}", m.env);
        let _ = writeln!(h, "algo {}", m.algorithm);
        let _ = writeln!(h, "frames {}", m.frames);
        let _ = writeln!(h, "seed {}", m.seed);
        match m.eval {
            Some(e) => {
                let _ = writeln!(
                    h,
                    "eval {} {} {}",
                    e.episodes, e.mean_return, e.success_rate
                );
            }
            None => {
                let _ = writeln!(h, "eval none");
            }
        }
        if !m.curve.is_empty() {
            let _ = writeln!(h, "curve {}", m.curve.len());
            for p in &m.curve {
                let _ = writeln!(h, "point {} {} {}", p.frames, p.mean_return, p.success_rate);
            }
        }
        let _ = writeln!(h, "weights {} {}", self.weights.len(), hex(&self.sha256));
        h.push('\n');
        let mut out = h.into_bytes();
        out.extend_from_slice(&self.weights);
        out
    }

    /// Parse and verify a checkpoint file: magic, version, every header field, the weights'
    /// length and sha256. (Whether the weights fit the network is checked by [`Self::model`].)
    pub fn from_bytes(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let mut rest = bytes;
        let mut next_line = |what: &str| -> Result<&str, CheckpointError> {
            let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| {
                CheckpointError::Truncated(format!("the header ends before {what}"))
            })?;
            let line = core::str::from_utf8(&rest[..end])
                .map_err(|_| CheckpointError::Corrupt(format!("{what} is not text")))?;
            rest = &rest[end + 1..];
            Ok(line)
        };
        let magic = next_line("the first line").map_err(|_| CheckpointError::NotACheckpoint)?;
        if magic != MAGIC {
            return Err(CheckpointError::NotACheckpoint);
        }
        // The version comes first so a newer file is refused as such, not as corrupt.
        let version = next_line("the format version")?;
        let found = version.strip_prefix("format ").ok_or_else(|| {
            CheckpointError::Corrupt(format!("expected the format version, found {version:?}"))
        })?;
        let format = found
            .parse::<u32>()
            .ok()
            .filter(|v| (OLDEST_FORMAT..=FORMAT_VERSION).contains(v))
            .ok_or_else(|| CheckpointError::UnsupportedVersion {
                found: found.into(),
            })?;

        let mut field = |key: &'static str| -> Result<String, CheckpointError> {
            let line = next_line(key)?;
            match line.split_once(' ') {
                Some((k, v)) if k == key => Ok(v.into()),
                _ => Err(CheckpointError::Corrupt(format!(
                    "expected the {key} field, found {line:?}"
                ))),
            }
        };
        fn parse<T: core::str::FromStr>(key: &str, v: &str) -> Result<T, CheckpointError> {
            v.parse()
                .map_err(|_| CheckpointError::Corrupt(format!("bad {key} {v:?}")))
        }
        let net: NetKind = field("net")?.parse().map_err(CheckpointError::Corrupt)?;
        let obs: ObsKind = field("obs")?.parse().map_err(CheckpointError::Corrupt)?;
        let actions = parse("actions", &field("actions")?)?;
        // Bound the network before anything else: it is built from these numbers.
        let spec = NetSpec { net, obs, actions };
        spec.check().map_err(CheckpointError::Corrupt)?;
        let acts = if format >= 2 {
            Some(field("acts")?.parse().map_err(CheckpointError::Corrupt)?)
        } else {
            None
        };
        let env = field("env")?;
        word("env", &env)?;
        let algorithm = field("algo")?;
        word("algo", &algorithm)?;
        let acts = acts.unwrap_or_else(|| ActionSpace::of_algorithm(&algorithm));
        let frames = parse("frames", &field("frames")?)?;
        let seed = parse("seed", &field("seed")?)?;
        let eval_line = field("eval")?;
        let eval = if eval_line == "none" {
            None
        } else {
            let parts: Vec<&str> = eval_line.split(' ').collect();
            let [episodes, mean_return, success_rate] = parts[..] else {
                return Err(CheckpointError::Corrupt(format!("bad eval {eval_line:?}")));
            };
            Some(EvalResult {
                episodes: parse("eval episodes", episodes)?,
                mean_return: parse("eval mean return", mean_return)?,
                success_rate: parse("eval success rate", success_rate)?,
            })
        };
        let curve = if format >= 3 {
            // The count is bounded before a single point is read.
            let count: usize = parse("curve", &field("curve")?)?;
            if count > MAX_CURVE_POINTS {
                return Err(CheckpointError::Corrupt(format!(
                    "a curve of {count} points (at most {MAX_CURVE_POINTS})"
                )));
            }
            let mut curve = Vec::with_capacity(count);
            for i in 0..count {
                let line = field("point")?;
                let parts: Vec<&str> = line.splitn(4, ' ').collect();
                let [frames, mean_return, success_rate] = parts[..] else {
                    return Err(CheckpointError::Corrupt(format!(
                        "curve point {i}: expected frames, mean return and success rate, found \
                         {line:?}"
                    )));
                };
                curve.push(CurvePoint {
                    frames: parse("curve frames", frames)?,
                    mean_return: parse("curve mean return", mean_return)?,
                    success_rate: parse("curve success rate", success_rate)?,
                });
            }
            check_curve(&curve)?;
            curve
        } else {
            Vec::new()
        };
        let weights_line = field("weights")?;
        let (len, recorded) = weights_line
            .split_once(' ')
            .ok_or_else(|| CheckpointError::Corrupt(format!("bad weights {weights_line:?}")))?;
        let len: usize = parse("weights length", len)?;
        if recorded.len() != 64 || !recorded.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CheckpointError::Corrupt(format!(
                "bad weights sha256 {recorded:?}"
            )));
        }
        let fits = spec.weight_bytes();
        if !fits.contains(&len) {
            return Err(CheckpointError::Weights {
                net,
                reason: format!(
                    "{len} weight bytes, but a {net} over {obs} with {actions} actions records \
                     {} to {} bytes",
                    fits.start(),
                    fits.end()
                ),
            });
        }
        let blank = next_line("the end of the header")?;
        if !blank.is_empty() {
            return Err(CheckpointError::Corrupt(format!(
                "unexpected header line {blank:?}"
            )));
        }

        if rest.len() < len {
            return Err(CheckpointError::Truncated(format!(
                "{} of {len} weight bytes",
                rest.len()
            )));
        }
        if rest.len() > len {
            return Err(CheckpointError::Corrupt(format!(
                "{} bytes after the weights",
                rest.len() - len
            )));
        }
        let sha = sha256(rest);
        if hex(&sha) != recorded.to_ascii_lowercase() {
            return Err(CheckpointError::HashMismatch {
                recorded: recorded.into(),
                found: hex(&sha),
            });
        }
        Ok(Checkpoint {
            meta: Metadata {
                spec,
                acts,
                env,
                algorithm,
                frames,
                seed,
                eval,
                curve,
            },
            weights: rest.to_vec(),
            sha256: sha,
        })
    }

    /// Refuse a checkpoint for another observation or action set.
    pub fn expect(&self, obs: ObsKind, actions: usize) -> Result<(), CheckpointError> {
        let spec = self.meta.spec;
        if spec.obs != obs {
            return Err(CheckpointError::Mismatch {
                field: "observation",
                checkpoint: spec.obs.to_string(),
                wanted: obs.to_string(),
            });
        }
        if spec.actions != actions {
            return Err(CheckpointError::Mismatch {
                field: "action count",
                checkpoint: spec.actions.to_string(),
                wanted: actions.to_string(),
            });
        }
        Ok(())
    }

    /// Refuse a checkpoint trained on another env.
    pub fn expect_env(&self, env: &str) -> Result<(), CheckpointError> {
        if self.meta.env != env {
            return Err(CheckpointError::Mismatch {
                field: "env",
                checkpoint: self.meta.env.clone(),
                wanted: env.into(),
            });
        }
        Ok(())
    }

    /// Whether an agent built from this checkpoint can play the env it names: the env is
    /// registered under exactly that id, the observation fits that env's agent, and the actions
    /// are ones core's agents play from a checkpoint (When2Ask's mediator: ask or not over the
    /// map's change; every other policy: MiniGrid's 7 actions). The server refuses an upload
    /// that fails this, so nothing listed fails only when it is evaluated.
    pub fn check_playable(&self) -> Result<(), CheckpointError> {
        let m = &self.meta;
        let unplayable = |reason: String| CheckpointError::Unplayable {
            env: m.env.clone(),
            reason,
        };
        let spec = crate::registry::find(&m.env).map_err(|e| unplayable(e.to_string()))?;
        if spec.id != m.env {
            return Err(unplayable(format!(
                "the header must name the env by its registry id {:?}",
                spec.id
            )));
        }
        let env = crate::Env::new(spec, 0);
        crate::nn::Observer::new(m.spec.obs, &env).map_err(unplayable)?;
        let mediator = crate::mediator::is_mediator(m.spec);
        match m.acts {
            ActionSpace::Ask if !mediator => Err(unplayable(format!(
                "a When2Ask mediator chooses between 2 actions (ask or not) over the memory \
                 map's change, not {} over {}",
                m.spec.actions, m.spec.obs
            ))),
            ActionSpace::Ask => Ok(()),
            ActionSpace::Options => {
                let n = crate::agent::options::options(spec).len();
                if m.spec.actions != n || !matches!(m.spec.obs, ObsKind::MemoryMap { .. }) {
                    return Err(unplayable(format!(
                        "{} has {n} options over the memory map; this skills-rl network \
                         chooses among {} over {}",
                        spec.id, m.spec.actions, m.spec.obs
                    )));
                }
                Ok(())
            }
            ActionSpace::Primitive if mediator => Err(unplayable(format!(
                "a 2-action network over the memory map's change is a When2Ask mediator, but \
                 the header says its actions are primitive (algo {})",
                m.algorithm
            ))),
            ActionSpace::Primitive if m.spec.actions != crate::world::Action::COUNT => {
                Err(unplayable(format!(
                    "a policy chooses among MiniGrid's {} actions, not {}",
                    crate::world::Action::COUNT,
                    m.spec.actions
                )))
            }
            ActionSpace::Primitive => Ok(()),
        }
    }

    /// The network with these weights on `device`.
    pub fn model(&self, device: &Device) -> Result<ActorCritic, CheckpointError> {
        let spec = self.meta.spec;
        let bad = |reason: String| CheckpointError::Weights {
            net: spec.net,
            reason,
        };
        let net = ActorCritic::new(spec, 0, device).map_err(bad)?;
        // Cast to the network's f32 on load: a record whose tensor claims another dtype (an
        // upload with a flipped dtype byte) otherwise makes burn panic ("Expected float dtype")
        // instead of failing, in the server and in the browser alike.
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(self.weights.clone()))
            .map_err(|e| bad(e.to_string()))?
            .cast_to_module_dtype();
        net.try_load_record(record).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn device() -> Device {
        Device::flex()
    }

    fn meta(spec: NetSpec) -> Metadata {
        Metadata {
            spec,
            acts: ActionSpace::Primitive,
            env: "MiniGrid-DoorKey-5x5-v0".into(),
            algorithm: "ppo".into(),
            frames: 150_016,
            seed: 3,
            eval: Some(EvalResult {
                episodes: 100,
                mean_return: 0.9531,
                success_rate: 1.0,
            }),
            curve: Vec::new(),
        }
    }

    fn curve(n: u64) -> Vec<CurvePoint> {
        (1..=n)
            .map(|i| CurvePoint {
                frames: i * 2048,
                mean_return: i as f32 / (2 * n) as f32,
                success_rate: (i as f32 / n as f32).min(1.0),
            })
            .collect()
    }

    /// A file with a curve (format 3).
    fn saved_with_curve() -> Vec<u8> {
        let spec = NetSpec::minigrid(7);
        let net = ActorCritic::new(spec, 5, &device()).unwrap();
        let mut m = meta(spec);
        m.curve = curve(3);
        Checkpoint::from_model(&net, m).unwrap().to_bytes()
    }

    fn saved() -> (ActorCritic, Vec<u8>) {
        let spec = NetSpec::minigrid(7);
        let net = ActorCritic::new(spec, 5, &device()).unwrap();
        let bytes = Checkpoint::from_model(&net, meta(spec)).unwrap().to_bytes();
        (net, bytes)
    }

    fn header_end(bytes: &[u8]) -> usize {
        bytes.windows(2).position(|w| w == b"\n\n").unwrap() + 2
    }

    /// Replace one header line (by its key) and fix nothing else.
    fn edit_header(bytes: &[u8], key: &str, line: &str) -> Vec<u8> {
        let end = header_end(bytes);
        let header = core::str::from_utf8(&bytes[..end]).unwrap();
        let header: String = header
            .lines()
            .map(|l| {
                if l.split(' ').next() == Some(key) {
                    format!("{line}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        let mut out = header.into_bytes();
        out.extend_from_slice(&bytes[end..]);
        out
    }

    #[test]
    fn round_trip_keeps_metadata_and_outputs() {
        let (net, bytes) = saved();
        let ck = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(ck.meta, meta(NetSpec::minigrid(7)));
        let loaded = ck.model(&device()).unwrap();
        let x = || net.input(vec![0.25; 147 * 3], 3, &device());
        assert_eq!(
            net.forward(x()).logits.to_data(),
            loaded.forward(x()).logits.to_data()
        );
        assert_eq!(
            Checkpoint::from_bytes(&ck.to_bytes()).unwrap().to_bytes(),
            bytes
        );
    }

    #[test]
    fn header_is_readable_text() {
        let (_, bytes) = saved();
        let header = core::str::from_utf8(&bytes[..header_end(&bytes)]).unwrap();
        assert!(
            header.starts_with(
                "GRIDMENTOR CHECKPOINT\nformat 2\nnet minigrid-cnn\nobs view7\nactions 7\nacts primitive\n"
            )
        );
        assert!(header.contains("\neval 100 0.9531 1\n"));
    }

    #[test]
    fn not_a_checkpoint() {
        for bytes in [&b""[..], b"GRIDMENTOR", b"PK\x03\x04 a zip file\n"] {
            assert_eq!(
                Checkpoint::from_bytes(bytes).unwrap_err(),
                CheckpointError::NotACheckpoint
            );
        }
    }

    #[test]
    fn wrong_version() {
        let (_, bytes) = saved();
        let bytes = edit_header(&bytes, "format", "format 4");
        let err = Checkpoint::from_bytes(&bytes).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::UnsupportedVersion { found: "4".into() }
        );
        assert!(err.to_string().contains("reads versions 1 to 3"), "{err}");
    }

    /// A curve makes the file format 3 and comes back point for point; without one the file
    /// stays format 2 (older builds read it) and reads back with an empty curve.
    #[test]
    fn the_training_curve_round_trips_in_format_3() {
        let bytes = saved_with_curve();
        let header = core::str::from_utf8(&bytes[..header_end(&bytes)]).unwrap();
        assert!(
            header.starts_with("GRIDMENTOR CHECKPOINT\nformat 3\n"),
            "{header}"
        );
        assert!(
            header.contains("\neval 100 0.9531 1\ncurve 3\npoint 2048 ")
                && header.contains("\npoint 6144 0.5 1\nweights "),
            "{header}"
        );
        let ck = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(ck.meta.curve, curve(3));
        assert_eq!(ck.to_bytes(), bytes);
        let (_, plain) = saved();
        assert!(plain.starts_with(b"GRIDMENTOR CHECKPOINT\nformat 2\n"));
        assert!(
            Checkpoint::from_bytes(&plain)
                .unwrap()
                .meta
                .curve
                .is_empty()
        );
        // A format-3 file may say it has no points.
        let empty = edit_header(&plain, "format", "format 3");
        let empty = edit_header(&empty, "eval", "eval 100 0.9531 1\ncurve 0");
        assert!(
            Checkpoint::from_bytes(&empty)
                .unwrap()
                .meta
                .curve
                .is_empty()
        );
    }

    /// The point count is bounded before anything is read or allocated, and every point is
    /// checked: a bad curve is a corrupt header, never a panic or a huge allocation.
    #[test]
    fn bad_curves_are_refused() {
        let bytes = saved_with_curve();
        let points = |lines: &str| {
            let head = edit_header(&bytes, "curve", lines);
            // The three original point lines go; `lines` brings its own.
            let end = header_end(&head);
            let text: String = core::str::from_utf8(&head[..end])
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("point ") || lines.contains(l))
                .map(|l| format!("{l}\n"))
                .collect();
            let mut out = text.into_bytes();
            out.extend_from_slice(&head[end..]);
            Checkpoint::from_bytes(&out).unwrap_err().to_string()
        };
        for (lines, says) in [
            ("curve 257", "at most 256"),
            ("curve 18446744073709551615", "at most 256"),
            ("curve 99999999999999999999999", "bad curve"),
            ("curve -1", "bad curve"),
            ("curve 2\npoint 2048 0.5 0.5", "expected the point field"),
            ("curve 1\npoint 2048 0.5", "expected frames"),
            ("curve 1\npoint 2048 0.5 0.5 7", "expected frames"),
            ("curve 1\npoint 2048 NaN 0.5", "finite"),
            ("curve 1\npoint 2048 inf 0.5", "finite"),
            ("curve 1\npoint 2048 0.5 1.5", "0 to 1"),
            ("curve 1\npoint -5 0.5 0.5", "bad curve frames"),
            (
                "curve 2\npoint 4096 0.5 0.5\npoint 2048 0.5 0.5",
                "before the one before",
            ),
        ] {
            let err = points(lines);
            assert!(err.contains(says), "{lines:?}: {err}");
        }
        // A curve line in a format-2 file is not a field it has.
        let (_, plain) = saved();
        let bad = edit_header(&plain, "eval", "eval 100 0.9531 1\ncurve 0");
        let err = Checkpoint::from_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("expected the weights field"), "{err}");
        // Nor can a model be saved with a curve a loader would refuse.
        let net = ActorCritic::new(NetSpec::minigrid(7), 0, &device()).unwrap();
        let mut m = meta(NetSpec::minigrid(7));
        m.curve = curve(MAX_CURVE_POINTS as u64 + 1);
        assert!(Checkpoint::from_model(&net, m.clone()).is_err());
        m.curve = thin_curve(&m.curve, MAX_CURVE_POINTS);
        assert!(Checkpoint::from_model(&net, m).is_ok());
    }

    #[test]
    fn thinning_keeps_the_ends_and_spreads_the_rest() {
        let long = curve(1000);
        let thin = thin_curve(&long, 256);
        assert_eq!(thin.len(), 256);
        assert_eq!(thin[0], long[0]);
        assert_eq!(thin[255], long[999]);
        assert!(thin.windows(2).all(|w| w[0].frames < w[1].frames));
        assert_eq!(thin_curve(&long[..10], 256), long[..10]);
        assert_eq!(thin_curve(&long, 1), [long[999]]);
        assert!(thin_curve(&long, 0).is_empty());
    }

    /// A format-1 file (no `acts` line) is read with the action space its algorithm implies,
    /// and written back as format 2 with that space recorded.
    #[test]
    fn format_one_files_get_their_action_space_from_the_algorithm() {
        let (_, bytes) = saved();
        let end = header_end(&bytes);
        let header = core::str::from_utf8(&bytes[..end]).unwrap();
        for (algo, acts) in [
            ("ppo", ActionSpace::Primitive),
            ("when2ask", ActionSpace::Ask),
            ("skills-rl", ActionSpace::Options),
        ] {
            let old: String = header
                .lines()
                .filter(|l| !l.starts_with("acts "))
                .map(|l| match l {
                    "format 2" => "format 1\n".into(),
                    "algo ppo" => format!("algo {algo}\n"),
                    l => format!("{l}\n"),
                })
                .collect();
            let mut file = old.into_bytes();
            file.extend_from_slice(&bytes[end..]);
            let ck = Checkpoint::from_bytes(&file).unwrap();
            assert_eq!(ck.meta.acts, acts, "{algo}");
            let again = Checkpoint::from_bytes(&ck.to_bytes()).unwrap();
            assert_eq!(again.meta, ck.meta);
        }
        let bad = edit_header(&bytes, "acts", "acts teleport");
        let err = Checkpoint::from_bytes(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown action space"), "{err}");
    }

    #[test]
    fn truncated_anywhere() {
        let (_, bytes) = saved();
        let end = header_end(&bytes);
        for cut in [30, end - 1, end, end + 100, bytes.len() - 1] {
            let err = Checkpoint::from_bytes(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Truncated(_)),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn flipped_weight_byte_is_caught_by_the_hash() {
        let (_, mut bytes) = saved();
        let i = bytes.len() - 10;
        bytes[i] ^= 0x40;
        let err = Checkpoint::from_bytes(&bytes).unwrap_err();
        assert!(
            matches!(err, CheckpointError::HashMismatch { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn trailing_bytes_and_bad_fields_are_corrupt() {
        let (_, bytes) = saved();
        let mut longer = bytes.clone();
        longer.push(0);
        for bad in [
            longer,
            edit_header(&bytes, "net", "net resnet"),
            edit_header(&bytes, "obs", "obs view"),
            edit_header(&bytes, "actions", "actions seven"),
            edit_header(&bytes, "frames", "frames -1"),
            edit_header(&bytes, "eval", "eval 100 0.9"),
            edit_header(&bytes, "algo", "algorithm ppo"),
            edit_header(&bytes, "weights", "weights 12 abc"),
            edit_header(&bytes, "actions", "actions 0"),
        ] {
            let err = Checkpoint::from_bytes(&bad).unwrap_err();
            assert!(matches!(err, CheckpointError::Corrupt(_)), "{err:?}");
        }
    }

    #[test]
    fn weights_for_another_network_are_refused_on_load() {
        // A consistent file (hash and length fixed up) whose header claims another architecture.
        let (_, bytes) = saved();
        let mut ck = Checkpoint::from_bytes(&bytes).unwrap();
        ck.meta.spec.net = NetKind::Mlp;
        let ck = Checkpoint::from_bytes(&ck.to_bytes()).unwrap();
        let err = ck.model(&device()).unwrap_err();
        assert!(
            matches!(
                err,
                CheckpointError::Weights {
                    net: NetKind::Mlp,
                    ..
                }
            ),
            "{err:?}"
        );
        // Same architecture, other action count: a shape mismatch in the actor's last layer.
        let mut ck = Checkpoint::from_bytes(&bytes).unwrap();
        ck.meta.spec.actions = 3;
        let err = Checkpoint::from_bytes(&ck.to_bytes())
            .unwrap()
            .model(&device())
            .unwrap_err();
        assert!(err.to_string().contains("shape mismatch"), "{err}");
    }

    #[test]
    fn garbage_weights_with_a_matching_hash_are_refused() {
        let (_, bytes) = saved();
        let good = Checkpoint::from_bytes(&bytes).unwrap();
        // Too short for the network: refused by the parser, before anything is built.
        let mut ck = good.clone();
        ck.weights = vec![7; 1000];
        ck.sha256 = sha256(&ck.weights);
        let err = Checkpoint::from_bytes(&ck.to_bytes()).unwrap_err();
        assert!(matches!(err, CheckpointError::Weights { .. }), "{err:?}");
        assert!(err.to_string().contains("1000 weight bytes"), "{err}");
        // The right length but not a burnpack record: refused on load.
        let mut ck = good;
        ck.weights = vec![7; ck.weights.len()];
        ck.sha256 = sha256(&ck.weights);
        let ck = Checkpoint::from_bytes(&ck.to_bytes()).unwrap();
        assert!(matches!(
            ck.model(&device()),
            Err(CheckpointError::Weights { .. })
        ));
    }

    /// Header bombs: sizes that would make the loader build a huge network are refused by the
    /// parser from the header alone (the weights here are a few bytes).
    #[test]
    fn header_bombs_are_refused_before_anything_is_built() {
        let (_, bytes) = saved();
        for (key, line, says) in [
            ("actions", "actions 4000000000", "actions"),
            ("actions", "actions 18446744073709551615", "actions"),
            ("obs", "obs view65535", "view"),
            ("obs", "obs view8", "odd"),
            ("obs", "obs memory-map65535x65535", "cells a side"),
            ("obs", "obs memory-map150x150", "cells a side"),
            ("obs", "obs ego-map0x0", "cells a side"),
            ("obs", "obs memory-map-diff1x40", "cells a side"),
            ("obs", "obs view-mission65535", "view"),
            ("obs", "obs view-mission8", "odd"),
        ] {
            let bad = edit_header(&bytes, key, line);
            let err = Checkpoint::from_bytes(&bad).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Corrupt(_)) && err.to_string().contains(says),
                "{line}: {err}"
            );
        }
        // Within every size limit, yet the weights are not that network's size.
        let bad = edit_header(&bytes, "obs", "obs memory-map32x32");
        let bad = edit_header(&bad, "net", "net memory-map-cnn");
        let err = Checkpoint::from_bytes(&bad).unwrap_err();
        assert!(matches!(err, CheckpointError::Weights { .. }), "{err}");
    }

    fn relabelled(bytes: &[u8], edit: impl FnOnce(&mut Metadata)) -> Checkpoint {
        let mut ck = Checkpoint::from_bytes(bytes).unwrap();
        edit(&mut ck.meta);
        Checkpoint::from_bytes(&ck.to_bytes()).unwrap()
    }

    #[test]
    fn only_checkpoints_that_can_play_their_env_are_playable() {
        let (_, bytes) = saved();
        let ck = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(ck.check_playable(), Ok(()));
        let reason = |ck: Checkpoint| match ck.check_playable() {
            Err(CheckpointError::Unplayable { reason, .. }) => reason,
            other => panic!("{other:?}"),
        };
        // SimpleDoorKey's agent sees 3x3, this network reads 7x7.
        let r = reason(relabelled(&bytes, |m| m.env = "SimpleDoorKey".into()));
        assert!(r.contains("7x7 view") && r.contains("3x3"), "{r}");
        // An alias is not the registry id; an unknown env is unknown.
        let r = reason(relabelled(&bytes, |m| m.env = "DoorKey-5x5".into()));
        assert!(r.contains("registry id"), "{r}");
        reason(relabelled(&bytes, |m| m.env = "NoSuchEnv".into()));
        // A policy header over 3 actions, a mediator label on a policy, a skills-rl label.
        let mut m3 = ck.meta.clone();
        m3.spec.actions = 3;
        let net3 = ActorCritic::new(m3.spec, 0, &device()).unwrap();
        let r = reason(Checkpoint::from_model(&net3, m3).unwrap());
        assert!(r.contains("7 actions, not 3"), "{r}");
        let r = reason(relabelled(&bytes, |m| m.acts = ActionSpace::Ask));
        assert!(r.contains("mediator"), "{r}");
        let r = reason(relabelled(&bytes, |m| m.acts = ActionSpace::Options));
        assert!(r.contains("options"), "{r}");
        // A 10x10 memory-map network labelled for a 5x5 env.
        let spec = NetSpec {
            net: NetKind::MemoryMapCnn,
            obs: ObsKind::MemoryMap {
                width: 10,
                height: 10,
            },
            actions: 7,
        };
        let net = ActorCritic::new(spec, 0, &device()).unwrap();
        let mut m = meta(spec);
        m.env = "MiniGrid-Empty-5x5-v0".into();
        let r = reason(Checkpoint::from_model(&net, m.clone()).unwrap());
        assert!(r.contains("10x10 memory map") && r.contains("5x5"), "{r}");
        m.env = "SimpleDoorKey".into();
        assert_eq!(
            Checkpoint::from_model(&net, m).unwrap().check_playable(),
            Ok(())
        );
    }

    #[test]
    fn mismatched_env_observation_or_actions() {
        let (_, bytes) = saved();
        let ck = Checkpoint::from_bytes(&bytes).unwrap();
        assert!(ck.expect(ObsKind::View { size: 7 }, 7).is_ok());
        assert!(ck.expect_env("MiniGrid-DoorKey-5x5-v0").is_ok());
        let err = ck
            .expect(
                ObsKind::MemoryMap {
                    width: 10,
                    height: 10,
                },
                7,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "checkpoint is for observation view7, not memory-map10x10"
        );
        let err = ck.expect(ObsKind::View { size: 7 }, 2).unwrap_err();
        assert!(matches!(
            err,
            CheckpointError::Mismatch {
                field: "action count",
                ..
            }
        ));
        let err = ck.expect_env("SimpleDoorKey").unwrap_err();
        assert!(matches!(
            err,
            CheckpointError::Mismatch { field: "env", .. }
        ));
    }

    /// A network over the view and the mission saves, loads and plays a BabyAI mix; the plain
    /// view's weights under its name are refused when the network is built, not misread.
    #[test]
    fn a_view_with_mission_checkpoint_round_trips() {
        let spec = NetSpec {
            obs: ObsKind::ViewMission { size: 7 },
            ..NetSpec::minigrid(7)
        };
        let net = ActorCritic::new(spec, 5, &device()).unwrap();
        let mut m = meta(spec);
        m.env = "BabyAI-MixedTrainLocal-v0".into();
        let bytes = Checkpoint::from_model(&net, m).unwrap().to_bytes();
        let header = core::str::from_utf8(&bytes[..header_end(&bytes)]).unwrap();
        assert!(header.contains("\nobs view-mission7\n"), "{header}");
        let ck = Checkpoint::from_bytes(&bytes).unwrap();
        assert_eq!(ck.meta.spec, spec);
        assert_eq!(ck.check_playable(), Ok(()));
        assert_eq!(ck.model(&device()).unwrap().spec(), spec);

        let (_, view) = saved();
        let relabelled = edit_header(&view, "obs", "obs view-mission7");
        let err =
            Checkpoint::from_bytes(&relabelled).and_then(|ck| ck.model(&device()).map(|_| ()));
        assert!(
            matches!(err, Err(CheckpointError::Weights { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn metadata_that_does_not_match_the_model_is_refused_on_save() {
        let net = ActorCritic::new(NetSpec::minigrid(7), 0, &device()).unwrap();
        let mut m = meta(NetSpec::minigrid(3));
        assert!(Checkpoint::from_model(&net, m.clone()).is_err());
        m.spec = NetSpec::minigrid(7);
        m.env = "two words".into();
        assert!(Checkpoint::from_model(&net, m).is_err());
    }
}
