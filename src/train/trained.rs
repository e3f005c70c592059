//! The network a run trains: the VGG model's decoder behind the frozen encoder, or the whole
//! lite network with the frozen VGG encoder as its loss network. Both are trained with the
//! same objective ([`crate::model::losses`]); this type says which parameters move, which file
//! they are written to and how a validation image is made.

use super::config::{Stage, TrainConfig};
use crate::error::{Error, Result};
use crate::model::losses::{self, LossTerms, Objective, Trainee};
use crate::model::{Encoder, Family, StyleTransfer, VggConfig};
use crate::weights::lite::{self, LoadedLite};
use crate::weights::{self, LoadedDecoder};
use tch::{Device, Tensor, nn};

/// The trained network with its variables (float32 master weights).
pub enum Trained {
    /// The VGG decoder (`decoder.safetensors`).
    Vgg(LoadedDecoder),
    /// The lite network (`lite.safetensors`).
    Lite(Box<LoadedLite>),
}

impl Trained {
    /// The network a run starts from: `cfg.init_decoder` when set, else fresh weights fixed by
    /// the seed. `enc` is the encoder the VGG decoder must mirror.
    pub fn create(cfg: &TrainConfig, enc: &VggConfig, device: Device) -> Result<Self> {
        match (cfg.model, &cfg.init_decoder) {
            (Family::Vgg, Some(p)) => Ok(Self::Vgg(weights::load_decoder(p, enc, device)?)),
            (Family::Vgg, None) => Ok(Self::Vgg(weights::new_decoder_seeded(enc, device, cfg.seed))),
            (Family::Lite, Some(p)) => Ok(Self::Lite(Box::new(lite::read_lite(p, device)?))),
            (Family::Lite, None) => Ok(Self::Lite(Box::new(lite::new_lite_seeded(device, cfg.seed)))),
            (Family::MicroAst, _) => Err(Error::Unsupported(
                "microast cannot be trained here (it is a peer read from its released weights): use vgg or lite".into(),
            )),
        }
    }

    /// The variables that are trained (and checkpointed).
    pub fn vs(&self) -> &nn::VarStore {
        match self {
            Self::Vgg(d) => &d.vs,
            Self::Lite(l) => &l.vs,
        }
    }

    /// The variables under their PyTorch state-dict names.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        self.vs().variables().into_iter().collect()
    }

    /// What a finished stage writes: every variable, except that the lite network's
    /// reconstruction stage leaves out the style encoder it did not train (the AdaIN stage then
    /// starts it as a copy of the content encoder, see [`lite::read_lite`]).
    pub fn result(&self, stage: Stage) -> Vec<(String, Tensor)> {
        let all = self.named();
        match (self, stage) {
            (Self::Lite(_), Stage::Reconstruct) => {
                all.into_iter().filter(|(k, _)| !k.starts_with("style_encoder.")).collect()
            }
            _ => all,
        }
    }

    /// File name of the trained weights in the run directory.
    pub fn file_name(&self) -> &'static str {
        match self {
            Self::Vgg(_) => "decoder.safetensors",
            Self::Lite(_) => "lite.safetensors",
        }
    }

    /// The loss terms of one batch (`content`, `style`: `[B, 3, S, S]` in [0, 1]). The lite
    /// network's reconstruction stage auto-encodes half photos, half paintings (both of its
    /// encoders start from it); the VGG decoder's inverts the encoder on the photos.
    pub fn terms(
        &self,
        enc: &Encoder,
        stage: Stage,
        content: &Tensor,
        style: &Tensor,
        obj: &Objective<'_>,
    ) -> LossTerms {
        match (self, stage) {
            (Self::Vgg(d), Stage::Reconstruct) => {
                losses::reconstruction_losses(enc, Trainee::Vgg(&d.decoder), content, obj.weights)
            }
            (Self::Vgg(d), Stage::Adain) => losses::adain_losses(enc, Trainee::Vgg(&d.decoder), content, style, obj),
            (Self::Lite(l), Stage::Reconstruct) => {
                let b = content.size()[0];
                let x = Tensor::cat(&[content.narrow(0, 0, b - b / 2), style.narrow(0, 0, b / 2)], 0);
                losses::reconstruction_losses(enc, Trainee::Lite(&l.net), &x, obj.weights)
            }
            (Self::Lite(l), Stage::Adain) => losses::adain_losses(enc, Trainee::Lite(&l.net), content, style, obj),
        }
    }

    /// The validation images: each content stylized with its style at `alpha` (0: the
    /// network's reconstruction of the content), as `adain stylize` makes them.
    pub fn stylize(&self, enc: &Encoder, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor {
        match self {
            Self::Vgg(d) => {
                let net = StyleTransfer { encoder: enc, decoder: &d.decoder };
                net.stylize(content, &net.style_stats(style), alpha)
            }
            Self::Lite(l) if alpha == 0.0 => l.net.reconstruct(content),
            Self::Lite(l) => l.net.stylize(content, style, alpha),
        }
    }
}
