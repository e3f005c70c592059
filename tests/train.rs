//! Training: losses against the PyTorch reference, loss that decreases, exact resume, crash
//! safety of checkpoints, TensorBoard files read back by TensorBoard, bad data skipped.
#![cfg(feature = "torch")]

mod common;

use adain::model::losses::{self, StyleLossConfig, StyleReduce};
use adain::model::winograd;
use adain::train::{Stage, TrainConfig, Trainer, checkpoint};
use adain::weights;
use common::*;
use std::path::Path;
use std::process::Command;
use tch::{Device, Tensor};

/// The paper's objective: content + 10 · style.
const PAPER: losses::LossWeights = losses::LossWeights {
    content: 1.0,
    style: 10.0,
    pixels: 0.0,
    structure: [0.0; 4],
    identity: 0.0,
    identity_perceptual: 0.0,
    frame_bias: 0.0,
    steadiness: 0.0,
    contrastive: 0.0,
};

#[test]
fn losses_match_torch_for_every_switch() {
    let dir = tempfile::tempdir().unwrap();
    let enc = encoder();
    let dec = random_decoder(9);
    let dec_file = dir.path().join("dec.safetensors");
    weights::write_safetensors(&dec_file, &dec.vs.variables().into_iter().collect::<Vec<_>>()).unwrap();
    let content =
        Tensor::cat(&[photo("chelsea.jpg", 32).narrow(3, 0, 40), photo("coffee.jpg", 32).narrow(3, 0, 40)], 0);
    let style = Tensor::cat(&[photo("starry_night.jpg", 40).narrow(3, 0, 40), photo("astronaut.jpg", 40)], 0);
    let vgg = vgg16();
    let args = ["losses", "--arch", "vgg16", "--encoder", s(&vgg), "--decoder", s(&dec_file)];
    let theirs = reference_io(dir.path(), &args, &[("content", &content), ("style", &style)]);
    let vgg_losses = |cfg: &StyleLossConfig, w: &losses::LossWeights| {
        let obj = losses::Objective::new(cfg, w);
        losses::adain_losses(&enc.encoder, &dec.decoder, &content, &style, &obj)
    };
    for (reduce, rname) in [(StyleReduce::Mean, "mean"), (StyleReduce::Sum, "sum")] {
        for (sqrt, sname) in [(false, "sq"), (true, "sqrt")] {
            let cfg = StyleLossConfig { reduce, sqrt, ..Default::default() };
            let l = vgg_losses(&cfg, &PAPER);
            let e = rel_err(&l.content, &theirs["content"]);
            assert!(e < 1e-4, "content loss relative error {e}");
            for k in 0..4 {
                let e = rel_err(&l.style[k], &theirs[&format!("style_{rname}_{sname}_{k}")]);
                assert!(e < 1e-4, "style {rname}/{sname} layer {k}: relative error {e}");
            }
        }
    }
    // The structure and identity terms, each tap alone (weights 0 elsewhere), and their
    // weights as factors of the total.
    for k in 0..4 {
        let mut w = PAPER;
        w.structure[k] = 2.5;
        let l = vgg_losses(&Default::default(), &w);
        let e = rel_err(&l.structure[k], &theirs[&format!("structure_{k}")]);
        assert!(e < 1e-4, "structure term at tap {k}: relative error {e}");
        let e = rel_err(&l.total(&w), &(l.total(&PAPER) + &theirs[&format!("structure_{k}")].reshape([]) * 2.5));
        assert!(e < 1e-6, "structure weight at tap {k}: relative error {e}");
    }
    let w = losses::LossWeights { identity: 3.0, ..PAPER };
    let l = vgg_losses(&Default::default(), &w);
    let e = rel_err(&l.identity, &theirs["identity"]);
    assert!(e < 1e-4, "identity term: relative error {e}");
    let e = rel_err(&l.total(&w), &(l.total(&PAPER) + theirs["identity"].reshape([]) * 3.0));
    assert!(e < 1e-6, "identity weight: relative error {e}");
    // Gradients too: total = content + 10·style (mean, squared), first decoder conv. Against
    // PyTorch computing the same way (float32, channels-last tensors, direct convolutions), and
    // against the exact (float64) gradient: through the per-channel stds of these tiny feature
    // maps float32 rounding is amplified, and oneDNN's channels-last convolutions round
    // differently from NCHW ones (PyTorch itself: 1e-3 from float64 in channels-last, 1e-6 in
    // NCHW here). So amplified that the content scaled by 1 + 1e-6 moves this gradient by
    // 3e-3: the targets' Winograd encoding (2e-6 from the direct one) is switched off here.
    let l = winograd::direct(|| vgg_losses(&StyleLossConfig::default(), &PAPER));
    l.total(&PAPER).backward();
    let g = dec.vs.variables()["1.weight"].grad();
    let (same_way, exact) = (rel_l2(&g, &theirs["grad_first_conv"]), rel_l2(&g, &theirs["grad_first_conv_f64"]));
    let torch32 = rel_l2(&theirs["grad_first_conv"], &theirs["grad_first_conv_f64"]);
    eprintln!(
        "gradient relative L2 error: against torch float32 channels-last {same_way:.2e}, against float64 {exact:.2e} (torch's own: {torch32:.2e})"
    );
    assert!(same_way < 1e-4, "gradient relative L2 error against torch computing the same way: {same_way}");
    assert!(
        exact < 2.0 * torch32 + 1e-4,
        "gradient relative L2 error against float64: {exact} (torch float32: {torch32})"
    );
}

