//! When2Ask's asking rule around the planner + skills agent (core's `ask`): the trainer's
//! mediator envs step this agent; the baselines and the mediator are evaluated by core.

use gridmentor_core::planner::Planner;

pub use gridmentor_core::ask::{AskRule, AskStep, QUERY_COST, REPEAT_WEIGHT, query_cost};

/// The planner + skills agent with When2Ask's asking rule (core's), over any planner backend.
pub type AskingAgent = gridmentor_core::ask::AskingAgent<Box<dyn Planner>>;
