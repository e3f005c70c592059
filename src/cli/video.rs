//! `adain video`: stylize a video file, a camera (`--input /dev/video0 --input-format v4l2`) or
//! an ffmpeg test source (`--input testsrc=size=320x240:rate=25 --input-format lavfi`).

use super::DeviceArgs;
use adain::data::image as img;
use adain::infer::video::{self, Source, VideoOptions};
use adain::infer::{Method, Settings, StyleSpec, Stylizer, Tile};
use anyhow::{Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Input video file, camera device or ffmpeg source.
    #[arg(long, short)]
    input: String,
    /// ffmpeg input format for non-file inputs (v4l2, lavfi, …).
    #[arg(long)]
    input_format: Option<String>,
    /// Style image.
    #[arg(long, short)]
    style: PathBuf,
    /// Output video (.mp4, .mkv, …); audio of the input is copied.
    #[arg(long, short)]
    output: PathBuf,
    /// Shorter side of the processed frames (0 = input size).
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[arg(long, default_value_t = 512)]
    style_size: u32,
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// Move the colours onto the painting's RGB mean and covariance, in [0, 1].
    #[arg(long, default_value_t = adain::infer::Settings::MATCH_PALETTE)]
    match_palette: f64,
    /// Temporal smoothing in [0, 1): weight of the previous frame's AdaIN target (less flicker).
    #[arg(long, default_value_t = 0.0)]
    temporal: f64,
    /// Stop after this many frames (0 = all; needed for endless sources such as cameras).
    #[arg(long, default_value_t = 0)]
    frames: u64,
    /// x264 quality: lower is better, 18 is visually lossless.
    #[arg(long, default_value_t = 18)]
    crf: u32,
    #[command(flatten)]
    net: super::NetworkArgs,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn run(a: Args) -> Result<ExitCode> {
    if !(0.0..1.0).contains(&a.temporal) {
        bail!("--temporal {} must be in [0, 1)", a.temporal);
    }
    if !(0.0..=1.0).contains(&a.alpha) {
        bail!("--alpha {} must be in [0, 1]", a.alpha);
    }
    let device = a.device.device()?;
    let src = Source { input: a.input.clone(), format: a.input_format.clone() };
    let info = video::probe(&src)?;
    let network = a.net.load(device)?;
    let stylizer = Stylizer::new(
        Method::Network(&network),
        Settings { alpha: a.alpha, preserve_color: false, tile: Tile::Off, match_palette: a.match_palette },
    )?;
    let style = stylizer.prepare(StyleSpec::Single(img::load_sized(&a.style, a.style_size, false)?))?;
    let opts = VideoOptions { size: a.size, temporal: a.temporal, max_frames: a.frames, crf: a.crf };
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {pos} frames [{elapsed_precise}] {per_sec}").unwrap());
    let (w, h) = video::frame_size(info.width, info.height, a.size);
    eprintln!(
        "adain: {} ({}x{} at {} fps{}) -> {}x{}",
        a.input,
        info.width,
        info.height,
        info.rate,
        if info.has_audio { ", with audio" } else { "" },
        w,
        h
    );
    let report = video::stylize_video(&stylizer, &style, &src, &info, &a.output, &opts, |n| pb.set_position(n))?;
    pb.finish_and_clear();
    println!(
        "{}: {} frames in {:.1} s ({:.2} frames/s); mean frame-to-frame difference {:.4}",
        a.output.display(),
        report.frames,
        report.seconds,
        report.frames as f64 / report.seconds,
        report.mean_frame_diff
    );
    Ok(ExitCode::SUCCESS)
}