#[test]
fn loss_decreases_on_a_fixed_batch_in_both_stages() {
    let dir = tempfile::tempdir().unwrap();
    for stage in [Stage::Reconstruct, Stage::Adain] {
        let mut cfg = tiny_config(dir.path(), stage, 100);
        cfg.lr.lr = 1e-3;
        cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
        let run = dir.path().join(format!("{stage:?}"));
        let mut t = Trainer::new(cfg, &run, Device::Cpu, false).unwrap();
        let content = photo("chelsea.jpg", 64).narrow(3, 0, 64);
        let style = photo("starry_night.jpg", 64).narrow(3, 0, 64);
        let (first, last) = train_on_one_batch(&mut t, &content, &style, 15);
        assert!(last < 0.7 * first, "{stage:?}: loss {first} -> {last}");
    }
}

/// bfloat16 mixed precision: the same losses and gradient direction as float32 within
/// bfloat16's precision, gradients land in the float32 master weights, and a run trains.
#[test]
fn bf16_mixed_precision_tracks_float32() {
    use adain::model::Precision;
    let enc = encoder();
    let mut enc16 = encoder();
    Precision::Bf16.apply(&mut enc16.vs);
    let dec = random_decoder(9);
    let content = photo("chelsea.jpg", 48).narrow(3, 0, 48);
    let style = photo("starry_night.jpg", 48).narrow(3, 0, 48);
    let cfg = StyleLossConfig::default();
    let grad = |e: &weights::LoadedEncoder| {
        for (_, v) in dec.vs.variables() {
            let mut v = v;
            v.zero_grad();
        }
        let l = losses::adain_losses(&e.encoder, &dec.decoder, &content, &style, &losses::Objective::new(&cfg, &PAPER));
        l.total(&PAPER).backward();
        let g = dec.vs.variables()["1.weight"].grad().copy();
        (l, g)
    };
    let (l32, g32) = grad(&enc);
    let (l16, g16) = grad(&enc16);
    assert_eq!(g16.kind(), tch::Kind::Float, "master weights keep float32 gradients");
    let e = rel_err(&l16.content, &l32.content);
    assert!(e < 0.03, "content loss bf16 vs f32: relative error {e}");
    for k in 0..4 {
        let e = rel_err(&l16.style[k], &l32.style[k]);
        assert!(e < 0.05, "style layer {k} bf16 vs f32: relative error {e}");
    }
    let cos = (&g16 * &g32).sum(tch::Kind::Double).double_value(&[])
        / (g16.norm().double_value(&[]) * g32.norm().double_value(&[]));
    assert!(cos > 0.95, "gradient direction bf16 vs f32: cosine {cos}");

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 100);
    cfg.precision = Precision::Bf16;
    cfg.lr.lr = 1e-3;
    cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
    let mut t = Trainer::new(cfg, &dir.path().join("bf16"), Device::Cpu, false).unwrap();
    let (first, last) = train_on_one_batch(&mut t, &content, &style, 15);
    assert!(last < 0.7 * first, "bf16: loss {first} -> {last}");
    assert!(t.net.vs().variables().values().all(|v| v.kind() == tch::Kind::Float), "master weights stay float32");
}

#[test]
fn diverging_loss_stops_with_a_message_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 100);
    cfg.lr.lr = 1e30;
    cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
    let mut t = Trainer::new(cfg, &dir.path().join("nan"), Device::Cpu, false).unwrap();
    let content = photo("chelsea.jpg", 32).narrow(3, 0, 32);
    let style = photo("coffee.jpg", 32).narrow(3, 0, 32);
    let err = (0..20).find_map(|_| t.train_step(&content, &style).err()).expect("the loss must blow up");
    let msg = err.to_string();
    assert!(msg.contains(&format!("at step {}", t.step + 1)) && msg.contains("checkpoint"), "{msg}");
    assert!(matches!(err, adain::Error::Diverged { step, .. } if step == t.step + 1), "a typed error: {err:?}");
}

