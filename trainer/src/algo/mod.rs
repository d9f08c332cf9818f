//! The LLM-guided algorithms' own pieces: environments PPO trains over (a mediator's ask / don't
//! ask, options over skills), their agents for `eval`, and the run folder they share.

pub mod ask;
pub mod run;
pub mod skills_rl;
pub mod when2ask;
