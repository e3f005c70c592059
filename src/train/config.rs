//! Training settings, readable from TOML (`--config run.toml`) and overridable by CLI flags;
//! the resolved settings are saved as `config.toml` in the run directory.

use super::schedule::LrConfig;
use crate::data::dataset::ResizeMode;
use crate::error::{Error, Result};
use crate::model::losses::StyleLossConfig;
use crate::model::Precision;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which training stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// The decoder learns to invert the encoder (pixel loss).
    Reconstruct,
    /// AdaIN training: content + λ·style.
    Adain,
}

/// Every setting of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub stage: Stage,
    pub content_dir: PathBuf,
    pub style_dir: PathBuf,
    /// Encoder name (`vgg16`, …) or weight file.
    pub encoder: String,
    /// Decoder weights to start from (e.g. the reconstruction stage's result).
    pub init_decoder: Option<PathBuf>,
    pub steps: u64,
    pub batch_size: usize,
    pub load_size: u32,
    pub crop_size: u32,
    pub resize: ResizeMode,
    pub flip: bool,
    pub seed: u64,
    pub lr: LrConfig,
    pub beta1: f64,
    pub beta2: f64,
    pub content_weight: f64,
    pub style_weight: f64,
    pub style_loss: StyleLossConfig,
    /// Reconstruction stage: weight of the feature (perceptual) term next to the pixel MSE.
    pub perceptual_weight: f64,
    /// Validation folders (both or neither); without them `val_count` images of each
    /// training folder are held out.
    pub val_content: Option<PathBuf>,
    pub val_style: Option<PathBuf>,
    /// Number of fixed validation pairs (0 = no validation).
    pub val_count: usize,
    /// Validate every this many steps.
    pub val_every: u64,
    /// Log validation images (style | content | stylized) every this many steps.
    pub image_every: u64,
    pub checkpoint_every: u64,
    pub keep_last: usize,
    pub log_every: u64,
    /// Intra-op threads for libtorch (0 = libtorch's default).
    pub threads: usize,
    /// `f32`, or `bf16` mixed precision (float32 master weights and losses, bfloat16
    /// convolutions: about 2.3× faster on CPUs with AMX / AVX-512 BF16), or `auto` (bf16 on such
    /// CPUs, f32 elsewhere).
    pub precision: Precision,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            stage: Stage::Adain,
            content_dir: PathBuf::from("data/content"),
            style_dir: PathBuf::from("data/style"),
            encoder: "vgg16".into(),
            init_decoder: None,
            steps: 10_000,
            batch_size: 8,
            load_size: 512,
            crop_size: 256,
            resize: ResizeMode::Shorter,
            flip: true,
            seed: 0,
            lr: LrConfig::default(),
            beta1: 0.9,
            beta2: 0.999,
            content_weight: 1.0,
            style_weight: 10.0,
            style_loss: StyleLossConfig::default(),
            perceptual_weight: 0.0,
            val_content: None,
            val_style: None,
            val_count: 8,
            val_every: 100,
            image_every: 500,
            checkpoint_every: 500,
            keep_last: 3,
            log_every: 10,
            threads: 0,
            precision: Precision::F32,
        }
    }
}

impl TrainConfig {
    /// Reads a TOML file; unknown keys are an error naming them.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        toml::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    /// Checks the settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if self.crop_size < 16 || self.crop_size % 8 != 0 {
            return bad(format!("crop size {} must be a multiple of 8, at least 16", self.crop_size));
        }
        if self.load_size != 0 && self.load_size < self.crop_size {
            return bad(format!("load size {} is smaller than the crop size {}", self.load_size, self.crop_size));
        }
        if self.lr.schedule == super::schedule::Schedule::Plateau && self.val_count == 0 {
            return bad("the plateau schedule needs validation (val_count > 0)".into());
        }
        if !(self.lr.lr > 0.0) {
            return bad(format!("learning rate {} must be positive", self.lr.lr));
        }
        Ok(())
    }
}