#[test]
fn resume_is_bit_exact() {
    // Each run is its own `adain train` process, as a user's resume is: in this test process
    // the runs would share libtorch's thread pools and allocator with the tests running beside
    // them, and CI once saw one decoder bias 1e-3 apart that no run of the test alone showed.
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let split = dir.path().join("split");
    let cfg_file = dir.path().join("run.toml");
    std::fs::write(&cfg_file, tiny_config(dir.path(), Stage::Adain, 6).to_toml()).unwrap();
    let train = |run: &Path, extra: &[&str]| {
        let o = train_cli(run, &cfg_file, extra).output().unwrap();
        assert!(o.status.success(), "adain train {extra:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    train(&straight, &[]);
    train(&split, &["--steps", "3", "--checkpoint-every", "3"]);
    train(&split, &["--resume", "--steps", "6"]);
    let a = decoder_tensors(&straight.join("decoder.safetensors"));
    let b = decoder_tensors(&split.join("decoder.safetensors"));
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs after resume (max diff {})", (ta - tb).abs().max().double_value(&[]));
    }
    // The resumed run's metrics hold each step once.
    assert_eq!(logged_steps(&split), ["1", "2", "3", "4", "5", "6"]);
}

#[test]
fn killed_runs_leave_a_loadable_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path(), Stage::Adain, 1000);
    let cfg_file = dir.path().join("run.toml");
    let mut c = cfg.clone();
    c.checkpoint_every = 1;
    c.val_count = 0;
    std::fs::write(&cfg_file, c.to_toml()).unwrap();
    let run = dir.path().join("run");
    let mut last_step = 0;
    // ADAIN_KILLS=N runs more kills (RELIABILITY.md's figure); the delays cycle through
    // moments that land in steps, in validation and inside checkpoint writes.
    let kills: usize = std::env::var("ADAIN_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let delays = [350u64, 2100, 2600, 3100, 2300, 1700, 2900, 1200];
    for (i, delay_ms) in (0..kills).map(|i| (i, delays[i % delays.len()])) {
        let resume: &[&str] = if i > 0 { &["--resume"] } else { &[] };
        let mut child = train_cli(&run, &cfg_file, resume).stderr(std::process::Stdio::null()).spawn().unwrap();
        if i == 0 {
            // Let the first run write its first checkpoint.
            let t0 = std::time::Instant::now();
            while checkpoint::list(&run).unwrap().is_empty() {
                assert!(t0.elapsed().as_secs() < 120, "no checkpoint after 2 minutes");
                assert!(child.try_wait().unwrap().is_none(), "training exited early");
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        // Then kill at different moments: some land during a checkpoint write.
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let ckpts = checkpoint::list(&run).unwrap();
        let newest = ckpts.last().expect("a checkpoint existed before and must still exist");
        let state = checkpoint::read_state(newest).unwrap();
        assert!(state.step >= last_step, "checkpoints never go back");
        last_step = state.step;
        // At most one checkpoint interval of logged steps is lost.
        let logged = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
        let logged = logged.lines().skip(1).filter_map(|l| l.split(',').next()?.parse::<u64>().ok()).max();
        let lost = logged.unwrap_or(0).saturating_sub(state.step);
        assert!(lost <= c.checkpoint_every, "kill {i}: {lost} steps lost (newest checkpoint {})", state.step);
        // No half-written checkpoint survives the next save.
        if i + 1 == kills {
            eprintln!("{kills} kills, newest checkpoint step {}", state.step);
        }
        for f in ["decoder.safetensors", "optimizer.safetensors"] {
            weights::read_state_dict(&newest.join(f)).unwrap_or_else(|e| panic!("after kill {i}: {e}"));
        }
    }
    assert!(last_step > 0, "no checkpoint was ever written");
    // And the run resumes from there.
    let o = Command::new(bin())
        .args([
            "train",
            "--run-dir",
            run.to_str().unwrap(),
            "--resume",
            "--steps",
            &(last_step + 1).to_string(),
            "--quiet",
            "--device",
            "cpu",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn resume_skips_a_corrupt_newest_checkpoint_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 4);
    cfg.val_count = 0;
    let run = dir.path().join("run");
    Trainer::new(cfg.clone(), &run, Device::Cpu, false).unwrap().run(false).unwrap();
    let ckpts = checkpoint::list(&run).unwrap();
    assert_eq!(ckpts.len(), 2, "{ckpts:?}");
    let cfg_file = dir.path().join("run.toml");
    let mut longer = cfg.clone();
    longer.steps = 5;
    std::fs::write(&cfg_file, longer.to_toml()).unwrap();
    let resume = || train_cli(&run, &cfg_file, &["--resume"]).output().unwrap();
    // A truncated decoder file in the newest checkpoint: the previous one is used.
    let bad = ckpts[1].join("decoder.safetensors");
    let bytes = std::fs::read(&bad).unwrap();
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    let o = resume();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("skipping unusable checkpoint") && err.contains(&ckpts[1].display().to_string()), "{err}");
    assert_eq!(logged_steps(&run), ["1", "2", "3", "4", "5"], "resumed from step 2");
    // A partly deleted newest checkpoint (its optimiser state gone): the same.
    let newest = checkpoint::list(&run).unwrap().pop().unwrap();
    std::fs::remove_file(newest.join("optimizer.safetensors")).unwrap();
    let o = resume();
    assert!(o.status.success() && stderr(&o).contains(&newest.display().to_string()), "{}", stderr(&o));
    // Nothing usable at all: a clear error, no panic.
    for c in checkpoint::list(&run).unwrap() {
        std::fs::write(c.join("decoder.safetensors"), b"junk").unwrap();
    }
    let o = resume();
    assert!(!o.status.success() && stderr(&o).contains("no checkpoint could be loaded"), "{}", stderr(&o));
}

#[test]
fn a_full_disk_during_a_checkpoint_is_a_clear_error_and_keeps_the_previous_one() {
    // One checkpoint (decoder + Adam moments, float32) is about 42 MB: room for one, not two.
    let Some(fs) = Tmpfs::mount(60 << 20, false) else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 4);
    cfg.val_count = 0;
    cfg.image_every = 0;
    let run = fs.0.join("run");
    let err = Trainer::new(cfg.clone(), &run, Device::Cpu, false).unwrap().run(false).unwrap_err().to_string();
    assert!(err.contains("No space left"), "{err}");
    let ckpts = checkpoint::list(&run).unwrap();
    assert_eq!(ckpts.len(), 1, "{ckpts:?}");
    assert_eq!(checkpoint::read_state(&ckpts[0]).unwrap().step, 2);
    let names: Vec<_> = std::fs::read_dir(checkpoint::dir(&run)).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "no partial checkpoint left behind: {names:?}");
    // The run resumes from the intact checkpoint.
    let t = Trainer::new(cfg, &run, Device::Cpu, true).unwrap();
    assert_eq!(t.step, 2);
}

