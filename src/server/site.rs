//! The page as a static site (`adain export --web DIR`): the same page, scripts and gallery,
//! onnxruntime-web's runtime and the lite network's graph, in files that any static file
//! server serves (`python3 -m http.server`); no adain process behind it. The page sees
//! `<html data-site="static">` and then runs everything in the browser.
//!
//! ```text
//! DIR/index.html app.js app.css local.js
//!     settings.json                 the stylize settings' defaults
//!     gallery.json                  {"styles": [{id, name, image, thumb}]}
//!     styles/ID.EXT  thumbs/ID.jpg  each gallery image as given, and its thumbnail
//!     ort/…                         onnxruntime-web's WebAssembly runtime (and WebGPU's)
//!     models/lite-style.onnx        the lite network's style half (float16 weights)
//!     models/lite-frame.onnx        and its frame half
//!     models/lite-*-f32.onnx        both in float32 (WebGPU without shader-f16)
//! ```
//!
//! Written into a temporary folder beside DIR and renamed into place when complete.

use super::styles::Styles;
use adain::export::web;
use adain::infer::{Family, Settings};
use anyhow::{Context, Result, bail};
use std::path::Path;

const INDEX: &str = include_str!("page/index.html");
const FILES: [(&str, &str); 3] = [
    ("app.js", include_str!("page/app.js")),
    ("app.css", include_str!("page/app.css")),
    ("local.js", include_str!("page/local.js")),
];

/// Writes the site into `dir` (which must not exist, or be an empty folder); `graphs` are the
/// lite network's halves the page runs ([`web::GRAPH_FILES`] order); `styles`, a folder of
/// more gallery images (see [`Styles::new`]). Returns the number of gallery images.
pub fn write(dir: &Path, graphs: &[Vec<u8>; 4], styles: Option<&Path>) -> Result<usize> {
    let runtime = web::runtime().with_context(|| {
        format!(
            "onnxruntime-web {} is not in {}: scripts/setup.sh fetches it",
            web::ORT_VERSION,
            web::runtime_dir().display()
        )
    })?;
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{}: exists and is not an empty folder; give a new one", dir.display());
    }
    let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create it", parent.display()))?;
    let tmp = tempfile::Builder::new().prefix(".adain-site-").tempdir_in(parent)?;
    let out = tmp.path();
    for sub in ["ort", "models", "styles", "thumbs"] {
        std::fs::create_dir(out.join(sub))?;
    }
    let index = INDEX.replacen("<html lang=\"en\">", "<html lang=\"en\" data-site=\"static\">", 1);
    std::fs::write(out.join("index.html"), index)?;
    for (name, text) in FILES {
        std::fs::write(out.join(name), text)?;
    }
    std::fs::write(out.join("settings.json"), serde_json::to_string_pretty(&Settings::for_family(Family::Lite))?)?;
    for f in web::runtime_files(&runtime) {
        std::fs::copy(runtime.join(f), out.join("ort").join(f)).with_context(|| format!("copying {f}"))?;
    }
    for (name, bytes) in web::GRAPH_FILES.iter().zip(graphs) {
        std::fs::write(out.join("models").join(name), bytes)?;
    }
    let styles = Styles::new(styles, 1, adain::data::image::DEFAULT_MAX_PIXELS, usize::MAX)?;
    let thumbs = std::sync::Mutex::new(());
    let mut gallery = Vec::new();
    for item in styles.list() {
        let ext =
            image::guess_format(&item.bytes).ok().and_then(|f| f.extensions_str().first().copied()).unwrap_or("img");
        let (image, thumb) = (format!("styles/{}.{ext}", item.id), format!("thumbs/{}.jpg", item.id));
        std::fs::write(out.join(&image), item.bytes.as_slice())?;
        let t =
            item.thumbnail(adain::data::image::DEFAULT_MAX_PIXELS, &thumbs).map_err(|e| anyhow::anyhow!(e.message))?;
        std::fs::write(out.join(&thumb), t)?;
        gallery.push(serde_json::json!({ "id": item.id, "name": item.name, "image": image, "thumb": thumb }));
    }
    std::fs::write(out.join("gallery.json"), serde_json::to_string_pretty(&serde_json::json!({ "styles": gallery }))?)?;
    if dir.exists() {
        std::fs::remove_dir(dir)?;
    }
    let kept = tmp.keep();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&kept, dir).with_context(|| format!("{}: cannot move the site into place", dir.display()))?;
    Ok(gallery.len())
}
