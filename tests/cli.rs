//! The `adain` command line as a user runs it: inputs of every kind, bad inputs, outputs.
#![cfg(feature = "torch")]

mod common;

use adain::data::image as img;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use tch::Tensor;

fn decoder(dir: &Path) -> PathBuf {
    random_decoder_file(dir, 3)
}

/// `adain stylize -c CONTENT -s STYLES... -o OUT --decoder DEC FLAGS` (FLAGS split at spaces).
fn stylize(dec: &Path, out: &Path, content: &Path, styles: &[&Path], flags: &str) -> std::process::Output {
    let mut args = vec!["stylize", "-c", s(content), "-s"];
    args.extend(styles.iter().map(|p| s(p)));
    args.extend(["-o", s(out), "--decoder", s(dec)]);
    args.extend(flags.split_whitespace());
    adain(&args)
}

fn dims(p: &Path) -> (u32, u32) {
    image::image_dimensions(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn odd_sizes_round_trip_and_single_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let content = dir.path().join("odd.png");
    let im = adain::data::image::resize_exact(&adain::data::image::open(&asset("astronaut.jpg")).unwrap(), 333, 517);
    adain::data::image::save(&im, &content).unwrap();
    let out = dir.path().join("result.png");
    let o = stylize(&dec, &out, &content, &[&asset("starry_night.jpg")], "--content-size 0 --style-size 64");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dims(&out), (333, 517));
    assert!(stderr(&o).contains(&format!("vgg network, weights {}", s(&dec))), "says which weights: {}", stderr(&o));
    // With a content size, the shorter side is that size and the aspect ratio is kept.
    let out2 = dir.path().join("r2.jpg");
    let o = stylize(&dec, &out2, &content, &[&asset("starry_night.jpg")], "--content-size 100 --style-size 64");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(dims(&out2), (100, 155));
    // Positional form, as users type it: content then style; the same pixels as -c/-s.
    let out3 = dir.path().join("r3.png");
    let o = adain(&[
        "stylize",
        s(&content),
        s(&asset("starry_night.jpg")),
        "-o",
        s(&out3),
        "--content-size",
        "100",
        "--style-size",
        "64",
        "--decoder",
        s(&dec),
        "--precision",
        "f32",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out4 = dir.path().join("r4.png");
    let o = stylize(
        &dec,
        &out4,
        &content,
        &[&asset("starry_night.jpg")],
        "--content-size 100 --style-size 64 --precision f32",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out3).unwrap(), std::fs::read(&out4).unwrap());
    let o = adain(&["stylize", s(&content)]);
    assert!(!o.status.success() && stderr(&o).contains("style image is missing"), "{}", stderr(&o));
}

#[test]
fn directories_give_all_pairs_and_bad_files_do_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let contents = dir.path().join("contents");
    let styles = dir.path().join("styles");
    std::fs::create_dir_all(&contents).unwrap();
    std::fs::create_dir_all(&styles).unwrap();
    std::fs::copy(asset("chelsea.jpg"), contents.join("chelsea.jpg")).unwrap();
    std::fs::copy(asset("coffee.jpg"), contents.join("coffee.jpg")).unwrap();
    std::fs::write(contents.join("broken.jpg"), b"\xff\xd8\xff\xe0 this is not a jpeg").unwrap();
    std::fs::copy(asset("starry_night.jpg"), styles.join("starry.jpg")).unwrap();
    std::fs::copy(asset("astronaut.jpg"), styles.join("astro.jpg")).unwrap();
    let out = dir.path().join("out");
    let o = stylize(&dec, &out, &contents, &[&styles], "--content-size 48 --style-size 48");
    assert!(!o.status.success(), "a broken input makes the exit status non-zero");
    let err = stderr(&o);
    assert!(err.contains("broken.jpg"), "names the broken file: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let mut names: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "chelsea_stylized_astro.png",
            "chelsea_stylized_starry.png",
            "coffee_stylized_astro.png",
            "coffee_stylized_starry.png"
        ]
    );
}

