//! State dicts in and out: any supported weight file read into named CPU tensors, tensors
//! written as safetensors (atomically), and a state dict copied into a model's variables.

use super::{lpips, torch_pth};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{Device, Tensor, nn};

/// Tensors by PyTorch state-dict name.
pub type StateDict = HashMap<String, Tensor>;

/// Reads any supported weight file into a state dict of CPU tensors.
pub fn read_state_dict(path: &Path) -> Result<StateDict> {
    if !path.exists() {
        return Err(Error::weights(path, "no such file"));
    }
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let pairs = match ext {
        "safetensors" => Tensor::read_safetensors(path)
            .map_err(|e| Error::weights(path, format!("not a readable safetensors file: {e}")))?,
        "ckpt" => lpips::read(path)?,
        _ => torch_pth::read(path)?,
    };
    Ok(pairs.into_iter().collect())
}

/// Writes tensors to a safetensors file atomically (temp file in the same directory, then rename).
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let cpu: Vec<(String, Tensor)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.to_device(Device::Cpu).contiguous())).collect();
    crate::io::atomic_write(path, |tmp| Ok(Tensor::write_safetensors(&cpu, tmp)?))
}

/// Copies every variable of `vs` from `sd`, checking presence and shape.
pub fn copy_into(vs: &nn::VarStore, sd: &StateDict, path: &Path) -> Result<()> {
    copy_into_growing(vs, sd, path, &|_| false)
}

/// [`copy_into`] for a network that may have grown since `sd` was written: a variable the
/// file lacks is an error unless `grown(name)`, and then keeps its value.
pub fn copy_into_growing(vs: &nn::VarStore, sd: &StateDict, path: &Path, grown: &dyn Fn(&str) -> bool) -> Result<()> {
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        if !sd.contains_key(&name) && grown(&name) {
            continue;
        }
        let src = sd.get(&name).ok_or_else(|| Error::weights(path, format!("tensor {name} is missing")))?;
        if src.size() != var.size() {
            return Err(Error::weights(
                path,
                format!("tensor {name} has shape {:?}, the model needs {:?}", src.size(), var.size()),
            ));
        }
        var.copy_(&src.to_kind(var.kind()).to_device(var.device()));
    }
    Ok(())
}
