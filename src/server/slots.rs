//! Slots that a few clients cannot all hold: a pool of `total` permits (requests holding an
//! upload in memory, or live connections) of which one peer address holds at most
//! `per_peer` (`adain serve --per-client`, by default half). Ten stalled sockets from one address then leave the other slots to everyone
//! else (and [`super::upload::Pace`] ends each stalled upload within seconds).

use super::error::ApiError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A pool of slots shared by peer address.
#[derive(Debug)]
pub struct Slots {
    free: Arc<Semaphore>,
    per_peer: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot is taken.
    Full,
    /// This address already holds its share.
    PeerShare(usize),
}

impl Refusal {
    /// The answer to a request that got no slot for `what` (`uploads`, `live sessions`): 503
    /// with `Retry-After` when all are taken, 429 when the address holds its share.
    pub fn answer(self, what: &str) -> ApiError {
        match self {
            Refusal::Full => ApiError::busy(),
            Refusal::PeerShare(n) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "this address already has {n} {what} in progress (its share of the server); retry when one ends"
                ),
            ),
        }
    }
}

/// A held slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    owner: Arc<Slots>,
    peer: IpAddr,
}

impl Slots {
    /// `total` slots, at most `per_peer` of them per peer address.
    pub fn new(total: usize, per_peer: usize) -> Arc<Self> {
        Arc::new(Self { free: Arc::new(Semaphore::new(total)), per_peer: per_peer.max(1), held: Mutex::default() })
    }

    /// A slot for `peer`, unless its share or the pool is used up.
    pub fn take(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let mine = held.entry(peer).or_default();
        if *mine >= self.per_peer {
            return Err(Refusal::PeerShare(self.per_peer));
        }
        let permit = self.free.clone().try_acquire_owned().map_err(|_| Refusal::Full)?;
        *mine += 1;
        Ok(Slot { _permit: permit, owner: self.clone(), peer })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.owner.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.peer);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_peer_holds_at_most_half_and_slots_come_back() {
        let slots = Slots::new(4, 2);
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).unwrap_err(), Refusal::PeerShare(2));
        let _b1 = slots.take(b).unwrap();
        let _b2 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).unwrap_err(), Refusal::PeerShare(2));
        drop(a1);
        let _a3 = slots.take(a).unwrap();
        assert_eq!(slots.take("10.0.0.1".parse().unwrap()).unwrap_err(), Refusal::Full);
        assert_eq!(Slots::new(1, 0).per_peer, 1);
    }
}
