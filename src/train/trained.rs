//! The network a run trains: the VGG model's decoder behind the frozen encoder, or the whole
//! lite network with the frozen VGG encoder as its loss network. Both are trained with the
//! same objective ([`crate::model::losses`]); this type says which parameters move, which file
//! they are written to and how a validation image is made.

use super::config::{Stage, TrainConfig};
use crate::error::{Error, Result};
use crate::model::lite::LiteConfig;
use crate::model::losses::{self, LossTerms, Objective, Trainee};
use crate::model::{Encoder, Family, StyleTransfer, VggConfig};
use crate::weights::lite::{self, LoadedLite};
use crate::weights::{self, LoadedDecoder};
use tch::{Device, Tensor, nn};

/// What a run needs of the network it trains, whatever the family; each family's weights
/// type implements it, and [`Trained::create`] is the registry.
pub trait TrainedNet: Send {
    /// The variables that are trained (and checkpointed), float32 master weights.
    fn vs(&self) -> &nn::VarStore;
    /// The network as the objective sees it.
    fn trainee(&self) -> &dyn Trainee;
    /// File name of the trained weights in the run directory.
    fn file_name(&self) -> &'static str;
    /// Which of `named` a finished `stage` writes (default: all).
    fn result(&self, _stage: Stage, named: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
        named
    }
    /// What the reconstruction stage auto-encodes from a batch (default: the photos).
    fn reconstruction_batch(&self, content: &Tensor, _style: &Tensor) -> Tensor {
        content.shallow_clone()
    }
    /// Each content stylized with its style at `alpha` (0: the network's reconstruction of
    /// the content), as `adain stylize` makes them.
    fn stylize(&self, enc: &Encoder, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor;
    /// Whether a checkpoint or start file may lack parameter `name` because this network grew
    /// it (blocks added to the network it was written from): it then keeps its fresh start
    /// (default: none).
    fn grown(&self, _name: &str) -> bool {
        false
    }
}

/// The VGG decoder (`decoder.safetensors`): its reconstruction stage inverts the encoder on
/// the photos.
impl TrainedNet for LoadedDecoder {
    fn vs(&self) -> &nn::VarStore {
        &self.vs
    }
    fn trainee(&self) -> &dyn Trainee {
        &self.decoder
    }
    fn file_name(&self) -> &'static str {
        "decoder.safetensors"
    }
    fn stylize(&self, enc: &Encoder, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor {
        let net = StyleTransfer { encoder: enc, decoder: &self.decoder };
        net.stylize(content, &net.style_stats(style), alpha)
    }
}

/// The whole lite network (`lite.safetensors`): its reconstruction stage auto-encodes half
/// photos, half paintings (both of its encoders start from it) and leaves out the style
/// encoder it did not train (the AdaIN stage then starts it as a copy of the content encoder,
/// see [`lite::read_lite`]).
impl TrainedNet for LoadedLite {
    fn vs(&self) -> &nn::VarStore {
        &self.vs
    }
    fn trainee(&self) -> &dyn Trainee {
        &self.net
    }
    fn file_name(&self) -> &'static str {
        "lite.safetensors"
    }
    fn result(&self, stage: Stage, named: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
        match stage {
            Stage::Reconstruct => named.into_iter().filter(|(k, _)| !k.starts_with("style_encoder.")).collect(),
            Stage::Adain => named,
        }
    }
    fn reconstruction_batch(&self, content: &Tensor, style: &Tensor) -> Tensor {
        let b = content.size()[0];
        Tensor::cat(&[content.narrow(0, 0, b - b / 2), style.narrow(0, 0, b / 2)], 0)
    }
    fn stylize(&self, _enc: &Encoder, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor {
        if alpha == 0.0 { self.net.reconstruct(content) } else { self.net.stylize(content, style, alpha) }
    }
    fn grown(&self, name: &str) -> bool {
        LiteConfig::is_extra(name)
    }
}

/// The trained network with its variables (float32 master weights).
pub struct Trained(Box<dyn TrainedNet>);

impl Trained {
    /// The network a run starts from: `cfg.init_decoder` when set, else fresh weights fixed by
    /// the seed. `enc` is the encoder the VGG decoder must mirror.
    pub fn create(cfg: &TrainConfig, enc: &VggConfig, device: Device) -> Result<Self> {
        Ok(Self(match (cfg.model, &cfg.init_decoder) {
            (Family::Vgg, Some(p)) => Box::new(weights::load_decoder(p, enc, device)?),
            (Family::Vgg, None) => Box::new(weights::new_decoder_seeded(enc, device, cfg.seed)),
            (Family::Lite, init) => {
                let shape = LiteConfig {
                    extra_blocks: cfg.lite_extra_blocks,
                    extra_blocks_half: cfg.lite_extra_blocks_half,
                    ..Default::default()
                };
                let net = lite::new_lite_seeded(device, cfg.seed, &shape);
                if let Some(p) = init {
                    lite::grow_from(&net, p)?;
                }
                Box::new(net)
            }
            (Family::MicroAst, _) => {
                return Err(Error::Unsupported(
                    "microast cannot be trained here (it is a peer read from its released weights): use vgg or lite"
                        .into(),
                ));
            }
        }))
    }

    /// The variables that are trained (and checkpointed).
    pub fn vs(&self) -> &nn::VarStore {
        self.0.vs()
    }

    /// Whether a checkpoint may lack parameter `name` (see [`TrainedNet::grown`]).
    pub fn grown(&self, name: &str) -> bool {
        self.0.grown(name)
    }

    /// The variables under their PyTorch state-dict names.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        self.vs().variables().into_iter().collect()
    }

    /// What a finished stage writes (see [`TrainedNet::result`]).
    pub fn result(&self, stage: Stage) -> Vec<(String, Tensor)> {
        self.0.result(stage, self.named())
    }

    /// File name of the trained weights in the run directory.
    pub fn file_name(&self) -> &'static str {
        self.0.file_name()
    }

    /// The loss terms of one batch (`content`, `style`: `[B, 3, S, S]` in [0, 1]).
    pub fn terms(
        &self,
        enc: &Encoder,
        stage: Stage,
        content: &Tensor,
        style: &Tensor,
        obj: &Objective<'_>,
    ) -> LossTerms {
        match stage {
            Stage::Reconstruct => losses::reconstruction_losses(
                enc,
                self.0.trainee(),
                &self.0.reconstruction_batch(content, style),
                obj.weights,
            ),
            Stage::Adain => losses::adain_losses(enc, self.0.trainee(), content, style, obj),
        }
    }

    /// The validation images (see [`TrainedNet::stylize`]).
    pub fn stylize(&self, enc: &Encoder, content: &Tensor, style: &Tensor, alpha: f64) -> Tensor {
        self.0.stylize(enc, content, style, alpha)
    }
}
