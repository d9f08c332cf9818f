//! Who played an episode, as share links, shared episode records and the page name an agent:
//! one type with one text grammar (`FromStr`/`Display`) and one JSON form (serde).
//!
//! The text forms (the page's agent specs):
//!
//! ```text
//! human                         the keyboard
//! random:SEED                   uniformly random actions from core's RNG
//! planner:STYLE:NAME            planner + skills asking model NAME in prompt STYLE
//! checkpoint:ID                 a stored checkpoint (64 hex digits, its sha256), greedy
//! checkpoint:ID:sampled:SEED    the same checkpoint sampling its policy, seeded by SEED
//! llm-policy:T:greedy:NAME      GLAM's LLM policy: model NAME scores the six action texts, the
//!                               policy is softmax(log-likelihood / T), its most likely action
//! llm-policy:T:SEED:NAME        the same policy sampled, seeded by SEED
//! ```
//!
//! A name comes last in its form, as model names may hold colons.
//!
//! The JSON form is the shared episode record's (`{"kind": "checkpoint", "id": ..}`); seeds
//! there are decimal strings, as a u64 does not fit a JavaScript Number.

use crate::planner::PromptStyle;
use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// Characters of a planner (model) name.
pub const MAX_PLANNER_CHARS: usize = 256;

/// How a checkpoint's policy picks its action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Sampling {
    /// The most likely action.
    #[default]
    Greedy,
    /// Sampled from the policy; each episode draws from a stream of this seed and the layout's.
    Seeded(u64),
}

impl Sampling {
    /// `(greedy, seed)` as core's `AgentOptions` take them.
    pub fn options(self) -> (bool, u64) {
        match self {
            Sampling::Greedy => (true, 0),
            Sampling::Seeded(seed) => (false, seed),
        }
    }
}

/// A policy temperature as agents are named by it: thousandths from 0.001 to 1000, so that a
/// name is exact text and two names of one agent are equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Temperature(u32);

impl Temperature {
    /// GLAM's T.
    pub const ONE: Temperature = Temperature(1000);
    const MAX_MILLI: u32 = 1_000_000;

    /// `t` to the nearest 0.001, if that is in range. Rounded, not refused: a grounded model's
    /// T is an `f32` (0.3 arrives as 0.30000001192...), and an agent plays the T of its name.
    pub fn new(t: f64) -> Result<Temperature, AgentRefError> {
        let rounded = round_half_away(t * 1000.0);
        if !(1.0..=Self::MAX_MILLI as f64).contains(&rounded) {
            return Err(AgentRefError(format!(
                "a policy temperature is 0.001 to 1000 (in steps of 0.001), not {t}"
            )));
        }
        Ok(Temperature(rounded as u32))
    }

    pub fn get(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// In thousandths (the share link's form).
    pub fn milli(self) -> u32 {
        self.0
    }

    /// From thousandths, `None` out of range.
    pub fn from_milli(milli: u32) -> Option<Temperature> {
        (1..=Self::MAX_MILLI)
            .contains(&milli)
            .then_some(Temperature(milli))
    }
}

/// `x` rounded half away from zero (no_std has no `f64::round`).
fn round_half_away(x: f64) -> f64 {
    let t = x as i64 as f64; // truncation; callers' values are far below 2^53
    if (x - t).abs() >= 0.5 {
        t + x.signum()
    } else {
        t
    }
}

impl fmt::Display for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:03}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

impl FromStr for Temperature {
    type Err = AgentRefError;

    /// Decimal text: digits, then at most 3 after a point (`3`, `0.5`, `1.25`).
    fn from_str(s: &str) -> Result<Temperature, AgentRefError> {
        let bad = || {
            AgentRefError(format!(
                "a policy temperature is decimal text from 0.001 to 1000 (at most 3 decimals), \
                 not {:?}",
                clip(s, 20)
            ))
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 4 || frac.len() > 3 || !digits(whole) || !digits(frac)
        {
            return Err(bad());
        }
        if s.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let frac: u32 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
        let milli = whole * 1000 + frac;
        if milli == 0 || milli > Self::MAX_MILLI {
            return Err(bad());
        }
        Ok(Temperature(milli))
    }
}

/// Who chose an agent's actions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AgentRef {
    /// A person at the keyboard.
    Human,
    /// A stored checkpoint, by its id (the sha256 of the whole file), greedy or sampled.
    Checkpoint { id: [u8; 32], sampling: Sampling },
    /// A planner with skills; `planner` is the model name (`gridmentor-expert`, ...).
    Planner { planner: String, style: PromptStyle },
    /// Uniformly random actions from core's RNG.
    Random { seed: u64 },
    /// GLAM's LLM policy: `model` (a base model zero-shot, or a grounded one) scores the six
    /// action texts; the policy is softmax(log-likelihood / `temperature`), greedy or sampled.
    LlmPolicy {
        model: String,
        temperature: Temperature,
        sampling: Sampling,
    },
}

