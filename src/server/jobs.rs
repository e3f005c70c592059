//! The table of asynchronous jobs (`POST /api/jobs`): random ids, their states, and the
//! bound on how many results are kept and for how long.

use super::error::ApiError;
use super::pool::Ticket;
use super::styles::random_id;
use super::work::Output;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The finished asynchronous jobs' results kept for download, in bytes (older ones go first).
pub const RESULTS_BYTES: u64 = 256 << 20;

/// State of an asynchronous job.
pub enum JobState {
    Pending,
    Done(Result<Output, ApiError>),
}

/// One asynchronous job: its place in the pool, its state, when it was made.
pub struct AsyncJob {
    pub ticket: Arc<Ticket>,
    pub state: Mutex<JobState>,
    pub created: Instant,
}

/// The asynchronous jobs, by random id (bounded; finished ones are kept for [`Jobs::KEEP`]
/// while their results fit in [`RESULTS_BYTES`]).
#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<AsyncJob>>>,
}

impl AsyncJob {
    fn finished(&self) -> bool {
        !matches!(*self.state.lock().unwrap_or_else(|e| e.into_inner()), JobState::Pending)
    }
    /// Bytes of the kept result.
    fn result_bytes(&self) -> u64 {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            JobState::Done(Ok(Output::Image { bytes, .. })) => bytes.len() as u64,
            _ => 0,
        }
    }
}

impl Jobs {
    const KEEP: Duration = Duration::from_secs(300);
    const MAX: usize = 256;

    /// Adds a job under a fresh id (after dropping expired ones, and the oldest finished
    /// results while they outgrow their budget); `None` when the table is full.
    pub fn insert(&self, job: Arc<AsyncJob>) -> Result<Option<String>, ApiError> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, j| j.created.elapsed() < Self::KEEP || !j.finished());
        // The oldest finished results go first when the kept results outgrow their budget.
        let mut kept: u64 = m.values().map(|j| j.result_bytes()).sum();
        while kept > RESULTS_BYTES {
            let oldest = m.iter().filter(|(_, j)| j.finished()).min_by_key(|(_, j)| j.created).map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            kept -= m.remove(&k).map_or(0, |j| j.result_bytes());
        }
        if m.len() >= Self::MAX {
            return Ok(None);
        }
        let id = random_id("a job id")?;
        m.insert(id.clone(), job);
        Ok(Some(id))
    }

    /// The job with this id.
    pub fn get(&self, id: &str) -> Option<Arc<AsyncJob>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }
}
