//! `adain bench`: adain against PyTorch on the same weights, threads and shapes, in one run.
//! PyTorch runs in each of its configurations (`scripts/reference.py bench`): eager NCHW as
//! pytorch-AdaIN runs it, channels-last, and `torch.compile` (channels-last; compile time
//! reported apart); bfloat16 cases under `torch.autocast`. Every case and configuration runs
//! in fresh processes, alternating, so that peak memory (max RSS) belongs to that run alone
//! and a machine whose speed drifts affects all sides alike; the table compares adain with
//! the fastest PyTorch configuration and with eager. Every side runs with the same allocator
//! policy (adain sets it in-process, `adain::allocator`; PyTorch and onnxruntime get it through
//! glibc's environment): without it PyTorch re-faults its largest buffers every iteration, and
//! a ratio against that would flatter adain (at 512² by 10–20 % in float32).

use super::args::DeviceArgs;
use adain::infer::{Family, Network};
use adain::model::lite::{LiteConfig, LiteNet};
use adain::model::losses::{StyleLossConfig, TapScales};
use adain::model::{Precision, StyleTransfer, VggConfig};
use adain::train::{TrainConfig, Trainer};
use adain::weights;
use adain::weights::lite::load_lite;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;
use tch::{Device, Kind, Tensor};

/// What a case measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseKind {
    /// Stylize one `size²` image; `cached`: the style statistics are computed beforehand.
    Stylize { size: i64, cached: bool },
    /// One AdaIN training step on `batch` pairs of `size²`.
    Train { size: i64, batch: i64 },
}

/// A benchmark case, named as the reference script names it: `stylize-512`,
/// `stylize-512-cached`, `train-256-b8`, each optionally with `-bf16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub kind: CaseKind,
    pub bf16: bool,
}

impl std::str::FromStr for Case {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected stylize-SIZE[-cached][-bf16] or train-SIZE-bBATCH[-bf16]");
        let (rest, bf16) = match s.strip_suffix("-bf16") {
            Some(r) => (r, true),
            None => (s, false),
        };
        let parts: Vec<&str> = rest.split('-').collect();
        let num = |x: &str| x.parse::<i64>().ok().filter(|n| *n >= 8);
        let kind = match parts.as_slice() {
            ["stylize", size] => CaseKind::Stylize { size: num(size).ok_or_else(bad)?, cached: false },
            ["stylize", size, "cached"] => CaseKind::Stylize { size: num(size).ok_or_else(bad)?, cached: true },
            ["train", size, b] => CaseKind::Train {
                size: num(size).ok_or_else(bad)?,
                batch: b.strip_prefix('b').and_then(|b| b.parse().ok()).filter(|b| *b > 0).ok_or_else(bad)?,
            },
            _ => return Err(bad()),
        };
        Ok(Self { kind, bf16 })
    }
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            CaseKind::Stylize { size, cached } => write!(f, "stylize-{size}{}", if cached { "-cached" } else { "" })?,
            CaseKind::Train { size, batch } => write!(f, "train-{size}-b{batch}")?,
        }
        if self.bf16 { write!(f, "-bf16") } else { Ok(()) }
    }
}

/// The default cases.
const ALL: [&str; 12] = [
    "stylize-256",
    "stylize-512",
    "stylize-1024",
    "stylize-256-cached",
    "stylize-512-cached",
    "stylize-1024-cached",
    "stylize-256-cached-bf16",
    "stylize-512-cached-bf16",
    "stylize-1024-cached-bf16",
    "stylize-512-bf16",
    "train-256-b8",
    "train-256-b8-bf16",
];

/// The default cases of the lite network (2880² has the pixels of 3840×2160).
const LITE: [&str; 10] = [
    "stylize-256",
    "stylize-512",
    "stylize-256-cached",
    "stylize-512-cached",
    "stylize-1024-cached",
    "stylize-2880-cached",
    "stylize-256-cached-bf16",
    "stylize-512-cached-bf16",
    "stylize-1024-cached-bf16",
    "stylize-2880-cached-bf16",
];

/// PyTorch's configurations.
const TORCH_CONFIGS: [&str; 3] = ["eager", "channels-last", "compile"];

