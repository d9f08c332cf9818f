//! Share links: an episode (env, seed, agents, each agent's actions) as a short URL-safe code
//! (`/#s=<code>`). Versioned and checksummed; decoding says exactly why a code cannot be read.
//!
//! Layout of version 3, before base64url (no padding):
//!
//! ```text
//! version u8 = 3
//! env       varint length, UTF-8 registry id
//! seed      varint u64
//! agents    varint count, then per agent:
//!             kind u8: 0 human | 1 checkpoint (32-byte sha256 id, then sampling u8: 0 greedy |
//!             1 sampled + varint u64 seed) | 2 planner (style u8, varint length + planner
//!             name) | 3 random (varint u64 seed) | 4 LLM policy (varint temperature in
//!             thousandths, sampling u8 as a checkpoint's, varint length + model name)
//!             actions: varint count, then 3 bits per action (0..=6), LSB first, padded
//! crc32     u32 little-endian (IEEE) of everything before it
//! ```
//!
//! Version 2 is version 3 without the LLM policy; version 1 is version 2 without a checkpoint's
//! sampling byte (its checkpoints are greedy).
//! A new layout gets a new version byte and its own decoder; every older decoder stays, so links
//! made by an older build still open (`v1_code_from_the_first_release_still_decodes` pins one).

pub use crate::agent_ref::{AgentRef, Sampling, checkpoint_id_from_hex, checkpoint_id_to_hex};
use crate::agent_ref::{Temperature, check_planner_name};
use crate::planner::PromptStyle;
use crate::registry;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// The layout [`encode`] writes.
pub const VERSION: u8 = 3;
/// Every layout [`decode`] reads.
pub const READABLE_VERSIONS: &[u8] = &[1, 2, 3];
/// At most this many agents in one link (the playground compares 2-4).
pub const MAX_AGENTS: usize = 8;

/// One shared episode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shared {
    pub env: String,
    pub seed: u64,
    pub agents: Vec<AgentRef>,
    /// `actions[i]` is agent i's action list, each `0..=6`.
    pub actions: Vec<Vec<u8>>,
}

/// Why a code cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareError {
    /// A character outside base64url's alphabet, or a length no encoder produces.
    BadBase64 { position: usize, found: char },
    /// The code's length cannot come from base64url (one character left over).
    BadBase64Length { len: usize },
    /// The code is empty.
    Empty,
    /// Made by a build with a layout this one does not know.
    UnknownVersion { found: u8 },
    /// The bytes do not match their checksum: the link was cut or altered.
    ChecksumMismatch { recorded: u32, computed: u32 },
    /// The code ends before `what`.
    Truncated { what: &'static str },
    /// The bytes are well formed but say something impossible.
    Corrupt { reason: String },
    /// The env is not registered in this build.
    UnknownEnv { env: String },
}

impl fmt::Display for ShareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareError::BadBase64 { position, found } => write!(
                f,
                "share code is not base64url: {found:?} at position {position}"
            ),
            ShareError::BadBase64Length { len } => {
                write!(
                    f,
                    "share code is not base64url: {len} characters is not a valid length"
                )
            }
            ShareError::Empty => f.write_str("share code is empty"),
            ShareError::UnknownVersion { found } => write!(
                f,
                "share code has format version {found}; this build reads versions {READABLE_VERSIONS:?} (was it made by a newer gridmentor?)"
            ),
            ShareError::ChecksumMismatch { recorded, computed } => write!(
                f,
                "share code is damaged: its checksum is {recorded:08x} but its content gives {computed:08x} (was the link cut or edited?)"
            ),
            ShareError::Truncated { what } => {
                write!(f, "share code is truncated: it ends before {what}")
            }
            ShareError::Corrupt { reason } => write!(f, "share code is corrupt: {reason}"),
            ShareError::UnknownEnv { env } => {
                write!(
                    f,
                    "share code names env {env:?}, which this build does not have"
                )
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ShareError {}

// --- base64url ----------------------------------------------------------------------------

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 section 5).
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..chunk.len() + 1 {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decode base64url; `=` padding at the end is accepted and ignored.
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, ShareError> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (position, c) in text.chars().enumerate() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '-' => 62,
            '_' => 63,
            found => return Err(ShareError::BadBase64 { position, found }),
        };
        acc = (acc << 6 | v) & 0xff_ffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if text.len() % 4 == 1 {
        return Err(ShareError::BadBase64Length { len: text.len() });
    }
    Ok(out)
}

