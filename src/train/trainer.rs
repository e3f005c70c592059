//! The training loop for both stages: data → forward → loss → Adam, with metrics, checkpoints
//! and exact resume.

use super::checkpoint::{self, State};
use super::config::{Stage, TrainConfig};
use super::optim::Adam;
use crate::data::dataset::{ImageFolder, Loader, Sampler};
use crate::error::{Error, Result};
use crate::model::adain::adain_with_stats;
use crate::model::adain::EPS;
use crate::model::losses::{self, mse};
use crate::weights::{self, LoadedDecoder, LoadedEncoder};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tch::nn::Module;
use tch::{Device, Kind, Tensor};

/// Loss values of one step.
#[derive(Debug, Clone, Default)]
pub struct StepLosses {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub style_layers: [f64; 4],
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub steps: u64,
    pub first_loss: Option<f64>,
    pub last_loss: f64,
    pub decoder: PathBuf,
}

/// Everything a training run holds.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub run_dir: PathBuf,
    pub device: Device,
    pub encoder: LoadedEncoder,
    pub decoder: LoadedDecoder,
    pub adam: Adam,
    /// Steps already done (non-zero after a resume).
    pub step: u64,
}

impl Trainer {
    /// Sets a run up: a fresh one, or (with `resume`) the continuation of the newest checkpoint.
    pub fn new(cfg: TrainConfig, run_dir: &Path, device: Device, resume: bool) -> Result<Self> {
        cfg.validate()?;
        if cfg.threads > 0 {
            tch::set_num_threads(cfg.threads as i32);
        }
        std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        let encoder = weights::load_encoder(&weights::resolve_encoder(&cfg.encoder)?, device)?;
        tch::manual_seed(cfg.seed as i64);
        let decoder = match &cfg.init_decoder {
            Some(p) => weights::load_decoder(p, encoder.encoder.config(), device)?,
            None => weights::new_decoder(encoder.encoder.config(), device),
        };
        let params: Vec<(String, Tensor)> = decoder.vs.variables().into_iter().collect();
        let mut adam = Adam::new(params, cfg.beta1, cfg.beta2);
        let mut step = 0;
        if resume {
            let last = checkpoint::list(run_dir)?.pop().ok_or_else(|| Error::Invalid(format!("{}: no checkpoint to resume from", run_dir.display())))?;
            let state = checkpoint::read_state(&last)?;
            let dec = weights::read_state_dict(&last.join("decoder.safetensors"))?;
            weights::copy_into(&decoder.vs, &dec, &last.join("decoder.safetensors"))?;
            let opt = weights::read_state_dict(&last.join("optimizer.safetensors"))?;
            adam.load_state(&opt, state.adam_t).map_err(|m| Error::Weights { path: last.join("optimizer.safetensors"), msg: m })?;
            step = state.step;
        }
        let cfg_path = run_dir.join("config.toml");
        std::fs::write(&cfg_path, cfg.to_toml()).map_err(|e| Error::io(&cfg_path, e))?;
        Ok(Self { cfg, run_dir: run_dir.to_owned(), device, encoder, decoder, adam, step })
    }

    /// Forward pass and loss for one batch (`content`, `style`: `[B, 3, S, S]`).
    pub fn loss(&self, content: &Tensor, style: &Tensor) -> (Tensor, [Tensor; 4], Tensor) {
        let enc = &self.encoder.encoder;
        let dec = &self.decoder.decoder;
        let zero = || Tensor::zeros([], (Kind::Float, self.device));
        match self.cfg.stage {
            Stage::Reconstruct => {
                let f = tch::no_grad(|| enc.forward(content));
                let out = dec.forward(&f.relu4_1);
                let mut loss = mse(&out, content);
                let mut terms: [Tensor; 4] = std::array::from_fn(|_| zero());
                if self.cfg.perceptual_weight > 0.0 {
                    let of = enc.forward(&out);
                    for (k, (o, t)) in of.taps().iter().zip(f.taps()).enumerate() {
                        terms[k] = mse(o, t);
                        loss = loss + &terms[k] * self.cfg.perceptual_weight;
                    }
                }
                (loss.shallow_clone(), terms, loss)
            }
            Stage::Adain => {
                // Fixed quantities need no gradient: the style statistics and the target t.
                let (t, s_stats) = tch::no_grad(|| {
                    let sf = enc.forward(style);
                    let c4 = enc.encode(content);
                    let s4 = crate::model::adain::Stats::of(&sf.relu4_1, EPS);
                    (adain_with_stats(&c4, &s4, EPS), losses::style_stats(&sf))
                });
                let out = dec.forward(&t);
                let of = enc.forward(&out);
                let lc = losses::content_loss(&of.relu4_1, &t);
                let terms = losses::style_terms(&of, &s_stats, &self.cfg.style_loss);
                let ls = terms.iter().fold(zero(), |a, b| a + b);
                let total = &lc * self.cfg.content_weight + &ls * self.cfg.style_weight;
                (lc, terms, total)
            }
        }
    }

