//! `adain serve`: parses the options and runs the web app ([`crate::server`]).

use super::args::DeviceArgs;
use crate::server;
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on. 127.0.0.1: this machine only. 0.0.0.0: every network interface,
    /// so every machine that can reach this one can use the server (its CPU, uploads, results
    /// by id); then give --token, and put TLS in front for anything beyond a trusted network.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port (0 = any free port; the URL is printed).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    #[command(flatten)]
    net: super::args::NetworkArgs,
    /// Worker threads, each with its own copy of the networks (the cores are split among them).
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Requests that may wait for a worker; one more gets 503 with Retry-After.
    #[arg(long, default_value_t = 8)]
    queue: usize,
    /// Uploads in progress (and live sessions) one client address may hold at once; one more
    /// gets 429. Default: half of workers + queue, rounded up, so that a few slow clients cannot
    /// lock the others out; 0: no limit per address (behind a reverse proxy, where every client
    /// has the proxy's address; it also lifts the 8 uploaded styles kept per address).
    #[arg(long, value_name = "N")]
    per_client: Option<usize>,
    /// Largest upload (a whole request), MB.
    #[arg(long, default_value_t = 20.0)]
    max_upload_mb: f64,
    /// Largest image accepted, in pixels (checked from the header, before decoding).
    #[arg(long, default_value_t = 40_000_000)]
    max_pixels: u64,
    /// Largest result, in pixels (the network's work: memory grows with it; 4096² by default).
    #[arg(long, default_value_t = 4096 * 4096)]
    max_result_pixels: u64,
    /// Time limit of a request (upload, queue and stylization), seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// A folder of style images added to the gallery. A `gallery.toml` in it names them
    /// (`[[style]]` tables: file, title, artist, year, source, licence), in its order.
    #[arg(long)]
    styles: Option<PathBuf>,
    /// Save every result here (nothing is written to disk without it).
    #[arg(long)]
    save_dir: Option<PathBuf>,
    /// Decoded styles kept in memory with their statistics.
    #[arg(long, default_value_t = 64)]
    style_cache: usize,
    /// List visitors' uploaded styles in everyone's gallery. Without it an upload is the
    /// uploader's: usable by its id (random, given to the uploader), never listed.
    #[arg(long)]
    shared_uploads: bool,
    /// A host name the server answers to besides IP addresses and localhost (repeatable):
    /// requests naming any other host are refused (421), against DNS rebinding.
    #[arg(long = "public-host", value_name = "NAME")]
    public_hosts: Vec<String>,
    /// A web origin (`https://app.example`) whose pages may use the API (repeatable; `*` for
    /// any). Without it only the server's own page may send uploads and open live mode (403).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Require this bearer token on every request but /healthz (also read from $ADAIN_TOKEN,
    /// which keeps it out of the process list); a browser opens /?token=TOKEN once.
    #[arg(long)]
    token: Option<String>,
    #[command(flatten)]
    device: DeviceArgs,
}

pub fn run(a: Args) -> Result<ExitCode> {
    let device = a.device.device()?;
    super::args::fetch_for(&a.net.spec(device))?;
    let config = server::Config {
        host: a.host,
        port: a.port,
        network: a.net.spec(device),
        workers: a.workers.max(1),
        queue: a.queue,
        per_client: a.per_client,
        max_upload_bytes: (a.max_upload_mb * 1024.0 * 1024.0) as usize,
        max_pixels: a.max_pixels,
        max_result_pixels: a.max_result_pixels,
        timeout: Duration::from_secs(a.timeout.max(1)),
        styles_dir: a.styles,
        save_dir: a.save_dir,
        style_cache: a.style_cache,
        shared_uploads: a.shared_uploads,
        access: server::guard::Access {
            public_hosts: a.public_hosts,
            allow_origins: a.allow_origins,
            token: a.token.or_else(|| std::env::var("ADAIN_TOKEN").ok()).filter(|t| !t.is_empty()),
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().worker_threads(2).build()?;
    rt.block_on(server::serve(config))?;
    Ok(ExitCode::SUCCESS)
}