#[test]
fn tensorboard_reads_our_event_files() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let cfg = tiny_config(dir.path(), Stage::Adain, 4);
    Trainer::new(cfg, &run, Device::Cpu, false).unwrap().run(false).unwrap();
    let out = Command::new(python())
        .args([
            root().join("scripts/reference.py").to_str().unwrap(),
            "tb-summary",
            "--logdir",
            run.join("tb").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json = String::from_utf8_lossy(&out.stdout);
    for tag in [
        "loss/total",
        "loss/content",
        "loss/style",
        "loss/style_relu1_1",
        "loss/style_relu4_1",
        "lr",
        "grad_norm",
        "throughput/images_per_s",
        "val/total",
    ] {
        assert!(json.contains(&format!("\"{tag}\"")), "tag {tag} missing: {json}");
    }
    // Steps 1..4 of loss/total, and the image of step 4: 1 pair → 96×32 (style|content|output).
    assert!(json.contains("\"loss/total\": [[1, "), "{json}");
    assert!(json.contains("[4, "), "{json}");
    assert!(json.contains("\"val/style_content_stylized\": {\"steps\": [2, 4], \"width\": 96, \"height\": 32, \"decoded_size\": [96, 32]}"), "{json}");
    assert!(run.join("loss.png").exists() && run.join("val.png").exists() && run.join("metrics.csv").exists());
    assert_eq!(image::image_dimensions(run.join("val.png")).unwrap(), (96, 32));
}

#[test]
fn corrupt_images_in_the_data_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 3);
    cfg.val_count = 0;
    std::fs::write(cfg.content_dir.join("broken.jpg"), b"not a jpeg at all").unwrap();
    std::fs::write(cfg.style_dir.join("empty.png"), b"").unwrap();
    let cfg_file = dir.path().join("run.toml");
    std::fs::write(&cfg_file, cfg.to_toml()).unwrap();
    let run = dir.path().join("run");
    // With scale jitter on (load size 40, crops drawn from 32..=40).
    let o = train_cli(&run, &cfg_file, &["--batch-size", "8", "--load-size-min", "32"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("broken.jpg") && err.contains("empty.png"), "warns about each bad file: {err}");
    assert_eq!(err.matches("broken.jpg").count(), 1, "one warning per file: {err}");
    assert!(run.join("decoder.safetensors").exists());
    // A setting that cannot work is named by its flag, before anything is read or written.
    let o = train_cli(&dir.path().join("bad"), &cfg_file, &["--crop-size", "12"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--crop-size 12: the crop size must be a multiple of 8"), "{err}");
    assert!(!dir.path().join("bad").exists(), "nothing written for a refused run");
    let o = train_cli(&dir.path().join("bad"), &cfg_file, &["--load-size-min", "48"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--load-size-min 48: must lie between the crop size 32 and"), "{err}");
    let o = train_cli(&dir.path().join("bad"), &cfg_file, &["--val-content", s(dir.path())]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--val-style (none): give it with val_content"), "{err}");
}

#[test]
fn toml_config_round_trips_and_rejects_unknown_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = TrainConfig {
        style_loss: StyleLossConfig {
            reduce: StyleReduce::Sum,
            sqrt: true,
            normalize: true,
            pixel_weight: 2.0,
            pixel_covariance: true,
            covariance: [0.0, 0.0, 1.5, 3.0],
        },
        rotate: true,
        ..Default::default()
    };
    cfg.lr.schedule = adain::train::schedule::Schedule::Plateau;
    let p = dir.path().join("c.toml");
    std::fs::write(&p, cfg.to_toml()).unwrap();
    assert_eq!(TrainConfig::from_toml_file(&p).unwrap(), cfg);
    std::fs::write(&p, "stage = \"adain\"\nstyle_wieght = 3.0\n").unwrap();
    let err = TrainConfig::from_toml_file(&p).unwrap_err().to_string();
    assert!(err.contains("style_wieght") && err.contains("c.toml"), "{err}");
}

#[test]
fn train_on_shared_data_both_stages() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let base = TrainConfig {
        content_dir: data.join("content"),
        style_dir: data.join("style"),
        encoder: vgg16().to_string_lossy().into_owned(),
        steps: 2,
        batch_size: 2,
        load_size: 64,
        crop_size: 32,
        val_count: 2,
        val_every: 2,
        image_every: 2,
        ..Default::default()
    };
    let recon = dir.path().join("recon");
    let cfg = TrainConfig { stage: Stage::Reconstruct, ..base.clone() };
    let s = Trainer::new(cfg, &recon, Device::Cpu, false).unwrap().run(false).unwrap();
    assert!(s.last_loss.is_finite());
    let cfg = TrainConfig { stage: Stage::Adain, init_decoder: Some(s.weights), ..base };
    let s = Trainer::new(cfg, &dir.path().join("adain"), Device::Cpu, false).unwrap().run(false).unwrap();
    assert!(s.last_loss.is_finite());
}

/// The frame-bias penalty: the sampler's second half is the first half turned, the penalty is
/// logged with a finite positive value at every step, and an odd batch is refused.
#[test]
fn frame_bias_penalty_pairs_turned_crops_and_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 6);
    cfg.batch_size = 4;
    cfg.frame_bias_weight = 100.0;
    let (c, s) = (cfg.content_dir.clone(), cfg.style_dir.clone());
    let folder = |d: &std::path::Path| {
        let paths = adain::data::image::list_images(d).unwrap();
        adain::data::dataset::ImageFolder::from_paths(d, paths, 40, adain::data::dataset::ResizeMode::Shorter)
    };
    let mut sampler = adain::data::dataset::Sampler::new(1, 4, 32, Default::default());
    sampler.turned_pairs = true;
    let b = sampler.batch(&folder(&c), &folder(&s), 0).unwrap();
    for x in [&b.content, &b.style] {
        assert_eq!(x.size(), [4, 3, 32, 32]);
        let back = x.narrow(0, 2, 2).rot90(1, [-2, -1]);
        assert!(back.equal(&x.narrow(0, 0, 2)), "the second half is the first turned clockwise");
        assert!(!x.narrow(0, 2, 2).equal(&x.narrow(0, 0, 2)));
    }
    let run = dir.path().join("run");
    Trainer::new(cfg, &run, Device::Cpu, false).unwrap().run(false).unwrap();
    let fb = csv_column(&run.join("metrics.csv"), "frame_bias");
    assert_eq!(fb.len(), 6);
    assert!(fb.iter().all(|b| b.is_finite() && *b > 0.0), "{fb:?}");
    let mut odd = tiny_config(dir.path(), Stage::Adain, 1);
    odd.batch_size = 3;
    odd.frame_bias_weight = 1.0;
    let e = Trainer::new(odd, &dir.path().join("odd"), Device::Cpu, false).err().unwrap().to_string();
    assert!(e.contains("even batch size"), "{e}");
}

/// The structure and identity terms enter the total, are logged in their own columns, and the
/// identity term (the decoder as an inverse of the encoder) falls when trained on a fixed batch.
#[test]
fn structure_and_identity_terms_train_and_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_config(dir.path(), Stage::Adain, 100);
    cfg.lr.lr = 1e-3;
    cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
    cfg.structure_weights = [0.0, 1.0, 1.0, 0.0];
    cfg.identity_weight = 100.0;
    let mut t = Trainer::new(cfg.clone(), &dir.path().join("fixed"), Device::Cpu, false).unwrap();
    let content = photo("chelsea.jpg", 48).narrow(3, 0, 48);
    let style = photo("starry_night.jpg", 48).narrow(3, 0, 48);
    let first = t.train_step(&content, &style).unwrap().0;
    let last = (1..15).map(|_| t.train_step(&content, &style).unwrap().0).last().unwrap();
    assert!(first.structure > 0.0 && first.identity > 0.0, "{first:?}");
    let parts = first.content + 10.0 * first.style + first.structure + first.identity;
    assert!((first.total - parts).abs() < 1e-3 * first.total, "total {} against its parts {parts}", first.total);
    assert!(last.identity < 0.7 * first.identity, "identity term {} -> {}", first.identity, last.identity);

    cfg.steps = 3;
    let run = dir.path().join("run");
    Trainer::new(cfg, &run, Device::Cpu, false).unwrap().run(false).unwrap();
    for name in ["structure", "identity"] {
        let v = csv_column(&run.join("metrics.csv"), name);
        assert!(!v.is_empty() && v.iter().all(|x| x.is_finite() && *x > 0.0), "{name}: {v:?}");
    }
}