    /// One optimisation step on a batch; returns its losses and the gradient norm.
    pub fn train_step(&mut self, content: &Tensor, style: &Tensor) -> Result<(StepLosses, f64)> {
        let (lc, terms, total) = self.loss(content, style);
        let value = total.double_value(&[]);
        if !value.is_finite() {
            return Err(Error::Invalid(format!(
                "loss is {value} at step {}: stopping; the last good checkpoint is kept in {}",
                self.step + 1,
                checkpoint::dir(&self.run_dir).display()
            )));
        }
        self.adam.zero_grad();
        total.backward();
        let grad_norm = self.adam.grad_norm();
        self.adam.step(self.cfg.lr.at(self.step));
        self.step += 1;
        let style_layers: [f64; 4] = std::array::from_fn(|k| terms[k].double_value(&[]));
        let losses = StepLosses { total: value, content: lc.double_value(&[]), style: style_layers.iter().sum(), style_layers };
        Ok((losses, grad_norm))
    }

    /// Writes a checkpoint of the current state.
    pub fn checkpoint(&self, loss: f64) -> Result<PathBuf> {
        let state = State { step: self.step, adam_t: self.adam.t, loss };
        let dec: Vec<(String, Tensor)> = self.decoder.vs.variables().into_iter().collect();
        checkpoint::save(&self.run_dir, &state, &dec, &self.adam.state(), self.cfg.keep_last)
    }

    /// Runs the remaining steps, logging `metrics.csv` and checkpointing.
    pub fn run(&mut self, progress: bool) -> Result<Summary> {
        let content = Arc::new(ImageFolder::new(&self.cfg.content_dir, self.cfg.load_size, self.cfg.resize)?);
        let style = match self.cfg.stage {
            Stage::Adain => Arc::new(ImageFolder::new(&self.cfg.style_dir, self.cfg.load_size, self.cfg.resize)?),
            Stage::Reconstruct => content.clone(),
        };
        let sampler = Sampler { seed: self.cfg.seed, batch_size: self.cfg.batch_size, crop_size: self.cfg.crop_size, flip: self.cfg.flip };
        let loader = Loader::spawn(content, style, sampler, self.step, self.cfg.steps);
        let mut metrics = Metrics::open(&self.run_dir, self.step)?;
        let pb = if progress { ProgressBar::new(self.cfg.steps) } else { ProgressBar::hidden() };
        pb.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}").unwrap());
        pb.set_position(self.step);
        let mut first = None;
        let mut last = f64::NAN;
        let mut t0 = Instant::now();
        let mut images = 0usize;
        while let Some(batch) = loader.next() {
            let batch = batch?;
            let c = batch.content.to_device(self.device);
            let s = batch.style.to_device(self.device);
            let lr = self.cfg.lr.at(self.step);
            let (l, gn) = self.train_step(&c, &s)?;
            first.get_or_insert(l.total);
            last = l.total;
            images += self.cfg.batch_size;
            if self.step % self.cfg.log_every.max(1) == 0 || self.step == self.cfg.steps {
                let ips = images as f64 / t0.elapsed().as_secs_f64();
                metrics.write(self.step, &l, lr, gn, ips)?;
                pb.set_message(format!("loss {:.4} (c {:.4} s {:.4}) {:.1} img/s", l.total, l.content, l.style, ips));
                t0 = Instant::now();
                images = 0;
            }
            if self.step % self.cfg.checkpoint_every.max(1) == 0 || self.step == self.cfg.steps {
                self.checkpoint(l.total)?;
            }
            pb.set_position(self.step);
        }
        pb.finish_and_clear();
        let decoder = self.run_dir.join("decoder.safetensors");
        let dec: Vec<(String, Tensor)> = self.decoder.vs.variables().into_iter().collect();
        weights::write_safetensors(&decoder, &dec)?;
        Ok(Summary { steps: self.step, first_loss: first, last_loss: last, decoder })
    }
}

/// `metrics.csv`: one row per logged step. On resume, rows past the resumed step are dropped
/// so the file never holds the same step twice.
struct Metrics {
    file: std::fs::File,
    path: PathBuf,
}

const HEADER: &str = "step,loss,content,style,style_relu1_1,style_relu2_1,style_relu3_1,style_relu4_1,lr,grad_norm,images_per_s";

impl Metrics {
    fn open(run: &Path, from_step: u64) -> Result<Self> {
        let path = run.join("metrics.csv");
        let mut keep = vec![HEADER.to_owned()];
        if from_step > 0 && path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            keep.extend(
                text.lines()
                    .skip(1)
                    .filter(|l| l.split(',').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s <= from_step))
                    .map(str::to_owned),
            );
        }
        std::fs::write(&path, keep.join("\n") + "\n").map_err(|e| Error::io(&path, e))?;
        let file = std::fs::OpenOptions::new().append(true).open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self { file, path })
    }

    fn write(&mut self, step: u64, l: &StepLosses, lr: f64, grad_norm: f64, ips: f64) -> Result<()> {
        let s = &l.style_layers;
        writeln!(
            self.file,
            "{step},{},{},{},{},{},{},{},{lr},{grad_norm},{ips:.3}",
            l.total, l.content, l.style, s[0], s[1], s[2], s[3]
        )
        .map_err(|e| Error::io(&self.path, e))
    }
}
