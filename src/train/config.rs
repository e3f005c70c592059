//! Training settings, readable from TOML (`--config run.toml`) and overridable by CLI flags;
//! the resolved settings are saved as `config.toml` in the run directory.

use super::schedule::LrConfig;
use crate::data::dataset::ResizeMode;
use crate::error::{Error, Result};
use crate::model::losses::{LossWeights, StyleLossConfig};
use crate::model::{Family, Precision};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which training stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The decoder learns to invert the encoder (pixel loss).
    Reconstruct,
    /// AdaIN training: content + λ·style.
    Adain,
}

crate::settings! {
    /// Every setting of a training run: the one list of them. A TOML file (`--config`), a
    /// run's saved `config.toml` and the command line's flags are all read into it.
    pub struct TrainConfig {
        /// Network to train: vgg (the decoder behind the frozen VGG encoder) or lite (the whole
        /// lite network, with the VGG encoder as its loss network).
        model: Family = Family::Vgg,
        /// reconstruct (the decoder learns to invert the encoder; the lite network
        /// auto-encodes photos and paintings) or adain.
        stage: Stage = Stage::Adain,
        /// Folder of content photos (searched recursively).
        content_dir: PathBuf = PathBuf::from("data/content"),
        /// Folder of style images (searched recursively).
        style_dir: PathBuf = PathBuf::from("data/style"),
        /// Encoder: vgg16 | vgg19 | vgg19_bn | a weight file.
        encoder: String = "vgg16".into(),
        /// Weights to start from: a decoder (vgg) or a lite network file (lite), e.g. the
        /// reconstruction stage's decoder.safetensors or lite.safetensors.
        init_decoder: Option<PathBuf> = None,
        /// Lite network: modulated residual blocks added to the decoder at 1/4 resolution
        /// (capacity where texture is made). Each starts as the identity, so a run resumed or
        /// started from weights with fewer grows that network without changing its output.
        /// At most 8. The light build and ONNX export run only the shipped layout (0).
        lite_extra_blocks: usize = 0,
        /// Lite network: modulated residual blocks added to the decoder at 1/2 resolution
        /// (after its first upsampling conv, 32 channels), grown like `lite_extra_blocks`.
        /// At most 8; only the full build runs them.
        lite_extra_blocks_half: usize = 0,
        /// Learning-rate multiplier for the parameters a resumed run added (a grown network's
        /// new blocks), which would otherwise start from zero at the run's late, decayed rate.
        grown_lr_scale: f64 = 1.0,
        /// Train until this step.
        steps: u64 = 10_000,
        /// Images per step (content/style pairs).
        batch_size: usize = 8,
        /// Images are first resized to this (shorter side; both sides with resize = squash).
        load_size: u32 = 512,
        /// Scale jitter: when above 0, each crop is taken as if its image had been loaded at a
        /// shorter side drawn uniformly from `load_size_min..=load_size` (a larger window
        /// resized to the crop), so one run sees strokes at every scale between (0: off).
        load_size_min: u32 = 0,
        /// Then randomly cropped to this square.
        crop_size: u32 = 256,
        /// shorter (keep the aspect ratio) | squash (pytorch-AdaIN's Resize((512, 512))).
        resize: ResizeMode = ResizeMode::Shorter,
        /// Random horizontal flips of the crops.
        flip: bool = true,
        /// Random quarter-turn rotations of the crops (takes away the upright data's
        /// preference for horizontal strokes).
        rotate: bool = false,
        /// Seed of the data order, the validation split and a fresh decoder.
        seed: u64 = 0,
        /// Learning rate and its schedule.
        lr: LrConfig = LrConfig::default(); group,
        /// Adam's β1.
        beta1: f64 = 0.9,
        /// Adam's β2.
        beta2: f64 = 0.999,
        /// Weight of the content loss.
        content_weight: f64 = 1.0,
        /// Weight λ of the style loss.
        style_weight: f64 = 10.0,
        /// Weights of the structure term at relu1_1, relu2_1, relu3_1, relu4_1 (e.g.
        /// `[0, 1, 1, 0]`): the MSE between the per-channel mean-variance-normalised features
        /// of the result and of the content photo, which keeps the photo's edges and shapes
        /// but not its colours or contrast (all 0: off).
        structure_weights: [f64; 4] = [0.0; 4],
        /// Weight of the identity term: the pixel MSE between each content photo and the
        /// decoder's output for it stylized with itself (`g(φ(c))`), which keeps the decoder
        /// an accurate inverse of the encoder (0: off).
        identity_weight: f64 = 0.0,
        /// Weight of the identity term's perceptual part: the relu1_1 and relu2_1 MSE between
        /// the photo and its reconstruction, each channel divided by its scale when the style
        /// loss is normalised (the pixel MSE alone leaves it blurry) (0: off).
        identity_perceptual_weight: f64 = 0.0,
        /// How the style loss is computed.
        style_loss: StyleLossConfig = StyleLossConfig::default(); group,
        /// Weight of the frame-bias penalty against streaks: each batch is half pairs and half
        /// the same pairs turned a quarter turn, and the squared frame bias between a pair's
        /// result and its turned copy's (adain eval --frame-bias) is added to the loss (0: off).
        frame_bias_weight: f64 = 0.0,
        /// Weight of the steadiness term for video: the result for the content crop moved by
        /// 1–3 pixels (a random shift in each step, down and/or right) with sensor noise
        /// (σ 2/255) added must equal the result for the crop, moved alike; the mean absolute
        /// difference in [0, 1] RGB over the pixels both show (what `adain eval --motion`
        /// measures on camera clips) (0: off).
        steadiness_weight: f64 = 0.0,
        /// Weight of the style-signal contrastive term (the lite network; after MicroAST's
        /// SSC loss): the lite network reads each result back as a style, and the distance of
        /// those signals (its style encoder's statistics and modulations) to the result's own
        /// style, divided by the sum of their distances to the batch's other styles, is
        /// minimised (0: off; needs a batch of 2 or more).
        contrastive_weight: f64 = 0.0,
        /// Reconstruction stage: weight of the feature (perceptual) term next to the pixel MSE.
        perceptual_weight: f64 = 0.0,
        /// Files of image pairs (tab-separated `content<TAB>style` lines, as
        /// models/validation-pairs.tsv) whose images are left out of training, by file name:
        /// the pairs a network is selected and reported on.
        held_out: Vec<PathBuf> = Vec::new(),
        /// Validation content folder (with val_style; default: hold out val_count images of
        /// each training folder).
        val_content: Option<PathBuf> = None,
        /// Validation style folder.
        val_style: Option<PathBuf> = None,
        /// Number of fixed validation pairs (0 = no validation).
        val_count: usize = 8,
        /// Validate every this many steps.
        val_every: u64 = 100,
        /// Log style | content | stylized validation images every this many steps.
        image_every: u64 = 500,
        /// Write a checkpoint every this many steps.
        checkpoint_every: u64 = 500,
        /// Checkpoints kept (the newest).
        keep_last: usize = 3,
        /// Log losses every this many steps.
        log_every: u64 = 10,
        /// Intra-op threads for libtorch (0 = libtorch's default).
        threads: usize = 0,
        /// f32 | bf16 mixed precision (float32 master weights and losses, bfloat16
        /// convolutions: about 2.3× faster on CPUs with AMX / AVX-512 BF16) | auto (bf16 on
        /// such CPUs, f32 elsewhere).
        precision: Precision = Precision::F32,
        /// Data-parallel runs (several ranks: `--nproc`, torchrun, SLURM).
        dist: DistConfig = DistConfig::default(); group,
    }
}

