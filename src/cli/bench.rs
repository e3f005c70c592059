//! `adain bench`: adain against PyTorch eager (scripts/reference.py, the venv's torch) on the
//! same weights, threads and shapes, in one run. Each case runs in a fresh process on each side
//! so that peak memory (max RSS) belongs to that case alone.

use super::DeviceArgs;
use adain::model::losses::{self, StyleLossConfig};
use adain::model::{StyleTransfer, VggConfig};
use adain::train::optim::Adam;
use adain::weights;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

#[derive(clap::Args)]
pub struct Args {
    /// Cases to run (default: all): stylize-256, stylize-512, stylize-1024 (style encoding
    /// included), stylize-256-cached, … (style statistics precomputed), …-cached-bf16 (both
    /// sides in bfloat16: adain's bf16 precision, torch's autocast), train-256-b8, train-256-b8-bf16
    /// (mixed precision on both sides).
    #[arg(long, num_args = 1..)]
    cases: Vec<String>,
    /// Threads for both sides (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Timed iterations per case and process (after warm-up).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Alternating rounds (adain process, then torch process) per case; the reported time is
    /// the median over rounds, which evens out a machine whose speed drifts.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Python of the reference side.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Internal: run one case in this process and print its JSON line.
    #[arg(long, hide = true)]
    worker: Option<String>,
    #[arg(long, hide = true)]
    decoder_file: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

const ALL: [&str; 11] = [
    "stylize-256",
    "stylize-512",
    "stylize-1024",
    "stylize-256-cached",
    "stylize-512-cached",
    "stylize-1024-cached",
    "stylize-256-cached-bf16",
    "stylize-512-cached-bf16",
    "stylize-1024-cached-bf16",
    "train-256-b8",
    "train-256-b8-bf16",
];

/// Peak resident set size of this process, MiB (Linux `VmHWM`).
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Runs one case here; returns (median seconds, peak RSS MiB).
fn worker(case: &str, decoder_file: &Path, iters: usize, device: Device) -> Result<(f64, f64)> {
    let mut enc = weights::load_encoder(&weights::resolve_encoder("vgg16")?, device)?;
    let mut dec = weights::load_decoder(decoder_file, enc.encoder.config(), device)?;
    // `-bf16` cases run adain in bfloat16; in training only the frozen encoder is converted
    // (mixed precision: the decoder keeps float32 master weights, as `adain train --precision bf16`).
    let (case, precision) = match case.strip_suffix("-bf16") {
        Some(c) => (c, adain::model::Precision::Bf16),
        None => (case, adain::model::Precision::F32),
    };
    precision.apply(&mut enc.vs);
    if !case.starts_with("train") {
        precision.apply(&mut dec.vs);
    }
    tch::manual_seed(0);
    let mut times = Vec::new();
    if let Some(rest) = case.strip_prefix("stylize-") {
        let cached = rest.ends_with("-cached");
        let size: i64 = rest.trim_end_matches("-cached").parse().context("case size")?;
        let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
        let c = Tensor::rand([1, 3, size, size], (Kind::Float, device));
        let s = Tensor::rand([1, 3, size, size], (Kind::Float, device));
        let _g = tch::no_grad_guard();
        let stats = net.style_stats(&s);
        for i in 0..iters + 2 {
            sync(device);
            let t0 = Instant::now();
            let st = if cached { stats.clone() } else { net.style_stats(&s) };
            let out = net.stylize(&c, &st, 1.0);
            let _ = out.sum(Kind::Float).double_value(&[]);
            sync(device);
            if i >= 2 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
    } else if case == "train-256-b8" {
        let c = Tensor::rand([8, 3, 256, 256], (Kind::Float, device));
        let s = Tensor::rand([8, 3, 256, 256], (Kind::Float, device));
        let mut adam = Adam::new(dec.vs.variables().into_iter().collect(), 0.9, 0.999);
        let cfg = StyleLossConfig::default();
        for i in 0..iters + 1 {
            sync(device);
            let t0 = Instant::now();
            let l = losses::adain_losses(&enc.encoder, &dec.decoder, &c, &s, &cfg, None).total(1.0, 10.0);
            adam.zero_grad();
            l.backward();
            adam.step(1e-4);
            let _ = l.double_value(&[]);
            sync(device);
            if i >= 1 {
                times.push(t0.elapsed().as_secs_f64());
            }
        }
    } else {
        bail!("unknown case {case}");
    }
    Ok((median(times), peak_rss_mib()))
}

fn parse_json_line(out: &[u8]) -> Result<(f64, f64)> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("no result in: {text}"))?;
    let num = |key: &str| -> Result<f64> {
        let at =
            line.find(&format!("\"{key}\": ")).with_context(|| format!("{key} missing in {line}"))? + key.len() + 4;
        let end = line[at..].find([',', '}']).map(|e| at + e).unwrap_or(line.len());
        Ok(line[at..end].trim().parse()?)
    };
    Ok((num("median_s")?, num("peak_rss_mib")?))
}

