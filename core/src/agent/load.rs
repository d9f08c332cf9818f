//! One loader for checkpoint agents: the header's action space says which agent plays the
//! network (a policy, When2Ask's mediator over planner + skills, skills-rl's option policy).

use super::Agent;
use super::options::OptionAgent;
use crate::mediator::MediatorAgent;
use crate::nn::checkpoint::{ActionSpace, Checkpoint, CheckpointError};
use crate::nn::policy::PolicyAgent;
use crate::planner::{ExpertPlanner, Planner, PromptStyle};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use burn::tensor::Device;

/// How a loaded agent plays.
pub struct AgentOptions {
    /// Drives sampling (each episode draws from a stream of this and the layout's seed).
    pub seed: u64,
    /// Take the most likely action (or, for a mediator, ask when asking is the more likely).
    pub greedy: bool,
    /// The planner a mediator's agent asks (default: core's scripted expert, not an LLM).
    pub planner: Option<Box<dyn Planner>>,
    /// The mediator's prompt style (default When2Ask's, as it was trained).
    pub style: PromptStyle,
}

impl Default for AgentOptions {
    fn default() -> AgentOptions {
        AgentOptions {
            seed: 0,
            greedy: true,
            planner: None,
            style: PromptStyle::When2Ask,
        }
    }
}

/// A checkpoint's agent, with the checkpoint it came from.
pub struct LoadedAgent {
    pub checkpoint: Checkpoint,
    pub agent: Box<dyn Agent>,
}

/// Parse and verify a checkpoint file, check that it can play the env it names, and build the
/// agent its action space calls for. `name` labels the agent in results.
pub fn load_agent(
    bytes: &[u8],
    name: &str,
    options: AgentOptions,
) -> Result<LoadedAgent, CheckpointError> {
    let ck = Checkpoint::from_bytes(bytes)?;
    ck.check_playable()?;
    let model = ck.model(&Device::flex())?;
    let m = &ck.meta;
    let unplayable = |reason: String| CheckpointError::Unplayable {
        env: m.env.clone(),
        reason,
    };
    let what = format!("{} on {}", m.algorithm, m.env);
    let agent: Box<dyn Agent> = match m.acts {
        ActionSpace::Primitive => {
            let mut a =
                PolicyAgent::new(model, options.seed, options.greedy).map_err(unplayable)?;
            a.label = format!("checkpoint {name} ({what})");
            Box::new(a)
        }
        ActionSpace::Ask => {
            let planner = options
                .planner
                .unwrap_or_else(|| Box::new(ExpertPlanner::new()));
            let mut a =
                MediatorAgent::new(model, planner, options.style, options.seed, options.greedy)
                    .map_err(unplayable)?;
            a.label = format!(
                "When2Ask mediator {name} ({what}) + skills, planner {}",
                a.asking.agent.planner.info().name
            );
            Box::new(a)
        }
        ActionSpace::Options => {
            let mut a =
                OptionAgent::new(model, options.seed, options.greedy).map_err(unplayable)?;
            a.set_label(format!("skills-rl options {name} ({what})"));
            Box::new(a)
        }
    };
    Ok(LoadedAgent {
        checkpoint: ck,
        agent,
    })
}
