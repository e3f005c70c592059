//! `adain eval`: quality of adain's results next to the colour-transfer baseline, the content
//! unchanged, and any peer's results (e.g. Magenta's, made by `research/peer-magenta.sh`), on
//! (held-out) pairs; optionally a styles × contents grid image.

use super::args::DeviceArgs;
use super::flags::{FlagSet, SettingFlags};
use adain::data::image as img;
use adain::infer::evaluate::{self, Scorer, Scores, Steadiness};
use adain::infer::{Family, Method, NetworkSpec, Settings, StyleSpec, Stylizer};
use adain::metrics::Lpips;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Tab-separated `content<TAB>style` lines (a run's validation-pairs.tsv).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// With --pairs: every content of the file with every style of the file (N² pairs).
    #[arg(long, requires = "pairs")]
    all_combinations: bool,
    /// Or: content images (file or folder) …
    #[arg(long, short)]
    content: Option<PathBuf>,
    /// … and style images (file or folder); every content × every style.
    #[arg(long, short)]
    style: Option<PathBuf>,
    /// Shorter side of contents and styles.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Also score another method's results: NAME=DIR, where DIR holds
    /// `{content}_stylized_{style}.png` for every pair at the same size (repeatable). With
    /// --motion, a peer whose DIR has a `clips/` folder (its frames of the --clips-out clips)
    /// is also measured for steadiness.
    #[arg(long, value_name = "NAME=DIR")]
    compare: Vec<String>,
    /// Write a styles × contents grid image here (with --content/--style).
    #[arg(long)]
    grid: Option<PathBuf>,
    /// Networks to score with their shipped weights: vgg, lite (repeatable; default vgg
    /// unless --weights is given).
    #[arg(long, num_args = 1..)]
    model: Vec<Family>,
    /// Trained weights to score (a VGG decoder or a lite network, told apart by their
    /// contents, or MicroAST's release folder); repeat to compare several side by side.
    #[arg(long, visible_alias = "decoder", num_args = 1..)]
    weights: Vec<PathBuf>,
    /// VGG encoder of the vgg networks and of the scores.
    #[arg(long, default_value = "vgg16")]
    encoder: String,
    /// Also measure the frame bias (horizontal/vertical streaks) of adain and the colour
    /// transfer: each pair is stylized a second time turned a quarter turn (twice the time).
    #[arg(long)]
    frame_bias: bool,
    /// Also measure steadiness on video: each content becomes two synthetic camera clips of
    /// 24 frames (a window panning 3 px a frame, and a still one; sensor noise σ 2/255 on every
    /// frame), stylized as `adain video` does (`--temporal` smoothing); the motion is known, so
    /// the frame differences are measured after undoing it (no optical flow). With the VGG
    /// style distance of the first and last frames.
    #[arg(long)]
    motion: bool,
    /// With --motion: write each pair's input clips to this folder as
    /// `{content}_stylized_{style}.safetensors` (`moving` and `still`, `[24, 3, H, W]` float32
    /// in [0, 1]), for a peer to stylize frame by frame into its --compare DIR's `clips/`
    /// (e.g. `research/peer-magenta.sh … --clips DIR`).
    #[arg(long, requires = "motion", value_name = "DIR")]
    clips_out: Option<PathBuf>,
    /// Inference precision: auto (bfloat16 on CPUs with native support), f32, bf16. Scores
    /// default to float32 so that they do not depend on the CPU they were taken on.
    #[arg(long, default_value = "f32")]
    precision: adain::model::Precision,
    #[command(flatten)]
    settings: SettingFlags<EvalFlags>,
    #[command(flatten)]
    device: DeviceArgs,
}

/// The stylize settings of adain's results that `adain eval` takes as flags (the α curve,
/// the palette matching, the temporal smoothing of `--motion`).
pub struct EvalFlags;

impl FlagSet for EvalFlags {
    type S = Settings;
    const KEYS: Option<&'static [&'static str]> = Some(&["alpha", "match_palette", "temporal"]);
    const HEADING: &'static str = "Stylize settings of adain's results";
}

/// The pairs to score, and the content and style lists (for the grid).
type PairList = (Vec<(PathBuf, PathBuf)>, Vec<PathBuf>, Vec<PathBuf>);