#[test]
fn missing_and_corrupt_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let o =
        stylize(&dec, &dir.path().join("x.png"), Path::new("/no/such/photo.jpg"), &[&asset("starry_night.jpg")], "");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("/no/such/photo.jpg") && err.contains("no such file"), "{err}");
    assert!(!err.contains("panicked"));
    let corrupt = dir.path().join("corrupt.jpg");
    let mut bytes = std::fs::read(asset("chelsea.jpg")).unwrap();
    bytes.truncate(600);
    std::fs::write(&corrupt, bytes).unwrap();
    let o = stylize(&dec, &dir.path().join("y.png"), &asset("chelsea.jpg"), &[&corrupt], "");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("corrupt.jpg"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("y.png").exists(), "no output for a failed pair");
    // A JPEG cut off after 20 KB (a broken download): refused, not filled with grey.
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &std::fs::read(asset("chelsea.jpg")).unwrap()[..20_000]).unwrap();
    let o = stylize(&dec, &dir.path().join("c.png"), &cut, &[&asset("starry_night.jpg")], "");
    assert!(!o.status.success(), "a cut-off photo was stylized");
    let err = stderr(&o);
    assert!(err.contains("cut.jpg") && err.contains("cut off"), "{err}");
    assert!(!dir.path().join("c.png").exists());
    // A decoder that is not a weight file.
    let o = stylize(&corrupt, &dir.path().join("z.png"), &asset("chelsea.jpg"), &[&asset("coffee.jpg")], "");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("corrupt.jpg"), "{}", stderr(&o));
}

#[test]
fn grayscale_rgba_16bit_and_exif_rotated_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let base = image::open(asset("chelsea.jpg")).unwrap().resize_exact(40, 24, image::imageops::FilterType::Triangle);
    let gray = dir.path().join("gray.png");
    base.to_luma8().save(&gray).unwrap();
    let rgba = dir.path().join("rgba.png");
    base.to_rgba8().save(&rgba).unwrap();
    let deep = dir.path().join("deep.png");
    base.to_rgb16().save(&deep).unwrap();
    // A JPEG stored 40×24 whose EXIF orientation (6) says "rotate 90° clockwise".
    let rotated = dir.path().join("rotated.jpg");
    let st = Command::new(python())
        .args(["-c", "import sys; from PIL import Image; im = Image.open(sys.argv[1]).convert('RGB').resize((40, 24)); ex = Image.Exif(); ex[0x0112] = 6; im.save(sys.argv[2], exif=ex.tobytes())", s(&asset("chelsea.jpg")), s(&rotated)])
        .status()
        .unwrap();
    assert!(st.success());
    for (input, expect) in [(&gray, (40, 24)), (&rgba, (40, 24)), (&deep, (40, 24)), (&rotated, (24, 40))] {
        let out = dir.path().join(format!("{}-out.png", input.file_stem().unwrap().to_string_lossy()));
        let o = stylize(&dec, &out, input, &[&gray], "--content-size 0 --style-size 0");
        assert!(o.status.success(), "{}: {}", input.display(), stderr(&o));
        assert_eq!(dims(&out), expect, "{}", input.display());
    }
}

fn mean_rgb(p: &Path) -> [f64; 3] {
    let im = image::open(p).unwrap().to_rgb8();
    let mut m = [0f64; 3];
    for px in im.pixels() {
        for c in 0..3 {
            m[c] += px[c] as f64;
        }
    }
    m.map(|v| v / (im.width() * im.height()) as f64 / 255.0)
}

