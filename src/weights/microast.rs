//! MicroAST's released weights (a peer, never shipped): its four state dicts read into our
//! implementation of its architecture.

use super::files::{StateDict, copy_into, read_state_dict};
use crate::error::{Error, Result};
use crate::model::microast::{self, MicroAst};
use std::path::{Path, PathBuf};
use tch::{Device, nn};

/// MicroAST with its variables.
pub struct LoadedMicroAst {
    pub(crate) vs: nn::VarStore,
    pub(crate) net: MicroAst,
}

/// Loads MicroAST from a folder holding its four released state dicts
/// (`content_encoder*.pth*`, `style_encoder*.pth*`, `modulator*.pth*`, `decoder*.pth*`; the
/// legacy PyTorch format they come in is read by our pickle reader).
pub(crate) fn load_microast(dir: &Path, device: Device) -> Result<LoadedMicroAst> {
    let entries: Vec<PathBuf> =
        std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    let mut sd = StateDict::new();
    for part in microast::PARTS {
        let mut files: Vec<&PathBuf> = entries
            .iter()
            .filter(|p| {
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                name.starts_with(part) && name.contains(".pth")
            })
            .collect();
        files.sort();
        let file = files.last().ok_or_else(|| Error::weights(dir, format!("no {part}*.pth.tar in the folder")))?;
        for (k, v) in read_state_dict(file)? {
            sd.insert(format!("{part}.{k}"), v);
        }
    }
    let mut vs = nn::VarStore::new(device);
    let net = MicroAst::new(&vs.root());
    copy_into(&vs, &sd, dir)?;
    vs.freeze();
    Ok(LoadedMicroAst { vs, net })
}
