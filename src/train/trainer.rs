//! The training loop for both stages: data → forward → loss → Adam, with metrics, checkpoints
//! and exact resume.

use super::checkpoint::{self, State};
use super::config::{Stage, TrainConfig};
use super::optim::Adam;
use super::plot;
use super::schedule::{Plateau, Schedule};
use super::tensorboard::EventWriter;
use super::trained::Trained;
use super::validation::{self, ValSet};
use crate::data::dataset::{Augment, ImageFolder, Loader, Sampler};
use crate::dist::{GradReducer, ProcessGroup};
use crate::error::{Error, Result};
use crate::metrics::direction;
use crate::model::losses::{LossTerms, Objective, TapScales};
use crate::weights::{self, LoadedEncoder};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tch::{Device, Kind, Tensor};

/// Loss values of one step.
#[derive(Debug, Clone, Default)]
pub struct StepLosses {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub style_layers: [f64; 4],
    /// The image-level style term (0 when it is off).
    pub style_pixels: f64,
    /// Root mean square of the batch's frame biases (0 when the penalty is off).
    pub frame_bias: f64,
    /// The weighted structure term (0 when it is off).
    pub structure: f64,
    /// The weighted identity term (0 when it is off).
    pub identity: f64,
    /// The steadiness term, unweighted: mean absolute RGB difference (0 when it is off).
    pub steadiness: f64,
    /// The style-signal contrastive term, unweighted (0 when it is off).
    pub contrastive: f64,
}

impl StepLosses {
    /// The values in a fixed order (what ranks average): total, content, the four tap terms,
    /// pixels, frame bias, structure, identity, steadiness, contrastive.
    fn to_array(&self) -> [f64; 12] {
        let sl = &self.style_layers;
        [
            self.total,
            self.content,
            sl[0],
            sl[1],
            sl[2],
            sl[3],
            self.style_pixels,
            self.frame_bias,
            self.structure,
            self.identity,
            self.steadiness,
            self.contrastive,
        ]
    }

    /// The inverse of [`Self::to_array`] (`style` is the sum of the tap terms).
    fn from_array(v: [f64; 12]) -> Self {
        let style_layers = [v[2], v[3], v[4], v[5]];
        Self {
            total: v[0],
            content: v[1],
            style: style_layers.iter().sum(),
            style_layers,
            style_pixels: v[6],
            frame_bias: v[7],
            structure: v[8],
            identity: v[9],
            steadiness: v[10],
            contrastive: v[11],
        }
    }
}

/// The numbers of one forward's terms, as the logs show them (`style`: the unweighted sum of
/// the four taps; structure and identity weighted).
fn values(l: &LossTerms, total: &Tensor, w: &crate::model::losses::LossWeights) -> StepLosses {
    let v = |t: &Tensor| t.double_value(&[]);
    let [t0, t1, t2, t3] = &l.style;
    StepLosses::from_array([
        v(total),
        v(&l.content),
        v(t0),
        v(t1),
        v(t2),
        v(t3),
        v(&l.pixels),
        v(&l.frame_bias).sqrt(),
        l.structure_weighted(w),
        l.identity_weighted(w),
        v(&l.steadiness),
        v(&l.contrastive),
    ])
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    pub steps: u64,
    pub first_loss: Option<f64>,
    pub last_loss: f64,
    /// The trained weights (`decoder.safetensors` or `lite.safetensors` in the run directory).
    pub weights: PathBuf,
}

/// Everything a training run holds.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub(crate) run_dir: PathBuf,
    pub(crate) device: Device,
    /// The frozen VGG encoder: the VGG model's own, the lite network's loss network.
    pub encoder: LoadedEncoder,
    /// What is trained.
    pub net: Trained,
    pub(crate) adam: Adam,
    /// Steps already done (non-zero after a resume).
    pub step: u64,
    /// Plateau-schedule state.
    pub(crate) plateau: Plateau,
    /// Per-channel scales for the normalised style loss (set by [`Trainer::run`]; set them
    /// here when driving steps by hand with a normalised loss).
    pub scales: Option<TapScales>,
    /// Data-parallel runs: the process group and the gradient buckets.
    dist: Option<(ProcessGroup, GradReducer)>,
    /// Time spent averaging gradients over the ranks so far (zero for a single process).
    pub(crate) allreduce_time: Duration,
}

/// File in the run directory that keeps the normalised style loss's scales.
pub(crate) const SCALES_FILE: &str = "tap-scales.safetensors";

