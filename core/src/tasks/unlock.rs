//! (to be written)

use crate::registry::EnvSpec;

pub const SPECS: &[EnvSpec] = &[];
