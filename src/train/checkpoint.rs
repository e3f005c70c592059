//! Checkpoints: `run/checkpoints/step-00001000/` holding the trained weights
//! (`decoder.safetensors` or `lite.safetensors`), `optimizer.safetensors` and `state.toml`. Each is written into a temporary directory that is
//! renamed into place when complete, so a run killed mid-write leaves the previous checkpoint
//! intact and never a half-written one. Only the newest `keep_last` are kept.

use crate::error::{Error, Result};
use crate::weights;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Scalar training state saved beside the tensors.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// Steps completed.
    pub step: u64,
    /// Adam's update count.
    pub(crate) adam_t: u64,
    /// Loss of the last step, for information.
    pub(crate) loss: f64,
    /// Plateau-schedule state.
    #[serde(default)]
    pub(crate) plateau: super::schedule::Plateau,
    /// Adam's update count at which a parameter added to a resumed run joined, by name
    /// ([`super::optim::Adam::starts`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) adam_start: std::collections::BTreeMap<String, u64>,
}

/// Directory of the checkpoints of a run.
pub fn dir(run: &Path) -> PathBuf {
    run.join("checkpoints")
}

/// Writes a checkpoint atomically (the weights as `weights_file`), then prunes old ones.
pub fn save(
    run: &Path,
    state: &State,
    weights_file: &str,
    net: &[(String, Tensor)],
    optim: &[(String, Tensor)],
    keep_last: usize,
) -> Result<PathBuf> {
    let root = dir(run);
    std::fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
    // Left-overs of a run killed while writing a checkpoint.
    for e in std::fs::read_dir(&root).map_err(|e| Error::io(&root, e))?.flatten() {
        if e.file_name().to_string_lossy().starts_with(".partial-") {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let tmp = tempfile::Builder::new().prefix(".partial-").tempdir_in(&root).map_err(|e| Error::io(&root, e))?;
    weights::write_safetensors(&tmp.path().join(weights_file), net)?;
    weights::write_safetensors(&tmp.path().join("optimizer.safetensors"), optim)?;
    let st = tmp.path().join("state.toml");
    std::fs::write(&st, toml::to_string(state).expect("state serialises")).map_err(|e| Error::io(&st, e))?;
    let final_dir = root.join(format!("step-{:08}", state.step));
    if final_dir.exists() {
        std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io(&final_dir, e))?;
    }
    let tmp_path = tmp.keep();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp_path, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io(&tmp_path, e))?;
    }
    std::fs::rename(&tmp_path, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    for old in list(run)?.into_iter().rev().skip(keep_last.max(1)) {
        let _ = std::fs::remove_dir_all(old);
    }
    Ok(final_dir)
}

/// Complete checkpoints of a run, oldest first.
pub fn list(run: &Path) -> Result<Vec<PathBuf>> {
    let root = dir(run);
    if !root.exists() {
        return Ok(vec![]);
    }
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .map_err(|e| Error::io(&root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("step-"))
                && p.join("state.toml").exists()
        })
        .collect();
    v.sort();
    Ok(v)
}

/// Reads a checkpoint's scalar state.
pub fn read_state(ckpt: &Path) -> Result<State> {
    let p = ckpt.join("state.toml");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    toml::from_str(&text).map_err(|e| Error::Config { origin: p.display().to_string(), msg: e.to_string() })
}
