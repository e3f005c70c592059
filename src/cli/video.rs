//! `adain video`: stylize a video file, a camera (`--input /dev/video0 --input-format v4l2`) or
//! an ffmpeg test source (`--input testsrc=size=320x240:rate=25 --input-format lavfi`).

use super::args::DeviceArgs;
use super::flags::{FlagSet, SettingFlags, flag_error};
use adain::data::image as img;
use adain::infer::video::{self, Source, VideoOptions};
use adain::infer::{Method, Settings, StyleSpec, Stylizer, Tile};
use anyhow::Result;
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
    /// Stop after this many frames (0 = all; needed for endless sources such as cameras).
    #[arg(long, default_value_t = 0)]
    frames: u64,
    /// x264 quality: lower is better, 18 is visually lossless.
    #[arg(long, default_value_t = 18)]
    crf: u32,
    #[command(flatten)]
    net: super::args::NetworkArgs,
    #[command(flatten)]
    settings: SettingFlags<VideoFlags>,
    #[command(flatten)]
    device: DeviceArgs,
}

/// The stylize settings `adain video` takes as flags (`--size`: the frames' shorter side).
pub struct VideoFlags;

impl FlagSet for VideoFlags {
    type S = Settings;
    const KEYS: Option<&'static [&'static str]> =
        Some(&["alpha", "content_size", "style_size", "match_palette", "temporal"]);
    const ALIASES: &'static [(&'static str, &'static [&'static str])] = &[("content_size", &["size"])];
}

pub fn run(a: Args) -> Result<ExitCode> {
    // Colour preservation and tiling are per-image features: frames are stylized whole.
    let settings = Settings { preserve_color: false, tile: Tile::Off, ..a.settings.resolve_for(a.net.model)? };
    settings.validate().map_err(flag_error)?;
    let device = a.device.device()?;
    let src = Source { input: a.input.clone(), format: a.input_format.clone() };
    let info = video::probe(&src)?;
    let network = a.net.load(device)?;
    let (size, style_size, temporal) = (settings.content_size, settings.style_size, settings.temporal);
    let stylizer = Stylizer::new(Method::Network(&network), settings)?;
    let style = stylizer.prepare(StyleSpec::Single(img::load_sized(&a.style, style_size, false)?))?;
    let opts = VideoOptions { size, temporal, max_frames: a.frames, crf: a.crf };
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {pos} frames [{elapsed_precise}] {per_sec}").unwrap());
    let (w, h) = video::frame_size(info.width, info.height, size);
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
