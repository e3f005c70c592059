//! The lite network's weight files: detection, loading for inference or training, a fresh
//! network.

use super::files::{StateDict, copy_into, copy_into_growing, read_state_dict};
use crate::error::{Error, Result};
use crate::model::Family;
use crate::model::lite::{LiteConfig, LiteNet};
use std::path::Path;
use tch::{Device, Tensor, nn};

/// Which family a weights path belongs to: a directory is MicroAST's release folder (its four
/// `.pth.tar` files, checked when loaded); lite networks have `content_encoder.*` tensors;
/// anything else is taken for a VGG decoder (and checked as one when loaded).
pub fn detect_family(path: &Path) -> Result<Family> {
    if path.is_dir() {
        return Ok(Family::MicroAst);
    }
    let sd = read_state_dict(path)?;
    Ok(if sd.contains_key(LITE_KEY) { Family::Lite } else { Family::Vgg })
}

/// A tensor every lite weights file has.
const LITE_KEY: &str = "content_encoder.conv_in.weight";

/// The lite network with its variables.
pub struct LoadedLite {
    pub vs: nn::VarStore,
    pub net: LiteNet,
}

/// Loads lite weights (the PyTorch state dict of `scripts/reference.py`'s `LiteNet`) for
/// inference (frozen).
pub fn load_lite(path: &Path, device: Device) -> Result<LoadedLite> {
    let mut lite = read_lite(path, device)?;
    lite.vs.freeze();
    Ok(lite)
}

/// Loads lite weights as trainable variables (float32). A file of the reconstruction stage,
/// which has no `style_encoder.*` tensors, gives the style encoder a copy of the content
/// encoder (where the AdaIN stage starts).
pub fn read_lite(path: &Path, device: Device) -> Result<LoadedLite> {
    let sd = read_lite_state(path)?;
    let cfg = LiteConfig::with_blocks_of(sd.keys().map(String::as_str));
    let vs = nn::VarStore::new(device);
    let net = LiteNet::new(&vs.root(), &cfg);
    copy_into(&vs, &sd, path)?;
    Ok(LoadedLite { vs, net })
}

impl LoadedLite {
    /// The weights as a plain [`Store`](crate::model::light::Store) of float32 (`path`: where
    /// they came from, for errors): what the lite network's ONNX graphs are written from.
    pub fn to_store(&self, path: &Path) -> Result<crate::model::light::Store> {
        let mut tensors = Vec::new();
        for (name, t) in self.vs.variables() {
            let t = t.to_device(Device::Cpu).to_kind(tch::Kind::Float).contiguous();
            let shape = t.size().iter().map(|d| *d as usize).collect();
            let values =
                Vec::<f32>::try_from(t.flatten(0, -1)).map_err(|e| Error::weights(path, format!("{name}: {e}")))?;
            tensors.push((name, shape, values));
        }
        Ok(crate::model::light::Store::with_origin(tensors, path.to_owned()))
    }
}

/// A lite weights file's tensors, the style encoder filled in from the content encoder when
/// the file has none.
fn read_lite_state(path: &Path) -> Result<StateDict> {
    let mut sd = read_state_dict(path)?;
    if !sd.contains_key(LITE_KEY) {
        return Err(Error::weights(path, format!("not lite network weights (no {LITE_KEY})")));
    }
    if !sd.keys().any(|k| k.starts_with("style_encoder.")) {
        let copies: Vec<(String, Tensor)> = sd
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("content_encoder.").map(|r| (format!("style_encoder.{r}"), v.copy())))
            .collect();
        sd.extend(copies);
    }
    Ok(sd)
}

/// Copies a lite weights file into `net`, which may have more extra decoder blocks than the
/// file (they keep their fresh start, the identity: the network grows) but not fewer.
pub(crate) fn grow_from(net: &LoadedLite, path: &Path) -> Result<()> {
    let sd = read_lite_state(path)?;
    let file = LiteConfig::with_blocks_of(sd.keys().map(String::as_str));
    let ours = net.net.decoder.extra_blocks();
    if file.extra_blocks > ours.0 || file.extra_blocks_half > ours.1 {
        return Err(Error::weights(
            path,
            format!(
                "has {} extra decoder blocks at 1/4 resolution and {} at 1/2; the network being trained has {} and {} (lite_extra_blocks, lite_extra_blocks_half)",
                file.extra_blocks, file.extra_blocks_half, ours.0, ours.1
            ),
        ));
    }
    copy_into_growing(&net.vs, &sd, path, &LiteConfig::is_extra)
}

/// A freshly initialised lite network (trainable; the seed fixes the initial weights; the
/// modulators start at zero).
pub(crate) fn new_lite_seeded(device: Device, seed: u64, cfg: &LiteConfig) -> LoadedLite {
    let _lock = super::INIT.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed as i64);
    let vs = nn::VarStore::new(device);
    let net = LiteNet::new(&vs.root(), cfg);
    LoadedLite { vs, net }
}
