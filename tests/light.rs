//! The light build (issue 37): the lite network on the project's own kernels, without
//! libtorch.
//!
//! - In the full build's test run: the light library ([`adain::infer::light`]) against the
//!   libtorch lite path at `--precision f32` on the same weights and the committed assets
//!   (≥ 40 dB PSNR, for plain, α, style mixes, kept colours and tiles), and the light network's
//!   steps against libtorch's.
//! - In the light build's (`cargo test --no-default-features`): the light binary itself, which
//!   links no libtorch, writes what the light library computes (stills, masks, video), runs
//!   cross-built for aarch64 under qemu, and refuses what it lacks with one line.

use adain::data::image as img;
use adain::infer::light;
use adain::infer::{Family, Settings};
use image::Rgb32FImage;
use std::path::PathBuf;

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join(name)
}

fn load(name: &str, size: u32) -> Rgb32FImage {
    img::load_sized(&asset(name), size, false).unwrap()
}

fn psnr(a: &Rgb32FImage, b: &Rgb32FImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let mse =
        a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / a.as_raw().len() as f64;
    -10.0 * mse.max(1e-20).log10()
}

/// The light stylizer's result for one content and spec.
fn light_result(
    net: &light::Network,
    settings: Settings,
    content: &Rgb32FImage,
    spec: light::StyleSpec,
) -> Rgb32FImage {
    let s = light::Stylizer::new(light::Method::Network(net), settings).unwrap();
    s.stylize(content, &s.prepare(spec).unwrap()).unwrap()
}

/// A style prepared once and used at another α (a live connection whose slider moved, a
/// server's cached codes) gives the picture of a style prepared at that α; so do codes computed
/// apart and handed to `prepare_with_codes`, for a single style and for a mix.
#[test]
fn a_prepared_style_follows_the_stylizers_alpha_and_cached_codes_give_the_same_picture() {
    let net = light::NetworkSpec { family: Family::Lite, ..Default::default() }.load().unwrap();
    let at = |alpha: f64| Settings { alpha, match_palette: 0.0, ..Settings::for_family(Family::Lite) };
    let (content, style, other) = (load("chelsea.jpg", 48), load("starry_night.jpg", 64), load("coffee.jpg", 64));
    let s1 = light::Stylizer::new(light::Method::Network(&net), at(1.0)).unwrap();
    let s05 = light::Stylizer::new(light::Method::Network(&net), at(0.5)).unwrap();
    let prepared_at_1 = s1.prepare(light::StyleSpec::Single(style.clone())).unwrap();
    let moved = s05.stylize_frame(&content, &prepared_at_1, None).unwrap();
    let want = light_result(&net, at(0.5), &content, light::StyleSpec::Single(style.clone()));
    assert!(psnr(&moved, &want) > 100.0, "{:.1} dB", psnr(&moved, &want));
    assert!(psnr(&moved, &s1.stylize(&content, &prepared_at_1).unwrap()) < 40.0, "α made no difference");
    let code = |im: &Rgb32FImage| s05.style_code(im).unwrap().expect("a network code");
    let spec = light::StyleSpec::Mix(vec![(style.clone(), 1.0), (other.clone(), 3.0)]);
    let cached = s05.prepare_with_codes(spec.clone(), vec![code(&style), code(&other)]).unwrap();
    let (got, want) = (s05.stylize(&content, &cached).unwrap(), light_result(&net, at(0.5), &content, spec));
    assert!(psnr(&got, &want) > 100.0, "{:.1} dB", psnr(&got, &want));
    let spec = light::StyleSpec::Single(style.clone());
    assert!(s05.prepare_with_codes(spec, vec![code(&style), code(&other)]).is_err(), "two codes for one style");
}

#[cfg(feature = "torch")]
mod against_libtorch {
    use super::*;
    use adain::infer::{Method, NetworkSpec, StyleSpec, Stylizer, Tile};
    use adain::model::Precision;

