//! Policy networks (burn modules on any device; `flex` in no_std and wasm) and their checkpoint
//! format. The trainer and the browser use these same definitions.

pub mod checkpoint;
pub mod infer;
mod init;
pub mod net;
pub mod policy;
pub mod spec;

pub use checkpoint::{
    ActionSpace, Checkpoint, CheckpointError, CurvePoint, EvalResult, MAX_CURVE_POINTS, Metadata,
    thin_curve,
};
pub use infer::Inference;
pub use net::{ActorCritic, Output};
pub use policy::{Choice, Observer, PolicyAgent};
pub use spec::{NetKind, NetSpec, ObsKind};
