//! The inference pool: a fixed number of worker threads, each with its own copy of the
//! networks (libtorch tensors may move between threads but not be shared), fed by a bounded
//! FIFO queue. A job that finds the queue full is refused at once ([`Busy`]); the caller
//! answers 503. Each job reports its queue position while it waits.

use super::error::ApiError;
use super::work::{self, Job, Output};
use adain::infer::{Network, NetworkSpec};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Where a job's result arrives.
pub type Reply = tokio::sync::oneshot::Receiver<Result<Output, ApiError>>;

/// The queue was full.
#[derive(Debug)]
pub struct Busy;

/// A job's place in the pool, shared between the pool and whoever waits for it.
#[derive(Debug, Default)]
pub struct Ticket {
    /// Position in the FIFO order (1-based, over the pool's life).
    pub seq: u64,
    /// Set by a worker when it starts the job.
    pub started: AtomicBool,
    /// Set by the waiter when it gave up (timeout, disconnect): a worker skips the job.
    pub cancelled: AtomicBool,
}

struct Queued {
    job: Job,
    ticket: Arc<Ticket>,
    reply: tokio::sync::oneshot::Sender<Result<Output, ApiError>>,
}

/// The worker threads and their queue.
pub struct Pool {
    tx: Mutex<Option<SyncSender<Queued>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    next_seq: AtomicU64,
    /// Jobs taken by a worker so far (the queue position of job `seq` is `seq - taken`).
    taken: Arc<AtomicU64>,
    /// Jobs waiting in the queue.
    pub queued: Arc<AtomicUsize>,
    pub workers_count: usize,
    pub capacity: usize,
}

impl Pool {
    /// Starts `workers` threads (each loads the networks; returns when all are ready) with a
    /// queue of `capacity` jobs.
    pub fn start(spec: &NetworkSpec, workers: usize, capacity: usize, ctx: Arc<work::Context>) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::sync_channel::<Queued>(capacity);
        let rx = Arc::new(Mutex::new(rx));
        let taken = Arc::new(AtomicU64::new(0));
        let queued = Arc::new(AtomicUsize::new(0));
        // libtorch's intra-op threads are shared by the process: split the cores. (The light
        // build's kernels share one rayon pool instead, which splits them by itself.)
        #[cfg(feature = "torch")]
        {
            let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            tch::set_num_threads((cores / workers.max(1)).max(1) as i32);
        }
        let (ready_tx, ready_rx) = mpsc::channel::<anyhow::Result<()>>();
        let mut handles = Vec::new();
        for i in 0..workers.max(1) {
            let (rx, taken, queued, spec, ctx, ready) =
                (rx.clone(), taken.clone(), queued.clone(), spec.clone(), ctx.clone(), ready_tx.clone());
            let h = std::thread::Builder::new().name(format!("adain-worker-{i}")).spawn(move || {
                let net = match spec.load().map_err(anyhow::Error::from) {
                    Ok(n) => {
                        let _ = ready.send(Ok(()));
                        n
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                worker_loop(&net, &rx, &taken, &queued, &ctx);
            })?;
            handles.push(h);
        }
        drop(ready_tx);
        for r in ready_rx.iter().take(handles.len()) {
            r?;
        }
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            workers: Mutex::new(handles),
            next_seq: AtomicU64::new(0),
            taken,
            queued,
            workers_count: workers.max(1),
            capacity,
        })
    }

    /// Queues a job; refused at once when the queue is full or the pool is shutting down.
    pub fn submit(&self, job: Job) -> Result<(Arc<Ticket>, Reply), Busy> {
        let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let tx = guard.as_ref().ok_or(Busy)?;
        let ticket = Arc::new(Ticket { seq: self.next_seq.fetch_add(1, Ordering::SeqCst) + 1, ..Default::default() });
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.queued.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(Queued { job, ticket: ticket.clone(), reply }) {
            Ok(()) => Ok((ticket, rx)),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                Err(Busy)
            }
        }
    }

    /// Jobs ahead of this one plus one (0 once a worker has it).
    pub fn position(&self, ticket: &Ticket) -> u64 {
        if ticket.started.load(Ordering::SeqCst) {
            return 0;
        }
        ticket.seq.saturating_sub(self.taken.load(Ordering::SeqCst)).max(1)
    }

    /// Stops taking jobs, lets the workers finish what is queued, and joins them.
    pub fn shutdown(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        for h in self.workers.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = h.join();
        }
    }
}

fn worker_loop(
    net: &Network,
    rx: &Mutex<Receiver<Queued>>,
    taken: &AtomicU64,
    queued: &AtomicUsize,
    ctx: &work::Context,
) {
    loop {
        let next = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok(q) = next else { return };
        taken.fetch_add(1, Ordering::SeqCst);
        queued.fetch_sub(1, Ordering::SeqCst);
        if q.ticket.cancelled.load(Ordering::SeqCst) || q.reply.is_closed() {
            continue;
        }
        q.ticket.started.store(true, Ordering::SeqCst);
        // A panic inside one job (a libtorch assertion on a strange input) must not take the
        // worker down: it becomes a 500 for that request.
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work::run(net, ctx, q.job)))
            .unwrap_or_else(|_| Err(ApiError::internal("the stylization failed unexpectedly")));
        let _ = q.reply.send(result);
    }
}
