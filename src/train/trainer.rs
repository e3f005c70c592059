//! The training loop for both stages: data → forward → loss → Adam, with metrics, checkpoints
//! and exact resume.

use super::checkpoint::{self, State};
use super::config::{Stage, TrainConfig};
use super::optim::Adam;
use super::schedule::{Plateau, Schedule};
use super::tensorboard::EventWriter;
use super::validation::{self, ValSet};
use super::plot;
use crate::data::dataset::{Loader, Sampler};
use crate::error::{Error, Result};
use crate::model::adain::adain_with_stats;
use crate::model::adain::EPS;
use crate::model::losses;
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
    /// Plateau-schedule state.
    pub plateau: Plateau,
}

impl Trainer {
    /// Sets a run up: a fresh one, or (with `resume`) the continuation of the newest checkpoint.
    pub fn new(cfg: TrainConfig, run_dir: &Path, device: Device, resume: bool) -> Result<Self> {
        cfg.validate()?;
        if cfg.threads > 0 {
            tch::set_num_threads(cfg.threads as i32);
        }
        std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        let mut encoder = weights::load_encoder(&weights::resolve_encoder(&cfg.encoder)?, device)?;
        // Mixed precision: the frozen encoder is converted once; the decoder keeps float32
        // master weights and runs in the encoder's type (see `losses::adain_losses`).
        cfg.precision.resolve(device).apply(&mut encoder.vs);
        let decoder = match &cfg.init_decoder {
            Some(p) => weights::load_decoder(p, encoder.encoder.config(), device)?,
            None => weights::new_decoder_seeded(encoder.encoder.config(), device, cfg.seed),
        };
        let params: Vec<(String, Tensor)> = decoder.vs.variables().into_iter().collect();
        let mut adam = Adam::new(params, cfg.beta1, cfg.beta2);
        let mut step = 0;
        let mut plateau = Plateau::default();
        if resume {
            let last = checkpoint::list(run_dir)?.pop().ok_or_else(|| Error::Invalid(format!("{}: no checkpoint to resume from", run_dir.display())))?;
            let state = checkpoint::read_state(&last)?;
            let dec = weights::read_state_dict(&last.join("decoder.safetensors"))?;
            weights::copy_into(&decoder.vs, &dec, &last.join("decoder.safetensors"))?;
            let opt = weights::read_state_dict(&last.join("optimizer.safetensors"))?;
            adam.load_state(&opt, state.adam_t).map_err(|m| Error::Weights { path: last.join("optimizer.safetensors"), msg: m })?;
            step = state.step;
            plateau = state.plateau;
        }
        let cfg_path = run_dir.join("config.toml");
        std::fs::write(&cfg_path, cfg.to_toml()).map_err(|e| Error::io(&cfg_path, e))?;
        Ok(Self { cfg, run_dir: run_dir.to_owned(), device, encoder, decoder, adam, step, plateau })
    }

