//! One episode on the page: core's env plus the actions taken, so that undo, redo, the share
//! link, the trajectory digest and the GIF all come from replaying the same actions.

use gridmentor_core::Env;
use gridmentor_core::digest::Fnv64;
use gridmentor_core::obs::memory_map::MemoryMap;
use gridmentor_core::registry;
use gridmentor_core::world::view::{View, view_to_world};
use gridmentor_core::world::{Action, Obj, Transition};
use wasm_bindgen::prelude::*;

/// The outcome of one step.
#[wasm_bindgen]
#[derive(Copy, Clone, Debug)]
pub struct StepOutcome {
    pub reward: f32,
    pub terminated: bool,
    pub truncated: bool,
}

impl From<Transition> for StepOutcome {
    fn from(t: Transition) -> StepOutcome {
        StepOutcome {
            reward: t.reward,
            terminated: t.terminated,
            truncated: t.truncated,
        }
    }
}

/// An episode of one env from one seed, with its history.
#[wasm_bindgen]
pub struct Session {
    env_id: String,
    seed: u64,
    pub(crate) env: Env,
    pub(crate) map: MemoryMap,
    actions: Vec<u8>,
    /// Undone actions, the next redo last.
    redo: Vec<u8>,
    total_reward: f32,
    last: Option<Transition>,
}

impl Session {
    pub fn id(&self) -> &str {
        &self.env_id
    }

    pub fn actions_slice(&self) -> &[u8] {
        &self.actions
    }

    fn apply(&mut self, action: Action) -> Transition {
        let t = self.env.step(action);
        self.map.update(&self.env.world);
        self.actions.push(action as u8);
        self.total_reward += t.reward;
        self.last = Some(t);
        t
    }