// --- checksum -----------------------------------------------------------------------------

/// CRC-32 (IEEE 802.3, as zlib and PNG), bitwise: links are short.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

// --- encoding -----------------------------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_sampling(out: &mut Vec<u8>, s: Sampling) {
    match s {
        Sampling::Greedy => out.push(0),
        Sampling::Seeded(seed) => {
            out.push(1);
            put_varint(out, seed);
        }
    }
}

fn style_byte(s: PromptStyle) -> u8 {
    match s {
        PromptStyle::When2Ask => 0,
        PromptStyle::Llm4Teach => 1,
    }
}

/// Why an episode cannot be put in a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodeError(pub String);

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot make a share link: {}", self.0)
    }
}

/// The code for `shared`, in the current layout.
pub fn encode(shared: &Shared) -> Result<String, EncodeError> {
    if shared.agents.len() != shared.actions.len() {
        return Err(EncodeError(alloc::format!(
            "{} agents but {} action lists",
            shared.agents.len(),
            shared.actions.len()
        )));
    }
    if shared.agents.len() > MAX_AGENTS {
        return Err(EncodeError(alloc::format!(
            "{} agents (at most {MAX_AGENTS})",
            shared.agents.len()
        )));
    }
    let mut out = Vec::new();
    out.push(VERSION);
    put_varint(&mut out, shared.env.len() as u64);
    out.extend_from_slice(shared.env.as_bytes());
    put_varint(&mut out, shared.seed);
    put_varint(&mut out, shared.agents.len() as u64);
    for (agent, actions) in shared.agents.iter().zip(&shared.actions) {
        match agent {
            AgentRef::Human => out.push(0),
            AgentRef::Checkpoint { id, sampling } => {
                out.push(1);
                out.extend_from_slice(id);
                put_sampling(&mut out, *sampling);
            }
            AgentRef::Planner { planner, style } => {
                check_planner_name(planner).map_err(|e| EncodeError(e.0))?;
                out.push(2);
                out.push(style_byte(*style));
                put_varint(&mut out, planner.len() as u64);
                out.extend_from_slice(planner.as_bytes());
            }
            AgentRef::Random { seed } => {
                out.push(3);
                put_varint(&mut out, *seed);
            }
            AgentRef::LlmPolicy {
                model,
                temperature,
                sampling,
            } => {
                check_planner_name(model).map_err(|e| EncodeError(e.0))?;
                out.push(4);
                put_varint(&mut out, temperature.milli() as u64);
                put_sampling(&mut out, *sampling);
                put_varint(&mut out, model.len() as u64);
                out.extend_from_slice(model.as_bytes());
            }
        }
        put_varint(&mut out, actions.len() as u64);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &a in actions {
            if a > 6 {
                return Err(EncodeError(alloc::format!("action {a} is not 0..=6")));
            }
            acc |= (a as u32) << bits;
            bits += 3;
            while bits >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                bits -= 8;
            }
        }
        if bits > 0 {
            out.push(acc as u8);
        }
    }
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(base64url_encode(&out))
}

// --- decoding -----------------------------------------------------------------------------

/// A cursor over the payload that reports what it ran out before.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ShareError> {
        if self.bytes.len() < n {
            return Err(ShareError::Truncated { what });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, ShareError> {
        Ok(self.take(1, what)?[0])
    }

    fn varint(&mut self, what: &'static str) -> Result<u64, ShareError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.byte(what)?;
            if i == 9 && b > 1 {
                return Err(corrupt(alloc::format!("{what} does not fit 64 bits")));
            }
            v |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(corrupt(alloc::format!("{what} does not fit 64 bits")))
    }

    /// A length that must fit in what is left (so a corrupt length cannot allocate much).
    fn len(&mut self, what: &'static str, per_item_bits: u64) -> Result<usize, ShareError> {
        let n = self.varint(what)?;
        if n.saturating_mul(per_item_bits) > self.bytes.len() as u64 * 8 {
            return Err(ShareError::Truncated { what });
        }
        Ok(n as usize)
    }

    fn sampling(&mut self, what: &'static str) -> Result<Sampling, ShareError> {
        match self.byte(what)? {
            0 => Ok(Sampling::Greedy),
            1 => Ok(Sampling::Seeded(self.varint(what)?)),
            s => Err(corrupt(alloc::format!("unknown sampling {s}"))),
        }
    }

    fn text(&mut self, what: &'static str) -> Result<String, ShareError> {
        let n = self.len(what, 8)?;
        let bytes = self.take(n, what)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| corrupt(alloc::format!("{what} is not UTF-8")))
    }
}