impl Trainer {
    /// Sets a run up: a fresh one, or (with `resume`) the continuation of the newest checkpoint.
    pub fn new(cfg: TrainConfig, run_dir: &Path, device: Device, resume: bool) -> Result<Self> {
        Self::setup(cfg, run_dir, device, resume, true)
    }

    /// Sets up one rank of a data-parallel run over `group` (every rank calls this). Rank 0
    /// does what [`Trainer::new`] does (it alone reads the checkpoint to resume from, so the
    /// other ranks need no copy of the run directory) and broadcasts the decoder, the Adam
    /// moments and the step to the others; from then on [`Trainer::train_step`] averages the
    /// gradients over the ranks, and only rank 0 writes files.
    pub fn distributed(
        cfg: TrainConfig,
        run_dir: &Path,
        device: Device,
        resume: bool,
        group: ProcessGroup,
    ) -> Result<Self> {
        let leader = group.world().is_leader();
        let mut t = Self::setup(cfg, run_dir, device, resume && leader, leader)?;
        let bucket_bytes = (t.cfg.dist.bucket_mb * (1 << 20) as f64) as usize;
        let reducer = GradReducer::new(&t.adam.parameters(), bucket_bytes);
        t.dist = Some((group, reducer));
        t.sync_from_rank0()?;
        Ok(t)
    }

    /// Whether this process writes the run's files (always, unless it is a rank other than 0).
    pub fn is_leader(&self) -> bool {
        self.dist.as_ref().is_none_or(|(g, _)| g.world().is_leader())
    }

    /// The process group of a data-parallel run.
    pub fn group(&self) -> Option<&ProcessGroup> {
        self.dist.as_ref().map(|(g, _)| g)
    }

    /// Rank 0's training state on every rank: step, Adam's count and the plateau state (as
    /// TOML), then the decoder weights and the Adam moments (in the optimiser's name order).
    fn sync_from_rank0(&mut self) -> Result<()> {
        let Some(g) = self.group() else { return Ok(()) };
        let state = State {
            step: self.step,
            adam_t: self.adam.t,
            loss: 0.0,
            plateau: self.plateau.clone(),
            adam_start: self.adam.starts(),
        };
        let text = g.broadcast_bytes(toml::to_string(&state).expect("state serialises").as_bytes())?;
        let state: State = toml::from_str(&String::from_utf8_lossy(&text))
            .map_err(|e| Error::Distributed(format!("rank 0 sent an unreadable state: {e}")))?;
        // Broadcast in place: parameters and moments live on the trainer's device, which is
        // the group's (CPU with Gloo, this rank's GPU with NCCL).
        let mut tensors: Vec<Tensor> = self.adam.parameters().iter().map(Tensor::detach).collect();
        tensors.extend(self.adam.state().into_iter().map(|(_, t)| t));
        g.broadcast(&mut tensors, 0)?;
        (self.step, self.adam.t, self.plateau) = (state.step, state.adam_t, state.plateau);
        self.adam.set_starts(&state.adam_start);
        Ok(())
    }

    fn setup(cfg: TrainConfig, run_dir: &Path, device: Device, resume: bool, leader: bool) -> Result<Self> {
        cfg.validate()?;
        if cfg.threads > 0 {
            tch::set_num_threads(cfg.threads as i32);
        }
        if leader {
            std::fs::create_dir_all(run_dir).map_err(|e| Error::io(run_dir, e))?;
        }
        let mut encoder = weights::load_encoder(&weights::resolve_encoder(&cfg.encoder)?, device)?;
        // Mixed precision: the frozen encoder is converted once; the decoder keeps float32
        // master weights and runs in the encoder's type (see `losses::adain_losses`).
        cfg.precision.resolve(device).apply(&mut encoder.vs);
        let net = Trained::create(&cfg, encoder.encoder.config(), device)?;
        let params = net.named();
        let mut adam = Adam::new(params, cfg.beta1, cfg.beta2);
        adam.late_lr_scale = cfg.grown_lr_scale;
        let mut step = 0;
        let mut plateau = Plateau::default();
        if resume {
            // The newest checkpoint that loads; a corrupt or partly deleted one is skipped
            // with a warning naming it.
            let all = checkpoint::list(run_dir)?;
            if all.is_empty() {
                return Err(Error::Path { path: run_dir.to_owned(), msg: "no checkpoint to resume from".into() });
            }
            let mut loaded = None;
            for ckpt in all.iter().rev() {
                match Self::load_checkpoint(ckpt, &net, &mut adam) {
                    Ok(state) => {
                        loaded = Some(state);
                        break;
                    }
                    Err(e) => tracing::warn!("skipping unusable checkpoint {}: {e}", ckpt.display()),
                }
            }
            let state = loaded.ok_or_else(|| Error::Path {
                path: run_dir.to_owned(),
                msg: "no checkpoint could be loaded (each is named above)".into(),
            })?;
            step = state.step;
            plateau = state.plateau;
        }
        if leader {
            let cfg_path = run_dir.join("config.toml");
            std::fs::write(&cfg_path, cfg.to_toml()).map_err(|e| Error::io(&cfg_path, e))?;
        }
        Ok(Self {
            cfg,
            run_dir: run_dir.to_owned(),
            device,
            encoder,
            net,
            adam,
            step,
            plateau,
            scales: None,
            dist: None,
            allreduce_time: Duration::ZERO,
        })
    }