/// Why a text or a record is not an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRefError(pub String);

impl fmt::Display for AgentRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AgentRefError {}

const GRAMMAR: &str = "human, random:SEED, planner:STYLE:NAME, checkpoint:ID, \
    checkpoint:ID:sampled:SEED, llm-policy:T:greedy:NAME or llm-policy:T:SEED:NAME";

/// The first `n` characters of `s`, for messages.
fn clip(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| &s[..i])
}

/// A seed as the page writes it: digits only, below 2^64.
pub fn parse_seed(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A planner name the page can show and send: 1 to [`MAX_PLANNER_CHARS`] characters, none a
/// control character (a name is one line of the transcript and one field of a request).
pub fn check_planner_name(name: &str) -> Result<(), AgentRefError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_PLANNER_CHARS || name.chars().any(char::is_control) {
        return Err(AgentRefError(format!(
            "a planner name is 1 to {MAX_PLANNER_CHARS} characters without control characters, \
             not {:?}",
            clip(name, 40)
        )));
    }
    Ok(())
}

/// A checkpoint id (sha256 hex, as the server names it) as bytes.
pub fn checkpoint_id_from_hex(hex: &str) -> Result<[u8; 32], AgentRefError> {
    let bytes = hex.as_bytes();
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    if bytes.len() != 64 || !bytes.iter().all(|&b| digit(b).is_some()) {
        return Err(AgentRefError(format!(
            "a checkpoint id is 64 lowercase hex digits (its sha256), not {:?}",
            clip(hex, 80)
        )));
    }
    let mut id = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        id[i] = digit(pair[0]).unwrap_or(0) * 16 + digit(pair[1]).unwrap_or(0);
    }
    Ok(id)
}

/// A checkpoint id as lowercase hex.
pub fn checkpoint_id_to_hex(id: &[u8; 32]) -> String {
    use core::fmt::Write;
    let mut s = String::with_capacity(64);
    for b in id {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl AgentRef {
    /// The kind's name, as the record's `kind` and the text's first word.
    pub fn kind(&self) -> &'static str {
        match self {
            AgentRef::Human => "human",
            AgentRef::Checkpoint { .. } => "checkpoint",
            AgentRef::Planner { .. } => "planner",
            AgentRef::Random { .. } => "random",
            AgentRef::LlmPolicy { .. } => "llm-policy",
        }
    }
}

impl fmt::Display for AgentRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentRef::Human => f.write_str("human"),
            AgentRef::Random { seed } => write!(f, "random:{seed}"),
            AgentRef::Planner { planner, style } => {
                write!(f, "planner:{}:{planner}", style.name())
            }
            AgentRef::Checkpoint { id, sampling } => {
                write!(f, "checkpoint:{}", checkpoint_id_to_hex(id))?;
                match sampling {
                    Sampling::Greedy => Ok(()),
                    Sampling::Seeded(seed) => write!(f, ":sampled:{seed}"),
                }
            }
            AgentRef::LlmPolicy {
                model,
                temperature,
                sampling,
            } => match sampling {
                Sampling::Greedy => write!(f, "llm-policy:{temperature}:greedy:{model}"),
                Sampling::Seeded(seed) => write!(f, "llm-policy:{temperature}:{seed}:{model}"),
            },
        }
    }
}

impl FromStr for AgentRef {
    type Err = AgentRefError;

