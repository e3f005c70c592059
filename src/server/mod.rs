//! `adain serve`: the web app and HTTP API (axum on tokio).
//!
//! - [`pool`]: inference on a bounded pool of worker threads (503 when full);
//! - [`work`]: what a worker does with a job (through the library's `Stylizer`);
//! - [`styles`]: the style gallery and the cache of decoded styles and their statistics;
//! - [`api`]: the HTTP endpoints (page, gallery, stylize, jobs with queue position, health);
//!   [`jobs`]: the table of asynchronous jobs;
//! - [`live`]: the WebSocket of live mode (camera frames in, stylized frames out);
//! - [`guard`]: who may use it (Host allow-list, same-origin checks, optional token);
//! - [`error`]: one JSON error body for every status; [`conn`]: the connections (and JSON for
//!   the errors hyper answers before a request exists);
//! - [`memory`]: the bound on the server's memory under its limits; [`state`]: its settings
//!   and what the handlers share;
//! - [`site`]: the same page as a static site (`adain export --web`); [`upload`]: checks of
//!   uploaded images before any work is queued.
//!
//! A request goes: [`conn`] → [`error::json_errors`] → [`guard::check`] → the upload limit →
//! a handler of [`api`] → a worker of [`pool`] running [`work`] → back as an image or JSON.
//!
//! Nothing is written to disk unless a save directory is given; uploads stay in memory
//! within the size limit, and images are checked against the pixel limit before decoding.

pub mod api;
pub mod conn;
pub mod error;
pub mod guard;
pub mod jobs;
pub mod live;
pub mod memory;
pub mod pool;
pub mod site;
pub mod slots;
pub mod state;
pub mod styles;
pub mod upload;
pub mod work;

pub use state::{AppState, Config};
use std::net::SocketAddr;
use std::sync::Arc;

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
        max_result_pixels: config.max_result_pixels,
        save_dir: config.save_dir.clone(),
    });
    let (spec, workers, queue) = (config.network.clone(), config.workers, config.queue);
    let pool = tokio::task::spawn_blocking(move || pool::Pool::start(&spec, workers, queue, ctx)).await??;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another program uses it: pick another --port)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {}:{}: {e}{hint}", config.host, config.port)
    })?;
    let addr: SocketAddr = listener.local_addr()?;
    if let Some(warning) = exposure_warning(addr, config.access.token.is_some()) {
        eprintln!("{warning}");
    }
    let web = web_assets(&config.network);
    let base = adain::io::peak_rss_mib().map_or(0, |m| (m * (1u64 << 20) as f64) as u64);
    let bound = memory::bound(&config, base);
    let slots = config.workers + config.queue;
    let per_client = match config.per_client {
        None => slots.div_ceil(2),
        Some(0) => slots,
        Some(n) => n,
    };
    let state = Arc::new(AppState {
        config,
        pool,
        styles,
        jobs: jobs::Jobs::default(),
        bodies: slots::Slots::new(slots, per_client),
        live: slots::Slots::new(slots, per_client),
        web,
    });
    let app = api::router(state.clone());
    println!(
        "adain serve: http://{addr}/ ({} worker(s), queue {}; memory bound {:.1} GiB at these limits)",
        state.pool.workers_count,
        state.pool.capacity,
        bound as f64 / (1u64 << 30) as f64
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    axum::serve(conn::Listener(listener), app.into_make_service_with_connect_info::<conn::Peer>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    eprintln!("adain serve: stopping; finishing queued work");
    let st = state.clone();
    tokio::task::spawn_blocking(move || st.pool.shutdown()).await?;
    Ok(())
}

/// The runtime and the lite graph for in-browser stylization: the lite network the server
/// runs, else the shipped one; the runtime from where `scripts/setup.sh` puts it. Says on
/// stderr whether the page can stylize in the browser.
fn web_assets(spec: &adain::infer::NetworkSpec) -> state::WebAssets {
    use adain::export::web;
    use adain::infer::{Family, NetworkSpec};
    // The lite network the server runs, else the shipped one.
    let lite = match spec.family {
        Family::Lite => spec.clone(),
        _ => NetworkSpec { family: Family::Lite, weights: None, ..spec.clone() },
    };
    let graphs: Vec<(&'static str, bytes::Bytes)> = lite
        .lite_store()
        .and_then(|store| web::lite_graphs(&store))
        .map_err(|e| eprintln!("adain serve: no in-browser stylization: {e}"))
        .map(|g| web::GRAPH_FILES.into_iter().zip(g.map(bytes::Bytes::from)).collect())
        .unwrap_or_default();
    let runtime: Vec<(&'static str, bytes::Bytes)> = web::runtime()
        .map(|dir| {
            web::runtime_files(&dir)
                .into_iter()
                .filter_map(|f| std::fs::read(dir.join(f)).ok().map(|b| (f, bytes::Bytes::from(b))))
                .collect()
        })
        .unwrap_or_default();
    match (runtime.len() >= web::RUNTIME_FILES.len(), !graphs.is_empty()) {
        (true, true) => eprintln!(
            "adain serve: in-browser stylization on (onnxruntime-web {}, WebAssembly{})",
            web::ORT_VERSION,
            if runtime.len() > web::RUNTIME_FILES.len() { " and WebGPU" } else { "" }
        ),
        (false, _) => eprintln!(
            "adain serve: in-browser stylization off: onnxruntime-web {} is not in {} (scripts/setup.sh fetches it)",
            web::ORT_VERSION,
            web::runtime_dir().display()
        ),
        _ => {}
    }
    state::WebAssets { runtime, graphs }
}

/// The warning printed when the server listens beyond this machine without a token.
fn exposure_warning(addr: SocketAddr, has_token: bool) -> Option<String> {
    (!addr.ip().is_loopback() && !has_token).then(|| {
        format!(
            "adain serve: warning: listening on {} without --token: every machine that can reach this one can use \
             the server, spend its CPU and upload images to it; use --token (and TLS in front, see the README) or \
             --host 127.0.0.1",
            addr.ip()
        )
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    #[test]
    fn listening_beyond_this_machine_without_a_token_warns() {
        let any: std::net::SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lan: std::net::SocketAddr = "192.168.1.5:8080".parse().unwrap();
        let local: std::net::SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let w = exposure_warning(any, false).expect("a warning for 0.0.0.0 without a token");
        assert!(w.contains("0.0.0.0") && w.contains("--token") && !w.contains("  "), "{w}");
        assert!(exposure_warning(lan, false).is_some());
        assert!(exposure_warning(any, true).is_none());
        assert!(exposure_warning(local, false).is_none());
    }
}