    /// Loads a checkpoint's weights and optimiser state into `net` and `adam`. Parameters the
    /// network has grown since ([`Trained::grown`]) keep their fresh start and join Adam now.
    fn load_checkpoint(ckpt: &Path, net: &Trained, adam: &mut Adam) -> Result<State> {
        let state = checkpoint::read_state(ckpt)?;
        let file = ckpt.join(net.file_name());
        let grown = |n: &str| net.grown(n);
        weights::copy_into_growing(net.vs(), &weights::read_state_dict(&file)?, &file, &grown)?;
        let opt_file = ckpt.join("optimizer.safetensors");
        adam.load_state(&weights::read_state_dict(&opt_file)?, state.adam_t, &state.adam_start, &grown)
            .map_err(|m| Error::weights(&opt_file, m))?;
        Ok(state)
    }

    /// The normalised style loss's per-channel scales: read from the run directory, or
    /// measured on 64 training crops (fixed by the seed) and saved there, so that a resumed
    /// run uses the same constants. Nothing to do when the loss is not normalised. In a
    /// data-parallel run, rank 0 prepares them and sends them to the others.
    pub(crate) fn prepare_scales(&mut self, content: &ImageFolder, sampler: &Sampler) -> Result<()> {
        if !self.cfg.style_loss.normalize || self.cfg.stage != Stage::Adain || self.scales.is_some() {
            return Ok(());
        }
        let scales = if self.is_leader() { Some(self.leader_scales(content, sampler)?) } else { None };
        let scales = match self.group() {
            None => scales.expect("a single process leads"),
            Some(g) => {
                let mut bytes = Vec::new();
                if let Some(s) = &scales {
                    Tensor::save_multi_to_stream(&s.named(), &mut bytes)?;
                }
                let got = g.broadcast_bytes(&bytes)?;
                let named = Tensor::load_multi_from_stream(std::io::Cursor::new(got))?;
                TapScales::from_named(&named.into_iter().collect())
                    .ok_or_else(|| Error::Distributed("rank 0 sent unreadable style-loss scales".into()))?
            }
        };
        self.scales = Some(scales.to_device(self.device));
        Ok(())
    }

    /// The scales from the run directory, or measured and saved there.
    fn leader_scales(&self, content: &ImageFolder, sampler: &Sampler) -> Result<TapScales> {
        let sampler = Sampler { shard: (0, 1), turned_pairs: false, ..sampler.clone() };
        let path = self.run_dir.join(SCALES_FILE);
        Ok(if path.exists() {
            let map = weights::read_state_dict(&path)?;
            TapScales::from_named(&map)
                .ok_or_else(|| Error::Weights { path: path.clone(), msg: "not a tap-scales file".into() })?
        } else {
            let photos: Vec<Tensor> = (0..8u64)
                .map(|k| sampler.batch(content, content, u64::MAX - k).map(|b| b.content))
                .collect::<Result<_>>()?;
            let s = TapScales::measure(&self.encoder.encoder, &Tensor::cat(&photos, 0).to_device(self.device));
            weights::write_safetensors(&path, &s.named())?;
            s
        })
    }

    /// Forward pass and loss terms for one batch (`content`, `style`: `[B, 3, S, S]`).
    pub fn terms(&self, content: &Tensor, style: &Tensor) -> LossTerms {
        let weights = self.cfg.loss_weights();
        let obj = Objective { style: &self.cfg.style_loss, scales: self.scales.as_ref(), weights: &weights };
        self.net.terms(&self.encoder.encoder, self.cfg.stage, content, style, &obj)
    }

