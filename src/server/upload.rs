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
