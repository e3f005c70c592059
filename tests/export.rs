//! ONNX export: the checker accepts the models and onnxruntime reproduces adain's own output.
#![cfg(feature = "torch")]

mod common;

use adain::export::onnx::{self, OnnxOptions};
use adain::model::StyleTransfer;
use adain::weights;
use common::*;
use std::path::Path;
use tch::{Device, Tensor};

fn run_onnx(model: &Path, inputs: &[(&str, &Tensor)], dir: &Path) -> Tensor {
    run_with("onnx-run", model, inputs, dir)
}

/// Runs a model with the reference's `onnx-run` (onnxruntime) or `openvino-run`.
fn run_with(runner: &str, model: &Path, inputs: &[(&str, &Tensor)], dir: &Path) -> Tensor {
    reference_io(dir, &[runner, "--model", s(model)], inputs).remove("stylized").unwrap()
}

#[test]
fn onnx_models_match_adain() {
    let dir = tempfile::tempdir().unwrap();
    let enc = encoder();
    let dec = weights::new_decoder_seeded(enc.encoder.config(), Device::Cpu, 6);
    let net = StyleTransfer { encoder: &enc.encoder, decoder: &dec.decoder };
    // Odd content size: the graph pads to a multiple of 8 and slices back.
    let content = photo("chelsea.jpg", 45);
    let style = photo("starry_night.jpg", 56);
    let alpha = 0.8;
    let stats = net.style_stats(&style);
    let ours = tch::no_grad(|| net.stylize(&content, &stats, alpha));
    assert_eq!(ours.size(), vec![1, 3, 45, 68]);

    let arbitrary = dir.path().join("adain.onnx");
    onnx::export(&enc, &dec, &OnnxOptions { fixed_style: None, half: false }, &arbitrary).unwrap();
    let alpha_t = Tensor::from_slice(&[alpha as f32]);
    let theirs = run_onnx(&arbitrary, &[("content", &content), ("style", &style), ("alpha", &alpha_t)], dir.path());
    let e = rel_err(&theirs, &ours);
    assert!(e < 1e-4, "arbitrary-style model: relative error {e}");
    // OpenVINO reads and runs the same file (CPU plugin, float32 inference precision).
    let ov = run_with(
        "openvino-run",
        &arbitrary,
        &[("content", &content), ("style", &style), ("alpha", &alpha_t)],
        dir.path(),
    );
    let e = rel_err(&ov, &ours);
    assert!(e < 1e-4, "OpenVINO, arbitrary-style model: relative error {e}");

    let fixed = dir.path().join("fixed.onnx");
    onnx::export(&enc, &dec, &OnnxOptions { fixed_style: Some((stats.clone(), alpha)), half: false }, &fixed).unwrap();
    let theirs = run_onnx(&fixed, &[("content", &content)], dir.path());
    let e = rel_err(&theirs, &ours);
    assert!(e < 1e-4, "fixed-style model: relative error {e}");
    let ov = run_with("openvino-run", &fixed, &[("content", &content)], dir.path());
    let e = rel_err(&ov, &ours);
    assert!(e < 1e-4, "OpenVINO, fixed-style model: relative error {e}");

    // float16: half the file, within a stated bound of the float32 result.
    let half = dir.path().join("fixed16.onnx");
    onnx::export(&enc, &dec, &OnnxOptions { fixed_style: Some((stats, alpha)), half: true }, &half).unwrap();
    let theirs = run_onnx(&half, &[("content", &content)], dir.path());
    let e = rel_err(&theirs, &ours);
    assert!(e < 2e-2, "float16 model: relative error {e}");
    let (s32, s16) = (std::fs::metadata(&fixed).unwrap().len(), std::fs::metadata(&half).unwrap().len());
    assert!(s16 * 10 < s32 * 6, "float16 file {s16} vs float32 {s32}");
    eprintln!("float16 relative error {e:.2e}; sizes {s32} -> {s16} bytes");
}