#[test]
fn color_transfer_baseline_takes_the_style_colours() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ct.png");
    let style = asset("starry_night.jpg");
    let o = adain(&[
        "stylize",
        "--method",
        "color-transfer",
        "-c",
        s(&asset("coffee.jpg")),
        "-s",
        s(&style),
        "-o",
        s(&out),
        "--content-size",
        "64",
        "--style-size",
        "64",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let style_small = dir.path().join("style-small.png");
    let sm = adain::data::image::resize_shorter(&adain::data::image::open(&style).unwrap(), 64);
    adain::data::image::save(&sm, &style_small).unwrap();
    let (a, b, c) = (mean_rgb(&out), mean_rgb(&style_small), mean_rgb(&asset("coffee.jpg")));
    for k in 0..3 {
        assert!((a[k] - b[k]).abs() < 0.03, "channel {k}: output {} vs style {} (content {})", a[k], b[k], c[k]);
    }
}

#[test]
fn a_full_disk_is_a_clear_error_and_keeps_the_earlier_output() {
    let Some(fs) = Tmpfs::mount(200 * 1024, false) else { return };
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let out = fs.0.join("out.png");
    let run = |size: &str| {
        adain(&[
            "stylize",
            s(&asset("coffee.jpg")),
            s(&asset("starry_night.jpg")),
            "-o",
            s(&out),
            "--content-size",
            size,
            "--style-size",
            "32",
            "--decoder",
            s(&dec),
        ])
    };
    assert!(run("32").status.success());
    let before = std::fs::read(&out).unwrap();
    // A 512-px PNG does not fit in what is left.
    let o = run("512");
    assert!(!o.status.success() && stderr(&o).contains("No space left"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&out).unwrap(), before, "the earlier output is intact");
    let left: Vec<_> = std::fs::read_dir(&fs.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("out.png")], "no temp file left behind");
}

#[test]
fn read_only_and_missing_output_directories() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let (c, st) = (asset("coffee.jpg"), asset("starry_night.jpg"));
    // A missing output directory is made, however deep.
    let deep = dir.path().join("a").join("b").join("out.png");
    let o = stylize(&dec, &deep, &c, &[&st], "--content-size 32 --style-size 32");
    assert!(o.status.success() && dims(&deep) == (48, 32), "{}", stderr(&o));
    // A read-only directory (a read-only mount: permissions do not stop root): the error
    // names the directory, and the eval grid fails the same way.
    let Some(ro) = Tmpfs::mount(64 * 1024, true) else { return };
    let o = stylize(&dec, &ro.0.join("out.png"), &c, &[&st], "--content-size 32 --style-size 32");
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains(s(&ro.0)) && err.contains("cannot write into this directory"), "{err}");
    let grid = ro.0.join("grid.png");
    let o = adain(&["eval", "-c", s(&c), "-s", s(&st), "--size", "32", "--grid", s(&grid), "--decoder", s(&dec)]);
    let err = stderr(&o);
    assert!(
        !o.status.success() && err.contains("cannot write into this directory") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn weights_mask_and_preserve_color_options_run() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let (c, s1, s2) = (asset("chelsea.jpg"), asset("starry_night.jpg"), asset("coffee.jpg"));
    let mask = dir.path().join("mask.png");
    image::GrayImage::from_fn(60, 40, |x, _| image::Luma([if x < 30 { 255 } else { 0 }])).save(&mask).unwrap();
    let run = |extra: &[&str], name: &str| -> PathBuf {
        let out = dir.path().join(name);
        let mut args = vec![
            "stylize",
            "-c",
            s(&c),
            "-o",
            s(&out),
            "--content-size",
            "48",
            "--style-size",
            "48",
            "--decoder",
            s(&dec),
            "-s",
            s(&s1),
            s(&s2),
        ];
        args.extend_from_slice(extra);
        let o = adain(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        out
    };
    let interp = run(&["--style-weights", "1,3"], "interp.png");
    assert_eq!(dims(&interp), (72, 48));
    let masked = run(&["--mask", s(&mask)], "masked.png");
    assert_eq!(dims(&masked), (72, 48));
    let kept = run(&["--style-weights", "1,0", "--preserve-color", "--alpha", "0.5"], "keep.png");
    assert_eq!(dims(&kept), (72, 48));
    let o = stylize(&dec, &dir.path().join("w.png"), &c, &[&s1], "--style-weights 1,2");
    assert!(!o.status.success() && stderr(&o).contains("--style-weights"), "{}", stderr(&o));
    let o = adain(&[
        "stylize",
        "-c",
        s(&c),
        "-s",
        s(&s1),
        "-o",
        s(&dir.path().join("m.png")),
        "--mask",
        s(&mask),
        "--decoder",
        s(&dec),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("two styles"), "{}", stderr(&o));
}

#[test]
fn stylizes_shared_data_pairs() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let pick = |sub: &str, n: usize| -> PathBuf {
        let d = dir.path().join(sub);
        std::fs::create_dir_all(&d).unwrap();
        let mut all: Vec<PathBuf> = std::fs::read_dir(data.join(sub)).unwrap().map(|e| e.unwrap().path()).collect();
        all.sort();
        for p in all.iter().take(n) {
            std::os::unix::fs::symlink(p, d.join(p.file_name().unwrap())).unwrap();
        }
        d
    };
    let (c, st) = (pick("content", 2), pick("style", 2));
    let out = dir.path().join("out");
    let o = stylize(&dec, &out, &c, &[&st], "--content-size 64 --style-size 64");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 4);
}