fn read_pairs(a: &Args) -> Result<PairList> {
    match (&a.pairs, &a.content, &a.style) {
        (Some(p), None, None) => {
            let pairs = adain::train::validation::read_pairs(p)?;
            if !a.all_combinations {
                return Ok((pairs, vec![], vec![]));
            }
            let mut cs: Vec<PathBuf> = pairs.iter().map(|(c, _)| c.clone()).collect();
            let mut ss: Vec<PathBuf> = pairs.iter().map(|(_, s)| s.clone()).collect();
            cs.dedup();
            ss.dedup();
            Ok((ss.iter().flat_map(|s| cs.iter().map(move |c| (c.clone(), s.clone()))).collect(), cs, ss))
        }
        (None, Some(c), Some(s)) => {
            let cs = img::list_images(c)?;
            let ss = img::list_images(s)?;
            let pairs = ss.iter().flat_map(|s| cs.iter().map(move |c| (c.clone(), s.clone()))).collect();
            Ok((pairs, cs, ss))
        }
        _ => bail!("give --pairs FILE, or --content and --style"),
    }
}

fn parse_compare(spec: &str) -> Result<(String, PathBuf)> {
    let (name, dir) = spec.split_once('=').with_context(|| format!("--compare {spec:?}: expected NAME=DIR"))?;
    if !Path::new(dir).is_dir() {
        bail!("--compare {spec:?}: {dir} is not a directory");
    }
    Ok((name.to_owned(), PathBuf::from(dir)))
}

/// The means of each method's scores, one row per method.
fn print_table(names: &[String], sums: &[Scores], pairs: usize, size: u32) {
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(28);
    println!("{pairs} pairs at {size} px (means; lower is better)");
    print!("{:<width$}", "method");
    for h in Scores::NAMES {
        print!(" {h:>13}");
    }
    println!();
    for (name, s) in names.iter().zip(sums) {
        print!("{name:<width$}");
        for v in s.div(pairs as f64).values() {
            print!(" {v:>13.3}");
        }
        println!();
    }
}

/// Adds one method's [`Steadiness`] on one content's clips (`moving`, `still`) to `sum`, and
/// with `score` its VGG style distance (mean of the first and last frames).
fn add_clips(
    sum: &mut (Steadiness, f64),
    m: &[tch::Tensor],
    s: &[tch::Tensor],
    score: Option<&dyn Fn(&tch::Tensor) -> f64>,
) {
    let st = evaluate::steadiness(m, s, evaluate::CLIP_SHIFT);
    let (acc, style) = sum;
    for (x, y) in
        [(&mut acc.consecutive, st.consecutive), (&mut acc.still, st.still), (&mut acc.first_last, st.first_last)]
    {
        *x += y;
    }
    *style += score.map_or(f64::NAN, |f| (f(&m[0]) + f(&m[m.len() - 1])) / 2.0);
}

/// The synthetic camera clips of one content (`[1, 3, H, W]`): moving and still.
type Clips = (Vec<tch::Tensor>, Vec<tch::Tensor>);

/// Writes `clips` as one safetensors file (`moving`, `still`: `[frames, 3, H, W]`).
fn write_clips(path: &Path, (moving, still): &Clips) -> Result<()> {
    let cat = |v: &[tch::Tensor]| tch::Tensor::cat(v, 0).to_kind(tch::Kind::Float);
    adain::weights::write_safetensors(path, &[("moving".to_owned(), cat(moving)), ("still".to_owned(), cat(still))])?;
    Ok(())
}

/// A peer's frames of `like`'s clips from `path` (as [`write_clips`] writes them), each
/// resized to the input frames' size when it differs (bilinear).
fn read_clips(path: &Path, like: &Clips) -> Result<Clips> {
    let map: std::collections::HashMap<String, tch::Tensor> = tch::Tensor::read_safetensors(path)
        .with_context(|| format!("{}: not a safetensors file of clip frames", path.display()))?
        .into_iter()
        .collect();
    let (h, w) = (like.0[0].size()[2], like.0[0].size()[3]);
    let take = |key: &str, n: usize| -> Result<Vec<tch::Tensor>> {
        let t = map.get(key).with_context(|| format!("{}: no `{key}` tensor", path.display()))?;
        let size = t.size();
        if size.len() != 4 || size[0] != n as i64 || size[1] != 3 {
            bail!("{}: `{key}` is {size:?}, expected [{n}, 3, H, W]", path.display());
        }
        let t = t.to_kind(tch::Kind::Float);
        let t = if (size[2], size[3]) == (h, w) { t } else { t.upsample_bilinear2d([h, w], false, None, None) };
        Ok(t.split(1, 0).into_iter().map(|f| f.to_device(like.0[0].device())).collect())
    };
    Ok((take("moving", like.0.len())?, take("still", like.1.len())?))
}