/// The lite network's graphs (arbitrary and fixed style, and the style/frame halves the browser
/// runs, float32 and float16) in onnxruntime and OpenVINO against adain on the same random
/// weights (non-zero modulators); the halves also with two styles mixed by their codes.
#[test]
fn lite_onnx_models_match_adain() {
    use adain::export::onnx_lite;
    use adain::infer::{Family, NetworkSpec, StyleCode};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lite.safetensors");
    reference(&["lite-weights", "--seed", "5", "--out", s(&file)]);
    let spec = NetworkSpec {
        family: Family::Lite,
        weights: Some(file),
        precision: adain::model::Precision::F32,
        ..NetworkSpec::default()
    };
    let net = spec.load().unwrap();
    // The graphs are written from the weights' plain tensors (as the light build writes them).
    let lite = &spec.lite_store().unwrap();
    // Odd content size: the graph pads to a multiple of 4 and slices back.
    let content = photo("chelsea.jpg", 45);
    let style = photo("starry_night.jpg", 56);
    let alpha = 0.8;
    let code = net.style_code(&style).unwrap();
    let ours = tch::no_grad(|| {
        let f = net.features(&net.pad(&content).unwrap()).unwrap();
        net.decode(&net.target(&f, &code, alpha).unwrap(), &code, alpha).unwrap().narrow(2, 0, 45).narrow(3, 0, 68)
    });
    let alpha_t = Tensor::from_slice(&[alpha as f32]);
    let full = [("content", &content), ("style", &style), ("alpha", &alpha_t)];
    // A second style, mixed with the first by a weighted sum of the two halves' style codes.
    let style2 = photo("chelsea.jpg", 40);
    let code2 = net.style_code(&style2).unwrap();
    let mixed = StyleCode::mix(&[code.clone(), code2], &[0.3, 0.7]).unwrap();
    let ours_mixed = tch::no_grad(|| {
        let f = net.features(&net.pad(&content).unwrap()).unwrap();
        net.decode(&net.target(&f, &mixed, alpha).unwrap(), &mixed, alpha).unwrap().narrow(2, 0, 45).narrow(3, 0, 68)
    });
    for half in [false, true] {
        let arbitrary = dir.path().join(format!("lite-{half}.onnx"));
        onnx::write(&onnx_lite::build(lite, None, half).unwrap(), &arbitrary).unwrap();
        let fixed = dir.path().join(format!("lite-fixed-{half}.onnx"));
        let plain_code = adain::model::light::LiteStyle::from_vecs(&code.to_vecs()).unwrap();
        onnx::write(&onnx_lite::build(lite, Some(&(plain_code, alpha)), half).unwrap(), &fixed).unwrap();
        let style_half = dir.path().join(format!("lite-style-{half}.onnx"));
        onnx::write(&onnx_lite::build_style(lite, half).unwrap(), &style_half).unwrap();
        let frame_half = dir.path().join(format!("lite-frame-{half}.onnx"));
        onnx::write(&onnx_lite::build_frame(lite, half).unwrap(), &frame_half).unwrap();
        let bound = if half { 1e-2 } else { 1e-4 };
        for runner in ["onnx-run", "openvino-run"] {
            let e = rel_err(&run_with(runner, &arbitrary, &full, dir.path()), &ours);
            eprintln!("{runner} arbitrary half={half}: {e:.2e}");
            assert!(e < bound, "{runner}, arbitrary-style lite model (half {half}): relative error {e}");
            let e = rel_err(&run_with(runner, &fixed, &[("content", &content)], dir.path()), &ours);
            eprintln!("{runner} fixed half={half}: {e:.2e}");
            assert!(e < bound, "{runner}, fixed-style lite model (half {half}): relative error {e}");
            // The two halves the browser runs: a style code per style, then frames.
            let code_of = |im: &Tensor| {
                let io = reference_io(dir.path(), &[runner, "--model", s(&style_half)], &[("style", im)]);
                io["style_code"].shallow_clone()
            };
            let (c1, c2) = (code_of(&style), code_of(&style2));
            assert_eq!(c1.size(), vec![1, onnx_lite::style_code_len(&Default::default())]);
            for (code, want, what) in
                [(c1.shallow_clone(), &ours, "one style"), (&c1 * 0.3 + &c2 * 0.7, &ours_mixed, "two mixed")]
            {
                let theirs = run_with(
                    runner,
                    &frame_half,
                    &[("content", &content), ("style_code", &code), ("alpha", &alpha_t)],
                    dir.path(),
                );
                let e = rel_err(&theirs, want);
                eprintln!("{runner} halves ({what}) half={half}: {e:.2e}");
                assert!(e < bound, "{runner}, lite halves, {what} (half {half}): relative error {e}");
            }
        }
    }
}

/// A lite network grown with extra decoder blocks (`adain train --lite-extra-blocks`) runs in
/// the full build, its blocks applied (another picture than the shipped network's once they
/// are trained), and the paths that run only the shipped layout refuse it by name: ONNX export
/// and the light build's loader.
#[test]
fn a_grown_lite_network_runs_in_the_full_build_and_is_refused_where_unsupported() {
    use adain::model::lite::{LiteConfig, LiteNet};
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/lite.safetensors");
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let _net = LiteNet::new(&vs.root(), &LiteConfig { extra_blocks: 1, extra_blocks_half: 1, ..Default::default() });
    let sd = adain::weights::read_state_dict(&shipped).unwrap();
    adain::weights::copy_into_growing(&vs, &sd, &shipped, &|n| n.starts_with("decoder.extra")).unwrap();
    for block in ["extra", "extra_half"] {
        let w = vs.variables()[&format!("decoder.{block}.0.res.conv2.weight")].shallow_clone();
        let _ = tch::no_grad(|| w.shallow_clone().normal_(0.0, 0.02));
    }
    let grown = dir.path().join("grown.safetensors");
    let named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    adain::weights::write_safetensors(&grown, &named).unwrap();

    let (a, b) =
        (stylize_lite_64(&shipped, &dir.path().join("a.png")), stylize_lite_64(&grown, &dir.path().join("b.png")));
    let diff: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| x.abs_diff(*y) as u64).sum();
    assert!(diff > 0, "the grown network's extra block is applied");

    let o = adain(&["export", "--model", "lite", "--weights", s(&grown), "-o", s(&dir.path().join("g.onnx"))]);
    assert!(
        !o.status.success() && stderr(&o).contains("grown.safetensors") && stderr(&o).contains("extra decoder blocks"),
        "{}",
        stderr(&o)
    );
    let e = adain::weights::plain::load_lite(&grown).map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("grown.safetensors") && e.contains("extra decoder blocks"), "{e}");
}
