//! `adain video` on clips made with ffmpeg's test sources: frame count, size, duration, audio,
//! rotation, odd sizes, live-style sources, temporal smoothing, and a missing ffmpeg.
#![cfg(feature = "torch")]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory with a random decoder in it, when ffmpeg is there (else the test
/// skips with a message; fails in CI).
fn setup() -> Option<(tempfile::TempDir, PathBuf)> {
    if !have_ffmpeg() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let dec = random_decoder_file(dir.path(), 8);
    Some((dir, dec))
}

/// Runs `ffmpeg -v error -y ARGS` (ARGS split at spaces; the tests' paths have none).
fn ffmpeg(args: &str) {
    let o = Command::new("ffmpeg").args(["-v", "error", "-y"]).args(args.split_whitespace()).output().unwrap();
    assert!(o.status.success(), "ffmpeg {args}: {}", String::from_utf8_lossy(&o.stderr));
}

/// (width, height, frames, duration, has audio) of a file.
fn probe(p: &Path) -> (u32, u32, u64, f64, bool) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-print_format", "json", "-show_streams", "-show_format"])
        .arg(p)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let streams = v["streams"].as_array().unwrap();
    let video = streams.iter().find(|s| s["codec_type"] == "video").unwrap();
    let frames = video["nb_read_frames"].as_str().unwrap().parse().unwrap();
    let dur = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    let audio = streams.iter().any(|s| s["codec_type"] == "audio");
    (video["width"].as_u64().unwrap() as u32, video["height"].as_u64().unwrap() as u32, frames, dur, audio)
}

/// `adain video -i INPUT -s STYLE -o OUT --decoder DEC FLAGS` (FLAGS split at spaces).
fn video(dec: &Path, input: &str, style: &Path, out: &Path, flags: &str) -> Output {
    let mut args = vec!["-i", input, "-s", s(style), "-o", s(out), "--decoder", s(dec)];
    args.extend(flags.split_whitespace());
    run(&args)
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).arg("video").args(args).output().unwrap()
}

#[test]
fn file_with_audio_keeps_frames_duration_and_audio() {
    let Some((dir, dec)) = setup() else { return };
    let clip = dir.path().join("clip.mp4");
    ffmpeg(&format!(
        "-f lavfi -i testsrc=size=80x48:rate=10 -f lavfi -i sine=frequency=440 -t 2 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest {}",
        clip.display()
    ));
    let out = dir.path().join("out.mp4");
    let o = video(&dec, s(&clip), &asset("starry_night.jpg"), &out, "--size 0 --style-size 64");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, h, frames, dur, audio) = probe(&out);
    assert_eq!((w, h, frames), (80, 48, 20));
    assert!((dur - 2.0).abs() < 0.15, "duration {dur}");
    assert!(audio, "the audio stream survives");
    assert!(String::from_utf8_lossy(&o.stdout).contains("20 frames"));
}

#[test]
fn rotated_and_odd_sized_inputs() {
    let Some((dir, dec)) = setup() else { return };
    // Stored 96×64 with a 90° display rotation: displayed (and stylized) as 64×96.
    let raw = dir.path().join("raw.mp4");
    ffmpeg(&format!("-f lavfi -i testsrc=size=96x64:rate=5 -t 1 -c:v libx264 -pix_fmt yuv420p {}", raw.display()));
    let rotated = dir.path().join("rotated.mp4");
    ffmpeg(&format!("-i {} -c copy -metadata:s:v:0 rotate=90 {}", raw.display(), rotated.display()));
    let out = dir.path().join("r.mp4");
    let o = video(&dec, s(&rotated), &asset("coffee.jpg"), &out, "--size 0 --style-size 48");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, h, frames, _, audio) = probe(&out);
    assert_eq!((w, h, frames, audio), (64, 96, 5, false));
    // Odd sizes become even (yuv420p needs them).
    let odd = dir.path().join("odd.mkv");
    ffmpeg(&format!("-f lavfi -i testsrc=size=75x41:rate=5 -t 1 -c:v ffv1 {}", odd.display()));
    let out = dir.path().join("o.mp4");
    let o = video(&dec, s(&odd), &asset("coffee.jpg"), &out, "--size 0 --style-size 48");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, h, ..) = probe(&out);
    assert_eq!((w, h), (74, 40));
}

fn frame_diff(o: &Output) -> f64 {
    let out = String::from_utf8_lossy(&o.stdout);
    out.split("difference ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no difference in {out}"))
}