    fn torch_result(
        net: &adain::infer::Network,
        settings: Settings,
        content: &Rgb32FImage,
        spec: StyleSpec,
    ) -> Rgb32FImage {
        let s = Stylizer::new(Method::Network(net), settings).unwrap();
        s.stylize(content, &s.prepare(spec).unwrap()).unwrap()
    }

    /// The same pictures as libtorch's lite path in float32: every committed photo with the
    /// committed painting at the defaults, at α 0.5, with the colours kept, with a two-style
    /// mix, with two styles split by a mask, and tiled (which must also equal the light path
    /// untiled).
    #[test]
    fn the_light_stylizer_gives_libtorchs_pictures() {
        let spec = NetworkSpec { family: Family::Lite, precision: Precision::F32, ..Default::default() };
        let torch = spec.load().unwrap();
        let light = light::NetworkSpec::default().load().unwrap();
        let defaults = Settings::for_family(Family::Lite);
        let style = load("starry_night.jpg", 256);
        let second = load("coffee.jpg", 256);
        // A diagonal split at another size than the contents (scaled to each).
        let mask =
            Rgb32FImage::from_fn(90, 60, |x, y| if x + y < 80 { image::Rgb([1.0; 3]) } else { image::Rgb([0.0; 3]) });
        let mut worst = f64::INFINITY;
        for photo in ["chelsea.jpg", "astronaut.jpg", "coffee.jpg"] {
            let content = load(photo, 200);
            let cases: Vec<(&str, Settings, StyleSpec, light::StyleSpec)> = vec![
                (
                    "defaults",
                    defaults.clone(),
                    StyleSpec::Single(style.clone()),
                    light::StyleSpec::Single(style.clone()),
                ),
                (
                    "alpha 0.5",
                    Settings { alpha: 0.5, ..defaults.clone() },
                    StyleSpec::Single(style.clone()),
                    light::StyleSpec::Single(style.clone()),
                ),
                (
                    "preserve colour",
                    Settings { preserve_color: true, ..defaults.clone() },
                    StyleSpec::Single(style.clone()),
                    light::StyleSpec::Single(style.clone()),
                ),
                (
                    "mix 1:3",
                    defaults.clone(),
                    StyleSpec::Mix(vec![(style.clone(), 1.0), (second.clone(), 3.0)]),
                    light::StyleSpec::Mix(vec![(style.clone(), 1.0), (second.clone(), 3.0)]),
                ),
                (
                    "mask",
                    defaults.clone(),
                    StyleSpec::Masked { fg: style.clone(), bg: second.clone(), mask: mask.clone() },
                    light::StyleSpec::Masked { fg: style.clone(), bg: second.clone(), mask: mask.clone() },
                ),
                (
                    "tiles of 64",
                    Settings { tile: Tile::Size(64), ..defaults.clone() },
                    StyleSpec::Single(style.clone()),
                    light::StyleSpec::Single(style.clone()),
                ),
            ];
            for (what, settings, t_spec, l_spec) in cases {
                let a = torch_result(&torch, settings.clone(), &content, t_spec);
                let b = light_result(&light, settings, &content, l_spec);
                let p = psnr(&a, &b);
                eprintln!("{photo}, {what}: {p:.1} dB");
                assert!(p >= 40.0, "{photo}, {what}: the light path is {p:.1} dB from libtorch's");
                worst = worst.min(p);
            }
            let tiled = light_result(
                &light,
                Settings { tile: Tile::Size(64), ..defaults.clone() },
                &content,
                light::StyleSpec::Single(style.clone()),
            );
            let whole = light_result(
                &light,
                Settings { tile: Tile::Off, ..defaults.clone() },
                &content,
                light::StyleSpec::Single(style.clone()),
            );
            assert!(psnr(&tiled, &whole) >= 60.0, "{photo}: tiles differ from the whole image");
        }
        eprintln!("worst: {worst:.1} dB");
    }