    fn from_str(text: &str) -> Result<AgentRef, AgentRefError> {
        let bad = |why: &str| {
            AgentRefError(format!(
                "{:?} is not an agent ({why}; the forms are {GRAMMAR})",
                clip(text, 80)
            ))
        };
        let seed = |s: &str| parse_seed(s).ok_or_else(|| bad("a seed is a decimal u64"));
        let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
        match kind {
            "human" if !text.contains(':') => Ok(AgentRef::Human),
            "random" => Ok(AgentRef::Random { seed: seed(rest)? }),
            "planner" => {
                let (style, planner) = rest
                    .split_once(':')
                    .ok_or_else(|| bad("a planner needs a style and a name"))?;
                let style = PromptStyle::from_name(style)
                    .ok_or_else(|| bad("the style is when2ask or llm4teach"))?;
                check_planner_name(planner).map_err(|e| bad(&e.0))?;
                Ok(AgentRef::Planner {
                    planner: planner.into(),
                    style,
                })
            }
            "checkpoint" => {
                let (hex, mode) = rest.split_once(':').unwrap_or((rest, ""));
                let id = checkpoint_id_from_hex(hex).map_err(|e| bad(&e.0))?;
                let sampling = match mode.split_once(':') {
                    None if mode.is_empty() => Sampling::Greedy,
                    Some(("sampled", s)) => Sampling::Seeded(seed(s)?),
                    _ => return Err(bad("after the id comes nothing or sampled:SEED")),
                };
                Ok(AgentRef::Checkpoint { id, sampling })
            }
            "llm-policy" => {
                let mut parts = rest.splitn(3, ':');
                let (Some(t), Some(mode), Some(model)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad(
                        "an LLM policy needs a temperature, greedy or a seed, and a name",
                    ));
                };
                let temperature = t.parse::<Temperature>().map_err(|e| bad(&e.0))?;
                let sampling = match mode {
                    "greedy" => Sampling::Greedy,
                    s => Sampling::Seeded(seed(s)?),
                };
                check_planner_name(model).map_err(|e| bad(&e.0))?;
                Ok(AgentRef::LlmPolicy {
                    model: model.into(),
                    temperature,
                    sampling,
                })
            }
            _ => Err(bad("unknown kind")),
        }
    }
}

#[cfg(feature = "serde")]
mod json {
    //! The record's JSON form, through a tagged wire enum checked into [`AgentRef`].

    use super::*;
    use serde::de::{self, Deserializer, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    /// A u64 written as a decimal string (`"42"`), as JavaScript cannot hold it in a Number.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Seed(pub u64);

    impl Serialize for Seed {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_str(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Seed {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Seed, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Seed;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a decimal u64 in a string, like \"42\"")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Seed, E> {
                    parse_seed(s)
                        .map(Seed)
                        .ok_or_else(|| E::custom(format!("{:?} is not a decimal u64", clip(s, 40))))
                }
            }
            d.deserialize_str(V)
        }
    }

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
    enum Wire {
        /// `seed` present: sampled with that seed; absent: greedy.
        Checkpoint {
            id: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            seed: Option<Seed>,
        },
        /// `style` absent: when2ask.
        Planner {
            planner: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            style: Option<PromptStyleName>,
        },
        Random {
            seed: Seed,
        },
        /// `seed` present: sampled with that seed; absent: greedy.
        #[serde(rename = "llm-policy")]
        LlmPolicy {
            model: String,
            temperature: f64,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            seed: Option<Seed>,
        },
        /// A struct variant, as unknown fields of a unit variant pass unnoticed.
        Human {},
    }