#[test]
fn live_source_with_frame_limit_and_temporal_smoothing() {
    let Some((dir, dec)) = setup() else { return };
    let src = "testsrc2=size=64x48:rate=25";
    let plain = dir.path().join("plain.mp4");
    let o = video(
        &dec,
        src,
        &asset("starry_night.jpg"),
        &plain,
        "--input-format lavfi --frames 12 --size 0 --style-size 48",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(probe(&plain).2, 12);
    let smooth = dir.path().join("smooth.mp4");
    let flags = "--input-format lavfi --frames 12 --size 0 --style-size 48 --temporal 0.7";
    let o2 = video(&dec, src, &asset("starry_night.jpg"), &smooth, flags);
    assert!(o2.status.success());
    let (a, b) = (frame_diff(&o), frame_diff(&o2));
    assert!(b < a, "temporal smoothing should reduce frame-to-frame change: {a} -> {b}");
}

#[test]
fn missing_ffmpeg_and_bad_input_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.mp4");
    let o = Command::new(bin())
        .args(["video", "-i", "whatever.mp4", "-s", s(&asset("coffee.jpg")), "-o", s(&out)])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not installed") && err.contains("apt-get install ffmpeg"), "{err}");
    if !have_ffmpeg() {
        return;
    }
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, b"not a video").unwrap();
    let o = run(&["-i", s(&bad), "-s", s(&asset("coffee.jpg")), "-o", s(&out)]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.mp4") && !err.contains("panicked"), "{err}");
    assert!(!out.exists());
}

/// The ffmpeg processes started by `pid`, with their command lines.
fn ffmpeg_children(pid: u32) -> Vec<(u32, String)> {
    let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    kids.split_whitespace()
        .filter_map(|k| k.parse::<u32>().ok())
        .filter_map(|k| Some((k, std::fs::read_to_string(format!("/proc/{k}/cmdline")).ok()?.replace('\0', " "))))
        .filter(|(_, cmd)| cmd.starts_with("ffmpeg"))
        .collect()
}

#[test]
fn truncated_inputs_audio_only_files_and_killed_ffmpeg_leave_no_output() {
    let Some((dir, dec)) = setup() else { return };
    let style = asset("starry_night.jpg");
    let full = dir.path().join("full.mp4");
    ffmpeg(&format!(
        "-f lavfi -i testsrc2=size=96x64:rate=25 -t 4 -c:v libx264 -movflags +faststart {}",
        full.display()
    ));
    let no_output = |out: &Path| {
        let left: Vec<_> = std::fs::read_dir(out.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".adain-") || n.starts_with("out"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    };
    let args = |input: &Path, out: &Path| -> Vec<String> {
        ["-i", s(input), "-s", s(&style), "-o", s(out), "--size", "32", "--decoder", s(&dec)].map(String::from).to_vec()
    };
    // The first half of an MP4 whose index is at the front: frames decode up to the cut.
    let bytes = std::fs::read(&full).unwrap();
    let trunc = dir.path().join("trunc.mp4");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).unwrap();
    let out = dir.path().join("out.mp4");
    let o = Command::new(bin()).arg("video").args(args(&trunc, &out)).output().unwrap();
    let err = stderr(&o);
    assert!(!o.status.success() && err.contains("trunc.mp4: truncated or damaged"), "{err}");
    no_output(&out);
    // No video stream.
    let audio = dir.path().join("audio.m4a");
    ffmpeg(&format!("-f lavfi -i sine=f=440 -t 1 {}", audio.display()));
    let o = Command::new(bin()).arg("video").args(args(&audio, &out)).output().unwrap();
    assert!(!o.status.success() && stderr(&o).contains("audio.m4a: no video stream"), "{}", stderr(&o));
    no_output(&out);
    // ffmpeg killed mid-stream: first the decoding process, then the encoding one.
    let long = dir.path().join("long.mp4");
    ffmpeg(&format!("-f lavfi -i testsrc2=size=96x64:rate=25 -t 60 -c:v libx264 {}", long.display()));
    for (which, marker) in [("decoder", "rawvideo -pix_fmt rgb24 -"), ("encoder", "libx264")] {
        let child = Command::new(bin())
            .arg("video")
            .args(args(&long, &out))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let t0 = std::time::Instant::now();
        let victim = loop {
            let kids = ffmpeg_children(child.id());
            if kids.len() == 2 {
                std::thread::sleep(std::time::Duration::from_millis(500));
                break kids.into_iter().find(|(_, cmd)| cmd.ends_with(&format!("{marker} ")) || cmd.contains(marker));
            }
            assert!(t0.elapsed().as_secs() < 60, "the ffmpeg processes did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let (pid, _) = victim.unwrap_or_else(|| panic!("no {which} process"));
        Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        assert!(
            !o.status.success() && err.contains("killed by signal 9") && !err.contains("panicked"),
            "{which}: {err}"
        );
        eprintln!("{which} killed: {}", err.lines().last().unwrap_or_default());
        no_output(&out);
    }
}
