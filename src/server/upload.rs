//! Checks of uploaded images before any work is queued: the format, the declared size against
//! the pixel limits, completeness (a cut-off file), and the HTTP error for each failure.

use super::error::ApiError;
use adain::data::image::{self as img, DecodeFailure};
use axum::http::StatusCode;

/// The HTTP error for image bytes that cannot be decoded.
pub fn decode_error(f: DecodeFailure, what: &str) -> ApiError {
    let status = match f {
        DecodeFailure::Unsupported => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        DecodeFailure::TooLarge { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        DecodeFailure::Corrupt(_) | DecodeFailure::Truncated(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, format!("{what}: {f}"))
}

/// Checks format, declared size and completeness without decoding (fast, before queueing);
/// the declared `(width, height)`.
pub fn check_image(bytes: &[u8], max_pixels: u64, what: &str) -> Result<(u32, u32), ApiError> {
    let (format, w, h) = img::peek(bytes).map_err(|f| decode_error(f, what))?;
    if w as u64 * h as u64 > max_pixels {
        return Err(decode_error(DecodeFailure::TooLarge { width: w, height: h, max_pixels }, what));
    }
    img::check_complete(format, bytes).map_err(|f| decode_error(f, what))?;
    Ok((w, h))
}

/// Refuses a `size` that would make a result of more than `max_result_pixels` from a `w × h`
/// image (a small panorama scaled to a shorter side of 4096 would be hundreds of megapixels).
pub fn check_result_size(w: u32, h: u32, size: u32, max_result_pixels: u64) -> Result<(), ApiError> {
    let (rw, rh) = img::shorter_side_dims(w, h, size);
    if rw as u64 * rh as u64 <= max_result_pixels {
        return Ok(());
    }
    let msg = format!(
        "a {rw}×{rh} result (size {size} from this {w}×{h} image) is more than the limit of {max_result_pixels} \
         pixels; ask for a smaller size"
    );
    Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, msg))
}

/// The pace an upload must keep: after a grace period, at least [`Pace::MIN_RATE`] on
/// average. Every read of the body waits only until the moment the bytes received so far
/// would fall below that rate, so a client that stalls or trickles gives its slot back within
/// seconds (408) instead of holding it for the whole request timeout.
#[derive(Debug)]
pub struct Pace {
    start: tokio::time::Instant,
    bytes: u64,
}

impl Pace {
    /// Time any upload gets before its rate counts.
    pub const GRACE: std::time::Duration = std::time::Duration::from_secs(10);
    /// The slowest average an upload may keep after the grace period, in bytes a second.
    pub const MIN_RATE: u64 = 16 * 1024;

    pub fn new() -> Self {
        Self { start: tokio::time::Instant::now(), bytes: 0 }
    }

    /// When the upload falls behind if no more bytes come.
    fn deadline(&self) -> tokio::time::Instant {
        self.start + Self::GRACE.max(std::time::Duration::from_secs_f64(self.bytes as f64 / Self::MIN_RATE as f64))
    }

    /// Awaits a read of the body (`n_bytes` says how much it brought), or 408 at the deadline.
    pub async fn read<T, E>(
        &mut self,
        read: impl std::future::Future<Output = Result<T, E>>,
        n_bytes: impl Fn(&T) -> usize,
    ) -> Result<Result<T, E>, ApiError> {
        let r = tokio::time::timeout_at(self.deadline(), read).await.map_err(|_| {
            let msg = format!(
                "the upload is too slow: it must keep {} KiB/s on average after its first {} s",
                Self::MIN_RATE / 1024,
                Self::GRACE.as_secs()
            );
            ApiError::new(StatusCode::REQUEST_TIMEOUT, msg)
        })?;
        if let Ok(t) = &r {
            self.bytes += n_bytes(t) as u64;
        }
        Ok(r)
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}