    #[derive(Clone, Copy, Serialize, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum PromptStyleName {
        When2ask,
        Llm4teach,
    }

    impl Serialize for AgentRef {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let wire = match self {
                AgentRef::Human => Wire::Human {},
                AgentRef::Random { seed } => Wire::Random { seed: Seed(*seed) },
                AgentRef::Planner { planner, style } => Wire::Planner {
                    planner: planner.clone(),
                    style: Some(match style {
                        PromptStyle::When2Ask => PromptStyleName::When2ask,
                        PromptStyle::Llm4Teach => PromptStyleName::Llm4teach,
                    }),
                },
                AgentRef::Checkpoint { id, sampling } => Wire::Checkpoint {
                    id: checkpoint_id_to_hex(id),
                    seed: match sampling {
                        Sampling::Greedy => None,
                        Sampling::Seeded(seed) => Some(Seed(*seed)),
                    },
                },
                AgentRef::LlmPolicy {
                    model,
                    temperature,
                    sampling,
                } => Wire::LlmPolicy {
                    model: model.clone(),
                    temperature: temperature.get(),
                    seed: match sampling {
                        Sampling::Greedy => None,
                        Sampling::Seeded(seed) => Some(Seed(*seed)),
                    },
                },
            };
            wire.serialize(s)
        }
    }

    impl<'de> Deserialize<'de> for AgentRef {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AgentRef, D::Error> {
            Ok(match Wire::deserialize(d)? {
                Wire::Human {} => AgentRef::Human,
                Wire::Random { seed } => AgentRef::Random { seed: seed.0 },
                Wire::Planner { planner, style } => {
                    check_planner_name(&planner).map_err(de::Error::custom)?;
                    let style = match style {
                        None | Some(PromptStyleName::When2ask) => PromptStyle::When2Ask,
                        Some(PromptStyleName::Llm4teach) => PromptStyle::Llm4Teach,
                    };
                    AgentRef::Planner { planner, style }
                }
                Wire::Checkpoint { id, seed } => AgentRef::Checkpoint {
                    id: checkpoint_id_from_hex(&id).map_err(de::Error::custom)?,
                    sampling: seed.map_or(Sampling::Greedy, |s| Sampling::Seeded(s.0)),
                },
                Wire::LlmPolicy {
                    model,
                    temperature,
                    seed,
                } => {
                    check_planner_name(&model).map_err(de::Error::custom)?;
                    AgentRef::LlmPolicy {
                        model,
                        temperature: Temperature::new(temperature).map_err(de::Error::custom)?,
                        sampling: seed.map_or(Sampling::Greedy, |s| Sampling::Seeded(s.0)),
                    }
                }
            })
        }
    }
}