    /// Back to the start, then play `actions`.
    fn replay(&mut self, actions: &[u8]) -> Result<(), String> {
        self.env.reset(self.seed);
        self.map.reset(&self.env.world);
        self.actions.clear();
        self.total_reward = 0.0;
        self.last = None;
        for (i, &a) in actions.iter().enumerate() {
            if self.is_done() {
                return Err(format!(
                    "the episode ended at step {i}, but {} actions were given",
                    actions.len()
                ));
            }
            let a = Action::from_index(a)
                .ok_or_else(|| format!("action {a} at step {i} is not 0..=6"))?;
            self.apply(a);
        }
        Ok(())
    }
}

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl Session {
    /// A new episode of `env` (a registry id) from `seed`; an unknown id is an error that says so.
    #[wasm_bindgen(constructor)]
    pub fn new(env: &str, seed: u64) -> Result<Session, JsError> {
        let spec = registry::find(env).map_err(js_err)?;
        let env = Env::new(spec, seed);
        let map = MemoryMap::new(&env.world);
        Ok(Session {
            env_id: spec.id.to_string(),
            seed,
            env,
            map,
            actions: Vec::new(),
            redo: Vec::new(),
            total_reward: 0.0,
            last: None,
        })
    }

    /// A session that has played `actions` from `seed`; fails, saying where, if they do not fit.
    #[wasm_bindgen(js_name = fromActions)]
    pub fn from_actions(env: &str, seed: u64, actions: &[u8]) -> Result<Session, JsError> {
        let mut s = Session::new(env, seed)?;
        s.replay(actions).map_err(|e| JsError::new(&e))?;
        Ok(s)
    }

    /// Start again from `seed`, forgetting the history.
    pub fn reset(&mut self, seed: u64) {
        self.seed = seed;
        self.redo.clear();
        let _ = self.replay(&[]);
    }

    /// Apply action `0..=6` (left, right, forward, pickup, drop, toggle, done). Refused after the
    /// end of the episode. A new step clears the redo list.
    pub fn step(&mut self, action: u8) -> Result<StepOutcome, JsError> {
        let a = Action::from_index(action)
            .ok_or_else(|| JsError::new(&format!("unknown action {action} (valid: 0..=6)")))?;
        if self.is_done() {
            return Err(JsError::new("the episode is over: reset to play again"));
        }
        self.redo.clear();
        Ok(self.apply(a).into())
    }

    /// Take back the last step; `false` when there is none.
    pub fn undo(&mut self) -> bool {
        let Some(a) = self.actions.last().copied() else {
            return false;
        };
        let keep = self.actions[..self.actions.len() - 1].to_vec();
        self.replay(&keep)
            .expect("a prefix of a played episode replays");
        self.redo.push(a);
        true
    }

    /// Play the last undone step again; `false` when there is none.
    pub fn redo(&mut self) -> bool {
        let Some(a) = self.redo.pop() else {
            return false;
        };
        let a = Action::from_index(a).expect("recorded actions are valid");
        self.apply(a);
        true
    }

    #[wasm_bindgen(getter, js_name = canUndo)]
    pub fn can_undo(&self) -> bool {
        !self.actions.is_empty()
    }

    #[wasm_bindgen(getter, js_name = canRedo)]
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Undone steps waiting for redo (a shared episode opened at its start holds all of it).
    #[wasm_bindgen(getter, js_name = redoCount)]
    pub fn redo_count(&self) -> u32 {
        self.redo.len() as u32
    }

    #[wasm_bindgen(getter, js_name = envId)]
    pub fn env_id(&self) -> String {
        self.env_id.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The actions taken so far.
    pub fn actions(&self) -> Vec<u8> {
        self.actions.clone()
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

    #[wasm_bindgen(getter, js_name = totalReward)]
    pub fn total_reward(&self) -> f32 {
        self.total_reward
    }

    #[wasm_bindgen(getter, js_name = lastReward)]
    pub fn last_reward(&self) -> f32 {
        self.last.map_or(0.0, |t| t.reward)
    }

    /// Terminated or truncated.
    #[wasm_bindgen(getter, js_name = isDone)]
    pub fn is_done(&self) -> bool {
        self.last.is_some_and(|t| t.terminated || t.truncated)
    }

    /// `playing`, `success`, `failed` (terminated without reward) or `out of time`.
    #[wasm_bindgen(getter)]
    pub fn status(&self) -> String {
        match self.last {
            Some(t) if t.success() => "success",
            Some(t) if t.terminated => "failed",
            Some(t) if t.truncated => "out of time",
            _ => "playing",
        }
        .into()
    }

    /// Reached the goal (terminated with a reward).
    #[wasm_bindgen(getter)]
    pub fn success(&self) -> bool {
        self.last.is_some_and(|t| t.success())
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
        let view = View::of(w);
        let mut out = vec![0u8; (w.width() * w.height()) as usize];
        let v = view.size as i32;
        for row in 0..v {
            for col in 0..v {
                let p = view_to_world(w, col, row);
                if view.is_visible((row * v + col) as usize) && w.grid.contains(p) {
                    out[(p.y * w.width() + p.x) as usize] = 1;
                }
            }
        }
        out
    }

    /// Which cells the agent has seen this episode (`[y][x]`, 1 = seen): the memory map's fog.
    pub fn seen(&self) -> Vec<u8> {
        let (w, h) = (self.map.width(), self.map.height());
        let mut out = vec![0u8; (w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                out[(y * w + x) as usize] =
                    self.map.is_seen(gridmentor_core::world::Pos::new(x, y)) as u8;
            }
        }
        out
    }

    /// The memory map as the seed code lays it out, `[x][y][object, colour, state, direction]`.
    #[wasm_bindgen(js_name = memoryMap)]
    pub fn memory_map(&self) -> Vec<u8> {
        self.map.data().to_vec()
    }

    /// The trajectory's digest (hex): env, seed, and after every step the action, the agent's
    /// pose and view, the reward and the end flags. Equal digests mean the same episode.
    pub fn digest(&self) -> String {
        let mut env = registry::make(&self.env_id, self.seed).expect("the id was found before");
        let mut h = Fnv64::default();
        h.write(self.env_id.as_bytes());
        h.write(&self.seed.to_le_bytes());
        h.write(env.mission.as_bytes());
        h.write(&env.world.image());
        for &a in &self.actions {
            let t = env.step(Action::from_index(a).expect("recorded actions are valid"));
            let w = &env.world;
            h.write(&[a, w.agent_dir as u8]);
            h.write(&w.agent_pos.x.to_le_bytes());
            h.write(&w.agent_pos.y.to_le_bytes());
            h.write(&w.image());
            h.write(&t.reward.to_bits().to_le_bytes());
            h.write(&[t.terminated as u8, t.truncated as u8]);
        }
        format!("{:016x}", h.finish())
    }

    /// The board now as core draws it (the GIF's frame: MiniGrid's rendering, the agent's view
    /// highlighted), `tile` pixels a cell (1..=256), as RGBA for a canvas's `ImageData`: the
    /// page adds only its overlays (the view's outline, the memory map's fog).
    pub fn frame(&self, tile: u32) -> Result<Vec<u8>, JsError> {
        if !(1..=256).contains(&tile) {
            return Err(JsError::new(&format!(
                "tile size {tile} is not 1..=256 pixels"
            )));
        }
        Ok(gridmentor_core::render::render_rgb(&self.env.world, tile, true).to_rgba())
    }

    /// The agent's egocentric view as core draws it (MiniGrid's point-of-view render: what the
    /// network reads), `tile` pixels a cell, as RGBA; `viewSize` cells a side.
    #[wasm_bindgen(js_name = viewFrame)]
    pub fn view_frame(&self, tile: u32) -> Result<Vec<u8>, JsError> {
        if !(1..=256).contains(&tile) {
            return Err(JsError::new(&format!(
                "tile size {tile} is not 1..=256 pixels"
            )));
        }
        Ok(gridmentor_core::render::render_view(&self.env.world, tile).to_rgba())
    }

    #[wasm_bindgen(getter, js_name = viewSize)]
    pub fn view_size(&self) -> u32 {
        self.env.world.view_size as u32
    }

    /// The text observations of this state as core writes them for the planners: When2Ask's
    /// prompt observation, LLM4Teach's (the teacher's cache key), and BabyAI-Text's lines
    /// (GLAM's), in that order.
    #[wasm_bindgen(js_name = observationTexts)]
    pub fn observation_texts(&self) -> Vec<String> {
        use gridmentor_core::obs::text;
        let naming = text::Naming::for_task(&self.env_id);
        vec![
            text::when2ask_observation(&self.map, naming),
            text::llm4teach(&self.map, naming),
            text::babyai(&self.env.world).join("; "),
        ]
    }

    /// The episode so far as an animated GIF (MiniGrid's rendering, `tile` pixels a cell, the
    /// agent's view highlighted), `delay_cs` hundredths of a second a frame.
    #[wasm_bindgen(js_name = exportGif)]
    pub fn export_gif(&self, tile: u32, delay_cs: u16) -> Result<Vec<u8>, JsError> {
        gridmentor_core::gif::episode_gif(&self.env_id, self.seed, &self.actions, tile, delay_cs)
            .map_err(|e| JsError::new(&e))
    }
}
