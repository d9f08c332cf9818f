//! A checkpoint as a greedy policy on the page: core's checkpoint loader and `PolicyAgent`
//! (network, observer and decision rule), so a checkpoint acts here as in the trainer and the
//! server. The session steps the env; the agent is told of each step.

use burn::tensor::Device;
use gridmentor_core::Env;
use gridmentor_core::nn::policy::{PolicyAgent, check_actions};
use gridmentor_core::nn::{ActorCritic, Checkpoint};

/// One decision of the network.
pub struct PolicyOutput {
    pub action: u8,
    pub probs: Vec<f32>,
    pub value: f32,
}

pub struct CheckpointPolicy {
    ckpt: Checkpoint,
    model: ActorCritic,
    /// Made at the first reset (it needs an env); greedy, so its seed never matters.
    agent: Option<PolicyAgent>,
}

impl CheckpointPolicy {
    /// Parse, verify and build the network; a bad file gets core's one-line reason.
    pub fn load(bytes: &[u8]) -> Result<CheckpointPolicy, String> {
        let ckpt = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
        check_actions(ckpt.meta.spec)?;
        let model = ckpt.model(&Device::flex()).map_err(|e| e.to_string())?;
        Ok(CheckpointPolicy {
            ckpt,
            model,
            agent: None,
        })
    }

    pub fn model(&self) -> &ActorCritic {
        &self.model
    }

    pub fn env(&self) -> &str {
        &self.ckpt.meta.env
    }

    pub fn algorithm(&self) -> &str {
        &self.ckpt.meta.algorithm
    }

    pub fn net_name(&self) -> &'static str {
        self.ckpt.meta.spec.net.name()
    }

    /// Start an episode in `env`; refuses an env whose observation is not the network's.
    pub fn reset(&mut self, env: &Env) -> Result<(), String> {
        let started = match &mut self.agent {
            Some(a) => a.restart(env),
            None => PolicyAgent::new(self.model.clone(), env, 0, true).map(|a| {
                self.agent = Some(a);
            }),
        };
        started.map_err(|e| {
            self.agent = None;
            format!("checkpoint trained on {}: {e}", self.ckpt.meta.env)
        })
    }

    /// `env` took a step.
    pub fn observe(&mut self, env: &Env) {
        if let Some(a) = &mut self.agent {
            a.observe(env);
        }
    }

    /// The greedy action for `env`'s current state, with the policy's probabilities and value.
    pub fn decide(&mut self, env: &Env) -> Result<PolicyOutput, String> {
        let d = self
            .agent
            .as_mut()
            .ok_or("reset the agent first")?
            .decide(env);
        Ok(PolicyOutput {
            action: d.action as u8,
            probs: d.probs,
            value: d.value,
        })
    }
}