#[test]
fn eval_prints_both_methods_and_writes_a_grid() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let (c, st) = (dir.path().join("c"), dir.path().join("s"));
    std::fs::create_dir_all(&c).unwrap();
    std::fs::create_dir_all(&st).unwrap();
    std::fs::copy(asset("chelsea.jpg"), c.join("chelsea.jpg")).unwrap();
    std::fs::copy(asset("coffee.jpg"), c.join("coffee.jpg")).unwrap();
    std::fs::copy(asset("starry_night.jpg"), st.join("starry.jpg")).unwrap();
    let grid = dir.path().join("grid.png");
    let o = adain(&["eval", "-c", s(&c), "-s", s(&st), "--size", "48", "--grid", s(&grid), "--decoder", s(&dec)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("2 pairs at 48 px"), "{out}");
    for row in ["adain vgg", "color-transfer baseline", "content unchanged"] {
        let line = out.lines().find(|l| l.starts_with(row)).unwrap_or_else(|| panic!("{row} missing: {out}"));
        let nums: Vec<f64> = line[row.len()..].split_whitespace().map(|x| x.parse().unwrap()).collect();
        assert!(nums.len() == 5 && nums.iter().all(|x| x.is_finite() && *x >= 0.0), "{line}");
    }
    assert_eq!(dims(&grid), (3 * 48, 2 * 48), "one header row and one style row; one header column and two contents");
}

