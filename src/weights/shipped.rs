//! Where the shipped weights are: `models/` in the checkout, the cache dir, or a variable
//! naming the file.

use super::fetch;
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
        Some(fetch::home().join(&name)),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("models").join(&name)),
    ];
    candidates.into_iter().flatten().find(|p| p.exists())
}