crate::settings! {
    /// Settings of data-parallel runs; a single process ignores them.
    pub struct DistConfig {
        /// Gradients are averaged over the ranks in buckets of about this many MiB (one
        /// all-reduce each; PyTorch DDP's bucket_cap_mb).
        bucket_mb: f64 = 25.0,
        /// Seconds a rank waits for the others (at the rendezvous and in every collective)
        /// before it gives up with an error.
        timeout: u64 = 300,
    }
}

impl TrainConfig {
    /// Reads a TOML file; unknown keys are an error naming them.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Parses TOML text; `origin` (a file name) prefixes errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config { origin: origin.to_owned(), msg: e.to_string() })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// The weight of every loss term in this run's stage: the objective, described once.
    pub(crate) fn loss_weights(&self) -> LossWeights {
        match self.stage {
            Stage::Reconstruct => LossWeights { content: 1.0, style: self.perceptual_weight, ..Default::default() },
            Stage::Adain => LossWeights {
                content: self.content_weight,
                style: self.style_weight,
                pixels: self.style_loss.pixel_weight,
                structure: self.structure_weights,
                identity: self.identity_weight,
                identity_perceptual: self.identity_perceptual_weight,
                frame_bias: self.frame_bias_weight,
                steadiness: self.steadiness_weight,
                contrastive: self.contrastive_weight,
            },
        }
    }