/// The steadiness term (the lite network's result for a moved, noised crop against its result
/// moved alike) enters the total with its weight, falls when it alone is trained on a fixed
/// batch, and is logged in its own column.
#[test]
fn the_steadiness_term_trains_and_is_logged() {
    tch::manual_seed(7);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = lite_term_config(dir.path());
    cfg.steadiness_weight = 10.0;
    let content = photo("chelsea.jpg", 48).narrow(3, 0, 48).repeat([2, 1, 1, 1]);
    let style = photo("starry_night.jpg", 48).narrow(3, 0, 48).repeat([2, 1, 1, 1]);
    let first = first_step_has_its_parts(&cfg, dir.path(), &content, &style, |l| 10.0 * l.steadiness);
    assert!(first.steadiness > 0.0, "{first:?}");
    // Alone, it trains (the shift is drawn anew at each step: means of three steps).
    let mut only = cfg.clone();
    (only.content_weight, only.style_weight) = (0.0, 0.0);
    let mut t = Trainer::new(only, &dir.path().join("only"), Device::Cpu, false).unwrap();
    let steps: Vec<f64> = (0..25).map(|_| t.train_step(&content, &style).unwrap().0.steadiness).collect();
    let (early, late) = (steps[..3].iter().sum::<f64>() / 3.0, steps[22..].iter().sum::<f64>() / 3.0);
    assert!(late < 0.7 * early, "steadiness {early} -> {late}: {steps:?}");
    logs_its_column(cfg, dir.path(), "steadiness");
}

