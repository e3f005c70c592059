//! Video stylization through the `ffmpeg` and `ffprobe` binaries: frames arrive as raw RGB over
//! a pipe from one ffmpeg process and leave the same way into another, which also copies the
//! audio of the input. The style is prepared once; each frame costs one encoder and one decoder
//! pass through the [`Stylizer`]. Optional temporal smoothing ([`super::Temporal`]) blends each
//! frame's AdaIN target with the previous one, which reduces flicker. The output is written
//! through a temp file and renamed into place when complete.

use super::{PreparedStyle, Stylizer};
use crate::error::{Error, Result};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// What ffprobe says about the input's first video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Display size (after the rotation that ffmpeg applies when decoding).
    pub width: u32,
    pub height: u32,
    /// Frames per second as a fraction string, e.g. `30000/1001`.
    pub rate: String,
    pub has_audio: bool,
    /// Frame count from the container's index, when it has one (MP4/MOV do; a live source or
    /// a Matroska file does not): a file that decodes to fewer frames is truncated or damaged.
    pub frames: Option<u64>,
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
    /// Weight of the previous frame's AdaIN target in the current one (0 = off).
    pub temporal: f64,
    /// Stop after this many frames (0 = all).
    pub max_frames: u64,
    /// x264 quality (lower is better).
    pub crf: u32,
}

