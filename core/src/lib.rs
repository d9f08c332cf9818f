//! gridmentor-core: worlds that behave exactly like Farama MiniGrid 3.2, the seed tasks, their
//! observations and core's own RNG. `no_std` + `alloc`: no I/O, no clocks, no threads.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod env;
pub mod obs;
pub mod registry;
pub mod render;
pub mod rng;
pub mod rules;
pub mod tasks;
pub mod world;

pub use env::{Env, GenError, Setup};
pub use registry::{EnvSpec, UnknownEnv};
pub mod agent;
pub mod agent_ref;
pub mod ask;
pub mod digest;
#[cfg(feature = "serde")]
pub mod episode;
#[cfg(feature = "gif")]
pub mod gif;
#[cfg(feature = "nn")]
pub mod mediator;
#[cfg(feature = "nn")]
pub mod nn;
pub mod planner;
pub mod share;
pub mod skills;