/// A tiny lite AdaIN run at a constant learning rate of 2e-3: what the tests of one loss term
/// start from.
fn lite_term_config(dir: &Path) -> TrainConfig {
    let mut cfg = tiny_config(dir, Stage::Adain, 100);
    cfg.model = adain::model::Family::Lite;
    cfg.lr.lr = 2e-3;
    cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
    cfg
}

/// The losses of `cfg`'s first step on a fixed batch, checked to total content + λ·(style +
/// p·pixels) + `term` (the weighted term under test).
fn first_step_has_its_parts(
    cfg: &TrainConfig,
    dir: &Path,
    content: &Tensor,
    style: &Tensor,
    term: impl Fn(&adain::train::trainer::StepLosses) -> f64,
) -> adain::train::trainer::StepLosses {
    let mut t = Trainer::new(cfg.clone(), &dir.join("fixed"), Device::Cpu, false).unwrap();
    let first = t.train_step(content, style).unwrap().0;
    let parts = first.content
        + cfg.style_weight * (first.style + cfg.style_loss.pixel_weight * first.style_pixels)
        + term(&first);
    assert!((first.total - parts).abs() < 1e-3 * first.total, "total {} against its parts {parts}", first.total);
    first
}

/// A 3-step run of `cfg` logs `column` in metrics.csv, finite and positive at every row.
fn logs_its_column(mut cfg: TrainConfig, dir: &Path, column: &str) {
    cfg.steps = 3;
    let run = dir.join("run");
    Trainer::new(cfg, &run, Device::Cpu, false).unwrap().run(false).unwrap();
    let v = csv_column(&run.join("metrics.csv"), column);
    assert!(!v.is_empty() && v.iter().all(|x| x.is_finite() && *x > 0.0), "{column}: {v:?}");
}

/// The style-signal contrastive term enters the total with its weight, falls when it alone is
/// trained on a fixed batch of two styles, is logged in its own column, and is refused where
/// it cannot work (the VGG model, a batch of one), naming its setting.
#[test]
fn the_contrastive_term_trains_and_is_logged() {
    tch::manual_seed(7);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = lite_term_config(dir.path());
    cfg.contrastive_weight = 5.0;
    let content = photo("chelsea.jpg", 48).narrow(3, 0, 48).repeat([2, 1, 1, 1]);
    let style =
        Tensor::cat(&[photo("starry_night.jpg", 48).narrow(3, 0, 48), photo("astronaut.jpg", 48).narrow(3, 0, 48)], 0);
    let first = first_step_has_its_parts(&cfg, dir.path(), &content, &style, |l| 5.0 * l.contrastive);
    assert!(first.contrastive > 0.0, "{first:?}");
    // Alone, from the shipped network (a fresh one's style signals hardly depend on the style).
    let mut only = cfg.clone();
    (only.content_weight, only.style_weight, only.lr.lr) = (0.0, 0.0, 1e-4);
    only.init_decoder = Some(root().join("models").join("lite.safetensors"));
    let mut t = Trainer::new(only, &dir.path().join("only"), Device::Cpu, false).unwrap();
    let steps: Vec<f64> = (0..10).map(|_| t.train_step(&content, &style).unwrap().0.contrastive).collect();
    assert!(steps[9] < 0.5 * steps[0], "contrastive {steps:?}");
    logs_its_column(cfg.clone(), dir.path(), "contrastive");

    for bad in
        [TrainConfig { model: adain::model::Family::Vgg, ..cfg.clone() }, TrainConfig { batch_size: 1, ..cfg.clone() }]
    {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("contrastive_weight"), "{e}");
    }
}

/// The values of the column `name` of a run's CSV file (panics naming a missing column).
fn csv_column(path: &std::path::Path, name: &str) -> Vec<f64> {
    let csv = std::fs::read_to_string(path).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("a {name} column"));
    csv.lines().skip(1).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect()
}