fn tool_missing(name: &str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::tool(
            name,
            "not installed: install FFmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; macOS: brew install ffmpeg)",
        )
    } else {
        Error::tool(name, format!("cannot run it: {e}"))
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
    let bad = |msg: String| Error::tool("ffprobe", format!("{}: {msg}", src.input));
    if !out.status.success() {
        return Err(bad(format!("cannot read it: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| bad(format!("unreadable output: {e}")))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video").ok_or_else(|| bad("no video stream".into()))?;
    let (mut w, mut h) = (video["width"].as_u64().unwrap_or(0) as u32, video["height"].as_u64().unwrap_or(0) as u32);
    if w == 0 || h == 0 {
        return Err(bad("video stream without a size".into()));
    }
    let rotation = video["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_f64()))
        .or_else(|| video["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0.0);
    if (rotation.abs() as i64) % 180 == 90 {
        std::mem::swap(&mut w, &mut h);
    }
    let rate = video["avg_frame_rate"]
        .as_str()
        .filter(|r| *r != "0/0")
        .or_else(|| video["r_frame_rate"].as_str())
        .unwrap_or("25/1")
        .to_string();
    let frames = video["nb_frames"].as_str().and_then(|n| n.parse().ok()).filter(|n| *n > 0);
    Ok(Probe { width: w, height: h, rate, has_audio: streams.iter().any(|s| s["codec_type"] == "audio"), frames })
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

/// An ffmpeg child whose stderr is collected on a thread (for error messages), so that it can
/// never block the pipes.
struct Ffmpeg {
    child: Child,
    stderr: JoinHandle<String>,
}

impl Ffmpeg {
    fn spawn(args: &[String], stdin: Stdio, stdout: Stdio) -> Result<Self> {
        let mut child = Command::new("ffmpeg")
            .args(args)
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| tool_missing("ffmpeg", e))?;
        let mut err = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ok(Self { child, stderr })
    }

    /// Waits for the process; on failure, the last lines it printed.
    fn finish(mut self) -> std::result::Result<(), String> {
        let status = self.child.wait();
        let log = self.stderr.join().unwrap_or_default();
        if status.as_ref().is_ok_and(|s| s.success()) {
            return Ok(());
        }
        let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
        if !lines.is_empty() {
            return Err(lines[lines.len().saturating_sub(3)..].join(" | "));
        }
        // Silent deaths: a signal (killed, out of memory) or a bare exit code.
        #[cfg(unix)]
        if let Some(sig) = status.as_ref().ok().and_then(std::os::unix::process::ExitStatusExt::signal) {
            return Err(format!("ffmpeg was killed by signal {sig}"));
        }
        Err(match status {
            Ok(s) => format!("ffmpeg exited with {s}"),
            Err(e) => format!("waiting for ffmpeg: {e}"),
        })
    }
}

/// The decoding process: `src` scaled to `w × h`, raw RGB on stdout.
fn spawn_decoder(src: &Source, (w, h): (u32, u32), max_frames: u64) -> Result<Ffmpeg> {
    let mut args = vec!["-v".to_string(), "error".into(), "-nostdin".into()];
    args.extend(src.args());
    args.extend([
        "-map".into(),
        "0:v:0".into(),
        "-vf".into(),
        format!("scale={w}:{h}:flags=bicubic"),
        "-f".into(),
        "rawvideo".into(),
        "-pix_fmt".into(),
        "rgb24".into(),
    ]);
    if max_frames > 0 {
        args.extend(["-frames:v".into(), max_frames.to_string()]);
    }
    args.push("-".into());
    Ffmpeg::spawn(&args, Stdio::null(), Stdio::piped())
}

/// The encoding process: raw RGB `w × h` on stdin at the input's rate, x264 into `out`, the
/// audio of `src` copied when it has some.
fn spawn_encoder(src: &Source, info: &Probe, (w, h): (u32, u32), crf: u32, out: &Path) -> Result<Ffmpeg> {
    let mut args: Vec<String> = vec![
        "-v".into(),
        "error".into(),
        "-y".into(),
        "-f".into(),
        "rawvideo".into(),
        "-pix_fmt".into(),
        "rgb24".into(),
    ];
    args.extend(["-s".into(), format!("{w}x{h}"), "-r".into(), info.rate.clone(), "-i".into(), "-".into()]);
    if info.has_audio {
        args.extend(src.args());
        args.extend([
            "-map".into(),
            "0:v".into(),
            "-map".into(),
            "1:a".into(),
            "-c:a".into(),
            "copy".into(),
            "-shortest".into(),
        ]);
    }
    args.extend(["-c:v".into(), "libx264".into(), "-crf".into(), crf.to_string(), "-pix_fmt".into(), "yuv420p".into()]);
    args.push(out.to_string_lossy().into_owned());
    Ffmpeg::spawn(&args, Stdio::piped(), Stdio::null())
}

/// Per-frame statistics of a run.
#[derive(Debug, Clone, Default)]
pub struct VideoReport {
    pub frames: u64,
    pub seconds: f64,
    /// Mean absolute difference between consecutive output frames (0..1 scale).
    pub mean_frame_diff: f64,
}

/// Reads raw `w × h` frames from `input`, stylizes each with `frame` (RGB bytes → float32
/// RGB in [0, 1], both row-major: [`Stylizer::frames`]), writes them to `sink`.
fn frame_loop(
    mut frame: impl FnMut(&[u8], (u32, u32)) -> Result<Vec<f32>>,
    (w, h): (u32, u32),
    (mut input, mut sink): (ChildStdout, ChildStdin),
    mut on_frame: impl FnMut(u64),
) -> Result<VideoReport> {
    let mut buf = vec![0u8; (w * h * 3) as usize];
    let mut prev_out: Option<Vec<f32>> = None;
    let mut report = VideoReport::default();
    let t0 = std::time::Instant::now();
    let mut diff_sum = 0.0;
    loop {
        match input.read_exact(&mut buf) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(Error::tool("ffmpeg", format!("reading decoded frames: {e}"))),
        }
        let y = frame(&buf, (w, h))?;
        if let Some(p) = &prev_out {
            diff_sum += y.iter().zip(p).map(|(a, b)| (a - b).abs() as f64).sum::<f64>() / y.len().max(1) as f64;
        }
        let out: Vec<u8> = y.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
        sink.write_all(&out).map_err(|e| Error::tool("ffmpeg", format!("writing frames: {e}")))?;
        prev_out = Some(y);
        report.frames += 1;
        on_frame(report.frames);
    }
    report.seconds = t0.elapsed().as_secs_f64();
    report.mean_frame_diff = if report.frames > 1 { diff_sum / (report.frames - 1) as f64 } else { 0.0 };
    Ok(report)
}

/// Stylizes `src` (described by `info`, from [`probe`]) into `output`. `on_frame` is called
/// after each frame with the frame count.
pub fn stylize_video(
    stylizer: &Stylizer,
    style: &PreparedStyle,
    src: &Source,
    info: &Probe,
    output: &Path,
    opts: &VideoOptions,
    on_frame: impl FnMut(u64),
) -> Result<VideoReport> {
    let size = frame_size(info.width, info.height, opts.size);
    let mut report = None;
    crate::io::atomic_write(output, |tmp| {
        let mut decoder = spawn_decoder(src, size, opts.max_frames)?;
        let mut encoder = spawn_encoder(src, info, size, opts.crf, tmp)?;
        let pipes = (decoder.child.stdout.take().expect("piped"), encoder.child.stdin.take().expect("piped"));
        let result = frame_loop(stylizer.frames(style, opts.temporal), size, pipes, on_frame);
        let (dec, enc) = (decoder.finish(), encoder.finish());
        let dec = dec.map_err(|log| Error::tool("ffmpeg", format!("{}: could not decode it: {log}", src.input)));
        let enc = enc.map_err(|log| Error::tool("ffmpeg", format!("{}: could not encode it: {log}", output.display())));
        let r = match result {
            Ok(r) => r,
            // A broken pipe is explained by the process that went away.
            Err(e @ Error::Tool { .. }) => return Err(enc.and(dec).err().unwrap_or(e)),
            Err(e) => return Err(e),
        };
        dec?;
        enc?;
        if r.frames == 0 {
            return Err(Error::tool("ffmpeg", format!("{}: no frames decoded", src.input)));
        }
        // A truncated file decodes without an error up to where it breaks off; its index
        // still counts every frame. (Two frames of slack for edit lists.)
        let expected = info.frames.map(|n| if opts.max_frames > 0 { n.min(opts.max_frames) } else { n });
        if let Some(n) = expected.filter(|n| r.frames + 2 < *n) {
            return Err(Error::tool(
                "ffmpeg",
                format!("{}: truncated or damaged: {} of its {n} frames could be decoded", src.input, r.frames),
            ));
        }
        report = Some(r);
        Ok(())
    })?;
    Ok(report.expect("set when the write succeeded"))
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
