//! One JSON error body for every status the server sends: [`ApiError`] for the handlers'
//! own errors, [`json_errors`] for the responses axum and its extractors make by themselves
//! (404 for an unknown route, 405, 413, a malformed path or upgrade), and
//! [`super::conn`] for the few that hyper writes before a request exists (400, 414, 431).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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

/// A library error: 400 where the request asked for what cannot work (a setting, a shape, a
/// feature the network lacks, an unreadable image), 500 for the server's own failures.
impl From<adain::Error> for ApiError {
    fn from(e: adain::Error) -> Self {
        use adain::Error as E;
        match e {
            E::Setting { .. } | E::Shape { .. } | E::Unsupported(_) | E::Image { .. } => {
                Self::bad_request(e.to_string())
            }
            e => Self::internal(e.to_string()),
        }
    }
}

/// The longest client value an error message quotes, in characters.
const EXCERPT: usize = 48;
/// The longest message sent, in bytes: a safety net behind [`excerpt`] for any message that
/// quotes the client's input some other way.
const MAX_MESSAGE: usize = 1024;

/// `value` quoted for an error message: whole when short, else its first [`EXCERPT`]
/// characters and its length, so that a client cannot make the server echo megabytes back.
pub fn excerpt(value: &str) -> String {
    match value.char_indices().nth(EXCERPT) {
        None => format!("{value:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &value[..end], value.len()),
    }
}

/// `message` cut to at most [`MAX_MESSAGE`] bytes (on a character boundary).
fn capped(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": capped(self.message) });
        let mut r = (self.status, axum::Json(body)).into_response();
        if matches!(self.status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS) {
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        r
    }
}

/// The longest plain-text body of an axum rejection that is kept as the message.
const MAX_TEXT: usize = 300;

/// Rewrites every error response that is not JSON yet into `{"error": …}`, keeping its status
/// and headers (axum adds a 405's `Allow` after this layer): the message is the rejection's own text when it is short
/// plain text, else a sentence for the status.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT * 4).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = match status {
        StatusCode::NOT_FOUND => {
            format!("no such route: {method} {} (the API is listed in the README)", excerpt(&path))
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            format!("{} does not take {method} (the Allow header lists the methods it takes)", excerpt(&path))
        }
        _ if !text.is_empty() && text.len() <= MAX_TEXT && !text.contains('{') => text,
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let body = serde_json::json!({ "error": capped(message) }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_errors_are_the_clients_or_the_servers_by_their_kind() {
        let status = |e: adain::Error| ApiError::from(e).status;
        assert_eq!(status(adain::Error::setting("alpha", 2, "must be in [0, 1]")), StatusCode::BAD_REQUEST);
        assert_eq!(status(adain::Error::Unsupported("no masks".into())), StatusCode::BAD_REQUEST);
        let shape = adain::Error::Shape { what: "content".into(), expected: "[1, 3, H, W]".into(), got: vec![3] };
        assert_eq!(status(shape), StatusCode::BAD_REQUEST);
        let panic = adain::Error::Panic { what: "decoding".into(), msg: "out of memory".into() };
        assert_eq!(ApiError::from(panic).message, "decoding failed: out of memory");
        assert_eq!(status(adain::Error::Invalid("inconsistent".into())), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn echoed_values_and_messages_are_short() {
        assert_eq!(excerpt("0.5"), "\"0.5\"");
        let long = "é".repeat(5000);
        let e = excerpt(&long);
        assert!(e.starts_with("\"éé") && e.ends_with("… (10000 bytes)") && e.chars().count() < 80, "{e}");
        assert_eq!(capped("x".repeat(10)), "x".repeat(10));
        let c = capped("é".repeat(MAX_MESSAGE));
        assert!(c.len() <= MAX_MESSAGE + '…'.len_utf8() && c.ends_with('…'));
    }
}
