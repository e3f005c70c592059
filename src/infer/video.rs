//! Video stylization through the `ffmpeg` and `ffprobe` binaries: frames arrive as raw RGB over
//! a pipe from one ffmpeg process and leave the same way into another, which also copies the
//! audio of the input. The style is encoded once; each frame costs one encoder and one decoder
//! pass. Optional temporal smoothing blends each frame's AdaIN target with the previous one,
//! which reduces flicker.

use crate::error::{Error, Result};
use crate::model::adain::Stats;
use crate::model::StyleTransfer;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use tch::{Device, Kind, Tensor};

/// What ffprobe says about the input's first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Display size (after the rotation that ffmpeg applies when decoding).
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction string, e.g. `30000/1001`.
    pub rate: String,
    pub has_audio: bool,
}

/// Input source: a file, or an ffmpeg input with a format (`lavfi` test sources, `v4l2` cameras).
#[derive(Debug, Clone)]
pub struct Source {
    pub input: String,
    pub format: Option<String>,
}

impl Source {
    fn args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(f) = &self.format {
            a.extend(["-f".to_string(), f.clone()]);
        }
        a.extend(["-i".to_string(), self.input.clone()]);
        a
    }
}

/// Settings of a video run.
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Shorter side of the processed frames (0 = as the input). Always made even.
    pub size: u32,
    pub alpha: f64,
    /// Weight of the previous frame's AdaIN target in the current one (0 = off).
    pub temporal: f64,
    /// Stop after this many frames (0 = all).
    pub max_frames: u64,
    /// x264 quality (lower is better).
    pub crf: u32,
}

fn tool_missing(name: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Invalid(format!("{name} is not installed: install FFmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)"))
    } else {
        Error::Invalid(format!("cannot run {name}: {e}"))
    }
}

/// Runs ffprobe on the source.
pub fn probe(src: &Source) -> Result<Probe> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-print_format", "json", "-show_streams"]);
    if let Some(f) = &src.format {
        cmd.args(["-f", f]);
    }
    let out = cmd.arg(&src.input).output().map_err(|e| tool_missing("ffprobe", e))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!("{}: ffprobe cannot read it: {}", src.input, String::from_utf8_lossy(&out.stderr).trim())));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| Error::Invalid(format!("{}: ffprobe output: {e}", src.input)))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video")
        .ok_or_else(|| Error::Invalid(format!("{}: no video stream", src.input)))?;
    let (mut w, mut h) = (video["width"].as_u64().unwrap_or(0) as u32, video["height"].as_u64().unwrap_or(0) as u32);
    if w == 0 || h == 0 {
        return Err(Error::Invalid(format!("{}: video stream without a size", src.input)));
    }
    let rotation = video["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_f64()))
        .or_else(|| video["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0.0);
    if (rotation.abs() as i64) % 180 == 90 {
        std::mem::swap(&mut w, &mut h);
    }
    let rate = video["avg_frame_rate"].as_str().filter(|r| *r != "0/0").or_else(|| video["r_frame_rate"].as_str()).unwrap_or("25/1").to_string();
    Ok(Probe { width: w, height: h, rate, has_audio: streams.iter().any(|s| s["codec_type"] == "audio") })
}

/// The even processing size for a display size and a requested shorter side.
pub fn frame_size(w: u32, h: u32, size: u32) -> (u32, u32) {
    let (w2, h2) = if size == 0 {
        (w, h)
    } else if w <= h {
        (size, (h as f64 * size as f64 / w as f64).round() as u32)
    } else {
        ((w as f64 * size as f64 / h as f64).round() as u32, size)
    };
    ((w2 / 2 * 2).max(2), (h2 / 2 * 2).max(2))
}

/// Collects a child's stderr on a thread, so that it never blocks on a full pipe.
fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        s
    })
}

/// Starts ffmpeg with `args`; its stderr is read on a thread (for error messages) so that it
/// can never block the pipes.
fn spawn_ffmpeg(args: &[String], stdin: Stdio, stdout: Stdio) -> Result<(Child, std::thread::JoinHandle<String>)> {
    let mut child = Command::new("ffmpeg")
        .args(args)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tool_missing("ffmpeg", e))?;
    let err = drain(child.stderr.take().expect("piped"));
    Ok((child, err))
}

fn last_lines(s: &str) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

/// Per-frame statistics of a run.
#[derive(Debug, Clone, Default)]
pub struct VideoReport {
    pub frames: u64,
    pub seconds: f64,
    /// Mean absolute difference between consecutive output frames (0..1 scale).
    pub mean_frame_diff: f64,
}