/// The lite network's training terms and gradients against the PyTorch recipe
/// (`scripts/reference.py`'s `lite_training_terms`, which the PyTorch script that trained steps
/// 1–14 200 of the shipped network used)
/// on the same random weights (modulators non-zero), batch and tap scales, float32; the style
/// taps relu2_1..relu4_1 with their covariance parts (`style_loss.covariance`), relu1_1 without,
/// and the style-signal contrastive term.
#[test]
fn lite_losses_match_the_pytorch_recipe() {
    use adain::model::losses::{LossWeights, TapScales};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lite.safetensors");
    reference(&["lite-weights", "--seed", "4", "--out", s(&file)]);
    let lite = adain::weights::lite::read_lite(&file, Device::Cpu).unwrap();
    let enc = encoder();
    let content =
        Tensor::cat(&[photo("chelsea.jpg", 48).narrow(3, 0, 48), photo("coffee.jpg", 48).narrow(3, 0, 48)], 0);
    let style =
        Tensor::cat(&[photo("starry_night.jpg", 48).narrow(3, 0, 48), photo("astronaut.jpg", 48).narrow(3, 0, 48)], 0);
    let scales = TapScales::measure(&enc.encoder, &content);
    let named = scales.named();
    let mut inputs: Vec<(&str, &Tensor)> = vec![("content", &content), ("style", &style)];
    inputs.extend(named.iter().map(|(n, t)| (n.as_str(), t)));
    let theirs = reference_io(
        dir.path(),
        &[
            "lite-losses",
            "--weights",
            s(&file),
            "--vgg",
            s(&vgg16()),
            "--covariance",
            "0",
            "0.5",
            "1",
            "2",
            "--contrastive",
            "20",
        ],
        &inputs,
    );
    let cfg =
        StyleLossConfig { normalize: true, pixel_weight: 4.0, covariance: [0.0, 0.5, 1.0, 2.0], ..Default::default() };
    let w = LossWeights {
        content: 1.0,
        style: 30.0,
        pixels: 4.0,
        identity: 300.0,
        identity_perceptual: 10.0,
        contrastive: 20.0,
        ..Default::default()
    };
    // Direct convolutions, as in `losses_match_torch_for_every_switch`: gradients through the
    // stds of tiny maps amplify rounding differences.
    let l = winograd::direct(|| {
        losses::adain_losses(
            &enc.encoder,
            &lite.net,
            &content,
            &style,
            &losses::Objective { style: &cfg, scales: Some(&scales), weights: &w },
        )
    });
    let ours = [
        ("content", &l.content),
        ("style_0", &l.style[0]),
        ("style_1", &l.style[1]),
        ("style_2", &l.style[2]),
        ("style_3", &l.style[3]),
        ("pixels", &l.pixels),
        ("identity", &l.identity),
        ("identity_perceptual", &l.identity_perceptual),
        ("contrastive", &l.contrastive),
    ];
    for (name, t) in ours {
        let e = rel_err(&t.reshape([1]), &theirs[name]);
        assert!(
            e < 1e-4,
            "{name}: ours {} theirs {}, relative error {e}",
            t.double_value(&[]),
            theirs[name].double_value(&[0])
        );
    }
    l.total(&w).backward();
    let vars = lite.vs.variables();
    for name in ["content_encoder.conv_in.weight", "style_encoder.down2.weight", "decoder.mod_up1.weight"] {
        let e = rel_l2(&vars[name].grad(), &theirs[&format!("grad.{name}")]);
        assert!(e < 1e-3, "gradient of {name}: relative L2 error {e}");
    }
}

