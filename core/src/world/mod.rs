//! The world engine: objects, grid, actions, MiniGrid's step and egocentric view.

pub mod action;
pub mod engine;
pub mod grid;
pub mod object;
pub mod view;

pub use action::{Action, Dir};
pub use engine::{DEFAULT_VIEW, MAX_VIEW, StepEvent, Transition, World};
pub use grid::{Grid, Pos};
pub use object::{Color, DecodeError, DoorState, Item, Kind, Obj};