/// Stylizes `src` into `output` (written through a temp file, then renamed). `on_frame` is
/// called after each frame with the frame count.
pub fn stylize_video(
    net: &StyleTransfer,
    device: Device,
    src: &Source,
    style: &Stats,
    output: &Path,
    opts: &VideoOptions,
    mut on_frame: impl FnMut(u64),
) -> Result<VideoReport> {
    let info = probe(src)?;
    let (w, h) = frame_size(info.width, info.height, opts.size);
    let mut dec_args = vec!["-v".to_string(), "error".into(), "-nostdin".into()];
    dec_args.extend(src.args());
    dec_args.extend(["-map".into(), "0:v:0".into(), "-vf".into(), format!("scale={w}:{h}:flags=bicubic"), "-f".into(), "rawvideo".into(), "-pix_fmt".into(), "rgb24".into()]);
    if opts.max_frames > 0 {
        dec_args.extend(["-frames:v".into(), opts.max_frames.to_string()]);
    }
    dec_args.push("-".into());
    let (mut decoder, dec_err) = spawn_ffmpeg(&dec_args, Stdio::null(), Stdio::piped())?;

    let dir = output.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("mp4");
    let tmp: PathBuf = dir.join(format!(".adain-{}.{ext}", std::process::id()));
    let mut enc_args: Vec<String> = vec!["-v".into(), "error".into(), "-y".into(), "-f".into(), "rawvideo".into(), "-pix_fmt".into(), "rgb24".into()];
    enc_args.extend(["-s".into(), format!("{w}x{h}"), "-r".into(), info.rate.clone(), "-i".into(), "-".into()]);
    if info.has_audio {
        enc_args.extend(src.args());
        enc_args.extend(["-map".into(), "0:v".into(), "-map".into(), "1:a".into(), "-c:a".into(), "copy".into(), "-shortest".into()]);
    }
    enc_args.extend(["-c:v".into(), "libx264".into(), "-crf".into(), opts.crf.to_string(), "-pix_fmt".into(), "yuv420p".into()]);
    enc_args.push(tmp.to_string_lossy().into_owned());
    let (mut encoder, enc_err) = spawn_ffmpeg(&enc_args, Stdio::piped(), Stdio::null())?;

    let result = (|| -> Result<VideoReport> {
        let _g = tch::no_grad_guard();
        let mut input = decoder.stdout.take().expect("piped");
        let mut sink = encoder.stdin.take().expect("piped");
        let frame_bytes = (w * h * 3) as usize;
        let mut buf = vec![0u8; frame_bytes];
        let mut prev_target: Option<Tensor> = None;
        let mut prev_out: Option<Tensor> = None;
        let mut report = VideoReport::default();
        let t0 = std::time::Instant::now();
        let mut diff_sum = 0.0;
        loop {
            match input.read_exact(&mut buf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(Error::Invalid(format!("{}: reading frames from ffmpeg: {e}", src.input))),
            }
            let x = Tensor::from_slice(&buf).view([h as i64, w as i64, 3]).permute([2, 0, 1]).unsqueeze(0).to_device(device).to_kind(Kind::Float) / 255.0;
            let f = net.features(&crate::model::style_transfer::pad_to_multiple(&x));
            let mut t = StyleTransfer::target(&f, style, opts.alpha);
            if opts.temporal > 0.0 {
                if let Some(p) = &prev_target {
                    t = &t * (1.0 - opts.temporal) + p * opts.temporal;
                }
                prev_target = Some(t.shallow_clone());
            }
            let y = net.decode(&t).narrow(2, 0, h as i64).narrow(3, 0, w as i64).clamp(0.0, 1.0);
            if let Some(p) = &prev_out {
                diff_sum += (&y - p).abs().mean(Kind::Float).double_value(&[]);
            }
            let bytes = (&y * 255.0).round().to_kind(Kind::Uint8).squeeze_dim(0).permute([1, 2, 0]).contiguous().to_device(Device::Cpu);
            let out: Vec<u8> = Vec::try_from(bytes.flatten(0, -1)).map_err(|e: tch::TchError| Error::Invalid(e.to_string()))?;
            sink.write_all(&out).map_err(|e| Error::Invalid(format!("{}: writing frames to ffmpeg: {e}", output.display())))?;
            prev_out = Some(y);
            report.frames += 1;
            on_frame(report.frames);
        }
        drop(sink);
        report.seconds = t0.elapsed().as_secs_f64();
        report.mean_frame_diff = if report.frames > 1 { diff_sum / (report.frames - 1) as f64 } else { 0.0 };
        Ok(report)
    })();
    let dec_status = decoder.wait();
    let enc_status = encoder.wait();
    let (dec_log, enc_log) = (dec_err.join().unwrap_or_default(), enc_err.join().unwrap_or_default());
    let fail = |e: Error| {
        let _ = std::fs::remove_file(&tmp);
        e
    };
    let report = result.map_err(fail)?;
    if !dec_status.map(|s| s.success()).unwrap_or(false) {
        return Err(fail(Error::Invalid(format!("{}: ffmpeg could not decode it: {}", src.input, last_lines(&dec_log)))));
    }
    if !enc_status.map(|s| s.success()).unwrap_or(false) {
        return Err(fail(Error::Invalid(format!("{}: ffmpeg could not encode it: {}", output.display(), last_lines(&enc_log)))));
    }
    if report.frames == 0 {
        return Err(fail(Error::Invalid(format!("{}: no frames decoded", src.input))));
    }
    std::fs::rename(&tmp, output).map_err(|e| Error::io(output, e))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_are_even() {
        assert_eq!(frame_size(333, 517, 0), (332, 516));
        assert_eq!(frame_size(1920, 1080, 256), (454, 256));
        assert_eq!(frame_size(1080, 1920, 255), (254, 452));
    }
}
