//! The playground's wasm shell: exposes core's environments to the page. No game logic here;
//! seeds cross into JavaScript as BigInt (`u64`), never as Number.

use gridmentor_core::Env;
use gridmentor_core::registry;
use gridmentor_core::world::{Action, Obj};
use wasm_bindgen::prelude::*;

/// Every registered env id, in registry order.
#[wasm_bindgen(js_name = envIds)]
pub fn env_ids() -> Vec<String> {
    registry::all().map(|s| s.id.to_string()).collect()
}

/// The outcome of one step.
#[wasm_bindgen]
#[derive(Copy, Clone)]
pub struct StepOutcome {
    pub reward: f32,
    pub terminated: bool,
    pub truncated: bool,
}

/// One environment, driven from the page.
#[wasm_bindgen]
pub struct Playground {
    env: Env,
}

#[wasm_bindgen]
impl Playground {
    /// A new episode of `name` from `seed`; an unknown name is an error the page shows.
    #[wasm_bindgen(constructor)]
    pub fn new(name: &str, seed: u64) -> Result<Playground, JsError> {
        let env = registry::make(name, seed).map_err(|e| JsError::new(&e.to_string()))?;
        Ok(Playground { env })
    }

    pub fn reset(&mut self, seed: u64) {
        self.env.reset(seed);
    }

    /// Apply action `0..=6` (left, right, forward, pickup, drop, toggle, done).
    pub fn step(&mut self, action: u8) -> Result<StepOutcome, JsError> {
        let a = Action::from_index(action)
            .ok_or_else(|| JsError::new(&format!("unknown action {action} (valid: 0..=6)")))?;
        let t = self.env.step(a);
        Ok(StepOutcome {
            reward: t.reward,
            terminated: t.terminated,
            truncated: t.truncated,
        })
    }

    #[wasm_bindgen(getter)]
    pub fn mission(&self) -> String {
        self.env.mission.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn width(&self) -> i32 {
        self.env.world.width()
    }

    #[wasm_bindgen(getter)]
    pub fn height(&self) -> i32 {
        self.env.world.height()
    }

    #[wasm_bindgen(getter, js_name = agentX)]
    pub fn agent_x(&self) -> i32 {
        self.env.world.agent_pos.x
    }

    #[wasm_bindgen(getter, js_name = agentY)]
    pub fn agent_y(&self) -> i32 {
        self.env.world.agent_pos.y
    }

    #[wasm_bindgen(getter, js_name = agentDir)]
    pub fn agent_dir(&self) -> u8 {
        self.env.world.agent_dir as u8
    }

    #[wasm_bindgen(getter, js_name = stepCount)]
    pub fn step_count(&self) -> u32 {
        self.env.world.step_count
    }

    #[wasm_bindgen(getter, js_name = maxSteps)]
    pub fn max_steps(&self) -> u32 {
        self.env.world.max_steps
    }

    #[wasm_bindgen(getter, js_name = viewSize)]
    pub fn view_size(&self) -> u8 {
        self.env.world.view_size
    }

    /// What the agent carries, as "red key", or "" for nothing.
    #[wasm_bindgen(getter)]
    pub fn carrying(&self) -> String {
        self.env
            .world
            .carrying
            .map(Obj::describe)
            .unwrap_or_default()
    }

    /// The whole grid as MiniGrid codes, `[y][x][object, colour, state]` flattened.
    pub fn grid(&self) -> Vec<u8> {
        self.env.world.grid.encode().into_iter().flatten().collect()
    }

    /// The agent's egocentric image, `[row][col][channel]` flattened (row 0 farthest ahead).
    pub fn image(&self) -> Vec<u8> {
        self.env.world.image()
    }

    /// Which world cells the agent sees now (`[y][x]`, 1 = visible), for the view highlight.
    pub fn visible(&self) -> Vec<u8> {
        let w = &self.env.world;
        let view = gridmentor_core::world::view::View::of(w);
        let mut out = vec![0u8; (w.width() * w.height()) as usize];
        let v = view.size as i32;
        for row in 0..v {
            for col in 0..v {
                let p = gridmentor_core::world::view::view_to_world(w, col, row);
                if view.is_visible((row * v + col) as usize) && w.grid.contains(p) {
                    out[(p.y * w.width() + p.x) as usize] = 1;
                }
            }
        }
        out
    }
}

/// `core::digest::rollout_digest`, for checking wasm against native from the page or tests.
#[wasm_bindgen(js_name = rolloutDigest)]
pub fn rollout_digest(name: &str, seed: u64, action_seed: u64, steps: u32) -> Result<u64, JsError> {
    gridmentor_core::digest::rollout_digest(name, seed, action_seed, steps)
        .map_err(|e| JsError::new(&e.to_string()))
}
