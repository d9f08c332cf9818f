//! A checkpoint as a greedy policy on the page: core's checkpoint loader, network, observer and
//! decision rule (`nn::policy`), so a checkpoint acts here as in the trainer and the server.
//! (core's `PolicyAgent` steps the env itself; here the session steps it, so the observer is
//! driven directly.)

use burn::tensor::Device;
use gridmentor_core::Env;
use gridmentor_core::nn::policy::{Observer, argmax, log_softmax};
use gridmentor_core::nn::{ActorCritic, Checkpoint, Inference};
use gridmentor_core::world::Action;

/// One decision of the network.
pub struct PolicyOutput {
    pub action: u8,
    pub probs: Vec<f32>,
    pub value: f32,
}

pub struct CheckpointPolicy {
    ckpt: Checkpoint,
    model: ActorCritic,
    /// The model's forward pass without burn tensors (what a decision runs).
    net: Inference,
    observer: Option<Observer>,
    input: Vec<f32>,
    logits: Vec<f32>,
    logp: Vec<f32>,
}

impl CheckpointPolicy {
    /// Parse, verify and build the network; a bad file gets core's one-line reason.
    pub fn load(bytes: &[u8]) -> Result<CheckpointPolicy, String> {
        let ckpt = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
        let spec = ckpt.meta.spec;
        if spec.actions > Action::COUNT {
            return Err(format!(
                "the network chooses among {} actions; an env has {}",
                spec.actions,
                Action::COUNT
            ));
        }
        let model = ckpt.model(&Device::flex()).map_err(|e| e.to_string())?;
        Ok(CheckpointPolicy {
            input: vec![0.0; spec.obs.len()],
            logits: vec![0.0; spec.actions],
            logp: vec![0.0; spec.actions],
            net: Inference::new(&model)?,
            ckpt,
            model,
            observer: None,
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
        self.observer = None;
        let o = Observer::new(self.ckpt.meta.spec.obs, env)
            .map_err(|e| format!("checkpoint trained on {}: {e}", self.ckpt.meta.env))?;
        self.observer = Some(o);
        Ok(())
    }

    /// `env` took a step.
    pub fn observe(&mut self, env: &Env) {
        if let Some(o) = &mut self.observer {
            o.update(env);
        }
    }

    /// The greedy action for `env`'s current state, with the policy's probabilities and value.
    pub fn decide(&mut self, env: &Env) -> Result<PolicyOutput, String> {
        let o = self.observer.as_mut().ok_or("reset the agent first")?;
        o.write(env, &mut self.input);
        let value = self.net.forward_one(&self.input, &mut self.logits);
        log_softmax(&self.logits, &mut self.logp);
        Ok(PolicyOutput {
            action: argmax(&self.logits) as u8,
            probs: self.logp.iter().map(|l| l.exp()).collect(),
            value,
        })
    }
}
