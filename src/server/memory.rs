//! The bound on the server's resident memory under its limits, printed at start-up and
//! checked by `tests/serve.rs` with the worst inputs the limits allow.
//!
//! Every part of the server that holds memory in proportion to what clients send is bounded:
//! - request bodies: at most `workers + queue` requests being read, as many jobs in the pool,
//!   and `workers + queue` live connections hold one each, of at most `max_upload_bytes` (more
//!   get 503 at once);
//! - decoding and stylizing: each worker runs one job at a time; a job decodes images of at
//!   most `max_pixels` (refused from the header before decoding), keeps the content and a mask
//!   as float RGB, holds at most [`super::api::MAX_STYLES`] styles at their working size (the
//!   cached image and the copy the stylizer takes), and produces at most `max_result_pixels` (a
//!   `size` asking for more is refused); thumbnails decode one at a time;
//! - kept results: [`RESULTS_BYTES`](super::jobs::RESULTS_BYTES) of finished asynchronous jobs;
//! - styles: the decoded-style cache (`style_cache` entries of at most [`super::styles::STYLE_MAX_PIXELS`])
//!   and at most [`super::styles::MAX_UPLOADS`] uploaded style files.
//!
//! The per-pixel figures are measured peaks with headroom (see RELIABILITY.md for the run).

use super::jobs::RESULTS_BYTES;
use super::state::Config;
use adain::infer::Family;

/// Peak bytes per pixel of decoding one image: the decoder's buffer (up to 8 bytes a pixel for
/// 16-bit RGBA), the float RGBA copy for compositing on white (16) and the float RGB image (12).
pub const DECODE_BYTES_PER_PIXEL: u64 = 36;
/// Bytes per pixel of a job's images besides the network: the resized content, the result as
/// float and as 8-bit RGB, and its encoding.
pub const IMAGE_BYTES_PER_PIXEL: u64 = 48;

/// Peak bytes per pixel inside the network (activations, padding copies, kernel workspaces)
/// of one stylization at float32, and how many pixels it holds at once: the VGG and lite paths
/// tile images above [`adain::infer::Tile::AUTO_PIXELS`] (then only the whole-image maps of
/// the AdaIN level and the result grow with the image), MicroAST does not.
/// Measured as the slope of `adain stylize`'s peak RSS (f32, CPU, 2026-12-02): VGG 740 B/pixel
/// between 512² and 1536² (1.04 → 2.52 GB); lite untiled 447 between 512² and 2048² (0.74 →
/// 2.41 GB), tiled 117 between 2048² and 4096² (1.05 → 2.53 GB; untiled 7.67 GB), of which
/// about 48 are the CLI's own images; with headroom. MicroAST's is lite's untiled with 20 %
/// more (not measured).
fn network(family: Family, pixels: u64) -> u64 {
    let tiled = adain::infer::Tile::AUTO_PIXELS as u64;
    match family {
        Family::Vgg => 800 * pixels.min(tiled) + 40 * pixels,
        Family::Lite => 500 * pixels.min(tiled) + 80 * pixels,
        Family::MicroAst => 600 * pixels,
    }
}

/// The peak resident bytes of a server with this configuration, given `base`: its resident
/// bytes once the networks are loaded and warm.
pub fn bound(config: &Config, base: u64) -> u64 {
    let (p, r) = (config.max_pixels, config.max_result_pixels);
    let workers = config.workers as u64;
    let slots = workers + config.queue as u64;
    let bodies = 3 * slots * config.max_upload_bytes as u64;
    // Results of jobs that finished since the budget was last enforced (PNG, under 4 B/pixel).
    let fresh_results = slots * 4 * r;
    // The content and a mask as float RGB, then the larger of a decode in progress and the
    // stylization (the resized content, the result's images, the network).
    let styles_in_job = 2 * super::api::MAX_STYLES as u64 * 12 * super::styles::STYLE_MAX_PIXELS;
    let job = 24 * p
        + styles_in_job
        + (DECODE_BYTES_PER_PIXEL * p).max(12 * r + IMAGE_BYTES_PER_PIXEL * r + network(config.network.family, r));
    let thumbnails = DECODE_BYTES_PER_PIXEL * p;
    let styles = config.style_cache as u64 * super::styles::STYLE_MAX_PIXELS * 12
        + super::styles::MAX_UPLOADS as u64 * config.max_upload_bytes as u64;
    base + bodies + workers * job + thumbnails + RESULTS_BYTES + fresh_results + styles
}