    /// Video frames with temporal smoothing (the camera's motion found and followed, the blend
    /// stopped where the content moved): libtorch's frames, from a clip panning 3 px a frame.
    #[test]
    fn temporal_smoothing_gives_libtorchs_frames() {
        let spec = NetworkSpec { family: Family::Lite, precision: Precision::F32, ..Default::default() };
        let torch = spec.load().unwrap();
        let light = light::NetworkSpec::default().load().unwrap();
        let settings = Settings { temporal: 0.5, ..Settings::for_family(Family::Lite) };
        let photo = load("chelsea.jpg", 96);
        let style = load("starry_night.jpg", 128);
        let clip: Vec<Vec<u8>> = (0..5)
            .map(|t| {
                let window = image::imageops::crop_imm(&photo, 3 * t, 0, 80, 64).to_image();
                window.into_raw().iter().map(|v| (v * 255.0).round() as u8).collect()
            })
            .collect();
        let t = Stylizer::new(Method::Network(&torch), settings.clone()).unwrap();
        let l = light::Stylizer::new(light::Method::Network(&light), settings).unwrap();
        let (tp, lp) =
            (t.prepare(StyleSpec::Single(style.clone())).unwrap(), l.prepare(StyleSpec::Single(style)).unwrap());
        let (mut tf, mut lf) = (t.frames(&tp, 0.5), l.frames(&lp, 0.5));
        for (k, frame) in clip.iter().enumerate() {
            let image = |v: Vec<f32>| Rgb32FImage::from_raw(80, 64, v).unwrap();
            let (a, b) = (image(tf(frame, (80, 64)).unwrap()), image(lf(frame, (80, 64)).unwrap()));
            assert!(psnr(&a, &b) >= 40.0, "frame {k}: {:.1} dB", psnr(&a, &b));
        }
    }

    /// The colour-transfer baseline (computed on the host in both builds) gives libtorch's
    /// AdaIN in pixel space, blended by α.
    #[test]
    fn colour_transfer_matches_libtorchs() {
        let content = load("astronaut.jpg", 128);
        let style = load("starry_night.jpg", 128);
        let settings = Settings { alpha: 0.7, ..Default::default() };
        let t = Stylizer::new(Method::ColorTransfer, settings).unwrap();
        let ours = t.stylize(&content, &t.prepare(StyleSpec::Single(style.clone())).unwrap()).unwrap();
        let (c, s) = (img::to_tensor(&content), img::to_tensor(&style));
        let moved = adain::model::adain::adain(&c, &s, adain::model::light::EPS_ADAIN).clamp(0.0, 1.0);
        let reference = img::from_tensor(&(moved * 0.7 + &c * 0.3));
        assert!(psnr(&ours, &reference) >= 60.0, "{:.1} dB", psnr(&ours, &reference));
    }
}

#[cfg(not(feature = "torch"))]
mod light_binary {
    use super::*;
    use std::process::Command;

    fn adain(args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_adain")).args(args).output().unwrap()
    }

