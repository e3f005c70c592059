//! Data-parallel training over libtorch's own torch.distributed (c10d): the process group
//! binding, the ranks' environment, bucketed gradient all-reduce and a one-machine launcher.
//!
//! `tch` does not bind c10d, so `csrc/dist.cpp` (compiled by build.rs against the venv's
//! libtorch headers) exposes the few calls data parallelism needs: a TCP-store rendezvous, a
//! Gloo (CPU) or NCCL (CUDA) process group, all-reduce, broadcast and barrier. The collectives
//! themselves are PyTorch's, the same code `torch.distributed` runs.
//!
//! How a run is laid out (see [`crate::train::Trainer::distributed`]): every rank holds the
//! whole decoder; rank 0 broadcasts its weights and optimiser state at the start (fresh or
//! resumed); each step, rank r trains on its own share of the global batch (samples
//! `r·B .. (r+1)·B` of the same seeded order, `crate::data::dataset::Sampler::shard`), and
//! the gradients are averaged before Adam's step, so that N ranks × batch B make the same
//! step as one process with batch N·B. Rank 0 alone writes files.
pub mod group;
pub mod launch;
pub mod reducer;
pub mod world;

pub use group::{Backend, ProcessGroup};
pub use reducer::GradReducer;
pub use world::World;
