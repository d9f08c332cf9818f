//! What an evaluation found, whatever the agent: totals summed over its episodes, and the
//! per-episode figures every result reports (eval's line, a run's eval.json, the report).

use gridmentor_core::agent::EvalSummary;

/// Sums over evaluation episodes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    pub episodes: u32,
    /// Episodes that succeeded.
    pub wins: u32,
    /// The env's return (When2Ask's query costs are the mediator's training signal, not the
    /// task's score).
    pub ret: f64,
    /// Primitive env steps.
    pub steps: u64,
    /// Calls that reached the planner backend (retries included).
    pub calls: u64,
    pub tokens: u64,
    pub planner_ms: f64,
    /// When2Ask's agents: queries (asks), whether or not the backend was reached.
    pub queries: Option<u64>,
    /// skills-rl: options (skills) chosen.
    pub options: Option<u64>,
    /// Agents that ask a planner: answers that could not be used, and decisions the agent made
    /// on its own instead (after unusable answers or past its per-episode limits).
    pub unusable: Option<(u64, u64)>,
}

impl Totals {
    /// One finished episode.
    pub fn episode(&mut self, ret: f64, steps: u64, success: bool) {
        self.episodes += 1;
        self.ret += ret;
        self.steps += steps;
        self.wins += success as u32;
    }

    /// The means per episode.
    pub fn figures(&self) -> Figures {
        let n = self.episodes.max(1) as f64;
        Figures {
            episodes: self.episodes,
            success_rate: self.wins as f64 / n,
            mean_return: self.ret / n,
            mean_steps: self.steps as f64 / n,
            llm_calls_per_episode: self.calls as f64 / n,
            tokens_per_episode: self.tokens as f64 / n,
            planner_ms_per_episode: self.planner_ms / n,
            queries_per_episode: self.queries.map(|q| q as f64 / n),
            options_per_episode: self.options.map(|o| o as f64 / n),
            unusable_answers_per_episode: self.unusable.map(|u| u.0 as f64 / n),
            fallbacks_per_episode: self.unusable.map(|u| u.1 as f64 / n),
        }
    }
}

impl Totals {
    /// Core's evaluation as totals; `queries` and `options` are reported for the agents that
    /// ask (When2Ask's) and choose options (skills-rl's).
    pub fn of(s: &EvalSummary, queries: bool, options: bool) -> Totals {
        let mut t = Totals::default();
        for e in &s.episodes {
            t.episode(e.ret as f64, e.steps as u64, e.success);
        }
        let a = s.totals();
        t.calls = a.planner_calls;
        t.tokens = a.tokens();
        t.planner_ms = a.planner_ms;
        t.queries = queries.then_some(a.queries);
        t.options = options.then_some(a.options);
        t.unusable =
            (a.planner_calls > 0 || a.fallbacks > 0).then_some((a.unreadable, a.fallbacks));
        t
    }
}

/// The figures of an evaluation, per episode.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Episodes played (`eval_episodes` in run results of older versions).
    #[serde(default, alias = "eval_episodes")]
    pub episodes: u32,
    /// The one figure a result cannot lack (what tells an evaluation from other JSON).
    pub success_rate: f64,
    #[serde(default)]
    pub mean_return: f64,
    #[serde(default)]
    pub mean_steps: f64,
    #[serde(default)]
    pub llm_calls_per_episode: f64,
    #[serde(default)]
    pub tokens_per_episode: f64,
    #[serde(default)]
    pub planner_ms_per_episode: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries_per_episode: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options_per_episode: Option<f64>,
    /// Planner answers that could not be used (agents that ask a planner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unusable_answers_per_episode: Option<f64>,
    /// Decisions the agent made without the planner: after unusable answers, or once it
    /// reached its per-episode limit of calls or tokens (`--max-calls`, `--max-tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallbacks_per_episode: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_means_over_the_episodes() {
        let mut t = Totals {
            queries: Some(0),
            ..Totals::default()
        };
        t.episode(1.0, 10, true);
        t.episode(0.0, 30, false);
        t.calls = 3;
        t.queries = Some(5);
        let f = t.figures();
        assert_eq!(f.episodes, 2);
        assert_eq!(f.success_rate, 0.5);
        assert_eq!(f.mean_return, 0.5);
        assert_eq!(f.mean_steps, 20.0);
        assert_eq!(f.llm_calls_per_episode, 1.5);
        assert_eq!(f.queries_per_episode, Some(2.5));
        assert_eq!(f.options_per_episode, None);
        let json = serde_json::to_value(&f).unwrap();
        assert!(json.get("options_per_episode").is_none(), "{json}");
    }
}