    fn stderr(o: &std::process::Output) -> String {
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// The binary links no libtorch (nor any library outside the C runtime).
    #[test]
    fn the_binary_needs_no_libtorch() {
        let out = Command::new("ldd").arg(env!("CARGO_BIN_EXE_adain")).output().unwrap();
        let libs = String::from_utf8_lossy(&out.stdout);
        assert!(!libs.contains("torch") && !libs.contains("c10"), "{libs}");
        let allowed = ["linux-vdso", "libc.so", "libm.so", "libgcc_s", "ld-linux", "libpthread", "libdl", "librt"];
        for line in libs.lines() {
            assert!(allowed.iter().any(|a| line.contains(a)), "unexpected library: {line}");
        }
    }

    /// `adain stylize` writes, for a folder of contents and two styles at α 0.8 with a mix and
    /// with kept colours, what the light library computes for them (up to PNG's 8 bits).
    #[test]
    fn stylize_writes_what_the_library_computes() {
        let dir = tempfile::tempdir().unwrap();
        let contents = dir.path().join("contents");
        std::fs::create_dir(&contents).unwrap();
        for name in ["chelsea.jpg", "coffee.jpg"] {
            std::fs::copy(asset(name), contents.join(name)).unwrap();
        }
        let out = dir.path().join("out");
        let o = adain(&[
            "stylize",
            "-c",
            contents.to_str().unwrap(),
            "-s",
            asset("starry_night.jpg").to_str().unwrap(),
            "--alpha=0.8",
            "--content-size=96",
            "--style-size=128",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let net = light::NetworkSpec::default().load().unwrap();
        let settings = Settings { alpha: 0.8, content_size: 96, style_size: 128, ..Settings::for_family(Family::Lite) };
        for name in ["chelsea", "coffee"] {
            let written = img::open(&out.join(format!("{name}_stylized_starry_night.png"))).unwrap();
            let content = load(&format!("{name}.jpg"), 96);
            let want =
                light_result(&net, settings.clone(), &content, light::StyleSpec::Single(load("starry_night.jpg", 128)));
            assert!(psnr(&written, &want) > 45.0, "{name}: {:.1} dB", psnr(&written, &want));
        }
        let mixed = dir.path().join("mixed.png");
        let o = adain(&[
            "stylize",
            asset("astronaut.jpg").to_str().unwrap(),
            asset("starry_night.jpg").to_str().unwrap(),
            asset("coffee.jpg").to_str().unwrap(),
            "--style-weights",
            "1,3",
            "--preserve-color",
            "--content-size=64",
            "-o",
            mixed.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(img::open(&mixed).unwrap().dimensions(), load("astronaut.jpg", 64).dimensions());
        // Two styles split by a mask: the left half is the first style's picture, the right
        // half the second's (away from the split, which the receptive fields blur).
        let mask = dir.path().join("mask.png");
        image::RgbImage::from_fn(64, 64, |x, _| image::Rgb([if x < 32 { 255 } else { 0 }; 3])).save(&mask).unwrap();
        let split = dir.path().join("split.png");
        let (a, b) = (asset("starry_night.jpg"), asset("coffee.jpg"));
        let o = adain(&[
            "stylize",
            asset("chelsea.jpg").to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--mask",
            mask.to_str().unwrap(),
            "--content-size=96",
            "--style-size=96",
            "-o",
            split.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let split = img::open(&split).unwrap();
        let settings = Settings { content_size: 96, style_size: 96, ..Settings::for_family(Family::Lite) };
        let content = load("chelsea.jpg", 96);
        let one = |s: &str| light_result(&net, settings.clone(), &content, light::StyleSpec::Single(load(s, 96)));
        let (first, second) = (one("starry_night.jpg"), one("coffee.jpg"));
        let (w, h) = split.dimensions();
        let diff = |a: &Rgb32FImage, x0: u32, x1: u32| {
            let mut d = 0f64;
            for y in 0..h {
                for x in x0..x1 {
                    d +=
                        (0..3).map(|c| (split.get_pixel(x, y).0[c] - a.get_pixel(x, y).0[c]).abs() as f64).sum::<f64>();
                }
            }
            d / ((x1 - x0) * h * 3) as f64
        };
        let (left, right) = ((0, w / 2 - 24), (w / 2 + 24, w));
        assert!(diff(&first, left.0, left.1) < 0.5 * diff(&second, left.0, left.1), "left half is the first style");
        assert!(
            diff(&second, right.0, right.1) < 0.5 * diff(&first, right.0, right.1),
            "right half is the second style"
        );
    }

    /// `adain video` in the light build: ffmpeg's test source through the lite network with
    /// temporal smoothing, read back by ffprobe (the frames, their size).
    #[test]
    fn video_films_what_ffprobe_reads_back() {
        let runs = |b: &str| Command::new(b).arg("-version").output().is_ok_and(|o| o.status.success());
        if !(runs("ffmpeg") && runs("ffprobe")) {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but ffmpeg/ffprobe is missing");
            eprintln!("skipped: ffmpeg/ffprobe is missing (scripts/setup.sh installs them as root)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("film.mp4");
        let o = adain(&[
            "video",
            "--input",
            "testsrc=size=96x64:rate=10",
            "--input-format",
            "lavfi",
            "--frames",
            "6",
            "-s",
            asset("starry_night.jpg").to_str().unwrap(),
            "--size=64",
            "--style-size=64",
            "--temporal=0.5",
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let probe = Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args(["-show_entries", "stream=nb_read_frames,width,height", "-of", "csv=p=0"])
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "96,64,6");
    }

    /// The light binary cross-built for aarch64 (scripts/test.sh builds it) runs under
    /// qemu's user-mode emulation and paints what the x86_64 binary paints (the kernels differ:
    /// NEON instead of AVX, so the sums round differently).
    #[test]
    fn the_aarch64_binary_paints_the_same_picture() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let arm = root.join("target/light/aarch64-unknown-linux-gnu/debug/adain");
        let qemu = Command::new("qemu-aarch64-static").arg("--version").output().is_ok_and(|o| o.status.success());
        if !(arm.exists() && qemu) {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but the aarch64 binary or qemu is missing");
            eprintln!("skipped: {} or qemu-aarch64-static is missing (scripts/test.sh builds it)", arm.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (x86, a64) = (dir.path().join("x86_64.png"), dir.path().join("aarch64.png"));
        let (photo, painting) = (asset("chelsea.jpg"), asset("starry_night.jpg"));
        let args = |out: &std::path::Path| {
            vec![
                "stylize".to_owned(),
                photo.display().to_string(),
                painting.display().to_string(),
                "--content-size=64".into(),
                "--style-size=64".into(),
                "-o".into(),
                out.display().to_string(),
            ]
        };
        let o = Command::new(env!("CARGO_BIN_EXE_adain")).args(args(&x86)).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let o = Command::new("qemu-aarch64-static")
            .args(["-L", "/usr/aarch64-linux-gnu"])
            .arg(&arm)
            .args(args(&a64))
            .output()
            .unwrap();
        assert!(o.status.success(), "aarch64 under qemu: {}", stderr(&o));
        let p = psnr(&img::open(&x86).unwrap(), &img::open(&a64).unwrap());
        eprintln!("aarch64 against x86_64: {p:.1} dB");
        assert!(p >= 40.0, "aarch64 against x86_64: {p:.1} dB");
    }

    /// `adain export` of the light binary: the fixed-style lite graph (float32 and float16)
    /// runs in onnxruntime (the venv's, through `scripts/reference.py onnx-run`) and paints
    /// what the light library paints for that style and α (palette matching off: the graph is
    /// the network alone).
    #[test]
    fn export_writes_graphs_that_onnxruntime_runs_as_the_library_paints() {
        let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
        if !python.exists() {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing in CI", python.display());
            eprintln!("SKIPPED: {} is missing (scripts/setup.sh makes it)", python.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let content = load("chelsea.jpg", 45);
        let (w, h) = content.dimensions();
        let net = light::NetworkSpec::default().load().unwrap();
        let settings =
            Settings { alpha: 0.8, style_size: 64, match_palette: 0.0, ..Settings::for_family(Family::Lite) };
        let want = light_result(&net, settings, &content, light::StyleSpec::Single(load("starry_night.jpg", 64)));
        // The content as `[1, 3, H, W]` float32.
        let planar: Vec<u8> =
            (0..3).flat_map(|c| content.pixels().map(move |p| p.0[c])).flat_map(f32::to_le_bytes).collect();
        let shape = vec![1, 3, h as usize, w as usize];
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &planar).unwrap();
        let input = dir.path().join("in.safetensors");
        std::fs::write(&input, safetensors::serialize([("content", view)], None).unwrap()).unwrap();
        for (half, min_db) in [(false, 80.0), (true, 45.0)] {
            let model = dir.path().join(format!("fixed-{half}.onnx"));
            let style = asset("starry_night.jpg");
            let mut args = vec!["export", "-s", style.to_str().unwrap(), "--alpha=0.8", "--style-size=64"];
            args.extend(["-o", model.to_str().unwrap()]);
            if half {
                args.push("--half");
            }
            let o = adain(&args);
            assert!(o.status.success(), "{}", stderr(&o));
            let out = dir.path().join(format!("out-{half}.safetensors"));
            let run = std::process::Command::new(&python)
                .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/reference.py"))
                .args(["onnx-run", "--model", model.to_str().unwrap(), "--input", input.to_str().unwrap()])
                .args(["--out", out.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
            let bytes = std::fs::read(&out).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let y = st.tensor("stylized").unwrap();
            assert_eq!(y.shape(), &[1, 3, h as usize, w as usize]);
            let v: Vec<f32> = y.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let plane = (w * h) as usize;
            let got = Rgb32FImage::from_fn(w, h, |x, y| {
                let i = (y * w + x) as usize;
                image::Rgb([0, 1, 2].map(|c| v[c * plane + i].clamp(0.0, 1.0)))
            });
            let db = psnr(&got, &want);
            eprintln!("onnxruntime, fixed-style lite graph (half {half}): {db:.1} dB against the light library");
            assert!(db > min_db, "half {half}: {db:.1} dB");
        }
    }

    /// What needs libtorch is refused with one line naming the full build; bad input gets the
    /// full build's clear errors.
    #[test]
    fn what_needs_libtorch_is_refused_in_one_line() {
        for cmd in ["train", "bench", "eval", "weights"] {
            let o = adain(&[cmd, "--help"]);
            assert_eq!(o.status.code(), Some(2), "{cmd}");
            let e = stderr(&o);
            assert!(e.contains("full build") && e.lines().count() == 1, "{cmd}: {e}");
        }
        let help = String::from_utf8_lossy(&adain(&["--help"]).stdout).into_owned();
        assert!(help.contains("light build") && !help.contains("\n  train"), "{help}");
        let (photo, painting) = (asset("chelsea.jpg"), asset("starry_night.jpg"));
        let (photo, painting) = (photo.to_str().unwrap(), painting.to_str().unwrap());
        let dir = tempfile::tempdir().unwrap();
        let o = dir.path().join("o.png");
        let o = o.to_str().unwrap();
        for (args, expected) in [
            (vec!["--alpha", "-0.2"], "--alpha -0.2: must be in [0, 1]"),
            (vec!["--model", "vgg"], "needs libtorch"),
            (vec!["--model", "microast"], "needs libtorch"),
            (vec!["--precision", "bf16"], "bfloat16 needs libtorch"),
            (vec!["--device", "cuda"], "CPU only"),
            (vec!["--alpha=1.5"], "alpha"),
            // Issue 34, defect 3: refused before allocating (it aborted allocating 180 GB).
            (vec!["--content-size", "100000"], "more than the limit of"),
        ] {
            let out = adain(&[&["stylize", photo, painting, "-o", o], args.as_slice()].concat());
            assert!(!out.status.success(), "{args:?}");
            assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
        }
        // Only the formats the help names are written (a GIF would lose the colours).
        let gif = dir.path().join("x.gif");
        let out = adain(&["stylize", photo, painting, "--content-size=32", "-o", gif.to_str().unwrap()]);
        assert!(!out.status.success() && stderr(&out).contains("x.gif: not an output format"), "{}", stderr(&out));
        assert!(!gif.exists());
        let text = dir.path().join("not-an-image.png");
        std::fs::write(&text, b"hello").unwrap();
        let out = adain(&["stylize", text.to_str().unwrap(), painting, "-o", o]);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("not-an-image.png"), "{}", stderr(&out));
        let weights = dir.path().join("w.safetensors");
        std::fs::write(&weights, b"garbage").unwrap();
        let out = adain(&["stylize", photo, painting, "--weights", weights.to_str().unwrap(), "-o", o]);
        assert!(
            stderr(&out).contains("w.safetensors") && stderr(&out).contains("not a safetensors file"),
            "{}",
            stderr(&out)
        );
        assert!(!std::path::Path::new(o).exists(), "nothing written on failure");
    }
}
