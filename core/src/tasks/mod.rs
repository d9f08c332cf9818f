//! The tasks: one file per family, each placing things and stating its mission and win rule.

pub mod builder;
pub mod roomgrid;

pub mod seed;

pub mod crossing;
pub mod doorkey;
pub mod empty;
pub mod fourrooms;
pub mod gotodoor;
pub mod keycorridor;
pub mod lavagap;
pub mod multiroom;
pub mod redbluedoors;
pub mod unlock;

pub mod babyai;

pub use builder::Builder;
