//! A launcher for one machine, like `torchrun --standalone --nproc-per-node N`: starts N
//! copies of a program as ranks 0..N of a world whose rendezvous store is on 127.0.0.1, and
//! watches them. When one rank fails, the others are given `grace` to notice (their next
//! collective fails: a closed connection) and exit with their own error, then stopped.

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How the ranks are started.
#[derive(Debug, Clone)]
pub struct LocalLaunch {
    /// Number of ranks.
    pub nproc: usize,
    /// How long the other ranks may take to exit after one failed.
    pub grace: Duration,
}

/// Describes an exit status: `status 1`, `signal 9 (killed)`.
fn describe(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(9)) => "signal 9 (killed)".into(),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".into(),
    }
}

impl LocalLaunch {
    /// Runs `program args` as every rank; returns when all have exited. Each rank gets
    /// `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR=127.0.0.1`, a free
    /// `MASTER_PORT`, and (unless set) `OMP_NUM_THREADS` = its share of the cores.
    pub fn run(&self, program: &Path, args: &[OsString]) -> Result<()> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::Distributed(format!("no free port on 127.0.0.1 for the rendezvous: {e}")))?
            .port();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / self.nproc).max(1).to_string();
        let mut ranks: Vec<Option<Child>> = Vec::new();
        for rank in 0..self.nproc {
            let mut cmd = Command::new(program);
            cmd.args(args)
                .env("RANK", rank.to_string())
                .env("LOCAL_RANK", rank.to_string())
                .env("WORLD_SIZE", self.nproc.to_string())
                .env("LOCAL_WORLD_SIZE", self.nproc.to_string())
                .env("MASTER_ADDR", "127.0.0.1")
                .env("MASTER_PORT", port.to_string());
            if std::env::var_os("OMP_NUM_THREADS").is_none() {
                cmd.env("OMP_NUM_THREADS", &threads);
            }
            die_with_parent(&mut cmd);
            match cmd.spawn() {
                Ok(child) => {
                    tracing::info!("rank {rank}: pid {}", child.id());
                    ranks.push(Some(child));
                }
                Err(e) => {
                    stop(&mut ranks);
                    return Err(Error::Distributed(format!("starting rank {rank} ({}): {e}", program.display())));
                }
            }
        }
        self.watch(ranks)
    }

    /// Waits for the ranks; the first failure starts the grace period.
    fn watch(&self, mut ranks: Vec<Option<Child>>) -> Result<()> {
        let mut failures: Vec<String> = Vec::new();
        let mut deadline: Option<Instant> = None;
        while ranks.iter().any(Option::is_some) {
            for (rank, slot) in ranks.iter_mut().enumerate() {
                let Some(child) = slot else { continue };
                match child.try_wait() {
                    Ok(Some(status)) => {
                        if !status.success() {
                            failures.push(format!("rank {rank} exited with {}", describe(status)));
                            deadline.get_or_insert(Instant::now() + self.grace);
                        }
                        *slot = None;
                    }
                    Ok(None) => {}
                    Err(e) => return Err(Error::Distributed(format!("watching rank {rank}: {e}"))),
                }
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                for (rank, slot) in ranks.iter().enumerate() {
                    if slot.is_some() {
                        failures.push(format!("rank {rank} was stopped after {:?}", self.grace));
                    }
                }
                stop(&mut ranks);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if failures.is_empty() { Ok(()) } else { Err(Error::Distributed(failures.join("; "))) }
    }
}

/// Kills and reaps the ranks still running.
fn stop(ranks: &mut [Option<Child>]) {
    for slot in ranks.iter_mut() {
        if let Some(mut c) = slot.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The rank gets SIGTERM when the launcher dies, so that no rank outlives it.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}
