//! Where the shipped weights are: `models/` in the checkout, the cache dir (`home`), or a
//! variable naming the file.

use crate::model::Family;
use std::path::{Path, PathBuf};

/// File name of the shipped weights of a family (for vgg: of its decoder for `encoder`).
pub(crate) fn weights_file_name(family: Family, encoder: &str) -> String {
    match family {
        Family::Vgg => format!("decoder-{encoder}.safetensors"),
        Family::Lite => "lite.safetensors".into(),
        Family::MicroAst => "microast/".into(),
    }
}

/// The shipped weights, if this build can find them: `$ADAIN_DECODER` (vgg) or
/// `$ADAIN_LITE` (lite), then the cache dir (`$ADAIN_HOME`), then the checkout's `models/`.
pub fn default_weights(family: Family, encoder: &str) -> Option<PathBuf> {
    let name = weights_file_name(family, encoder);
    let var = match family {
        Family::Vgg => "ADAIN_DECODER",
        Family::Lite => "ADAIN_LITE",
        Family::MicroAst => return None,
    };
    let candidates = [
        std::env::var_os(var).map(PathBuf::from),
        Some(home().join(&name)),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(&name)),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}

/// The cache dir: `$ADAIN_HOME`, else `~/.cache/adain`.
pub(crate) fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("ADAIN_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("adain")
}