#[cfg(feature = "serde")]
pub use json::Seed;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::string::ToString;
    use proptest::prelude::*;

    const ID: &str = "ab00000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn reads_every_form_the_page_writes() {
        let mut id = [0u8; 32];
        id[0] = 0xab;
        id[31] = 1;
        let cases = [
            ("human", AgentRef::Human),
            ("random:7", AgentRef::Random { seed: 7 }),
            (
                "planner:llm4teach:org/model:v1",
                AgentRef::Planner {
                    planner: "org/model:v1".into(),
                    style: PromptStyle::Llm4Teach,
                },
            ),
            (
                &alloc::format!("checkpoint:{ID}"),
                AgentRef::Checkpoint {
                    id,
                    sampling: Sampling::Greedy,
                },
            ),
            (
                &alloc::format!("checkpoint:{ID}:sampled:18446744073709551615"),
                AgentRef::Checkpoint {
                    id,
                    sampling: Sampling::Seeded(u64::MAX),
                },
            ),
            (
                "llm-policy:1:greedy:smollm2",
                AgentRef::LlmPolicy {
                    model: "smollm2".into(),
                    temperature: Temperature::ONE,
                    sampling: Sampling::Greedy,
                },
            ),
            (
                "llm-policy:2.5:7:org/grounded:v2",
                AgentRef::LlmPolicy {
                    model: "org/grounded:v2".into(),
                    temperature: Temperature::new(2.5).unwrap(),
                    sampling: Sampling::Seeded(7),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<AgentRef>().unwrap(), want, "{text}");
            assert_eq!(want.to_string(), text);
        }
    }

    #[test]
    fn refuses_with_the_reason_and_the_forms() {
        for (text, why) in [
            ("", "unknown kind"),
            ("human:1", "unknown kind"),
            ("random:", "decimal u64"),
            ("random:-1", "decimal u64"),
            ("random:18446744073709551616", "decimal u64"),
            ("planner:when2ask", "a style and a name"),
            ("planner:other:m", "when2ask or llm4teach"),
            ("planner:when2ask:", "1 to 256"),
            ("planner:when2ask:a\nb", "control"),
            ("checkpoint:ab", "64 lowercase hex"),
            (&alloc::format!("checkpoint:{}", ID.to_uppercase()), "hex"),
            (&alloc::format!("checkpoint:{ID}:greedy"), "sampled:SEED"),
            (&alloc::format!("checkpoint:{ID}:sampled:x"), "decimal u64"),
            ("llm-policy:1:greedy", "a temperature, greedy or a seed"),
            ("llm-policy:0:greedy:m", "0.001 to 1000"),
            ("llm-policy:1.0001:greedy:m", "at most 3 decimals"),
            ("llm-policy:-1:greedy:m", "decimal text"),
            ("llm-policy:1.:greedy:m", "decimal text"),
            ("llm-policy:1001:greedy:m", "0.001 to 1000"),
            ("llm-policy:1:sampled:m", "decimal u64"),
            ("llm-policy:1:greedy:", "1 to 256"),
        ] {
            let e = text.parse::<AgentRef>().unwrap_err().0;
            assert!(
                e.contains(why) && e.contains("planner:STYLE:NAME"),
                "{text}: {e}"
            );
        }
    }

    #[cfg(feature = "serde")]
    #[test]
    fn json_form_is_the_records() {
        use serde_json::json;
        let a: AgentRef =
            serde_json::from_value(json!({"kind": "planner", "planner": "m"})).unwrap();
        assert_eq!(
            a.to_string(),
            "planner:when2ask:m",
            "style defaults to when2ask"
        );
        let c: AgentRef =
            serde_json::from_value(json!({"kind": "checkpoint", "id": ID, "seed": "9"})).unwrap();
        assert_eq!(c.to_string(), alloc::format!("checkpoint:{ID}:sampled:9"));
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"kind": "checkpoint", "id": ID, "seed": "9"})
        );
        let p: AgentRef = serde_json::from_value(
            json!({"kind": "llm-policy", "model": "g", "temperature": 3, "seed": "5"}),
        )
        .unwrap();
        assert_eq!(p.to_string(), "llm-policy:3:5:g");
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"kind": "llm-policy", "model": "g", "temperature": 3.0, "seed": "5"})
        );
        for bad in [
            json!({"kind": "checkpoint", "id": "../x"}),
            json!({"kind": "random"}),
            json!({"kind": "random", "seed": 3}),
            json!({"kind": "human", "extra": 1}),
            json!({"kind": "planner", "planner": ""}),
            json!({"kind": "llm-policy", "model": "m"}),
            json!({"kind": "llm-policy", "model": "m", "temperature": 0.0}),
            json!({"kind": "llm-policy", "model": "m", "temperature": 0.0004}),
            json!({"kind": "llm-policy", "model": "m", "temperature": 1000.5}),
            json!({"kind": "llm-policy", "model": "m", "temperature": "1"}),
        ] {
            assert!(
                serde_json::from_value::<AgentRef>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    pub(crate) fn agent() -> impl Strategy<Value = AgentRef> {
        prop_oneof![
            Just(AgentRef::Human),
            (any::<[u8; 32]>(), proptest::option::of(any::<u64>())).prop_map(|(id, s)| {
                AgentRef::Checkpoint {
                    id,
                    sampling: s.map_or(Sampling::Greedy, Sampling::Seeded),
                }
            }),
            ("[^\\p{Cc}]{1,40}", any::<bool>()).prop_map(|(planner, l)| AgentRef::Planner {
                planner,
                style: if l {
                    PromptStyle::Llm4Teach
                } else {
                    PromptStyle::When2Ask
                },
            }),
            any::<u64>().prop_map(|seed| AgentRef::Random { seed }),
            (
                "[^\\p{Cc}]{1,40}",
                1u32..=1_000_000,
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(model, milli, s)| AgentRef::LlmPolicy {
                    model,
                    temperature: Temperature(milli),
                    sampling: s.map_or(Sampling::Greedy, Sampling::Seeded),
                }),
        ]
    }

    proptest! {
        #[test]
        fn text_round_trips(a in agent()) {
            prop_assert_eq!(a.to_string().parse::<AgentRef>(), Ok(a));
        }

        #[cfg(feature = "serde")]
        #[test]
        fn json_round_trips(a in agent()) {
            let text = serde_json::to_string(&a).unwrap();
            prop_assert_eq!(serde_json::from_str::<AgentRef>(&text).unwrap(), a);
        }

        #[test]
        fn temperatures_round_trip_as_text_and_number(milli in 1u32..=1_000_000) {
            let t = Temperature(milli);
            prop_assert_eq!(t.to_string().parse::<Temperature>(), Ok(t));
            prop_assert_eq!(Temperature::new(t.get()), Ok(t));
            // An f32 of it (a grounded checkpoint's T) names the same temperature.
            prop_assert_eq!(Temperature::new(t.get() as f32 as f64), Ok(t));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,120}") {
            let _ = text.parse::<AgentRef>();
        }
    }
}
