//! Training the VGG decoder or the lite network: settings, data, loop, optimiser, schedules
//! and checkpoints.
pub mod checkpoint;
pub mod config;
pub mod optim;
pub mod plot;
pub mod schedule;
pub mod tensorboard;
pub mod trained;
pub mod trainer;
pub mod validation;

pub use config::{Stage, TrainConfig};
pub use trainer::Trainer;
