//! Helpers shared by the integration tests: the venv's Python reference, committed assets,
//! the shared data folder, tensor comparison.
#![allow(dead_code)]

pub mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
#[cfg(feature = "torch")]
use tch::Tensor;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn asset(name: &str) -> PathBuf {
    root().join("assets").join(name)
}

/// `adain stylize --model lite --weights W` of the committed cat as Starry Night at 64 px,
/// written to `out` and asserted to succeed: the picture.
pub fn stylize_lite_64(weights: &Path, out: &Path) -> image::RgbImage {
    let o = adain(&[
        "stylize",
        "--model",
        "lite",
        "--weights",
        weights.to_str().unwrap(),
        "--content",
        asset("chelsea.jpg").to_str().unwrap(),
        "--style",
        asset("starry_night.jpg").to_str().unwrap(),
        "--content-size",
        "64",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    image::open(out).unwrap().to_rgb8()
}

/// Whether a test's prerequisite is there. Locally a missing one skips the test with a
/// message; in CI (`CI=true`), where every prerequisite is provided, it fails the test.
pub fn prerequisite(present: bool, what: &str) -> bool {
    if !present {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but {what} is missing");
        eprintln!("skipped: {what} is missing");
    }
    present
}

/// `../shared/data`, or `None` (the test then skips with a message; fails in CI).
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("data");
    let ok = p.join("content").is_dir() && p.join("style").is_dir();
    prerequisite(ok, "../shared/data (a fresh clone without the shared data)").then_some(p)
}

/// True when ffmpeg and ffprobe run (else skipped with a message; fails in CI).
pub fn have_ffmpeg() -> bool {
    let runs = |b: &str| Command::new(b).arg("-version").output().is_ok_and(|o| o.status.success());
    prerequisite(runs("ffmpeg") && runs("ffprobe"), "ffmpeg/ffprobe (scripts/setup.sh installs them as root)")
}

/// The venv's Python (created by scripts/setup.sh).
pub fn python() -> PathBuf {
    let p = root().join(".venv").join("bin").join("python");
    assert!(p.exists(), "{} is missing: run scripts/setup.sh first", p.display());
    p
}

/// Runs `scripts/reference.py` with the arguments; panics with its stderr on failure.
pub fn reference(args: &[&str]) {
    let out = Command::new(python())
        .arg(root().join("scripts").join("reference.py"))
        .args(args)
        .output()
        .expect("run the python reference");
    assert!(out.status.success(), "reference.py {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
}

/// Writes `inputs` to a safetensors file in `dir`, runs `reference.py ARGS --input IN --out OUT`
/// and returns what the reference wrote.
#[cfg(feature = "torch")]
pub fn reference_io(
    dir: &Path,
    args: &[&str],
    inputs: &[(&str, &Tensor)],
) -> std::collections::HashMap<String, Tensor> {
    let input = dir.join(format!("{}-in.safetensors", args[0]));
    let out = dir.join(format!("{}-out.safetensors", args[0]));
    write(&input, inputs);
    reference(&[args, &["--input", s(&input), "--out", s(&out)]].concat());
    read(&out)
}

/// The default VGG-16 weights (fetched on first use).
#[cfg(feature = "torch")]
pub fn vgg16() -> PathBuf {
    adain::weights::fetch::ensure(None, true).expect("fetch the vgg16 weights")
}

#[cfg(feature = "torch")]
pub fn write(path: &Path, tensors: &[(&str, &Tensor)]) {
    let owned: Vec<(String, Tensor)> = tensors.iter().map(|(n, t)| (n.to_string(), t.shallow_clone())).collect();
    adain::weights::write_safetensors(path, &owned).unwrap();
}

#[cfg(feature = "torch")]
pub fn read(path: &Path) -> std::collections::HashMap<String, Tensor> {
    adain::weights::read_state_dict(path).unwrap()
}

/// max |a − b| / max |b|.
#[cfg(feature = "torch")]
pub fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    let d = (a - b).abs().max().double_value(&[]);
    let m = b.abs().max().double_value(&[]).max(1e-12);
    d / m
}

/// ‖a − b‖₂ / ‖b‖₂.
#[cfg(feature = "torch")]
pub fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    (a - b).norm().double_value(&[]) / b.norm().double_value(&[]).max(1e-12)
}

/// A real photo as `[1, 3, H, W]`, shorter side `size`.
#[cfg(feature = "torch")]
pub fn photo(name: &str, size: u32) -> Tensor {
    let im = adain::data::image::open(&asset(name)).unwrap();
    adain::data::image::to_tensor(&adain::data::image::resize_shorter(&im, size))
}

/// The default encoder (float32, CPU).
#[cfg(feature = "torch")]
pub fn encoder() -> adain::weights::LoadedEncoder {
    adain::weights::load_encoder(&vgg16(), tch::Device::Cpu).unwrap()
}