    /// Forward pass and loss for one batch (`content`, `style`: `[B, 3, S, S]`): returns the
    /// content (or pixel) term, the four per-layer terms and the weighted total.
    pub fn loss(&self, content: &Tensor, style: &Tensor) -> (Tensor, [Tensor; 4], Tensor) {
        let (enc, dec) = (&self.encoder.encoder, &self.decoder.decoder);
        match self.cfg.stage {
            Stage::Reconstruct => {
                let pw = self.cfg.perceptual_weight;
                let (pixel, terms) = losses::reconstruction_losses(enc, dec, content, pw > 0.0);
                let total = terms.iter().fold(pixel.shallow_clone(), |a, t| a + t * pw);
                (pixel, terms, total)
            }
            Stage::Adain => {
                let l = losses::adain_losses(enc, dec, content, style, &self.cfg.style_loss);
                let total = l.total(self.cfg.content_weight, self.cfg.style_weight);
                (l.content, l.style, total)
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
        self.adam.step(self.lr());
        self.step += 1;
        let style_layers: [f64; 4] = std::array::from_fn(|k| terms[k].double_value(&[]));
        let losses = StepLosses { total: value, content: lc.double_value(&[]), style: style_layers.iter().sum(), style_layers };
        Ok((losses, grad_norm))
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.cfg.lr.at(self.step, &self.plateau)
    }

    /// Losses and outputs on the validation set, without gradient.
    pub fn validate(&self, val: &ValSet) -> (StepLosses, Tensor) {
        let _g = tch::no_grad_guard();
        let c = val.content.to_device(self.device);
        let s = val.style.to_device(self.device);
        let (lc, terms, total) = self.loss(&c, &s);
        let style_layers: [f64; 4] = std::array::from_fn(|k| terms[k].double_value(&[]));
        let l = StepLosses { total: total.double_value(&[]), content: lc.double_value(&[]), style: style_layers.iter().sum(), style_layers };
        let enc = &self.encoder.encoder;
        let f = enc.encode(&c).to_kind(Kind::Float);
        let t = match self.cfg.stage {
            Stage::Reconstruct => f,
            Stage::Adain => adain_with_stats(&f, &crate::model::adain::Stats::of(&enc.encode(&s).to_kind(Kind::Float), EPS), EPS),
        };
        (l, self.decoder.decoder.forward(&t.to_kind(enc.kind())).to_kind(Kind::Float).to_device(Device::Cpu))
    }

    /// Writes a checkpoint of the current state.
    pub fn checkpoint(&self, loss: f64) -> Result<PathBuf> {
        let state = State { step: self.step, adam_t: self.adam.t, loss, plateau: self.plateau.clone() };
        let dec: Vec<(String, Tensor)> = self.decoder.vs.variables().into_iter().collect();
        checkpoint::save(&self.run_dir, &state, &dec, &self.adam.state(), self.cfg.keep_last)
    }

    /// Runs the remaining steps: logs `metrics.csv`, TensorBoard events (`tb/`) and
    /// `loss.png`, validates, and checkpoints.
    pub fn run(&mut self, progress: bool) -> Result<Summary> {
        let (content, style, val) = validation::datasets(&self.cfg)?;
        if let Some(v) = &val {
            // The fixed validation pairs, for evaluation after training (`adain eval --pairs`).
            let list: String = v.names.iter().map(|(c, s)| format!("{}\t{}\n", c.display(), s.display())).collect();
            let p = self.run_dir.join("validation-pairs.tsv");
            std::fs::write(&p, list).map_err(|e| Error::io(&p, e))?;
        }
        let (content, style) = (Arc::new(content), Arc::new(style));
        let sampler = Sampler { seed: self.cfg.seed, batch_size: self.cfg.batch_size, crop_size: self.cfg.crop_size, flip: self.cfg.flip };
        let loader = Loader::spawn(content, style, sampler, self.step, self.cfg.steps);
        let mut metrics = Metrics::open(&self.run_dir, "metrics.csv", HEADER, self.step)?;
        let mut val_metrics = Metrics::open(&self.run_dir, "val.csv", VAL_HEADER, self.step)?;
        let mut tb = EventWriter::create(&self.run_dir.join("tb"))?;
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
            let lr = self.lr();
            let (l, gn) = self.train_step(&c, &s)?;
            first.get_or_insert(l.total);
            last = l.total;
            images += self.cfg.batch_size;
            let step = self.step;
            if step % self.cfg.log_every.max(1) == 0 || step == self.cfg.steps {
                let ips = images as f64 / t0.elapsed().as_secs_f64();
                let sl = &l.style_layers;
                metrics.write(&format!(
                    "{step},{},{},{},{},{},{},{},{lr},{gn},{ips:.3}",
                    l.total, l.content, l.style, sl[0], sl[1], sl[2], sl[3]
                ))?;
                tb.scalars(step, &[
                    ("loss/total", l.total), ("loss/content", l.content), ("loss/style", l.style),
                    ("loss/style_relu1_1", sl[0]), ("loss/style_relu2_1", sl[1]), ("loss/style_relu3_1", sl[2]), ("loss/style_relu4_1", sl[3]),
                    ("lr", lr), ("grad_norm", gn), ("throughput/images_per_s", ips),
                ])?;
                pb.set_message(format!("loss {:.4} (c {:.4} s {:.4}) {:.1} img/s", l.total, l.content, l.style, ips));
                t0 = Instant::now();
                images = 0;
            }
            if let Some(val) = &val {
                let due = |every: u64| every > 0 && (step % every == 0 || step == self.cfg.steps);
                if due(self.cfg.val_every) || due(self.cfg.image_every) {
                    let (vl, out) = self.validate(val);
                    let sl = &vl.style_layers;
                    val_metrics.write(&format!("{step},{},{},{},{},{},{},{}", vl.total, vl.content, vl.style, sl[0], sl[1], sl[2], sl[3]))?;
                    tb.scalars(step, &[("val/total", vl.total), ("val/content", vl.content), ("val/style", vl.style)])?;
                    if self.cfg.lr.schedule == Schedule::Plateau && self.plateau.observe(vl.total, self.cfg.lr.patience) {
                        pb.suspend(|| tracing::info!("validation loss has not improved: learning rate now {}", self.lr()));
                    }
                    if due(self.cfg.image_every) {
                        let g = validation::grid(&val.style, &val.content, &out);
                        tb.image(step, "val/style_content_stylized", &g)?;
                        let p = self.run_dir.join("val.png");
                        crate::data::image::save(&image::DynamicImage::ImageRgb8(g).to_rgb32f(), &p)?;
                    }
                }
            }
            if step % self.cfg.checkpoint_every.max(1) == 0 || step == self.cfg.steps {
                self.checkpoint(l.total)?;
                tb.flush()?;
                self.plot()?;
            }
            pb.set_position(step);
        }
        pb.finish_and_clear();
        tb.flush()?;
        let decoder = self.run_dir.join("decoder.safetensors");
        let dec: Vec<(String, Tensor)> = self.decoder.vs.variables().into_iter().collect();
        weights::write_safetensors(&decoder, &dec)?;
        self.plot()?;
        Ok(Summary { steps: self.step, first_loss: first, last_loss: last, decoder })
    }

    /// Renders `loss.png` from the CSV files.
    pub fn plot(&self) -> Result<()> {
        let train = plot::read_csv(&self.run_dir.join("metrics.csv"), &["loss", "content", "style"])?;
        let val = plot::read_csv(&self.run_dir.join("val.csv"), &["loss"])?;
        let [total, content, style]: [Vec<(f64, f64)>; 3] = train.try_into().expect("three columns");
        let mut series = vec![plot::Series { name: "train total", points: total }];
        if self.cfg.stage == Stage::Adain {
            series.push(plot::Series { name: "train content", points: content });
            series.push(plot::Series { name: "train style", points: style });
        }
        series.push(plot::Series { name: "validation total", points: val.into_iter().next().unwrap_or_default() });
        let stage = match self.cfg.stage {
            Stage::Adain => "AdaIN",
            Stage::Reconstruct => "reconstruction",
        };
        let title = format!("adain {stage} stage, batch {}, {}px crops", self.cfg.batch_size, self.cfg.crop_size);
        plot::render(&self.run_dir.join("loss.png"), &title, &series)
    }
}

/// A CSV log with one row per logged step. On resume, rows past the resumed step are dropped
/// so the file never holds the same step twice.
struct Metrics {
    file: std::fs::File,
    path: PathBuf,
}

const HEADER: &str = "step,loss,content,style,style_relu1_1,style_relu2_1,style_relu3_1,style_relu4_1,lr,grad_norm,images_per_s";
const VAL_HEADER: &str = "step,loss,content,style,style_relu1_1,style_relu2_1,style_relu3_1,style_relu4_1";

impl Metrics {
    fn open(run: &Path, name: &str, header: &str, from_step: u64) -> Result<Self> {
        let path = run.join(name);
        let mut keep = vec![header.to_owned()];
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

    fn write(&mut self, row: &str) -> Result<()> {
        writeln!(self.file, "{row}").map_err(|e| Error::io(&self.path, e))
    }
}