fn corrupt(reason: String) -> ShareError {
    ShareError::Corrupt { reason }
}

/// Read a code of any readable version. The env must be registered in this build.
pub fn decode(code: &str) -> Result<Shared, ShareError> {
    let code = code.trim();
    if code.is_empty() {
        return Err(ShareError::Empty);
    }
    let bytes = base64url_decode(code)?;
    let (&version, _) = bytes.split_first().ok_or(ShareError::Empty)?;
    // The version first: a newer link is refused as newer, not as damaged.
    if !READABLE_VERSIONS.contains(&version) {
        return Err(ShareError::UnknownVersion { found: version });
    }
    if bytes.len() < 5 {
        return Err(ShareError::Truncated {
            what: "the checksum",
        });
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let recorded = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let computed = crc32(body);
    if recorded != computed {
        return Err(ShareError::ChecksumMismatch { recorded, computed });
    }
    let shared = match version {
        1..=3 => decode_v1_to_v3(&body[1..], version)?,
        _ => unreachable!("READABLE_VERSIONS lists only versions with a decoder"),
    };
    if registry::find(&shared.env).is_err() {
        return Err(ShareError::UnknownEnv { env: shared.env });
    }
    Ok(shared)
}

/// Versions 1 to 3 differ only in agents: version 2 adds how a checkpoint samples, version 3
/// the LLM policy.
fn decode_v1_to_v3(payload: &[u8], version: u8) -> Result<Shared, ShareError> {
    let mut r = Reader { bytes: payload };
    let env = r.text("the env id")?;
    let seed = r.varint("the seed")?;
    let n = r.len("the agent count", 8)?;
    if n > MAX_AGENTS {
        return Err(corrupt(alloc::format!("{n} agents (at most {MAX_AGENTS})")));
    }
    let mut agents = Vec::with_capacity(n);
    let mut actions = Vec::with_capacity(n);
    for _ in 0..n {
        let agent = match r.byte("an agent's kind")? {
            0 => AgentRef::Human,
            1 => {
                let mut id = [0u8; 32];
                id.copy_from_slice(r.take(32, "a checkpoint id")?);
                let sampling = if version == 1 {
                    Sampling::Greedy
                } else {
                    r.sampling("a checkpoint's sampling")?
                };
                AgentRef::Checkpoint { id, sampling }
            }
            2 => {
                let style = match r.byte("a planner's prompt style")? {
                    0 => PromptStyle::When2Ask,
                    1 => PromptStyle::Llm4Teach,
                    s => return Err(corrupt(alloc::format!("unknown prompt style {s}"))),
                };
                let planner = r.text("a planner's name")?;
                check_planner_name(&planner).map_err(|e| corrupt(e.0))?;
                AgentRef::Planner { planner, style }
            }
            3 => AgentRef::Random {
                seed: r.varint("a random agent's seed")?,
            },
            4 if version >= 3 => {
                let milli = r.varint("an LLM policy's temperature")?;
                let temperature = u32::try_from(milli)
                    .ok()
                    .and_then(Temperature::from_milli)
                    .ok_or_else(|| {
                        corrupt(alloc::format!("policy temperature {milli} thousandths"))
                    })?;
                let sampling = r.sampling("an LLM policy's sampling")?;
                let model = r.text("an LLM policy's model")?;
                check_planner_name(&model).map_err(|e| corrupt(e.0))?;
                AgentRef::LlmPolicy {
                    model,
                    temperature,
                    sampling,
                }
            }
            k => return Err(corrupt(alloc::format!("unknown agent kind {k}"))),
        };
        let count = r.len("an agent's actions", 3)?;
        let packed = r.take((count * 3).div_ceil(8), "an agent's actions")?;
        let mut list = Vec::with_capacity(count);
        for i in 0..count {
            let bit = i * 3;
            let word = packed[bit / 8] as u32
                | (packed.get(bit / 8 + 1).copied().unwrap_or(0) as u32) << 8;
            let a = (word >> (bit % 8) & 7) as u8;
            if a > 6 {
                return Err(corrupt(alloc::format!(
                    "action {a} at step {i} is not 0..=6"
                )));
            }
            list.push(a);
        }
        agents.push(agent);
        actions.push(list);
    }
    if !r.bytes.is_empty() {
        return Err(corrupt(alloc::format!(
            "{} unexpected bytes after the last agent",
            r.bytes.len()
        )));
    }
    Ok(Shared {
        env,
        seed,
        agents,
        actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;

    fn sample() -> Shared {
        Shared {
            env: "SimpleDoorKey".into(),
            seed: 42,
            agents: vec![
                AgentRef::Checkpoint {
                    id: [0xab; 32],
                    sampling: Sampling::Greedy,
                },
                AgentRef::Planner {
                    planner: "gridmentor-expert".into(),
                    style: PromptStyle::When2Ask,
                },
            ],
            actions: vec![vec![2, 2, 1], vec![2, 0, 2, 6, 5]],
        }
    }

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url_encode(plain.as_bytes()), coded);
            assert_eq!(base64url_decode(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64url_encode(&[0xfb, 0xff]), "-_8");
        assert_eq!(base64url_decode("Zg==").unwrap(), b"f");
    }

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn round_trips_a_sample() {
        let s = sample();
        let code = encode(&s).unwrap();
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        assert_eq!(decode(&code).unwrap(), s);
    }

    /// Made by the first release (version 1) and pinned: a change of layout must keep it readable.
    #[test]
    fn v1_code_from_the_first_release_still_decodes() {
        const V1: &str = "AQ1TaW1wbGVEb29yS2V5KgIBq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6sDUgACABFncmlkbWVudG9yLWV4cGVydAWCXNsE5y0";
        assert_eq!(decode(V1).unwrap(), sample());
    }

    /// A version 2 code is a version 3 code without LLM policies: relabelled, it still decodes,
    /// and an LLM policy in it is refused (version 2 had none).
    #[test]
    fn v2_codes_decode_and_know_no_llm_policy() {
        let relabel = |code: &str| {
            let mut b = base64url_decode(code).unwrap();
            b[0] = 2;
            let n = b.len() - 4;
            let crc = crc32(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            base64url_encode(&b)
        };
        let s = sample();
        assert_eq!(decode(&relabel(&encode(&s).unwrap())).unwrap(), s);
        let mut p = sample();
        p.agents[0] = AgentRef::LlmPolicy {
            model: "smollm2".into(),
            temperature: crate::agent_ref::Temperature::new(3.0).unwrap(),
            sampling: Sampling::Seeded(9),
        };
        assert_eq!(decode(&encode(&p).unwrap()).unwrap(), p);
        let e = decode(&relabel(&encode(&p).unwrap())).unwrap_err();
        assert!(e.to_string().contains("unknown agent kind 4"), "{e}");
    }

    #[test]
    fn a_checkpoints_sampling_seed_is_carried() {
        let mut s = sample();
        s.agents[0] = AgentRef::Checkpoint {
            id: [0xab; 32],
            sampling: Sampling::Seeded(1 << 40),
        };
        let code = encode(&s).unwrap();
        assert_eq!(base64url_decode(&code).unwrap()[0], VERSION);
        assert_eq!(decode(&code).unwrap(), s);
        assert_ne!(decode(&encode(&sample()).unwrap()).unwrap(), s);
    }

    #[test]
    fn each_failure_says_why() {
        let code = encode(&sample()).unwrap();
        assert_eq!(decode(""), Err(ShareError::Empty));
        assert!(matches!(
            decode("AQ*x"),
            Err(ShareError::BadBase64 {
                position: 2,
                found: '*'
            })
        ));
        assert_eq!(decode("A"), Err(ShareError::BadBase64Length { len: 1 }));
        // Version 9, then some bytes.
        let newer = base64url_encode(&[9, 1, 2, 3, 4, 5]);
        assert_eq!(decode(&newer), Err(ShareError::UnknownVersion { found: 9 }));
        // Cut the link short: the checksum no longer matches.
        assert!(matches!(
            decode(&code[..code.len() - 4]),
            Err(ShareError::ChecksumMismatch { .. })
        ));
        // Flip one character in the middle.
        let mut chars: Vec<char> = code.chars().collect();
        let mid = chars.len() / 2;
        chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
        let edited: String = chars.into_iter().collect();
        assert!(matches!(
            decode(&edited),
            Err(ShareError::ChecksumMismatch { .. })
        ));
        // A well-checksummed but truncated payload.
        let mut body = vec![1u8, 5, b'E', b'm'];
        body.extend_from_slice(&crc32(&body).to_le_bytes());
        assert_eq!(
            decode(&base64url_encode(&body)),
            Err(ShareError::Truncated { what: "the env id" })
        );
        // An unknown env.
        let mut other = sample();
        other.env = "NoSuchEnv".into();
        let e = decode(&encode(&other).unwrap()).unwrap_err();
        assert_eq!(
            e,
            ShareError::UnknownEnv {
                env: "NoSuchEnv".into()
            }
        );
        assert!(e.to_string().contains("NoSuchEnv"));
        // An action of 7 written by hand.
        let mut body = vec![1u8];
        put_varint(&mut body, 13);
        body.extend_from_slice(b"SimpleDoorKey");
        body.extend_from_slice(&[0, 1, 0, 1, 7]);
        body.extend_from_slice(&crc32(&body).to_le_bytes());
        assert!(matches!(
            decode(&base64url_encode(&body)),
            Err(ShareError::Corrupt { .. })
        ));
    }

    #[test]
    fn encode_refuses_what_it_cannot_write() {
        let mut s = sample();
        s.actions[0].push(7);
        assert!(encode(&s).is_err());
        let mut s = sample();
        s.actions.pop();
        assert!(encode(&s).is_err());
    }

    #[test]
    fn checkpoint_ids_round_trip_through_hex() {
        let id = [0x3f; 32];
        let hex = checkpoint_id_to_hex(&id);
        assert_eq!(checkpoint_id_from_hex(&hex), Ok(id));
        assert!(checkpoint_id_from_hex("3f").is_err());
        assert!(checkpoint_id_from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn a_planner_name_the_page_cannot_show_is_refused_both_ways() {
        let mut s = sample();
        s.agents[1] = AgentRef::Planner {
            planner: "".into(),
            style: PromptStyle::When2Ask,
        };
        assert!(encode(&s).is_err());
    }

    fn env_id() -> impl Strategy<Value = String> {
        let ids: Vec<String> = registry::all().map(|s| s.id.to_string()).collect();
        proptest::sample::select(ids)
    }

    fn shared() -> impl Strategy<Value = Shared> {
        (
            env_id(),
            any::<u64>(),
            proptest::collection::vec(
                (
                    crate::agent_ref::tests::agent(),
                    proptest::collection::vec(0u8..=6, 0..300),
                ),
                0..=4,
            ),
        )
            .prop_map(|(env, seed, agents)| {
                let (agents, actions) = agents.into_iter().unzip();
                Shared {
                    env,
                    seed,
                    agents,
                    actions,
                }
            })
    }

    proptest! {
        #[test]
        fn every_episode_round_trips(s in shared()) {
            let code = encode(&s).unwrap();
            prop_assert_eq!(decode(&code).unwrap(), s);
        }

        #[test]
        fn base64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(base64url_decode(&base64url_encode(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = decode(&text);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&base64url_encode(&bytes));
        }

        /// Damage a valid code (flip a bit, cut it, insert a byte): never a panic, and never a
        /// silently different episode unless the checksum was fixed up too.
        #[test]
        fn corrupted_codes_fail_cleanly(s in shared(), at in any::<prop::sample::Index>(),
                                        bit in 0u8..8, how in 0u8..3) {
            let code = encode(&s).unwrap();
            let mut bytes = base64url_decode(&code).unwrap();
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] ^= 1 << bit,
                1 => bytes.truncate(i),
                _ => bytes.insert(i, bit),
            }
            match decode(&base64url_encode(&bytes)) {
                Ok(d) => prop_assert_eq!(d, s, "a damaged code decoded to another episode"),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }

        /// A payload with a correct checksum but arbitrary content: errors, no panic.
        #[test]
        fn checksummed_garbage_never_panics(body in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut bytes = vec![VERSION];
            bytes.extend_from_slice(&body);
            let crc = crc32(&bytes);
            bytes.extend_from_slice(&crc.to_le_bytes());
            let _ = decode(&base64url_encode(&bytes));
        }
    }
}
