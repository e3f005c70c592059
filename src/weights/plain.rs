//! Weight files read without libtorch, for the light kernels ([`crate::model::light`]):
//! `.safetensors` with float32, float16 or bfloat16 tensors, into a [`Store`] of float32.

use crate::error::{Error, Result};
use crate::model::light::{LiteNet, Store};
use crate::model::lite_config::LiteConfig;
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

/// The largest weights file read (the shipped lite network is 0.66 MB): a wrong path to a
/// huge file is refused instead of read into memory.
const MAX_BYTES: u64 = 256 << 20;

/// A tensor every lite weights file has.
const LITE_KEY: &str = "content_encoder.conv_in.weight";

/// Reads a `.safetensors` file into a [`Store`] (values converted to float32).
pub fn read_store(path: &Path) -> Result<Store> {
    let len = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len > MAX_BYTES {
        return Err(Error::weights(path, format!("{len} bytes: larger than any weights file this build reads")));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    store_from_bytes(&bytes, path)
}

/// A [`Store`] from the bytes of a `.safetensors` file (`path` names it in errors).
pub fn store_from_bytes(bytes: &[u8], path: &Path) -> Result<Store> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        Error::weights(path, format!("not a safetensors file ({e}); the light build reads .safetensors weights only"))
    })?;
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
            Dtype::F16 => data.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => data.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            other => {
                return Err(Error::weights(
                    path,
                    format!("{name} is {other:?}; expected float32, float16 or bfloat16"),
                ));
            }
        };
        let shape = view.shape().to_vec();
        if shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d)) != Some(values.len()) {
            return Err(Error::weights(path, format!("{name}: {} values for shape {shape:?}", values.len())));
        }
        tensors.push((name, shape, values));
    }
    Ok(Store::with_origin(tensors, path.to_owned()))
}

/// The lite network from its weights file (the PyTorch state dict of `scripts/reference.py`'s
/// `LiteNet`). A file of the reconstruction stage, which has no `style_encoder.*` tensors,
/// gives the style encoder a copy of the content encoder (as libtorch's loader does).
pub fn load_lite(path: &Path) -> Result<LiteNet> {
    LiteNet::new(&lite_store(read_store(path)?, path)?.root(), &LiteConfig::default())
}

/// The lite network from the bytes of its weights file (`path` names it in errors).
pub fn lite_from_bytes(bytes: &[u8], path: &Path) -> Result<LiteNet> {
    LiteNet::new(&lite_store(store_from_bytes(bytes, path)?, path)?.root(), &LiteConfig::default())
}

/// `store` checked to hold lite network weights (`path` names it in errors), its style
/// encoder filled in from the content encoder when the file has none (the reconstruction
/// stage's): every tensor the lite network and its ONNX graphs read.
pub fn lite_store(mut store: Store, path: &Path) -> Result<Store> {
    if !store.contains(LITE_KEY) {
        return Err(Error::weights(path, format!("not lite network weights (no {LITE_KEY})")));
    }
    LiteConfig::shipped_layout(store.names(), path)?;
    if !store.names().any(|k| k.starts_with("style_encoder.")) {
        store.copy_prefix("content_encoder.", "style_encoder.");
    }
    Ok(store)
}
