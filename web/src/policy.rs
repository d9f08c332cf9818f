//! A checkpoint as a greedy policy on the page: core's checkpoint loader and network, with the
//! network's input built from the env as the trainer builds it.

use gridmentor_core::Env;
use gridmentor_core::nn::{ActorCritic, Checkpoint, ObsKind};
use gridmentor_core::obs::memory_map::MemoryMap;
use gridmentor_core::world::Action;
use burn::tensor::Device;

/// One decision of the network.
pub struct PolicyOutput {
    pub action: u8,
    pub probs: Vec<f32>,
    pub value: f32,
}

pub struct CheckpointPolicy {
    ckpt: Checkpoint,
    model: ActorCritic,
    device: Device,
    map: Option<MemoryMap>,
    prev: Option<MemoryMap>,
    input: Vec<f32>,
}

impl CheckpointPolicy {
    /// Parse, verify and build the network; a bad file gets core's one-line reason.
    pub fn load(bytes: &[u8]) -> Result<CheckpointPolicy, String> {
        let ckpt = Checkpoint::from_bytes(bytes).map_err(|e| e.to_string())?;
        if ckpt.meta.spec.actions != Action::COUNT {
            return Err(format!(
                "checkpoint chooses among {} actions, the playground's envs have {}",
                ckpt.meta.spec.actions,
                Action::COUNT
            ));
        }
        let device = Device::flex();
        let model = ckpt.model(&device).map_err(|e| e.to_string())?;
        let input = vec![0.0; ckpt.meta.spec.obs.len()];
        Ok(CheckpointPolicy {
            ckpt,
            model,
            device,
            map: None,
            prev: None,
            input,
        })
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

    /// Start an episode; refuse an env whose observation is not the network's.
    pub fn reset(&mut self, env: &Env) -> Result<(), String> {
        let w = &env.world;
        let wanted = match self.ckpt.meta.spec.obs {
            ObsKind::View { .. } => ObsKind::View {
                size: w.view_size as u16,
            },
            ObsKind::MemoryMap { .. } => ObsKind::MemoryMap {
                width: w.width() as u16,
                height: w.height() as u16,
            },
            ObsKind::MemoryMapDiff { .. } => ObsKind::MemoryMapDiff {
                width: w.width() as u16,
                height: w.height() as u16,
            },
        };
        self.ckpt
            .expect(wanted, Action::COUNT)
            .map_err(|e| e.to_string())?;
        self.map = Some(MemoryMap::new(w));
        self.prev = self.map.clone();
        Ok(())
    }

    pub fn observe(&mut self, env: &Env) {
        self.prev.clone_from(&self.map);
        if let Some(m) = &mut self.map {
            m.update(&env.world);
        }
    }

    pub fn decide(&mut self, env: &Env) -> Result<PolicyOutput, String> {
        let obs = self.ckpt.meta.spec.obs;
        match obs {
            ObsKind::View { .. } => obs.write_input(&env.world.image(), &mut self.input),
            ObsKind::MemoryMap { .. } => {
                let m = self.map.as_ref().ok_or("reset the agent first")?;
                obs.write_input(m.data(), &mut self.input)
            }
            ObsKind::MemoryMapDiff { .. } => {
                let m = self.map.as_ref().ok_or("reset the agent first")?;
                let prev = self.prev.as_ref().ok_or("reset the agent first")?;
                let d: Vec<f32> = m.diff(prev).into_iter().map(f32::from).collect();
                obs.write_input(&d, &mut self.input)
            }
        }
        let x = self.model.input(self.input.clone(), 1, &self.device);
        let out = self.model.forward(x);
        let logits: Vec<f32> = out.logits.into_data().iter::<f32>().collect();
        let value = out.value.into_data().iter::<f32>().next().unwrap_or(f32::NAN);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let sum: f32 = exps.iter().sum();
        let probs: Vec<f32> = exps.iter().map(|e| e / sum).collect();
        // Greedy on the logits, first maximum on ties (as burn's argmax and the trainer's eval).
        let action = logits
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |b, (i, &l)| if l > b.1 { (i, l) } else { b })
            .0 as u8;
        Ok(PolicyOutput {
            action,
            probs,
            value,
        })
    }
}
