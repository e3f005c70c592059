//! The library's error type. Every variant names the file, setting or program it is about, so
//! that a front end can print one clear line.

use std::path::PathBuf;

/// Errors of the adain library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weight file that cannot be read or does not fit the model.
    #[error("{}: {msg}", path.display())]
    Weights { path: PathBuf, msg: String },
    /// An image that cannot be read or written.
    #[error("{}: {msg}", path.display())]
    Image { path: PathBuf, msg: String },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Fetching the default encoder weights failed.
    #[error("fetching encoder weights: {0}")]
    Fetch(String),
    /// An internal inconsistency (a network without a weight its export needs, settings that
    /// do not serialise) or library-call arguments that do not fit each other (style codes
    /// for a spec with another number of styles): nothing a user's input or file causes.
    #[error("{0}")]
    Invalid(String),
    /// A feature that this network or method does not have (masks with the colour-transfer
    /// baseline or MicroAST, style codes of another family, training MicroAST): the caller can
    /// choose another network or drop the feature.
    #[error("{0}")]
    Unsupported(String),
    /// A config or checkpoint file (`origin`) whose text does not parse or does not fit.
    #[error("{origin}: {msg}")]
    Config { origin: String, msg: String },
    /// A path that cannot serve as asked (a file where a folder is needed, an unwritable
    /// folder).
    #[error("{}: {msg}", path.display())]
    Path { path: PathBuf, msg: String },
    /// libtorch failed inside `what` by panicking (caught, see `catch_panics`): not the
    /// caller's input as far as the checks before it could tell.
    #[error("{what} failed: {msg}")]
    Panic { what: String, msg: String },
    /// A setting whose value does not fit it (`key` as in the settings struct, e.g. `alpha`).
    #[error("setting {key} = {value}: {msg}")]
    Setting { key: String, value: String, msg: String },
    /// A tensor handed to the library with a shape it cannot take (checked before libtorch
    /// sees it).
    #[error("{what}: expected a tensor of shape {expected}, got {got:?}")]
    Shape { what: String, expected: String, got: Vec<i64> },
    /// Training diverged: the loss was `value` (not finite) at `step`; the checkpoints in
    /// `kept` are from before it (resume from them with a lower learning rate).
    #[error("loss is {value} at step {step}: stopping; the last good checkpoint is kept in {}", kept.display())]
    Diverged { value: f64, step: u64, kept: PathBuf },
    /// An external program (ffmpeg, ffprobe) failed or is missing.
    #[error("{tool}: {msg}")]
    Tool { tool: String, msg: String },
    /// A distributed run failed: a collective, the rendezvous, or a rank.
    #[error("distributed: {0}")]
    Distributed(String),
    /// An error reported by libtorch.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// A weight file that cannot be read or does not fit the model.
    pub fn weights(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Weights { path: path.into(), msg: msg.into() }
    }

    /// An image that cannot be read or written.
    pub fn image(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Image { path: path.into(), msg: msg.into() }
    }

    /// A setting whose value does not fit it.
    pub fn setting(key: &str, value: impl std::fmt::Display, msg: impl Into<String>) -> Self {
        Error::Setting { key: key.into(), value: value.to_string(), msg: msg.into() }
    }

    /// An external program that failed or is missing.
    pub fn tool(tool: &str, msg: impl Into<String>) -> Self {
        Error::Tool { tool: tool.into(), msg: msg.into() }
    }
}

/// Runs `f`, turning a panic inside it (libtorch reports many errors by panicking through
/// `tch`) into an [`Error`] that names `what`, so that one bad input cannot take a folder
/// run or a server down.
#[cfg(feature = "torch")]
pub(crate) fn catch_panics<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("unknown error");
        Err(Error::Panic { what: what.to_owned(), msg: msg.lines().next().unwrap_or(msg).to_owned() })
    })
}

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