    /// One optimisation step on a batch; returns its losses and the gradient norm. In a
    /// data-parallel run the gradients (and the returned losses) are averaged over the ranks
    /// before the step, so that every rank makes the same update.
    pub fn train_step(&mut self, content: &Tensor, style: &Tensor) -> Result<(StepLosses, f64)> {
        let w = self.cfg.loss_weights();
        let mut l = self.terms(content, style);
        if w.frame_bias > 0.0 {
            // The batch is pairs then the same pairs turned ([`Sampler::turned_pairs`]).
            let half = l.output.size()[0] / 2;
            let out = l.output.to_kind(Kind::Float);
            l.frame_bias =
                direction::frame_biases(&out.narrow(0, 0, half), &out.narrow(0, half, half)).square().mean(Kind::Float);
        }
        let total = l.total(&w);
        let value = total.double_value(&[]);
        if !value.is_finite() {
            return Err(Error::Diverged { value, step: self.step + 1, kept: checkpoint::dir(&self.run_dir) });
        }
        self.adam.zero_grad();
        total.backward();
        let mut values = values(&l, &total, &w);
        if let Some((g, reducer)) = &self.dist {
            let t0 = Instant::now();
            reducer.average(g, &self.adam.parameters())?;
            self.allreduce_time += t0.elapsed();
            values = global_losses(g, &values)?;
        }
        let grad_norm = self.adam.grad_norm();
        self.adam.step(self.lr());
        self.step += 1;
        Ok((values, grad_norm))
    }

    /// The learning rate of the next step.
    pub fn lr(&self) -> f64 {
        self.cfg.lr.at(self.step, &self.plateau)
    }

    /// Losses and outputs on the validation set, without gradient. The outputs come from
    /// the same forward as `adain stylize` (`StyleTransfer::stylize`; α = 0, the content's
    /// own features, in the reconstruction stage).
    pub fn validate(&self, val: &ValSet) -> (StepLosses, Tensor) {
        let _g = tch::no_grad_guard();
        let c = val.content.to_device(self.device);
        let s = val.style.to_device(self.device);
        let w = self.cfg.loss_weights();
        let terms = self.terms(&c, &s);
        let l = values(&terms, &terms.total(&w), &w);
        let alpha = if self.cfg.stage == Stage::Adain { 1.0 } else { 0.0 };
        (l, self.net.stylize(&self.encoder.encoder, &c, &s, alpha).to_device(Device::Cpu))
    }

    /// Writes a checkpoint of the current state.
    pub fn checkpoint(&self, loss: f64) -> Result<PathBuf> {
        let state = State {
            step: self.step,
            adam_t: self.adam.t,
            loss,
            plateau: self.plateau.clone(),
            adam_start: self.adam.starts(),
        };
        checkpoint::save(
            &self.run_dir,
            &state,
            self.net.file_name(),
            &self.net.named(),
            &self.adam.state(),
            self.cfg.keep_last,
        )
    }

    /// Runs the remaining steps: logs `metrics.csv`, TensorBoard events (`tb/`) and
    /// `loss.png`, validates, and checkpoints, each at its own cadence (`Trainer::after_step`).
    pub fn run(&mut self, progress: bool) -> Result<Summary> {
        let (content, style, val) = validation::datasets(&self.cfg)?;
        let leader = self.is_leader();
        if let Some(v) = val.as_ref().filter(|_| leader) {
            // The fixed validation pairs, for evaluation after training (`adain eval --pairs`).
            let list: String = v.names.iter().map(|(c, s)| format!("{}\t{}\n", c.display(), s.display())).collect();
            let p = self.run_dir.join("validation-pairs.tsv");
            std::fs::write(&p, list).map_err(|e| Error::io(&p, e))?;
        }
        let (content, style) = (Arc::new(content), Arc::new(style));
        let scales = (self.cfg.load_size_min != 0).then_some((self.cfg.load_size, self.cfg.load_size_min));
        let augment = Augment { flip: self.cfg.flip, rotate: self.cfg.rotate, scales };
        let mut sampler = Sampler::new(self.cfg.seed, self.cfg.batch_size, self.cfg.crop_size, augment);
        sampler.turned_pairs = self.cfg.frame_bias_weight > 0.0;
        if let Some(g) = self.group() {
            sampler.shard = (g.world().rank, g.world().size);
        }
        self.prepare_scales(&content, &sampler)?;
        let loader = Loader::spawn(content, style, sampler, self.step, self.cfg.steps);
        let mut log =
            if leader { Some(RunLog::open(&self.run_dir, self.step, self.cfg.steps, progress)?) } else { None };
        let (mut first, mut last) = (None, f64::NAN);
        while let Some(batch) = loader.next() {
            let batch = batch?;
            let lr = self.lr();
            let (l, gn) =
                self.train_step(&batch.content.to_device(self.device), &batch.style.to_device(self.device))?;
            first.get_or_insert(l.total);
            last = l.total;
            self.after_step(&l, lr, gn, val.as_ref(), log.as_mut())?;
        }
        let weights = self.run_dir.join(self.net.file_name());
        if let Some(log) = log {
            log.pb.finish_and_clear();
            let mut tb = log.tb;
            tb.flush()?;
            weights::write_safetensors(&weights, &self.net.result(self.cfg.stage))?;
            self.plot()?;
        }
        Ok(Summary { steps: self.step, first_loss: first, last_loss: last, weights })
    }

