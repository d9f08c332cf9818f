//! What the agent (or an LLM) is shown: the seed repositories' memory map, the text
//! observations built from it or from the egocentric view, and the BabyAI mission as indices.

pub mod memory_map;
pub mod mission;
pub mod text;

pub use memory_map::{
    MemoryMap, ONE_HOT_CHANNELS, door_colour, door_relative_colours, one_hot_into,
};
pub use mission::{MISSION_CHANNELS, mission_code};
pub use text::Naming;
