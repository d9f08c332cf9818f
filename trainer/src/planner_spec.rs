//! `--planner`, parsed once: the scripted expert (optionally noisy) or an OpenAI-compatible
//! endpoint. Every command and algorithm builds its planners from this type, never from the text.

use crate::llm::HttpPlanner;
use gridmentor_core::planner::{ExpertPlanner, Planner};
use std::fmt;
use std::str::FromStr;

/// A planner as `--planner` names it: `expert`, `expert:noise=P[,seed=N]`, or
/// `http://HOST/v1#model`. Written back (config.json, `Display`) in the same grammar.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum PlannerSpec {
    /// The scripted expert; with `noise` > 0 it answers a wrong or incomplete plan that often
    /// (its own RNG from `seed`).
    Expert { noise: f64, seed: u64 },
    /// An OpenAI-compatible chat-completions endpoint, `BASE_URL#MODEL`.
    Http(String),
}

/// A `--planner` that is not one of the three forms, with what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct BadPlannerSpec(String);

impl Default for PlannerSpec {
    fn default() -> PlannerSpec {
        PlannerSpec::Expert {
            noise: 0.0,
            seed: 0,
        }
    }
}

impl PlannerSpec {
    /// A fresh planner of this spec (each holds its own RNG or HTTP client).
    pub fn build(&self) -> anyhow::Result<Box<dyn Planner>> {
        Ok(match self {
            PlannerSpec::Expert { noise, seed } => Box::new(ExpertPlanner::noisy(*noise, *seed)),
            PlannerSpec::Http(spec) => Box::new(HttpPlanner::from_spec(spec)?),
        })
    }

    /// The planner's name as it reports it (`scripted expert`, the endpoint and model...).
    pub fn name(&self) -> anyhow::Result<String> {
        Ok(self.build()?.info().name)
    }

    /// Whether its answers depend only on the prompt, so that they may be cached per
    /// observation text: the noiseless expert.
    pub fn is_deterministic(&self) -> bool {
        matches!(self, PlannerSpec::Expert { noise, .. } if *noise == 0.0)
    }
}

impl FromStr for PlannerSpec {
    type Err = BadPlannerSpec;

    fn from_str(spec: &str) -> Result<PlannerSpec, BadPlannerSpec> {
        let bad = |why: String| BadPlannerSpec(why);
        if spec.starts_with("http://") || spec.starts_with("https://") {
            // The endpoint's own checks (a model after '#', a host), without any request.
            HttpPlanner::from_spec(spec).map_err(|e| bad(format!("{e:#}")))?;
            return Ok(PlannerSpec::Http(spec.to_string()));
        }
        let (name, opts) = spec.split_once(':').unwrap_or((spec, ""));
        if name != "expert" {
            return Err(bad(format!(
                "unknown planner {spec:?}: use expert, expert:noise=P[,seed=N], or \
                 http://HOST/v1#model"
            )));
        }
        let (mut noise, mut seed) = (0.0, 0u64);
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            let (k, v) = opt
                .split_once('=')
                .ok_or_else(|| bad(format!("planner option {opt:?} is not key=value")))?;
            match k {
                "noise" => {
                    noise = v
                        .parse()
                        .map_err(|_| bad(format!("noise {v:?} is not a number")))?;
                    if !(0.0..=1.0).contains(&noise) {
                        return Err(bad(format!("noise must be within 0..=1, got {noise}")));
                    }
                }
                "seed" => {
                    seed = v
                        .parse()
                        .map_err(|_| bad(format!("seed {v:?} is not a whole number")))?
                }
                _ => return Err(bad(format!("unknown expert option {k:?} (noise, seed)"))),
            }
        }
        Ok(PlannerSpec::Expert { noise, seed })
    }
}

impl fmt::Display for PlannerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannerSpec::Expert { noise, seed } => {
                f.write_str("expert")?;
                let mut sep = ':';
                if *noise != 0.0 {
                    write!(f, "{sep}noise={noise}")?;
                    sep = ',';
                }
                if *seed != 0 {
                    write!(f, "{sep}seed={seed}")?;
                }
                Ok(())
            }
            PlannerSpec::Http(spec) => f.write_str(spec),
        }
    }
}

impl TryFrom<String> for PlannerSpec {
    type Error = BadPlannerSpec;

    fn try_from(s: String) -> Result<PlannerSpec, BadPlannerSpec> {
        s.parse()
    }
}

impl From<PlannerSpec> for String {
    fn from(p: PlannerSpec) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in [
            "expert",
            "expert:noise=0.3",
            "expert:noise=0.5,seed=2",
            "expert:seed=7",
            "http://127.0.0.1:8080/v1#gridmentor-expert",
        ] {
            let p: PlannerSpec = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<PlannerSpec>(&json).unwrap(), p);
        }
        assert_eq!(
            "expert:noise=0.25,seed=3".parse::<PlannerSpec>().unwrap(),
            PlannerSpec::Expert {
                noise: 0.25,
                seed: 3
            }
        );
        assert!(PlannerSpec::default().is_deterministic());
        assert!(
            "expert:noise=0,seed=4"
                .parse::<PlannerSpec>()
                .unwrap()
                .is_deterministic()
        );
        assert!(
            !"expert:noise=0.1"
                .parse::<PlannerSpec>()
                .unwrap()
                .is_deterministic()
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        let err = |s: &str| s.parse::<PlannerSpec>().unwrap_err().to_string();
        assert!(err("oracle").contains("unknown planner"));
        assert!(err("expert:noise=2").contains("noise must be within 0..=1"));
        assert!(err("expert:noise=x").contains("not a number"));
        assert!(err("expert:temperature=1").contains("unknown expert option"));
        assert!(err("expert:noise").contains("not key=value"));
        assert!(err("http://127.0.0.1:8080/v1").contains("names no model"));
        assert!(serde_json::from_str::<PlannerSpec>("\"oracle\"").is_err());
    }
}
