//! Data-parallel training over torch.distributed (Gloo on 127.0.0.1): the collectives of the
//! process group, N ranks that train like one process with N× the batch, resume across world
//! sizes, and ranks that die or stop answering.
#![cfg(feature = "torch")]

mod common;

use adain::dist::{GradReducer, ProcessGroup, World};
use adain::train::Stage;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tch::{Kind, Tensor};

/// A world of `size` ranks on a free loopback port, as rank `rank` sees it.
fn world(rank: usize, size: usize, port: u16) -> World {
    World { rank, size, local_rank: rank, master_addr: "127.0.0.1".into(), master_port: port }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `f(group)` on two ranks (threads of this process, each with its own group).
fn on_two_ranks<T: Send>(f: impl Fn(&ProcessGroup) -> T + Sync) -> Vec<T> {
    let port = free_port();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|rank| {
                let f = &f;
                s.spawn(move || {
                    let g =
                        ProcessGroup::new(&world(rank, 2, port), tch::Device::Cpu, Duration::from_secs(60)).unwrap();
                    f(&g)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn collectives_sum_average_broadcast_and_bucket_gradients() {
    let out = on_two_ranks(|g| {
        let r = g.world().rank as f64;
        // Sum and average (Gloo has no AVG: the shim divides).
        let mut t = [Tensor::from_slice(&[1.0 + r, 10.0 * r]), Tensor::from_slice(&[r as f32; 5])];
        g.all_reduce(&mut t, false).unwrap();
        let sum = (Vec::<f64>::try_from(&t[0]).unwrap(), Vec::<f32>::try_from(&t[1]).unwrap());
        let mut a = [Tensor::from_slice(&[1.0 + r, 10.0 * r])];
        g.all_reduce(&mut a, true).unwrap();
        let avg = Vec::<f64>::try_from(&a[0]).unwrap();
        // Broadcast of tensors and of bytes from rank 0.
        let mut b = [Tensor::full([3], 7.0 + r, (Kind::Float, tch::Device::Cpu))];
        g.broadcast(&mut b, 0).unwrap();
        let bytes = g.broadcast_bytes(if r == 0.0 { b"from rank 0" } else { b"" }).unwrap();
        // Gradients of 3 parameters (16, 24 and 64 bytes) in 2 buckets (a 32-byte cap: the
        // second parameter closes the first): the average of the ranks'.
        let params: Vec<Tensor> = [vec![4], vec![2, 3], vec![16]]
            .iter()
            .map(|s| Tensor::zeros(s.as_slice(), tch::kind::FLOAT_CPU).set_requires_grad(true))
            .collect();
        let loss: Tensor = params.iter().map(|p| (p * (r + 1.0)).sum(Kind::Float)).sum();
        loss.backward();
        let reducer = GradReducer::new(&params, 32);
        reducer.average(g, &params).unwrap();
        let grads: Vec<Vec<f32>> =
            params.iter().map(|p| Vec::<f32>::try_from(&p.grad().reshape([-1])).unwrap()).collect();
        g.barrier().unwrap();
        (sum, avg, Vec::<f32>::try_from(&b[0]).unwrap(), bytes, reducer.len(), grads)
    });
    for (rank, (sum, avg, b, bytes, buckets, grads)) in out.into_iter().enumerate() {
        assert_eq!(sum.0, [3.0, 10.0], "rank {rank}");
        assert_eq!(sum.1, [1.0; 5], "rank {rank}");
        assert_eq!(avg, [1.5, 5.0], "rank {rank}");
        assert_eq!(b, [7.0; 3], "rank {rank}: rank 0's tensor");
        assert_eq!(bytes, b"from rank 0", "rank {rank}");
        assert_eq!(buckets, 2, "rank {rank}");
        for g in grads {
            assert!(g.iter().all(|&x| x == 1.5), "rank {rank}: averaged gradient {g:?} (ranks had 1 and 2)");
        }
    }
}

#[test]
fn a_rank_that_never_arrives_is_an_error_not_a_hang() {
    let t0 = Instant::now();
    // Rank 1 of 2 whose rank 0 never serves the store.
    let e = ProcessGroup::new(&world(1, 2, free_port()), tch::Device::Cpu, Duration::from_secs(3)).err().unwrap();
    let msg = e.to_string();
    assert!(msg.contains("rank 1 of 2") && msg.contains("joining 127.0.0.1"), "{msg}");
    assert!(t0.elapsed() < Duration::from_secs(60), "gave up after {:?}", t0.elapsed());
}

/// `adain train` on the tiny data: `--config` of `steps` steps, then `extra` flags.
fn train(dir: &Path, run: &str, steps: u64, extra: &[&str]) {
    let mut cfg = tiny_config(dir, Stage::Adain, steps);
    cfg.seed = 3;
    let cfg_file = dir.join(format!("{run}.toml"));
    std::fs::write(&cfg_file, cfg.to_toml()).unwrap();
    let o = train_cli(&dir.join(run), &cfg_file, extra).output().unwrap();
    assert!(o.status.success(), "{run}: {}", stderr(&o));
}

/// [`train`] for each (run, steps, flags) in turn, in a new folder.
fn train_runs(runs: &[(&str, u64, &[&str])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (run, steps, flags) in runs {
        train(dir.path(), run, *steps, flags);
    }
    dir
}

/// Relative L2 distance between two decoder files.
fn distance(a: &Path, b: &Path) -> f64 {
    let (a, b) = (decoder_tensors(&a.join("decoder.safetensors")), decoder_tensors(&b.join("decoder.safetensors")));
    let (mut num, mut den) = (0.0, 0.0);
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        num += (ta - tb).square().sum(Kind::Double).double_value(&[]);
        den += ta.square().sum(Kind::Double).double_value(&[]);
    }
    (num / den).sqrt()
}

/// Two ranks × batch 2 make the steps of one process with batch 4, up to float32 rounding:
/// the global batch is the same pairs, but its mean is taken as two means of 2 then averaged
/// instead of one mean of 4, and Adam divides each update by the gradient's own magnitude, so
/// the ~1e-7 relative rounding differences of near-zero gradient entries can move those
/// entries by up to a learning rate (1e-4) per step. Measured after 4 steps: 4e-5 relative L2
/// (bound 1e-3), against 7e-3 for one process with batch 2 (which sees half the pairs: the
/// control that shows the comparison can fail).
#[test]
fn two_gloo_ranks_train_like_one_process_with_twice_the_batch() {
    let dir = train_runs(&[
        ("one", 4, &["--batch-size", "4"]),
        ("two", 4, &["--batch-size", "2", "--nproc", "2"]),
        ("half", 4, &["--batch-size", "2"]),
    ]);
    let d = dir.path();
    let (dp, control) = (distance(&d.join("two"), &d.join("one")), distance(&d.join("half"), &d.join("one")));
    eprintln!("relative L2 distance to one process with batch 4: 2 ranks × 2 {dp:.2e}, 1 process × 2 {control:.2e}");
    assert!(dp < 1e-3 && dp * 20.0 < control, "2 ranks: {dp}, control: {control}");
    // Rank 0 alone wrote the logs: one row per step, with the whole batch's loss.
    let rows = |run: &str| -> Vec<Vec<f64>> {
        let csv = std::fs::read_to_string(d.join(run).join("metrics.csv")).unwrap();
        csv.lines().skip(1).map(|l| l.split(',').take(3).map(|v| v.parse().unwrap()).collect()).collect()
    };
    let (one, two) = (rows("one"), rows("two"));
    assert_eq!(two.len(), 4, "{two:?}");
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a[0], b[0]);
        assert!((a[1] - b[1]).abs() <= 1e-3 * a[1].abs(), "step {}: loss {} vs {}", a[0], a[1], b[1]);
    }
}

/// A run resumed with another world size continues the same training: 2 ranks to step 2, one
/// process to step 4, 2 ranks to step 6 equals one process all along (same tolerance).
#[test]
fn checkpoints_resume_across_world_sizes_two_one_two() {
    let dir = train_runs(&[
        ("straight", 6, &["--batch-size", "4"]),
        ("mixed", 2, &["--batch-size", "2", "--nproc", "2"]),
        ("mixed", 4, &["--batch-size", "4", "--resume", "--steps", "4"]),
        ("mixed", 6, &["--batch-size", "2", "--nproc", "2", "--resume", "--steps", "6"]),
    ]);
    let d = dir.path();
    let dist = distance(&d.join("mixed"), &d.join("straight"));
    eprintln!("2 → 1 → 2 ranks against one process: relative L2 {dist:.2e}");
    assert!(dist < 1e-3, "{dist}");
    assert_eq!(logged_steps(&d.join("mixed")), ["1", "2", "3", "4", "5", "6"]);
}

/// Starts a long 2-rank run and returns it with the pids of its ranks (from the launcher's
/// log) once both are training.
fn long_run(d: &Path, extra: &[&str]) -> (std::process::Child, Vec<u32>, std::sync::mpsc::Receiver<String>) {
    let mut cfg = tiny_config(d, Stage::Adain, 100_000);
    cfg.val_count = 0;
    cfg.image_every = 0;
    cfg.checkpoint_every = 5;
    let cfg_file = d.join("long.toml");
    std::fs::write(&cfg_file, cfg.to_toml()).unwrap();
    let mut child = train_cli(&d.join("long"), &cfg_file, &[&["--nproc", "2"], extra].concat())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut pids = vec![];
    let t0 = Instant::now();
    while pids.len() < 2 {
        let line = rx.recv_timeout(Duration::from_secs(120)).expect("the launcher names its ranks' pids");
        if let Some(pid) = line.split("pid ").nth(1) {
            pids.push(pid.trim().parse().unwrap());
        }
    }
    // Both ranks are training once the first checkpoint (step 5) is written.
    while adain::train::checkpoint::list(&d.join("long")).unwrap().is_empty() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint written");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, pids, rx)
}

/// Waits (bounded) for the launcher to end; returns its status, time taken and log.
fn finish(mut child: std::process::Child, rx: std::sync::mpsc::Receiver<String>) -> (bool, Duration, String) {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(200));
            return (status.success(), t0.elapsed(), rx.try_iter().collect::<Vec<_>>().join("\n"));
        }
        if t0.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("the run did not end within 90 s: {}", rx.try_iter().collect::<Vec<_>>().join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn killing_one_rank_ends_the_run_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (child, pids, rx) = long_run(dir.path(), &[]);
    Command::new("kill").args(["-KILL", &pids[1].to_string()]).status().unwrap();
    let (ok, took, log) = finish(child, rx);
    eprintln!("ended {took:?} after the kill:\n{log}");
    assert!(!ok, "{log}");
    // Rank 0 noticed by itself (a failed collective, its own error and exit status), and the
    // launcher names both.
    assert!(log.contains("rank 0 of 2") && log.contains("failed"), "{log}");
    assert!(
        log.contains("rank 1 exited with signal 9 (killed)") && log.contains("rank 0 exited with status 1"),
        "{log}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    // The checkpoints written so far are intact and resumable.
    let ckpts = adain::train::checkpoint::list(&dir.path().join("long")).unwrap();
    assert!(!ckpts.is_empty());
    adain::train::checkpoint::read_state(ckpts.last().unwrap()).unwrap();
}

#[test]
fn a_rank_that_stops_answering_makes_the_others_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let (child, pids, rx) = long_run(dir.path(), &["--dist-timeout", "3"]);
    Command::new("kill").args(["-STOP", &pids[1].to_string()]).status().unwrap();
    let (ok, took, log) = finish(child, rx);
    eprintln!("ended {took:?} after rank 1 stopped:\n{log}");
    assert!(!ok, "{log}");
    assert!(log.contains("rank 0 of 2") && log.contains("timed out"), "{log}");
    assert!(log.contains("rank 1 was stopped"), "{log}");
}