#[derive(clap::Args)]
pub struct Args {
    /// Cases to run (default: all): stylize-SIZE (style encoding included), stylize-SIZE-cached
    /// (style statistics precomputed), train-SIZE-bBATCH (one training step), each with an
    /// optional -bf16 (adain's bf16 precision, torch's autocast; training: mixed precision).
    #[arg(long, num_args = 1..)]
    cases: Vec<Case>,
    /// PyTorch configurations to run: eager, channels-last, compile.
    #[arg(long, num_args = 1.., default_values_t = TORCH_CONFIGS.map(String::from))]
    torch: Vec<String>,
    /// Threads for both sides (0 = all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Untimed iterations before the timed ones, per process.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed iterations per process (after warm-up).
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Alternating rounds (adain, then each torch configuration) per case; the reported time
    /// is the median over rounds, which evens out a machine whose speed drifts.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The PyTorch side: `scripts/reference.py` of an adain checkout (default:
    /// $ADAIN_REFERENCE, else the checkout this binary was built in or the current directory
    /// is). It runs the same networks on the same weights in PyTorch, and the ONNX models in
    /// onnxruntime.
    #[arg(long, value_name = "FILE")]
    reference: Option<PathBuf>,
    /// Python with torch (and onnxruntime) for the reference side (default: the checkout's
    /// .venv/bin/python, made by scripts/setup.sh).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Network to time: vgg (VGG-16 encoder and decoder) or lite (random weights of the same
    /// shapes on both sides; a train case is its training step, models/lite-train.toml's recipe).
    #[arg(long, default_value = "vgg")]
    model: Family,
    /// Also time ONNX models in onnxruntime, NAME=FILE (repeatable; e.g. MicroAST's graph from
    /// `scripts/reference.py microast-onnx`): inputs content, style and alpha (style encoded
    /// every run), or content only (a fixed-style graph); float32; each round one process.
    #[arg(long, value_name = "NAME=FILE")]
    onnx: Vec<String>,
    /// Also time adain with the direct convolution instead of Winograd (a third side in each
    /// round; float32, and bfloat16 where the CPU has the bfloat16 Winograd kernel).
    #[arg(long)]
    direct: bool,
    /// Internal: run one case in this process and print its JSON line.
    #[arg(long, hide = true)]
    worker: Option<Case>,
    #[arg(long, hide = true)]
    decoder_file: Option<PathBuf>,
    #[arg(long, hide = true)]
    lite_file: Option<PathBuf>,
    #[command(flatten)]
    device: DeviceArgs,
}

/// Peak memory of this process, MiB (NaN where it cannot be read).
fn peak_rss_mib() -> f64 {
    adain::io::peak_rss_mib().unwrap_or(f64::NAN)
}