/// `--model lite` through the trainer: the reconstruction stage and the AdaIN stage (from the
/// former's file, the style encoder starting as a copy of the content encoder) both lower
/// their loss on a fixed batch; a run split by a checkpoint ends bit-identical to a straight
/// one; the result loads and stylizes through `adain stylize --model lite`.
#[test]
fn the_lite_network_trains_in_both_stages_resumes_exactly_and_stylizes() {
    use adain::model::Family;
    let dir = tempfile::tempdir().unwrap();
    let content = photo("chelsea.jpg", 48).narrow(3, 0, 48).repeat([2, 1, 1, 1]);
    let style = photo("starry_night.jpg", 48).narrow(3, 0, 48).repeat([2, 1, 1, 1]);
    let lite = |stage, steps| {
        let mut cfg = tiny_config(dir.path(), stage, steps);
        cfg.model = Family::Lite;
        cfg.lr.lr = 2e-3;
        cfg.lr.schedule = adain::train::schedule::Schedule::Constant;
        cfg
    };
    let recon_dir = dir.path().join("recon");
    let mut t = Trainer::new(lite(Stage::Reconstruct, 100), &recon_dir, Device::Cpu, false).unwrap();
    let (first, last) = train_on_one_batch(&mut t, &content, &style, 20);
    assert!(last < 0.7 * first, "lite reconstruction: loss {first} -> {last}");
    let recon = Trainer::new(lite(Stage::Reconstruct, 2), &dir.path().join("recon-run"), Device::Cpu, false)
        .unwrap()
        .run(false)
        .unwrap();
    assert!(recon.weights.ends_with("lite.safetensors"), "{}", recon.weights.display());
    let file = read(&recon.weights);
    assert!(
        file.keys().all(|k| !k.starts_with("style_encoder.")),
        "the reconstruction stage leaves the style encoder out"
    );

    let mut adain_cfg = lite(Stage::Adain, 100);
    adain_cfg.init_decoder = Some(recon.weights.clone());
    adain_cfg.style_weight = 30.0;
    adain_cfg.style_loss.normalize = true;
    adain_cfg.style_loss.pixel_weight = 4.0;
    adain_cfg.identity_weight = 300.0;
    adain_cfg.identity_perceptual_weight = 10.0;
    let mut t = Trainer::new(adain_cfg.clone(), &dir.path().join("adain"), Device::Cpu, false).unwrap();
    let vars = t.net.vs().variables();
    assert!(
        vars["style_encoder.conv_in.weight"].equal(&vars["content_encoder.conv_in.weight"]),
        "the AdaIN stage starts the style encoder as a copy of the content encoder"
    );
    let scales = adain::model::losses::TapScales::measure(&t.encoder.encoder, &content);
    t.scales = Some(scales);
    let (first, last) = train_on_one_batch(&mut t, &content, &style, 20);
    assert!(last < 0.8 * first, "lite AdaIN stage: loss {first} -> {last}");

    let (straight, split) = (dir.path().join("straight"), dir.path().join("split"));
    adain_cfg.steps = 4;
    Trainer::new(adain_cfg.clone(), &straight, Device::Cpu, false).unwrap().run(false).unwrap();
    let mut half = adain_cfg.clone();
    half.steps = 2;
    Trainer::new(half, &split, Device::Cpu, false).unwrap().run(false).unwrap();
    let mut t = Trainer::new(adain_cfg, &split, Device::Cpu, true).unwrap();
    assert_eq!(t.step, 2);
    t.run(false).unwrap();
    let (a, b) =
        (decoder_tensors(&straight.join("lite.safetensors")), decoder_tensors(&split.join("lite.safetensors")));
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ta.equal(tb), "{na} differs after resume");
    }

    // Resumed with extra decoder blocks (one at 1/4 resolution, one at 1/2), the run grows the
    // network: the same output at first (the blocks start as the identity), then the blocks
    // train, join Adam at the resumed step (saved in the checkpoint's state) and resume again
    // with the rest.
    let mut grown_cfg = adain_cfg_grown(&split);
    grown_cfg.steps = 6;
    let before = Trainer::new(grown_cfg.clone(), &split, Device::Cpu, true).unwrap();
    assert_eq!(before.step, 4);
    let mut plain_cfg = grown_cfg.clone();
    (plain_cfg.lite_extra_blocks, plain_cfg.lite_extra_blocks_half) = (0, 0);
    let plain = Trainer::new(plain_cfg, &split, Device::Cpu, true).unwrap();
    let (c, st) = (content.narrow(0, 0, 1), style.narrow(0, 0, 1));
    let (g, p) = tch::no_grad(|| {
        (
            before.net.stylize(&before.encoder.encoder, &c, &st, 1.0),
            plain.net.stylize(&plain.encoder.encoder, &c, &st, 1.0),
        )
    });
    assert!(g.allclose(&p, 1e-6, 1e-6, false), "growing changed the output by {}", (&g - &p).abs().max());
    let mut grown = before;
    grown.run(false).unwrap();
    let ckpt = checkpoint::list(&split).unwrap().pop().unwrap();
    let state = std::fs::read_to_string(ckpt.join("state.toml")).unwrap();
    let file = read(&ckpt.join("lite.safetensors"));
    for block in ["extra.0", "extra_half.0"] {
        assert!(state.contains(&format!("\"decoder.{block}.res.conv2.weight\" = 4")), "{state}");
        let moved = file[&format!("decoder.{block}.res.conv2.weight")].abs().max().double_value(&[]);
        assert!(moved > 0.0, "the new block {block} trains");
    }
    grown_cfg.steps = 7;
    let mut again = Trainer::new(grown_cfg, &split, Device::Cpu, true).unwrap();
    assert_eq!(again.step, 6);
    again.run(false).unwrap();
    let state = std::fs::read_to_string(checkpoint::list(&split).unwrap().pop().unwrap().join("state.toml")).unwrap();
    assert!(state.contains("\"decoder.extra.0.mod1.weight\" = 4"), "the start survives a resume: {state}");

    let picture = stylize_lite_64(&straight.join("lite.safetensors"), &dir.path().join("out.png"));
    assert_eq!(picture.dimensions().1, 64, "the lite result is an image of the asked size");
}

/// A resumed lite run's saved settings with one extra decoder block at 1/4 resolution and one
/// at 1/2.
fn adain_cfg_grown(run: &Path) -> TrainConfig {
    let mut cfg = TrainConfig::from_toml_file(&run.join("config.toml")).unwrap();
    (cfg.lite_extra_blocks, cfg.lite_extra_blocks_half) = (1, 1);
    cfg
}

/// `adain train --model lite` from the command line: the flag reaches the run's config and the
/// result is a lite weights file; `--model microast` is refused with a reason.
#[test]
fn adain_train_takes_the_model_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (content, style) = tiny_data(dir.path());
    let (run, vgg) = (dir.path().join("run"), vgg16());
    let common = [
        "--content",
        s(&content),
        "--style",
        s(&style),
        "--encoder",
        s(&vgg),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--load-size",
        "40",
        "--crop-size",
        "32",
        "--val-count",
        "1",
        "--quiet",
    ];
    let o =
        adain(&[&["train", "--model", "lite", "--stage", "reconstruct", "--run-dir", s(&run)], &common[..]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run.join("lite.safetensors").exists());
    let cfg = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(cfg.contains("model = \"lite\""), "{cfg}");
    let m = dir.path().join("m");
    let o = adain(&[&["train", "--model", "microast", "--run-dir", s(&m)], &common[..]].concat());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("microast cannot be trained"), "{}", stderr(&o));
    // Extra decoder blocks are the lite network's: refused for vgg, by their flag.
    let o =
        adain(&[&["train", "--model", "vgg", "--lite-extra-blocks", "1", "--run-dir", s(&m)], &common[..]].concat());
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--lite-extra-blocks") && stderr(&o).contains("only the lite network"),
        "{}",
        stderr(&o)
    );
}