    /// Checks the settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        // Each error names the setting to change ([`Error::Setting`]; the CLI writes it as its flag).
        let bad = |key: &str, value: &dyn std::fmt::Display, msg: &str| Err(Error::setting(key, value, msg));
        if self.model == Family::MicroAst {
            return Err(Error::Unsupported(
                "microast cannot be trained here (it is a peer read from its released weights): use vgg or lite".into(),
            ));
        }
        for (key, n) in
            [("lite_extra_blocks", self.lite_extra_blocks), ("lite_extra_blocks_half", self.lite_extra_blocks_half)]
        {
            if n > 0 && self.model != Family::Lite {
                return bad(key, &n, "only the lite network (model = lite) has them");
            }
            if n > 8 {
                return bad(key, &n, "at most 8");
            }
        }
        if self.grown_lr_scale.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return bad("grown_lr_scale", &self.grown_lr_scale, "the multiplier must be positive");
        }
        if self.batch_size == 0 {
            return bad("batch_size", &self.batch_size, "the batch size must be at least 1");
        }
        if self.model == Family::Lite && self.stage == Stage::Reconstruct && self.batch_size < 2 {
            return bad(
                "batch_size",
                &self.batch_size,
                "the lite network's reconstruction stage needs a batch of at least 2 (photos and paintings)",
            );
        }
        if self.crop_size < 16 || !self.crop_size.is_multiple_of(8) {
            return bad("crop_size", &self.crop_size, "the crop size must be a multiple of 8, at least 16");
        }
        if self.load_size != 0 && self.load_size < self.crop_size {
            return bad("load_size", &self.load_size, &format!("smaller than the crop size {}", self.crop_size));
        }
        if self.load_size_min != 0
            && (self.load_size == 0 || self.load_size_min < self.crop_size || self.load_size_min > self.load_size)
        {
            return bad(
                "load_size_min",
                &self.load_size_min,
                &format!("must lie between the crop size {} and load_size {}", self.crop_size, self.load_size),
            );
        }
        if self.frame_bias_weight > 0.0 && !self.batch_size.is_multiple_of(2) {
            return bad(
                "batch_size",
                &self.batch_size,
                "the frame-bias penalty needs an even batch size (pairs and their turned copies)",
            );
        }
        if self.contrastive_weight > 0.0 && self.model != Family::Lite {
            return bad(
                "contrastive_weight",
                &self.contrastive_weight,
                "only the lite network (model = lite) has style signals",
            );
        }
        if self.contrastive_weight > 0.0 && (self.batch_size < 2 || self.frame_bias_weight > 0.0) {
            return bad(
                "contrastive_weight",
                &self.contrastive_weight,
                "the contrastive term needs a batch of 2 or more different styles (and no frame-bias pairing)",
            );
        }
        if self.steadiness_weight > 0.0 && self.crop_size < 24 {
            return bad("crop_size", &self.crop_size, "the steadiness term needs crops of at least 24 pixels");
        }
        if self.val_content.is_some() != self.val_style.is_some() {
            let (missing, given) =
                if self.val_content.is_some() { ("val_style", "val_content") } else { ("val_content", "val_style") };
            return bad(missing, &"(none)", &format!("give it with {given}, or neither"));
        }
        if self.lr.schedule == super::schedule::Schedule::Plateau && self.val_count == 0 {
            return bad("val_count", &self.val_count, "the plateau schedule needs validation (val_count > 0)");
        }
        if self.lr.lr.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
            return bad("lr.lr", &self.lr.lr, "the learning rate must be positive");
        }
        Ok(())
    }
}