    /// True when an action with this period is due after the current step (always at the
    /// last step; never when the period is 0).
    fn due(&self, every: u64) -> bool {
        every > 0 && (self.step.is_multiple_of(every) || self.step == self.cfg.steps)
    }

    /// The cadence after a step: log the losses, validate (and maybe cut the plateau
    /// schedule's rate), log validation images, checkpoint. `log` is `None` on the ranks
    /// other than 0, which only take part in sharing the validation loss.
    fn after_step(
        &mut self,
        l: &StepLosses,
        lr: f64,
        grad_norm: f64,
        val: Option<&ValSet>,
        mut log: Option<&mut RunLog>,
    ) -> Result<()> {
        let step = self.step;
        if let Some(log) = log.as_mut() {
            log.images += self.cfg.batch_size * self.group().map_or(1, |g| g.world().size);
            log.steps += 1;
            if self.due(self.cfg.log_every.max(1)) {
                log.step(step, l, lr, grad_norm, self.allreduce_time)?;
            }
        }
        if val.is_some() && (self.due(self.cfg.val_every) || self.due(self.cfg.image_every)) {
            let mut val_total = None;
            if let (Some(val), Some(log)) = (val, log.as_mut()) {
                let (vl, out) = self.validate(val);
                log.validation(step, &vl)?;
                if self.due(self.cfg.image_every) {
                    log.images_of(step, &validation::grid(&val.style, &val.content, &out), &self.run_dir)?;
                }
                val_total = Some(vl.total);
            }
            let val_total = self.leader_value(val_total)?;
            let cut =
                self.cfg.lr.schedule == Schedule::Plateau && self.plateau.observe(val_total, self.cfg.lr.patience);
            if let Some(log) = log.as_mut().filter(|_| cut) {
                log.pb.suspend(|| tracing::info!("validation loss has not improved: learning rate now {}", self.lr()));
            }
        }
        if let Some(log) = log {
            if self.due(self.cfg.checkpoint_every.max(1)) {
                self.checkpoint(l.total)?;
                log.tb.flush()?;
                self.plot()?;
            }
            log.pb.set_position(step);
        }
        Ok(())
    }

    /// Rank 0's number on every rank (`value` is `Some` exactly on the leader).
    fn leader_value(&self, value: Option<f64>) -> Result<f64> {
        match self.group() {
            None => Ok(value.expect("a single process leads")),
            Some(g) => g.broadcast_value(value.unwrap_or(0.0)),
        }
    }