/// The steadiness table: means over the contents.
fn print_motion(names: &[String], sums: &[(Steadiness, f64)], pairs: usize, first: &Stylizer) {
    let n = pairs as f64;
    println!(
        "steadiness on synthetic camera clips ({} frames, {} px a frame, noise σ {:.4}; temporal {}; mean absolute \
         difference in [0, 1] RGB after undoing the motion, lower is steadier; VGG style of the frames)",
        evaluate::CLIP_FRAMES,
        evaluate::CLIP_SHIFT,
        evaluate::CLIP_NOISE,
        first.settings().temporal
    );
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0).max(28);
    print!("{:<width$}", "method");
    for h in Steadiness::NAMES.iter().chain(&["VGG style"]) {
        print!(" {h:>14}");
    }
    println!();
    for (name, (s, style)) in names.iter().zip(sums) {
        print!("{name:<width$}");
        for v in s.values().iter().chain(&[*style]) {
            print!(" {:>14.4}", v / n);
        }
        println!();
    }
}

/// The mean frame bias of each stylizer and the mean of its size over the pairs.
fn print_frame_bias(names: &[String], biases: &[Vec<f64>]) {
    println!("frame bias (log energy ratio; 0: no preferred direction, < 0: horizontal streaks)");
    for (k, name) in names.iter().enumerate().take(biases.first().map_or(0, Vec::len)) {
        let b: Vec<f64> = biases.iter().map(|p| p[k]).collect();
        let n = b.len() as f64;
        let (mean, size) = (b.iter().sum::<f64>() / n, b.iter().map(|x| x.abs()).sum::<f64>() / n);
        println!("{name:<28} mean {mean:>7.3}   mean |bias| {size:>6.3}");
    }
}

/// Styles × contents image of the first method's results (`outputs` in content-major order).
fn write_grid(
    a: &Args,
    g: &Path,
    contents: &[PathBuf],
    styles: &[PathBuf],
    outputs: &[image::Rgb32FImage],
) -> Result<()> {
    if contents.is_empty() {
        bail!("--grid needs --content and --style (or --pairs with --all-combinations)");
    }
    let load = |p: &PathBuf| img::load_sized(p, a.size, false);
    let cs: Vec<_> = contents.iter().map(load).collect::<adain::Result<_>>()?;
    let ss: Vec<_> = styles.iter().map(load).collect::<adain::Result<_>>()?;
    let cells: Vec<Vec<_>> = outputs.chunks(contents.len()).map(|c| c.to_vec()).collect();
    let grid = evaluate::grid(&cs, &ss, &cells, a.size.min(256));
    img::save(&image::DynamicImage::ImageRgb8(grid).to_rgb32f(), g)?;
    println!("grid: {}", g.display());
    Ok(())
}