pub fn run(a: Args) -> Result<ExitCode> {
    let device = a.device.device()?;
    if a.threads > 0 {
        tch::set_num_threads(a.threads as i32);
    }
    if let Some(case) = &a.worker {
        let dec = a.decoder_file.as_deref().context("--decoder-file")?;
        let (t, m) = worker(case, dec, a.iters, device)?;
        println!("{{\"median_s\": {t}, \"peak_rss_mib\": {m}}}");
        return Ok(ExitCode::SUCCESS);
    }
    let cases: Vec<String> =
        if a.cases.is_empty() { ALL.iter().map(|s| s.to_string()).collect() } else { a.cases.clone() };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let python = a.python.clone().unwrap_or_else(|| root.join(".venv/bin/python"));
    let reference = root.join("scripts/reference.py");
    let encoder = weights::resolve_encoder("vgg16")?;
    // The same (random) decoder weights for both sides.
    let tmp = tempfile::tempdir()?;
    let dec_file = tmp.path().join("decoder.safetensors");
    tch::manual_seed(0);
    let dec = weights::new_decoder(&VggConfig::vgg16(), Device::Cpu);
    weights::write_safetensors(&dec_file, &dec.vs.variables().into_iter().collect::<Vec<_>>())?;
    let threads =
        if a.threads > 0 { a.threads } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) };
    let dev = match device {
        Device::Cuda(_) => "cuda",
        _ => "cpu",
    };
    println!(
        "adain bench: device {dev}, {threads} thread(s), median over {} alternating rounds of the median of {} iterations; torch eager via {}",
        a.rounds,
        a.iters,
        python.display()
    );
    println!(
        "{:<26} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "case", "adain ms", "torch ms", "speedup", "adain peak MiB", "torch peak MiB"
    );
    let me = std::env::current_exe()?;
    for case in &cases {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..a.rounds.max(1) {
            let o = Command::new(&me)
                .args([
                    "bench",
                    "--worker",
                    case,
                    "--decoder-file",
                    dec_file.to_str().unwrap(),
                    "--iters",
                    &a.iters.to_string(),
                    "--threads",
                    &threads.to_string(),
                    "--device",
                    dev,
                ])
                .output()?;
            if !o.status.success() {
                bail!("adain worker {case}: {}", String::from_utf8_lossy(&o.stderr));
            }
            ours.push(parse_json_line(&o.stdout)?);
            let t = Command::new(&python)
                .arg(&reference)
                .args([
                    "bench",
                    "--case",
                    case.trim_end_matches("-bf16"),
                    "--encoder",
                    encoder.to_str().unwrap(),
                    "--decoder",
                    dec_file.to_str().unwrap(),
                    "--iters",
                    &a.iters.to_string(),
                    "--threads",
                    &threads.to_string(),
                    "--device",
                    dev,
                ])
                .args(case.ends_with("-bf16").then_some("--bf16"))
                .output()?;
            if !t.status.success() {
                bail!("torch reference {case}: {}", String::from_utf8_lossy(&t.stderr));
            }
            theirs.push(parse_json_line(&t.stdout)?);
        }
        let summarize =
            |v: &[(f64, f64)]| (median(v.iter().map(|x| x.0).collect()), v.iter().map(|x| x.1).fold(0.0, f64::max));
        let (ta, ma) = summarize(&ours);
        let (tt, mt) = summarize(&theirs);
        println!("{case:<26} {:>12.1} {:>12.1} {:>7.2}x {:>14.0} {:>14.0}", ta * 1e3, tt * 1e3, tt / ta, ma, mt);
        if case.starts_with("train") {
            println!("{:<26} {:>12.1} {:>12.1}   images/s (batch 8)", "", 8.0 / ta, 8.0 / tt);
        } else if case.contains("-cached") {
            println!("{:<26} {:>12.1} {:>12.1}   frames/s (style cached, as in video)", "", 1.0 / ta, 1.0 / tt);
        }
    }
    Ok(ExitCode::SUCCESS)
}