/// `adain eval --motion` (issue 36): the steadiness table on synthetic camera clips, the input
/// clip at the noise's own level, and temporal smoothing making the lite network steadier on
/// a still and a moving camera without dragging behind the motion.
#[test]
fn eval_motion_measures_steadiness_on_camera_clips() {
    let dir = tempfile::tempdir().unwrap();
    let (c, st) = (dir.path().join("c"), dir.path().join("s"));
    std::fs::create_dir_all(&c).unwrap();
    std::fs::create_dir_all(&st).unwrap();
    std::fs::copy(asset("chelsea.jpg"), c.join("chelsea.jpg")).unwrap();
    std::fs::copy(asset("starry_night.jpg"), st.join("starry.jpg")).unwrap();
    let table = |temporal: &str| {
        let o = adain(&[
            "eval",
            "-c",
            s(&c),
            "-s",
            s(&st),
            "--size",
            "192",
            "--model",
            "lite",
            "--motion",
            "--temporal",
            temporal,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        let row = |name: &str| -> Vec<f64> {
            let line = out.lines().rev().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {out}"));
            line[name.len()..].split_whitespace().map(|x| x.parse().unwrap()).collect()
        };
        assert!(out.contains("steadiness on synthetic camera clips (24 frames, 3 px a frame"), "{out}");
        (row("adain lite"), row("input clip"))
    };
    let (plain, input) = table("0");
    // Two independent noises of σ 2/255 differ by 1.13 σ on average.
    for v in &input[..3] {
        assert!((v - 0.0088).abs() < 0.0015, "input clip {input:?}");
    }
    assert!(plain.len() == 4 && plain.iter().all(|x| x.is_finite() && *x > 0.0), "{plain:?}");
    assert!(plain[0] > input[0], "stylizing adds flicker on top of the noise: {plain:?} {input:?}");
    let (smoothed, _) = table("0.5");
    assert!(smoothed[1] < plain[1], "smoothing steadies a still camera: {smoothed:?} against {plain:?}");
    // It follows the camera: the pan is not smoothed away (a blend of targets that stood
    // still dragged the picture: 31 % further from frame 0 by frame 23 on the validation pairs).
    assert!(smoothed[0] < plain[0], "smoothing steadies a moving camera: {smoothed:?} against {plain:?}");
    assert!(smoothed[2] < 1.03 * plain[2], "smoothing drags behind the camera: {smoothed:?} against {plain:?}");
}

/// `adain eval --motion --clips-out` writes the camera clips a peer stylizes frame by frame, and
/// `--compare NAME=DIR` scores the frames in DIR's `clips/` folder: a "peer" that returns the
/// input frames scores exactly the input clip's row; a file of the wrong shape is an error
/// that names it.
#[test]
fn eval_motion_scores_a_peers_frames_of_the_written_clips() {
    let dir = tempfile::tempdir().unwrap();
    let (c, st, clips, peer) =
        (dir.path().join("c"), dir.path().join("s"), dir.path().join("clips"), dir.path().join("peer"));
    for d in [&c, &st, &peer.join("clips")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(asset("chelsea.jpg"), c.join("chelsea.jpg")).unwrap();
    std::fs::copy(asset("starry_night.jpg"), st.join("starry.jpg")).unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "-c", s(&c), "-s", s(&st), "--size", "128", "--model", "lite", "--motion"];
        args.extend_from_slice(extra);
        adain(&args)
    };
    let o = eval(&["--temporal", "0", "--clips-out", s(&clips)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let name = "chelsea_stylized_starry.safetensors";
    let written = Tensor::read_safetensors(clips.join(name)).unwrap();
    for (key, t) in &written {
        assert_eq!(&t.size()[..2], &[24, 3], "{key}");
        assert_eq!(t.size()[2], 128, "{key}");
    }
    std::fs::copy(clips.join(name), peer.join("clips").join(name)).unwrap();
    std::fs::copy(asset("chelsea.jpg"), peer.join("chelsea_stylized_starry.png")).unwrap();
    let o = eval(&["--temporal", "0", "--compare", &format!("same={}", s(&peer))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let row = |name: &str| -> Vec<f64> {
        let line = out.lines().rev().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {out}"));
        line[name.len()..].split_whitespace().map(|x| x.parse().unwrap()).collect()
    };
    let (same, input) = (row("same (per frame)"), row("input clip"));
    assert_eq!(&same[..3], &input[..3], "{out}");
    assert!(same[3].is_finite() && same[3] > 0.0, "the peer's frames get a VGG style distance: {same:?}");
    let bad = Tensor::zeros([2, 3, 8, 8], (tch::Kind::Float, tch::Device::Cpu));
    Tensor::write_safetensors(&[("moving", &bad), ("still", &bad)], peer.join("clips").join(name)).unwrap();
    let o = eval(&["--temporal", "0", "--compare", &format!("same={}", s(&peer))]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains(name) && err.contains("expected [24, 3, H, W]"), "{err}");
}

#[test]
fn bench_prints_times_and_ratios_against_each_torch_configuration() {
    vgg16();
    let args =
        ["bench", "--cases", "stylize-64-cached", "--torch", "eager", "channels-last", "--iters", "1", "--warmup", "1"];
    let reference = root().join("scripts/reference.py");
    let o = Command::new(bin())
        .args(args)
        .args(["--rounds", "1", "--threads", "1", "--device", "cpu", "--reference", s(&reference)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("stylize-64-cached")).unwrap_or_else(|| panic!("{out}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.len(), 9, "{line}");
    let num = |i: usize| -> f64 { f[i].trim_end_matches('x').parse().unwrap() };
    let (ours, best, eager) = (num(1), num(2), num(5));
    assert!(["eager", "channels-last"].contains(&f[3]), "{line}");
    assert!(ours > 0.0 && best > 0.0 && best <= eager, "{line}");
    assert!(
        (num(4) - best / ours).abs() < 0.01 * num(4) + 0.006 && (num(6) - eager / ours).abs() < 0.01 * num(6) + 0.006,
        "{line}"
    );
    assert!(out.contains("torch eager:") && out.contains("torch channels-last:"), "{out}");
    // Bad arguments are errors, not panics.
    let o = Command::new(bin()).args(["bench", "--cases", "stylize-64-cached", "--iters", "0"]).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("--iters"), "{}", stderr(&o));
    let o = Command::new(bin()).args(["bench", "--cases", "blur-3"]).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("blur-3"), "{}", stderr(&o));
    // Without --reference or $ADAIN_REFERENCE, a binary built in a checkout finds PyTorch's
    // side there by itself (issue 35), from any working directory.
    let elsewhere = tempfile::tempdir().unwrap();
    let o = Command::new(bin())
        .args(args)
        .args(["--rounds", "1", "--threads", "1", "--device", "cpu"])
        .env_remove("ADAIN_REFERENCE")
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).lines().any(|l| l.starts_with("stylize-64-cached")));
}

/// Defects found by hand (issue: reliability): a decompression bomb, an output that is an
/// input, and images too small or too thin for the network.
#[test]
fn bombs_tiny_images_and_overwriting_an_input_are_handled() {
    let dir = tempfile::tempdir().unwrap();
    let dec = decoder(dir.path());
    let style = asset("starry_night.jpg");
    // A 100 000 × 100 000 PNG header: refused by name, and the other content of the folder runs.
    let folder = dir.path().join("contents");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("bomb.png"), common::server::png_header_only(100_000, 100_000)).unwrap();
    std::fs::copy(asset("coffee.jpg"), folder.join("coffee.jpg")).unwrap();
    let out = dir.path().join("out");
    let o = stylize(&dec, &out, &folder, &[&style], "--content-size 32");
    assert!(!o.status.success(), "a failed input makes the exit status non-zero");
    let err = stderr(&o);
    assert!(err.contains("bomb.png") && err.contains("100000×100000"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{err}");
    assert!(out.join("coffee_stylized_starry_night.png").exists(), "the other pair still ran");
    // A `--content-size` that would make a 150 000 × 100 000 result: refused before allocating
    // (issue 34, defect 3: it aborted allocating 180 GB), naming the photo.
    let o = stylize(&dec, &dir.path().join("huge.png"), &asset("chelsea.jpg"), &[&style], "--content-size 100000");
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("chelsea.jpg") && err.contains("more than the limit of"), "{err}");
    assert!(!err.contains("memory allocation"), "{err}");

    // `-o` naming the content: refused, the photo untouched.
    let photo = dir.path().join("photo.jpg");
    std::fs::copy(asset("chelsea.jpg"), &photo).unwrap();
    let before = std::fs::read(&photo).unwrap();
    let o = stylize(&dec, &photo, &photo, &[&style], "--content-size 32");
    assert!(!o.status.success() && stderr(&o).contains("is one of the inputs"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&photo).unwrap(), before, "the input was not overwritten");

    // --max-pixels: refused from the header, naming the file.
    let o = adain(&[
        "stylize",
        s(&photo),
        s(&style),
        "-o",
        s(&dir.path().join("mp.png")),
        "--max-pixels",
        "1000",
        "--decoder",
        s(&dec),
    ]);
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("photo.jpg") && err.contains("more than the limit of 1000"), "{err}");

    // Output paths that cannot be written: clear errors naming them.
    let a_file = dir.path().join("a-file");
    std::fs::write(&a_file, b"x").unwrap();
    let o = adain(&[
        "stylize",
        s(&photo),
        s(&style),
        "-o",
        s(&a_file.join("out.png")),
        "--content-size",
        "32",
        "--decoder",
        s(&dec),
    ]);
    assert!(!o.status.success() && stderr(&o).contains("a-file: is a file"), "{}", stderr(&o));
    let a_dir = dir.path().join("a-dir.png");
    std::fs::create_dir_all(a_dir.join("photo_stylized_starry_night.png")).unwrap();
    let o = adain(&["stylize", s(&photo), s(&style), "-o", s(&a_dir), "--content-size", "32", "--decoder", s(&dec)]);
    assert!(!o.status.success() && stderr(&o).contains("is a directory"), "{}", stderr(&o));

    // Any size works: 1×1, 3×3, 10000×8 contents and a 1×1 style at their own sizes.
    for (w, h) in [(1, 1), (3, 3), (10000, 8)] {
        let c = dir.path().join(format!("c{w}x{h}.png"));
        std::fs::write(&c, common::server::solid_png(w, h, [120, 80, 200])).unwrap();
        let o2 = dir.path().join(format!("o{w}x{h}.png"));
        let o = adain(&[
            "stylize",
            s(&c),
            s(&style),
            "-o",
            s(&o2),
            "--content-size",
            "0",
            "--style-size",
            "64",
            "--decoder",
            s(&dec),
        ]);
        assert!(o.status.success(), "{w}×{h}: {}", stderr(&o));
        assert_eq!(dims(&o2), (w, h));
    }
    let tiny_style = dir.path().join("s1.png");
    std::fs::write(&tiny_style, common::server::solid_png(1, 1, [20, 200, 40])).unwrap();
    let o3 = dir.path().join("o-tiny-style.png");
    let o = adain(&[
        "stylize",
        s(&asset("coffee.jpg")),
        s(&tiny_style),
        "-o",
        s(&o3),
        "--content-size",
        "32",
        "--style-size",
        "0",
        "--decoder",
        s(&dec),
    ]);
    assert!(o.status.success(), "1×1 style: {}", stderr(&o));
}

/// `--model lite` through the command line: the shipped lite network with an odd size, style
/// interpolation and a mask (the halves take different styles), and a lite file given to the
/// vgg model is refused with a message naming it.
#[test]
fn lite_model_runs_with_weights_masks_and_odd_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (c, s1, s2) = (asset("chelsea.jpg"), asset("starry_night.jpg"), asset("coffee.jpg"));
    let mask = dir.path().join("mask.png");
    image::GrayImage::from_fn(60, 40, |x, _| image::Luma([if x < 30 { 255 } else { 0 }])).save(&mask).unwrap();
    let run = |extra: &[&str], name: &str| -> PathBuf {
        let out = dir.path().join(name);
        let mut args = vec!["stylize", "--model", "lite", "-c", s(&c), "-o", s(&out), "--content-size", "45"];
        args.extend_from_slice(&["--style-size", "48", "-s", s(&s1), s(&s2)]);
        args.extend_from_slice(extra);
        let o = adain(&args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("lite network"), "says which network: {}", stderr(&o));
        out
    };
    let mix = run(&["--style-weights", "1,3"], "mix.png");
    assert_eq!(dims(&mix), (68, 45));
    let masked = img::open(&run(&["--mask", s(&mask), "--match-palette", "0"], "masked.png")).unwrap();
    let first = img::open(&run(&["--style-weights", "1,0", "--match-palette", "0"], "first.png")).unwrap();
    let second = img::open(&run(&["--style-weights", "0,1", "--match-palette", "0"], "second.png")).unwrap();
    // Left of the mask's edge the masked result is near the first style's, right of it near the second's.
    let diff = |a: &image::Rgb32FImage, b: &image::Rgb32FImage, x0: u32, x1: u32| {
        let mut d = 0.0;
        for y in 0..45 {
            for x in x0..x1 {
                d += (0..3).map(|k| (a.get_pixel(x, y)[k] - b.get_pixel(x, y)[k]).abs()).sum::<f32>();
            }
        }
        d
    };
    assert!(diff(&masked, &first, 0, 24) < diff(&masked, &second, 0, 24), "left half takes the first style");
    assert!(diff(&masked, &second, 44, 68) < diff(&masked, &first, 44, 68), "right half takes the second style");
    // The lite network's own palette matching by default, not the VGG model's full strength.
    let quarter = adain::infer::settings::LITE_MATCH_PALETTE.to_string();
    let by_default = img::open(&run(&["--style-weights", "1,0"], "default.png")).unwrap();
    let given = img::open(&run(&["--style-weights", "1,0", "--match-palette", &quarter], "given.png")).unwrap();
    let full = img::open(&run(&["--style-weights", "1,0", "--match-palette", "1"], "full.png")).unwrap();
    assert!(by_default == given && by_default != full, "lite's default palette matching is {quarter}");
    let lite = root().join("models/lite.safetensors");
    let o = adain(&["stylize", s(&c), s(&s1), "-o", s(&dir.path().join("x.png")), "--weights", s(&lite)]);
    assert!(!o.status.success() && stderr(&o).contains("lite network weights"), "{}", stderr(&o));
}
