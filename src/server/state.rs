//! The server's settings ([`Config`]) and what its handlers share ([`AppState`]).

use super::{guard, jobs, pool, styles};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Config {
    pub host: String,
    pub port: u16,
    pub network: adain::infer::NetworkSpec,
    pub workers: usize,
    /// Jobs that may wait for a worker; one more is refused with 503.
    pub queue: usize,
    /// Upload and live slots one client address may hold (`None`: half of `workers + queue`,
    /// rounded up; `Some(0)`: all of them).
    pub per_client: Option<usize>,
    pub max_upload_bytes: usize,
    pub max_pixels: u64,
    /// The most pixels of a result (the network's work; a `size` that asks for more is 422).
    pub max_result_pixels: u64,
    /// Limit for a whole request (upload, queue, stylization).
    pub timeout: Duration,
    pub styles_dir: Option<PathBuf>,
    pub save_dir: Option<PathBuf>,
    /// Decoded styles (with statistics) kept in memory.
    pub style_cache: usize,
    /// Uploaded styles are listed in every visitor's gallery (else only their uploader knows
    /// them).
    pub shared_uploads: bool,
    /// Who may use the server.
    pub access: guard::Access,
}

/// What the page needs to stylize in the visitor's browser (each may be missing: the page
/// then stylizes on the server).
pub struct WebAssets {
    /// onnxruntime-web's runtime files by name ([`adain::export::web::runtime_files`]), read
    /// once at start-up.
    pub runtime: Vec<(&'static str, bytes::Bytes)>,
    /// The lite network's ONNX halves (float16 and float32), by file name
    /// ([`adain::export::web::GRAPH_FILES`]).
    pub graphs: Vec<(&'static str, bytes::Bytes)>,
}

/// What the handlers share.
pub struct AppState {
    pub config: Config,
    pub pool: pool::Pool,
    pub styles: Arc<styles::Styles>,
    pub jobs: jobs::Jobs,
    /// Requests that may hold an upload in memory at once (`workers + queue`, half per peer).
    pub bodies: Arc<super::slots::Slots>,
    /// Live-mode connections open at once (`workers + queue`, half per peer).
    pub live: Arc<super::slots::Slots>,
    /// In-browser stylization.
    pub web: WebAssets,
}
