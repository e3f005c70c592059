//! Held-out validation: fixed (content, style) pairs, so curves compare across runs.
//!
//! Either `--val-content` / `--val-style` folders, or a seeded split that holds `val_count`
//! images of each training folder out of training. Pair i is content i with style i (cycling
//! the shorter list). Each image is resized (shorter side = crop size) and centre-cropped.

use super::config::TrainConfig;
use crate::data::dataset::{ImageFolder, hash};
use crate::data::image as img;
use crate::error::{Error, Result};
use image::RgbImage;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// The fixed validation batch: `[N, 3, S, S]` each.
pub struct ValSet {
    pub(crate) content: Tensor,
    pub(crate) style: Tensor,
    pub(crate) names: Vec<(PathBuf, PathBuf)>,
}

/// Splits a folder's images into (train, held out): `count` images chosen by a seeded hash.
pub fn split(paths: Vec<PathBuf>, count: usize, seed: u64) -> (Vec<PathBuf>, Vec<PathBuf>) {
    if count == 0 || paths.len() < 2 {
        return (paths, vec![]);
    }
    let count = count.min(paths.len() / 2);
    let mut order: Vec<(u64, usize)> = (0..paths.len()).map(|i| (hash(&[seed, 0x7a1, i as u64]), i)).collect();
    order.sort();
    let held: std::collections::HashSet<usize> = order.iter().take(count).map(|(_, i)| *i).collect();
    let mut train = Vec::new();
    let mut val = Vec::new();
    for (i, p) in paths.into_iter().enumerate() {
        if held.contains(&i) { val.push(p) } else { train.push(p) }
    }
    (train, val)
}

/// The `(content, style)` pairs of a pairs file: tab-separated `content<TAB>style` lines
/// (blank lines and `#` comments skipped), as a run's validation-pairs.tsv and
/// models/validation-pairs.tsv; an error names the file and the line.
pub fn read_pairs(file: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io(file, e))?;
    let lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    lines
        .map(|(n, line)| {
            let (c, s) = line.split_once('\t').ok_or_else(|| Error::Config {
                origin: file.display().to_string(),
                msg: format!("line {}: expected content<TAB>style", n + 1),
            })?;
            Ok((PathBuf::from(c.trim()), PathBuf::from(s.trim())))
        })
        .collect()
}

/// The file names of every image the pairs files name ([`read_pairs`]).
fn held_out_names(files: &[PathBuf]) -> Result<std::collections::HashSet<String>> {
    let mut names = std::collections::HashSet::new();
    for f in files {
        for (c, s) in read_pairs(f)? {
            names.extend([c, s].iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()));
        }
    }
    Ok(names)
}

fn load_val(path: &Path, size: u32) -> Result<Tensor> {
    let im = img::center_crop(&img::resize_shorter(&img::open(path)?, size), size);
    Ok(img::to_tensor(&im).squeeze_dim(0))
}

/// Training folders and the validation set for a configuration.
pub(crate) fn datasets(cfg: &TrainConfig) -> Result<(ImageFolder, ImageFolder, Option<ValSet>)> {
    let list = |p: &Path| -> Result<Vec<PathBuf>> {
        if !p.is_dir() {
            return Err(Error::Image { path: p.to_owned(), msg: "not a directory".into() });
        }
        img::list_images(p)
    };
    let held = held_out_names(&cfg.held_out)?;
    let kept = |v: Vec<PathBuf>| -> Vec<PathBuf> {
        v.into_iter()
            .filter(|p| p.file_name().is_none_or(|n| !held.contains(&n.to_string_lossy().into_owned())))
            .collect()
    };
    let content_all = kept(list(&cfg.content_dir)?);
    // The VGG decoder's reconstruction stage sees photos only; the lite network's auto-encodes
    // paintings too.
    let paintings = cfg.stage == super::config::Stage::Adain || cfg.model == crate::model::Family::Lite;
    let style_all = if paintings { kept(list(&cfg.style_dir)?) } else { content_all.clone() };
    let (content_train, content_val, style_train, style_val) = match (&cfg.val_content, &cfg.val_style) {
        (Some(vc), Some(vs)) => (content_all, list(vc)?, style_all, list(vs)?),
        (None, None) => {
            let (ct, cv) = split(content_all, cfg.val_count, cfg.seed);
            let (st, sv) = split(style_all, cfg.val_count, cfg.seed ^ 1);
            (ct, cv, st, sv)
        }
        (Some(_), None) => return Err(Error::setting("val_style", "(none)", "give it with val_content, or neither")),
        (None, Some(_)) => return Err(Error::setting("val_content", "(none)", "give it with val_style, or neither")),
    };
    let content = ImageFolder::from_paths(&cfg.content_dir, content_train, cfg.load_size, cfg.resize);
    let style = ImageFolder::from_paths(&cfg.style_dir, style_train, cfg.load_size, cfg.resize);
    if content_val.is_empty() || style_val.is_empty() {
        return Ok((content, style, None));
    }
    let n = content_val.len().max(style_val.len()).min(cfg.val_count.max(1));
    let mut cs = Vec::new();
    let mut ss = Vec::new();
    let mut names = Vec::new();
    for i in 0..n {
        let (c, s) = (&content_val[i % content_val.len()], &style_val[i % style_val.len()]);
        // A broken validation image is skipped like a broken training image.
        match (load_val(c, cfg.crop_size), load_val(s, cfg.crop_size)) {
            (Ok(ct), Ok(st)) => {
                cs.push(ct);
                ss.push(st);
                names.push((c.clone(), s.clone()));
            }
            (Err(e), _) | (_, Err(e)) => tracing::warn!("skipping validation pair: {e}"),
        }
    }
    if cs.is_empty() {
        return Ok((content, style, None));
    }
    Ok((content, style, Some(ValSet { content: Tensor::stack(&cs, 0), style: Tensor::stack(&ss, 0), names })))
}

