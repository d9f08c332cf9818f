//! What the agent (or an LLM) is shown: the seed repositories' memory map and the text
//! observations built from it or from the egocentric view.

pub mod memory_map;
pub mod text;

pub use memory_map::MemoryMap;
pub use text::Naming;