/// Median (NaN for no values).
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Times `step` `warmup + iters` times; returns the timed durations.
fn time_steps(device: Device, warmup: usize, iters: usize, mut step: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    let mut times = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        sync(device);
        let t0 = Instant::now();
        step()?;
        sync(device);
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// Runs one case here; returns (median seconds, peak RSS MiB).
fn worker(case: Case, decoder_file: &Path, warmup: usize, iters: usize, device: Device) -> Result<(f64, f64)> {
    let precision = if case.bf16 { Precision::Bf16 } else { Precision::F32 };
    tch::manual_seed(0);
    let times = match case.kind {
        CaseKind::Stylize { size, cached } => {
            let mut enc = weights::load_encoder(&super::args::encoder_path("vgg16")?, device)?;
            let mut dec = weights::load_decoder(decoder_file, enc.encoder.config(), device)?;
            precision.apply(&mut enc.vs);
            precision.apply(&mut dec.vs);
            let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
            let c = Tensor::rand([1, 3, size, size], (Kind::Float, device));
            let s = Tensor::rand([1, 3, size, size], (Kind::Float, device));
            let _g = tch::no_grad_guard();
            let stats = net.style_stats(&s);
            time_steps(device, warmup, iters, || {
                let st = if cached { stats.clone() } else { net.style_stats(&s) };
                let _ = net.stylize(&c, &st, 1.0).sum(Kind::Float).double_value(&[]);
                Ok(())
            })?
        }
        CaseKind::Train { size, batch } => {
            // The library's own training step (`adain train`'s): Adam on the decoder's float32
            // master weights, the frozen encoder in the case's precision (mixed precision).
            let cfg = TrainConfig {
                init_decoder: Some(decoder_file.to_owned()),
                precision,
                batch_size: batch as usize,
                crop_size: size as u32,
                encoder: super::args::encoder_path("vgg16")?.to_string_lossy().into_owned(),
                ..TrainConfig::default()
            };
            let run = tempfile::tempdir().context("a scratch run directory")?;
            let mut trainer = Trainer::new(cfg, run.path(), device, false)?;
            let c = Tensor::rand([batch, 3, size, size], (Kind::Float, device));
            let s = Tensor::rand([batch, 3, size, size], (Kind::Float, device));
            time_steps(device, warmup, iters, || {
                trainer.train_step(&c, &s)?;
                Ok(())
            })?
        }
    };
    Ok((median(times), peak_rss_mib()))
}

/// Runs one case of the lite network here; returns (median seconds, peak RSS MiB). A train
/// case is `adain train`'s step with the recipe of models/lite-train.toml (λ 30, pixel weight
/// 4, identity 300 + 10 perceptual, the tap scales measured on the batch).
fn lite_worker(case: Case, file: &Path, warmup: usize, iters: usize, device: Device) -> Result<(f64, f64)> {
    let precision = if case.bf16 { Precision::Bf16 } else { Precision::F32 };
    let (size, cached) = match case.kind {
        CaseKind::Stylize { size, cached } => (size, cached),
        CaseKind::Train { size, batch } => {
            return lite_train_worker(file, size, batch, precision, warmup, iters, device);
        }
    };
    let net = Network::lite(load_lite(file, device)?, precision);
    tch::manual_seed(0);
    let c = Tensor::rand([1, 3, size, size], (Kind::Float, device));
    let s = Tensor::rand([1, 3, size, size], (Kind::Float, device));
    let _g = tch::no_grad_guard();
    let code = net.style_code(&s)?;
    let times = time_steps(device, warmup, iters, || {
        let st = if cached { code.clone() } else { net.style_code(&s)? };
        let f = net.features(&net.pad(&c)?)?;
        let out = net.decode(&net.target(&f, &st, 1.0)?, &st, 1.0)?;
        let _ = out.sum(Kind::Float).double_value(&[]);
        Ok(())
    })?;
    Ok((median(times), peak_rss_mib()))
}

/// The lite network's training step, timed (see [`lite_worker`]).
fn lite_train_worker(
    file: &Path,
    size: i64,
    batch: i64,
    precision: Precision,
    warmup: usize,
    iters: usize,
    device: Device,
) -> Result<(f64, f64)> {
    let cfg = TrainConfig {
        model: Family::Lite,
        init_decoder: Some(file.to_owned()),
        precision,
        batch_size: batch as usize,
        crop_size: size as u32,
        style_weight: 30.0,
        identity_weight: 300.0,
        identity_perceptual_weight: 10.0,
        style_loss: StyleLossConfig { normalize: true, pixel_weight: 4.0, ..StyleLossConfig::default() },
        encoder: super::args::encoder_path("vgg16")?.to_string_lossy().into_owned(),
        ..TrainConfig::default()
    };
    let run = tempfile::tempdir().context("a scratch run directory")?;
    let mut trainer = Trainer::new(cfg, run.path(), device, false)?;
    tch::manual_seed(0);
    let c = Tensor::rand([batch, 3, size, size], (Kind::Float, device));
    let s = Tensor::rand([batch, 3, size, size], (Kind::Float, device));
    let enc = weights::load_encoder(&super::args::encoder_path("vgg16")?, device)?;
    trainer.scales = Some(TapScales::measure(&enc.encoder, &c));
    drop(enc);
    let times = time_steps(device, warmup, iters, || {
        trainer.train_step(&c, &s)?;
        Ok(())
    })?;
    Ok((median(times), peak_rss_mib()))
}

/// One measurement: median seconds, peak MiB, compile seconds (torch.compile only).
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    peak_mib: f64,
    compile_s: Option<f64>,
}

fn parse_json_line(out: &[u8]) -> Result<Run> {
    let text = String::from_utf8_lossy(out);
    let line = text.lines().rev().find(|l| l.starts_with('{')).with_context(|| format!("no result in: {text}"))?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let num = |k: &str| v[k].as_f64().with_context(|| format!("{k} missing in {line}"));
    Ok(Run { seconds: num("median_s")?, peak_mib: num("peak_rss_mib")?, compile_s: v["compile_s"].as_f64() })
}

