//! Training the decoder: settings, data, loop, optimiser, schedules and checkpoints.
pub mod checkpoint;
pub mod config;
pub mod optim;
pub mod schedule;
pub mod trainer;

pub use config::{Stage, TrainConfig};
pub use trainer::Trainer;