/// A random (untrained) VGG-16 decoder whose weights depend only on `seed`.
#[cfg(feature = "torch")]
pub fn random_decoder(seed: u64) -> adain::weights::LoadedDecoder {
    adain::weights::new_decoder_seeded(&adain::model::VggConfig::vgg16(), tch::Device::Cpu, seed)
}

/// A random decoder written to `dir/decoder-{seed}.safetensors`: for tests of plumbing, not
/// beauty. Also makes sure the encoder weights are fetched.
#[cfg(feature = "torch")]
pub fn random_decoder_file(dir: &Path, seed: u64) -> PathBuf {
    vgg16();
    let p = dir.join(format!("decoder-{seed}.safetensors"));
    adain::weights::write_safetensors(&p, &random_decoder(seed).vs.variables().into_iter().collect::<Vec<_>>())
        .unwrap();
    p
}

/// `total` of `steps` training steps on one fixed batch: (first, last).
#[cfg(feature = "torch")]
pub fn train_on_one_batch(t: &mut adain::train::Trainer, content: &Tensor, style: &Tensor, steps: usize) -> (f64, f64) {
    let first = t.train_step(content, style).unwrap().0.total;
    let last = (1..steps).map(|_| t.train_step(content, style).unwrap().0.total).last().unwrap_or(first);
    (first, last)
}

/// Runs the adain binary (no default decoder, so a test always says which one it uses).
pub fn adain(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).env("ADAIN_DECODER", "/nonexistent").output().unwrap()
}

/// The stderr of a finished command.
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The shipped decoder, `models/decoder-vgg16.safetensors`.
pub fn shipped_decoder() -> PathBuf {
    root().join("models").join("decoder-vgg16.safetensors")
}

/// The adain binary built for the integration tests; `$ADAIN_TEST_BIN` names another (a
/// release build, for the measurements of `research/live-light.sh`).
pub fn bin() -> PathBuf {
    std::env::var_os("ADAIN_TEST_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_adain")))
}

/// A small tmpfs mounted for a disk-full or read-only test, unmounted when dropped. `None`
/// (the test skips with a message; fails in CI) where mounting is not allowed, i.e. when not
/// root.
pub struct Tmpfs(pub PathBuf, tempfile::TempDir);

impl Tmpfs {
    /// A tmpfs of `bytes`, read-only when `read_only` (which holds even for root).
    pub fn mount(bytes: u64, read_only: bool) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let opts = format!("size={bytes}{}", if read_only { ",ro" } else { "" });
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs", s(dir.path())])
            .output()
            .is_ok_and(|o| o.status.success());
        // Through `prerequisite`: skipped with a message locally, a failure in CI (root there).
        if !prerequisite(ok, &format!("mounting a tmpfs ({opts}; needs root)")) {
            return None;
        }
        Some(Self(dir.path().to_owned(), dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// A tiny dataset made of the committed assets: 4 photos as content, 4 as style, small.
pub fn tiny_data(dir: &Path) -> (PathBuf, PathBuf) {
    let (c, s) = (dir.join("content"), dir.join("style"));
    for d in [&c, &s] {
        std::fs::create_dir_all(d).unwrap();
        for name in ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "starry_night.jpg"] {
            let im = adain::data::image::resize_shorter(&adain::data::image::open(&asset(name)).unwrap(), 48);
            adain::data::image::save(&im, &d.join(name.replace(".jpg", ".png"))).unwrap();
        }
    }
    (c, s)
}

/// `adain train --run-dir RUN --config CFG --quiet --device cpu EXTRA`.
pub fn train_cli(run: &Path, cfg: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(["train", "--run-dir", s(run), "--config", s(cfg), "--quiet", "--device", "cpu"]).args(extra);
    c
}

#[cfg(feature = "torch")]
pub fn tiny_config(dir: &Path, stage: adain::train::Stage, steps: u64) -> adain::train::TrainConfig {
    let (content_dir, style_dir) = tiny_data(dir);
    adain::train::TrainConfig {
        stage,
        content_dir,
        style_dir,
        encoder: vgg16().to_string_lossy().into_owned(),
        steps,
        batch_size: 2,
        load_size: 40,
        crop_size: 32,
        val_count: 1,
        val_every: 2,
        image_every: 2,
        checkpoint_every: 2,
        log_every: 1,
        threads: 0,
        ..Default::default()
    }
}

/// The steps a run's `metrics.csv` logged, in order.
pub fn logged_steps(run: &Path) -> Vec<String> {
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    csv.lines().skip(1).map(|l| l.split(',').next().unwrap().to_owned()).collect()
}

/// A decoder file's tensors, sorted by name.
#[cfg(feature = "torch")]
pub fn decoder_tensors(path: &Path) -> Vec<(String, Tensor)> {
    let mut v: Vec<_> = read(path).into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