/// The summary of several rounds: median time, largest peak, median compile time.
fn summarize(runs: &[Run]) -> Run {
    let compile: Vec<f64> = runs.iter().filter_map(|r| r.compile_s).collect();
    Run {
        seconds: median(runs.iter().map(|r| r.seconds).collect()),
        peak_mib: runs.iter().map(|r| r.peak_mib).fold(0.0, f64::max),
        compile_s: (!compile.is_empty()).then(|| median(compile)),
    }
}

pub fn run(a: Args) -> Result<ExitCode> {
    let device = a.device.device()?;
    if a.threads > 0 {
        tch::set_num_threads(a.threads as i32);
    }
    if let Some(case) = a.worker {
        let (t, m) = match &a.lite_file {
            Some(lite) => lite_worker(case, lite, a.warmup, a.iters.max(1), device)?,
            None => {
                worker(case, a.decoder_file.as_deref().context("--decoder-file")?, a.warmup, a.iters.max(1), device)?
            }
        };
        println!("{}", serde_json::json!({ "median_s": t, "peak_rss_mib": m }));
        return Ok(ExitCode::SUCCESS);
    }
    if a.iters == 0 {
        bail!("--iters must be at least 1");
    }
    for t in &a.torch {
        if !TORCH_CONFIGS.contains(&t.as_str()) {
            bail!("--torch {t}: expected one of {TORCH_CONFIGS:?}");
        }
    }
    let cases: Vec<Case> = match (a.cases.is_empty(), a.model) {
        (true, Family::Lite) => LITE.iter().map(|s| s.parse().expect("valid built-in case")).collect(),
        (true, _) => ALL.iter().map(|s| s.parse().expect("valid built-in case")).collect(),
        (false, _) => a.cases.clone(),
    };
    match a.model {
        Family::Vgg | Family::Lite => {}
        f => {
            bail!("--model {f}: adain bench times vgg and lite (MicroAST runs in onnxruntime: research/bench-lite.sh)")
        }
    }
    let onnx: Vec<(String, PathBuf)> = a
        .onnx
        .iter()
        .map(|s| {
            let (n, f) = s.split_once('=').with_context(|| format!("--onnx {s:?}: expected NAME=FILE"))?;
            if !Path::new(f).is_file() {
                bail!("--onnx {s:?}: {f} is not a file");
            }
            Ok((n.to_string(), PathBuf::from(f)))
        })
        .collect::<Result<_>>()?;
    let tmp = tempfile::tempdir()?;
    let h = Harness::new(&a, device, tmp.path())?;
    println!(
        "adain bench: {} network, device {}, {} thread(s); per process {} warm-up + {} timed iterations (median); median over {} alternating rounds; torch via {} ({}); every side with adain's allocator policy",
        a.model,
        h.dev,
        h.threads,
        a.warmup,
        a.iters,
        a.rounds,
        h.python.display(),
        a.torch.join(", ")
    );
    println!(
        "{:<26} {:>9} {:>9} {:>14} {:>8} {:>9} {:>8} {:>10} {:>10}",
        "case", "adain ms", "best ms", "best config", "×best", "eager ms", "×eager", "adain MiB", "best MiB"
    );
    for case in &cases {
        let name = case.to_string();
        let mut ours = Vec::new();
        let mut direct = Vec::new();
        let mut theirs: Vec<Vec<Run>> = vec![Vec::new(); a.torch.len()];
        let mut onnx_runs: Vec<Vec<Run>> = vec![Vec::new(); onnx.len()];
        // Alternating: one adain process (and one with the direct convolution), then one per
        // torch configuration, each round.
        for _ in 0..a.rounds.max(1) {
            ours.push(h.adain(&name, true)?);
            if a.direct {
                direct.push(h.adain(&name, false)?);
            }
            for (k, config) in a.torch.iter().enumerate() {
                theirs[k].push(h.torch(&name, config)?);
            }
            for (k, (_, file)) in onnx.iter().enumerate() {
                onnx_runs[k].push(h.onnx(&name, file)?);
            }
        }
        let theirs: Vec<Run> = theirs.iter().map(|r| summarize(r)).collect();
        let ours = summarize(&ours);
        report(case, &ours, &a.torch, &theirs);
        for ((label, _), runs) in onnx.iter().zip(&onnx_runs) {
            let r = summarize(runs);
            println!(
                "{:<26}   onnxruntime {label}: {:.1} ms, {:.0} MiB (adain {:.2}x faster)",
                "",
                r.seconds * 1e3,
                r.peak_mib,
                r.seconds / ours.seconds
            );
        }
        if a.direct {
            let d = summarize(&direct);
            println!(
                "{:<26}   adain with the direct convolution: {:.1} ms, {:.0} MiB (Winograd {:.2}x faster)",
                "",
                d.seconds * 1e3,
                d.peak_mib,
                d.seconds / ours.seconds
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the coordinating process needs to start the timed processes of both sides.
struct Harness {
    me: PathBuf,
    python: PathBuf,
    reference: PathBuf,
    encoder: PathBuf,
    dec_file: PathBuf,
    /// Random lite weights (both sides), when timing the lite network.
    lite_file: Option<PathBuf>,
    dev: &'static str,
    threads: usize,
    iters: String,
    warmup: String,
}

/// `scripts/reference.py` of the checkout this binary was built in (`<checkout>/target/<profile>/
/// adain`), or of the current directory.
fn checkout_reference() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let built_in = exe.ancestors().find(|d| d.file_name().is_some_and(|n| n == "target")).and_then(Path::parent);
    built_in
        .map(Path::to_path_buf)
        .into_iter()
        .chain(std::env::current_dir().ok())
        .map(|d| d.join("scripts/reference.py"))
        .find(|p| p.is_file())
}

impl Harness {
    fn new(a: &Args, device: Device, tmp: &Path) -> Result<Self> {
        let reference = a
            .reference
            .clone()
            .or_else(|| std::env::var_os("ADAIN_REFERENCE").map(PathBuf::from))
            .or_else(checkout_reference)
            .context(
                "adain bench times PyTorch running scripts/reference.py of an adain checkout: \
                 give --reference path/to/scripts/reference.py (or set ADAIN_REFERENCE)",
            )?;
        if !reference.is_file() {
            bail!("--reference {}: no such file", reference.display());
        }
        // The checkout's venv: <checkout>/scripts/reference.py → <checkout>/.venv/bin/python.
        let venv = reference.parent().and_then(Path::parent).map(|r| r.join(".venv/bin/python"));
        let python = match (&a.python, venv) {
            (Some(p), _) => p.clone(),
            (None, Some(v)) if v.is_file() => v,
            _ => bail!(
                "no Python for the reference side: give --python (with torch installed), or run scripts/setup.sh in the checkout"
            ),
        };
        // The same (random) decoder weights for both sides.
        let dec_file = tmp.join("decoder.safetensors");
        tch::manual_seed(0);
        let dec = weights::new_decoder(&VggConfig::vgg16(), Device::Cpu);
        weights::write_safetensors(&dec_file, &dec.vs.variables().into_iter().collect::<Vec<_>>())?;
        let lite_file = match a.model {
            Family::Lite => {
                let f = tmp.join("lite.safetensors");
                let vs = tch::nn::VarStore::new(Device::Cpu);
                let _ = LiteNet::new(&vs.root(), &LiteConfig::default());
                weights::write_safetensors(&f, &vs.variables().into_iter().collect::<Vec<_>>())?;
                Some(f)
            }
            _ => None,
        };
        let threads =
            if a.threads > 0 { a.threads } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) };
        Ok(Self {
            me: std::env::current_exe()?,
            python,
            reference,
            encoder: super::args::encoder_path("vgg16")?,
            dec_file,
            lite_file,
            dev: if matches!(device, Device::Cuda(_)) { "cuda" } else { "cpu" },
            threads,
            iters: a.iters.to_string(),
            warmup: a.warmup.to_string(),
        })
    }

    /// The options both sides take: iterations, warm-up, threads, device.
    fn common(&self) -> Vec<String> {
        let th = self.threads.to_string();
        ["--iters", &self.iters, "--warmup", &self.warmup, "--threads", &th, "--device", self.dev]
            .map(String::from)
            .to_vec()
    }

    /// One fresh adain worker process for `case`, with Winograd convolutions or the direct
    /// ones (`ADAIN_WINOGRAD=0`).
    fn adain(&self, case: &str, winograd: bool) -> Result<Run> {
        let weights = match &self.lite_file {
            Some(f) => ["--lite-file", f.to_str().unwrap()],
            None => ["--decoder-file", self.dec_file.to_str().unwrap()],
        };
        let o = Command::new(&self.me)
            .args(["bench", "--worker", case])
            .args(weights)
            .args(self.common())
            .env("ADAIN_WINOGRAD", if winograd { "1" } else { "0" })
            .output()?;
        if !o.status.success() {
            bail!("adain worker {case}: {}", String::from_utf8_lossy(&o.stderr));
        }
        parse_json_line(&o.stdout)
    }

    /// One fresh PyTorch process (`scripts/reference.py bench`) for `case` in `config`.
    fn torch(&self, case: &str, config: &str) -> Result<Run> {
        let t = Command::new(&self.python)
            .arg(&self.reference)
            .args(["bench", "--case", case, "--config", config, "--encoder", self.encoder.to_str().unwrap()])
            .args(["--decoder", self.dec_file.to_str().unwrap()])
            .args(self.lite_file.iter().flat_map(|f| ["--lite".to_string(), f.display().to_string()]))
            .args(self.common())
            .envs(adain::allocator::environment())
            .output()?;
        if !t.status.success() {
            bail!("torch reference {case} ({config}): {}", String::from_utf8_lossy(&t.stderr));
        }
        parse_json_line(&t.stdout)
    }
}

impl Harness {
    /// One fresh onnxruntime process (`scripts/reference.py bench-onnx`) for `case`.
    fn onnx(&self, case: &str, model: &Path) -> Result<Run> {
        let t = Command::new(&self.python)
            .arg(&self.reference)
            .args(["bench-onnx", "--case", case, "--model", model.to_str().unwrap_or_default()])
            .args(["--iters", &self.iters, "--warmup", &self.warmup, "--threads", &self.threads.to_string()])
            .envs(adain::allocator::environment())
            .output()?;
        if !t.status.success() {
            bail!("onnxruntime {case} ({}): {}", model.display(), String::from_utf8_lossy(&t.stderr));
        }
        parse_json_line(&t.stdout)
    }
}

/// Prints one case: adain against the fastest torch configuration and against eager, then
/// every configuration, then throughput.
fn report(case: &Case, ours: &Run, configs: &[String], theirs: &[Run]) {
    let name = case.to_string();
    let (best_k, best) =
        theirs.iter().enumerate().min_by(|a, b| a.1.seconds.total_cmp(&b.1.seconds)).expect("a torch config");
    let eager = configs.iter().position(|c| c == "eager").map(|k| theirs[k].seconds).unwrap_or(f64::NAN);
    println!(
        "{name:<26} {:>9.1} {:>9.1} {:>14} {:>7.2}x {:>9.1} {:>7.2}x {:>10.0} {:>10.0}",
        ours.seconds * 1e3,
        best.seconds * 1e3,
        configs[best_k],
        best.seconds / ours.seconds,
        eager * 1e3,
        eager / ours.seconds,
        ours.peak_mib,
        best.peak_mib
    );
    for (config, r) in configs.iter().zip(theirs) {
        let compile = r.compile_s.map(|c| format!(", compiled in {c:.1} s (not timed)")).unwrap_or_default();
        println!("{:<26}   torch {config}: {:.1} ms, {:.0} MiB{compile}", "", r.seconds * 1e3, r.peak_mib);
    }
    match case.kind {
        CaseKind::Train { batch, .. } => println!(
            "{:<26}   images/s: adain {:.2}, torch best {:.2}",
            "",
            batch as f64 / ours.seconds,
            batch as f64 / best.seconds
        ),
        CaseKind::Stylize { cached: true, .. } => println!(
            "{:<26}   frames/s (style cached, as video and live mode): adain {:.1}, torch best {:.1}",
            "",
            1.0 / ours.seconds,
            1.0 / best.seconds
        ),
        CaseKind::Stylize { cached: false, .. } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_round_trip() {
        for name in ALL {
            assert_eq!(name.parse::<Case>().unwrap().to_string(), name);
        }
        assert!(
            "stylize-0".parse::<Case>().is_err()
                && "train-256".parse::<Case>().is_err()
                && "blur-3".parse::<Case>().is_err()
        );
        assert!(median(vec![]).is_nan());
    }
}