pub fn run(a: Args) -> Result<ExitCode> {
    let device = a.device.device()?;
    let (pairs, contents, styles) = read_pairs(&a)?;
    let peers: Vec<(String, PathBuf)> = a.compare.iter().map(|s| parse_compare(s)).collect::<Result<_>>()?;
    let mut specs: Vec<NetworkSpec> = a
        .model
        .iter()
        .map(|&family| NetworkSpec {
            family,
            encoder: a.encoder.clone(),
            weights: None,
            precision: a.precision,
            device,
        })
        .collect();
    for w in &a.weights {
        let family = adain::weights::lite::detect_family(w)?;
        specs.push(NetworkSpec {
            family,
            encoder: a.encoder.clone(),
            weights: Some(w.clone()),
            precision: a.precision,
            device,
        });
    }
    if specs.is_empty() {
        specs.push(NetworkSpec {
            encoder: a.encoder.clone(),
            precision: a.precision,
            device,
            ..NetworkSpec::default()
        });
    }
    let networks: Vec<_> = specs.iter().map(super::args::load_network).collect::<Result<_>>()?;
    // Scores are always taken with a float32 encoder, whatever precision stylizes.
    let score_enc = super::args::load_encoder(&a.encoder, device)?;
    let lpips = Lpips::fetch(device, false)?;
    let scorer = Scorer { encoder: &score_enc.encoder, lpips: &lpips };
    // Each network's own defaults (the lite network's palette matching), the flags on top.
    let mut stylizers = Vec::new();
    for (spec, net) in specs.iter().zip(&networks) {
        stylizers.push(Stylizer::new(Method::Network(net), a.settings.resolve_for(spec.family)?)?);
    }
    stylizers.push(Stylizer::new(Method::ColorTransfer, a.settings.resolve()?)?);
    // One network: `adain FAMILY`; several: each with its weights file when it has one.
    let mut names: Vec<String> = specs
        .iter()
        .map(|s| match (&s.weights, specs.len()) {
            (Some(p), 2..) => format!("adain {} {}", s.family, p.display()),
            _ => format!("adain {}", s.family),
        })
        .collect();
    names.push("color-transfer baseline".to_owned());
    names.extend(peers.iter().map(|(n, _)| n.clone()));
    names.push("content unchanged".to_owned());
    let mut sums = vec![Scores::default(); names.len()];
    let mut outputs = Vec::new();
    let mut biases = Vec::new();
    // With --motion, the peers whose folder has their frames of the clips are also measured.
    let (clip_peers, without_clips): (Vec<&(String, PathBuf)>, Vec<_>) =
        if a.motion { peers.iter().partition(|(_, d)| d.join("clips").is_dir()) } else { Default::default() };
    for (n, d) in without_clips {
        eprintln!("adain: {n}: {} has no clips/ folder, so it is left out of the steadiness table", d.display());
    }
    if let Some(d) = &a.clips_out {
        std::fs::create_dir_all(d).with_context(|| format!("--clips-out {}", d.display()))?;
    }
    let mut motion = vec![(Steadiness::default(), 0.0); stylizers.len() + clip_peers.len() + 1];
    for (c, s) in &pairs {
        let ci = img::load_sized(c, a.size, false)?;
        let si = img::load_sized(s, a.size, false)?;
        let (ct, st) = (img::to_tensor(&ci).to_device(device), img::to_tensor(&si).to_device(device));
        let mut results = Vec::new();
        for st in &stylizers {
            results.push(st.stylize(&ci, &st.prepare(StyleSpec::Single(si.clone()))?)?);
        }
        outputs.push(results[0].clone());
        if a.frame_bias {
            let b = stylizers.iter().zip(&results).map(|(st, up)| evaluate::frame_bias(st, &ci, &si, up));
            biases.push(b.collect::<adain::Result<Vec<f64>>>()?);
        }
        let stem = s.file_stem().map(|x| x.to_string_lossy().into_owned()).unwrap_or_default();
        if a.motion {
            let name = super::stylize::output_name(c, &stem, "safetensors");
            let (f, shift, noise) = (evaluate::CLIP_FRAMES, evaluate::CLIP_SHIFT, evaluate::CLIP_NOISE);
            let clips = evaluate::camera_clip(&ct.to_device(tch::Device::Cpu), f, shift, noise, 7);
            if let Some(d) = &a.clips_out {
                write_clips(&d.join(&name), &clips)?;
            }
            let pair = scorer.pair(&clips.0[0].to_device(device), &st);
            let score = |t: &tch::Tensor| scorer.score(&t.to_device(device), &pair).style;
            let (ours, rest) = motion.split_at_mut(stylizers.len());
            for (sum, stylizer) in ours.iter_mut().zip(&stylizers) {
                let (m, s) = evaluate::stylize_clips(stylizer, &si, (&clips.0, &clips.1))?;
                add_clips(sum, &m, &s, Some(&score));
            }
            for (sum, (_, d)) in rest.iter_mut().zip(&clip_peers) {
                let (m, s) = read_clips(&d.join("clips").join(&name), &clips)?;
                add_clips(sum, &m, &s, Some(&score));
            }
            add_clips(rest.last_mut().expect("the input clip's row"), &clips.0, &clips.1, None);
        }
        for (_, dir) in &peers {
            let p = dir.join(super::stylize::output_name(c, &stem, "png"));
            let im = img::open(&p)?;
            let (w, h) = ci.dimensions();
            results.push(if im.dimensions() == (w, h) { im } else { img::resize_exact(&im, w, h) });
        }
        results.push(ci.clone());
        let pair = scorer.pair(&ct, &st);
        for (sum, out) in sums.iter_mut().zip(&results) {
            sum.add(&scorer.score(&img::to_tensor(out).to_device(device), &pair));
        }
    }
    print_table(&names, &sums, pairs.len(), a.size);
    if a.frame_bias {
        print_frame_bias(&names, &biases);
    }
    if a.motion {
        let mut rows: Vec<String> = names[..stylizers.len()].to_vec();
        rows.extend(clip_peers.iter().map(|(n, _)| format!("{n} (per frame)")));
        rows.push("input clip".to_owned());
        print_motion(&rows, &motion, pairs.len(), &stylizers[0]);
    }
    if let Some(g) = &a.grid {
        write_grid(&a, g, &contents, &styles, &outputs)?;
    }
    Ok(ExitCode::SUCCESS)
}
