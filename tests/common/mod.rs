//! Helpers shared by the integration tests: the venv's Python reference, committed assets,
//! the shared data folder, tensor comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use tch::Tensor;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn asset(name: &str) -> PathBuf {
    root().join("assets").join(name)
}

/// `../shared/data`, or `None` (the test then skips with a message).
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("..").join("shared").join("data");
    if p.join("content").is_dir() && p.join("style").is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: ../shared/data is not present (a fresh clone without the shared data)");
        None
    }
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

/// The default VGG-16 weights (fetched on first use).
pub fn vgg16() -> PathBuf {
    adain::weights::fetch::ensure(None, true).expect("fetch the vgg16 weights")
}

pub fn write(path: &Path, tensors: &[(&str, &Tensor)]) {
    let owned: Vec<(String, Tensor)> = tensors.iter().map(|(n, t)| (n.to_string(), t.shallow_clone())).collect();
    adain::weights::write_safetensors(path, &owned).unwrap();
}

pub fn read(path: &Path) -> std::collections::HashMap<String, Tensor> {
    adain::weights::read_state_dict(path).unwrap()
}

/// max |a − b| / max |b|.
pub fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size(), "shapes differ");
    let d = (a - b).abs().max().double_value(&[]);
    let m = b.abs().max().double_value(&[]).max(1e-12);
    d / m
}

/// A real photo as `[1, 3, H, W]`, shorter side `size`.
pub fn photo(name: &str, size: u32) -> Tensor {
    let im = adain::data::image::open(&asset(name)).unwrap();
    adain::data::image::to_tensor(&adain::data::image::resize_shorter(&im, size))
}

/// The adain binary built for the integration tests.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_adain"))
}