    /// Renders `loss.png` from the CSV files.
    pub(crate) fn plot(&self) -> Result<()> {
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

/// The losses averaged over the ranks: those of the whole global batch.
fn global_losses(g: &ProcessGroup, l: &StepLosses) -> Result<StepLosses> {
    let v = g.average_values(&l.to_array())?;
    Ok(StepLosses::from_array(std::array::from_fn(|k| v[k])))
}

/// Where a run reports: the CSV files, TensorBoard, the progress bar, and the throughput
/// counter since the last logged step.
struct RunLog {
    metrics: Metrics,
    val_metrics: Metrics,
    tb: EventWriter,
    pb: ProgressBar,
    since: Instant,
    images: usize,
    steps: u64,
    /// [`Trainer::allreduce_time`] at the previous row.
    allreduce_before: Duration,
}

impl RunLog {
    fn open(run_dir: &Path, step: u64, steps: u64, progress: bool) -> Result<Self> {
        let pb = if progress { ProgressBar::new(steps) } else { ProgressBar::hidden() };
        pb.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}")
                .expect("valid template"),
        );
        pb.set_position(step);
        Ok(Self {
            metrics: Metrics::open(run_dir, "metrics.csv", HEADER, step)?,
            val_metrics: Metrics::open(run_dir, "val.csv", VAL_HEADER, step)?,
            tb: EventWriter::create(&run_dir.join("tb"))?,
            pb,
            since: Instant::now(),
            images: 0,
            steps: 0,
            allreduce_before: Duration::ZERO,
        })
    }

    /// One row of training losses, with the throughput and the all-reduce time per step
    /// since the previous row (`allreduce`: the trainer's running total).
    fn step(&mut self, step: u64, l: &StepLosses, lr: f64, gn: f64, allreduce: Duration) -> Result<()> {
        let ips = self.images as f64 / self.since.elapsed().as_secs_f64();
        let ar = (allreduce - self.allreduce_before).as_secs_f64() / self.steps.max(1) as f64;
        let v = l.to_array();
        let join = |x: &[f64]| x.iter().map(f64::to_string).collect::<Vec<_>>().join(",");
        // step, total, content, style, the four taps and pixels, lr, …, frame bias, structure,
        // identity, steadiness, contrastive.
        let (head, tail) = (join(&v[2..7]), join(&v[7..]));
        self.metrics
            .write(&format!("{step},{},{},{},{head},{lr},{gn},{ips:.3},{ar:.6},{tail}", v[0], v[1], l.style))?;
        let sl = &l.style_layers;
        self.tb.scalars(
            step,
            &[
                ("loss/total", l.total),
                ("loss/content", l.content),
                ("loss/style", l.style),
                ("loss/style_relu1_1", sl[0]),
                ("loss/style_relu2_1", sl[1]),
                ("loss/style_relu3_1", sl[2]),
                ("loss/style_relu4_1", sl[3]),
                ("loss/style_pixels", l.style_pixels),
                ("loss/frame_bias", l.frame_bias),
                ("loss/structure", l.structure),
                ("loss/identity", l.identity),
                ("loss/steadiness", l.steadiness),
                ("loss/contrastive", l.contrastive),
                ("lr", lr),
                ("grad_norm", gn),
                ("throughput/images_per_s", ips),
                ("throughput/allreduce_s_per_step", ar),
            ],
        )?;
        self.pb.set_message(format!("loss {:.4} (c {:.4} s {:.4}) {:.1} img/s", l.total, l.content, l.style, ips));
        self.since = Instant::now();
        self.images = 0;
        self.steps = 0;
        self.allreduce_before = allreduce;
        Ok(())
    }

    /// One row of validation losses.
    fn validation(&mut self, step: u64, vl: &StepLosses) -> Result<()> {
        let sl = &vl.style_layers;
        self.val_metrics.write(&format!(
            "{step},{},{},{},{},{},{},{},{}",
            vl.total, vl.content, vl.style, sl[0], sl[1], sl[2], sl[3], vl.style_pixels
        ))?;
        self.tb.scalars(step, &[("val/total", vl.total), ("val/content", vl.content), ("val/style", vl.style)])
    }

    /// The validation grid, to TensorBoard and `val.png`.
    fn images_of(&mut self, step: u64, grid: &image::RgbImage, run_dir: &Path) -> Result<()> {
        self.tb.image(step, "val/style_content_stylized", grid)?;
        crate::data::image::save(&image::DynamicImage::ImageRgb8(grid.clone()).to_rgb32f(), &run_dir.join("val.png"))
    }
}

/// A CSV log with one row per logged step. On resume, rows past the resumed step are dropped
/// so the file never holds the same step twice.
struct Metrics {
    file: std::fs::File,
    path: PathBuf,
}

const HEADER: &str = "step,loss,content,style,style_relu1_1,style_relu2_1,style_relu3_1,style_relu4_1,style_pixels,lr,grad_norm,images_per_s,allreduce_s,frame_bias,structure,identity,steadiness,contrastive";
const VAL_HEADER: &str = "step,loss,content,style,style_relu1_1,style_relu2_1,style_relu3_1,style_relu4_1,style_pixels";

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