/// A grid with one row per pair: style | content | output (`[N, 3, S, S]` each, [0, 1]).
pub fn grid(style: &Tensor, content: &Tensor, output: &Tensor) -> RgbImage {
    let row = Tensor::cat(&[style, content, &output.clamp(0.0, 1.0)], 3); // [N, 3, S, 3S]
    let all = Tensor::cat(&row.unbind(0), 1); // [3, N·S, 3S]
    let rgb = img::from_tensor(&all.unsqueeze(0));
    image::DynamicImage::ImageRgb32F(rgb).to_rgb8()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_out_pairs_name_images_left_out_of_training() {
        use crate::settings::Settings;
        let dir = tempfile::tempdir().unwrap();
        let (content, style) = (dir.path().join("c"), dir.path().join("s"));
        for (d, names) in [(&content, ["a.png", "b.png", "c.png"]), (&style, ["x.png", "y.png", "z.png"])] {
            std::fs::create_dir(d).unwrap();
            for n in names {
                image::RgbImage::new(8, 8).save(d.join(n)).unwrap();
            }
        }
        let pairs = dir.path().join("pairs.tsv");
        std::fs::write(&pairs, "# held out\nelsewhere/b.png\tother/y.png\n\n").unwrap();
        let cfg = TrainConfig {
            content_dir: content,
            style_dir: style,
            held_out: vec![pairs.clone()],
            val_count: 0,
            ..TrainConfig::default()
        };
        let (c, s, _) = datasets(&cfg).unwrap();
        let names = |f: &ImageFolder| {
            f.paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect::<Vec<_>>()
        };
        assert_eq!(
            (names(&c), names(&s)),
            (vec!["a.png".to_owned(), "c.png".into()], vec!["x.png".to_owned(), "z.png".into()])
        );
        std::fs::write(&pairs, "one column only\n").unwrap();
        let e = datasets(&cfg).err().unwrap().to_string();
        assert!(e.contains("pairs.tsv") && e.contains("line 1"), "{e}");
        // As a flag: a TOML array.
        let with =
            TrainConfig::default().with_overrides(&[("held_out".into(), "[\"a.tsv\", \"b.tsv\"]".into())]).unwrap();
        assert_eq!(with.held_out, vec![PathBuf::from("a.tsv"), PathBuf::from("b.tsv")]);
    }

    #[test]
    fn split_is_seeded_disjoint_and_complete() {
        let paths: Vec<PathBuf> = (0..20).map(|i| PathBuf::from(format!("{i}.jpg"))).collect();
        let (t, v) = split(paths.clone(), 4, 9);
        assert_eq!((t.len(), v.len()), (16, 4));
        assert_eq!(split(paths.clone(), 4, 9).1, v);
        assert_ne!(split(paths.clone(), 4, 10).1, v);
        let mut all: Vec<_> = t.iter().chain(&v).cloned().collect();
        all.sort();
        let mut want = paths;
        want.sort();
        assert_eq!(all, want);
    }
}
