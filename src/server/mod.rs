//! `adain serve`: the web app and HTTP API (axum on tokio).
//!
//! - [`pool`]: inference on a bounded pool of worker threads (503 when full);
//! - [`work`]: what a worker does with a job (through the library's `Stylizer`);
//! - [`styles`]: the style gallery and the cache of decoded styles and their statistics;
//! - [`api`]: the HTTP endpoints (page, gallery, stylize, jobs with queue position, health);
//! - [`live`]: the WebSocket of live mode (camera frames in, stylized frames out).
//!
//! Nothing is written to disk unless a save directory is given; uploads stay in memory
//! within the size limit, and images are checked against the pixel limit before decoding.

pub mod api;
pub mod live;
pub mod pool;
pub mod styles;
pub mod work;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
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
    pub max_upload_bytes: usize,
    pub max_pixels: u64,
    /// Limit for a whole request (upload, queue, stylization).
    pub timeout: Duration,
    pub styles_dir: Option<PathBuf>,
    pub save_dir: Option<PathBuf>,
    /// Decoded styles (with statistics) kept in memory.
    pub style_cache: usize,
}

/// An error answered as JSON `{"error": "..."}` with its status.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn internal(m: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, m)
    }
    pub fn busy() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is busy: all workers are taken and the queue is full; retry shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        r
    }
}

/// What the handlers share.
pub struct AppState {
    pub config: Config,
    pub pool: pool::Pool,
    pub styles: Arc<styles::Styles>,
    pub jobs: api::Jobs,
}

/// Starts the workers, binds, prints the URL, and serves until SIGINT/SIGTERM; then stops
/// accepting, finishes the requests in flight, and lets the workers finish their queue.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let styles = Arc::new(styles::Styles::new(
        config.styles_dir.as_deref(),
        config.style_cache,
        config.max_pixels,
        config.max_upload_bytes,
    )?);
    if let Some(d) = &config.save_dir {
        std::fs::create_dir_all(d)?;
    }
    let ctx = Arc::new(work::Context {
        styles: styles.clone(),
        max_pixels: config.max_pixels,
        save_dir: config.save_dir.clone(),
    });
    let (spec, workers, queue) = (config.network.clone(), config.workers, config.queue);
    let pool = tokio::task::spawn_blocking(move || pool::Pool::start(&spec, workers, queue, ctx)).await??;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    let addr: SocketAddr = listener.local_addr()?;
    let state = Arc::new(AppState { config, pool, styles, jobs: api::Jobs::default() });
    let app = api::router(state.clone());
    println!("adain serve: http://{addr}/ ({} worker(s), queue {})", state.pool.workers_count, state.pool.capacity);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // TCP_NODELAY: a live-mode reply is a JPEG then a small JSON message; with Nagle's
    // algorithm the second waits for the client's delayed ACK (about 40 ms a frame).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    eprintln!("adain serve: stopping; finishing queued work");
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.pool.shutdown()).await?;
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
