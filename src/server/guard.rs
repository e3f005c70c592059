//! Who may use the server: a `Host` allow-list (against DNS rebinding), same-origin checks for
//! every state-changing request and the WebSocket (against other web sites driving a server on
//! the visitor's loopback), and an optional bearer token (for a server other machines reach).
//!
//! - **Host**: IP literals (a rebinding attack needs a DNS name), `localhost` and the names
//!   given with `--public-host`; anything else is 421 Misdirected Request.
//! - **Origin**: a POST (any method but GET/HEAD/OPTIONS) or a WebSocket upgrade that carries
//!   an `Origin` must come from the server's own origin (`http://` or `https://` plus the
//!   request's `Host`) or one given with `--allow-origin` (`*` for any); `Origin: null` and
//!   `Sec-Fetch-Site: cross-site` without an `Origin` are refused too: 403. Requests without
//!   either header (curl, scripts) are not from a web page and pass. Allowed foreign origins
//!   get CORS headers, so their pages can read the answers.
//! - **Token** (`--token`): every route but `/healthz` needs `Authorization: Bearer TOKEN` or
//!   the `adain_token` cookie, which opening `/?token=TOKEN` sets (HttpOnly, SameSite=Strict)
//!   before redirecting to `/`; else 401.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The access rules of a server.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Host names served besides IP literals and `localhost` (`--public-host`).
    pub public_hosts: Vec<String>,
    /// Foreign origins allowed to use the API (`--allow-origin`; `*` for any).
    pub allow_origins: Vec<String>,
    /// The bearer token every request but `/healthz` must carry (`--token`).
    pub token: Option<String>,
}

const COOKIE: &str = "adain_token";

impl Access {
    /// Whether the name of a `Host` header (port removed) is served here.
    fn host_allowed(&self, host: &str) -> bool {
        let name = host_name(host);
        name.parse::<std::net::IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || self.public_hosts.iter().any(|h| host_name(h).eq_ignore_ascii_case(name))
    }

    /// Whether a page of `origin` may send state-changing requests to a server reached as `host`.
    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        own_origin(origin, host) || self.foreign_origin_allowed(origin)
    }

    fn foreign_origin_allowed(&self, origin: &str) -> bool {
        origin != "null"
            && self.allow_origins.iter().any(|o| o == "*" || o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// Whether the request carries the token (header or cookie), compared in constant time.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else { return true };
        // The scheme is case-insensitive (RFC 9110 §11.1): `bearer x` is `Bearer x`.
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let cookies = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
        let from_cookie =
            cookies.flat_map(|c| c.split(';')).filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='));
        bearer.into_iter().chain(from_cookie).any(|t| same(t.as_bytes(), token.as_bytes()))
    }
}

/// Whether `origin` is the server's own, reached as `host` (behind a TLS proxy too).
fn own_origin(origin: &str, host: Option<&str>) -> bool {
    host.is_some_and(|h| [format!("http://{h}"), format!("https://{h}")].iter().any(|o| o.eq_ignore_ascii_case(origin)))
}

/// The name part of a `Host` value: `[::1]:8080` → `::1`, `example.org:80` → `example.org`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.contains(':') => name,
        _ => host,
    }
}

/// Equality whose time does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the rules say of a request.
enum Verdict {
    /// Answered here (refused, or the token page's redirect).
    Answer(Response),
    /// A CORS preflight from an allowed foreign origin.
    Preflight(String),
    /// Passed on; the answer gets CORS headers for this foreign origin, if any.
    Pass(Option<String>),
}

/// The middleware: Host, then Origin, then the token; CORS headers for allowed foreign origins.
pub async fn check(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    match verdict(&access, &req) {
        Verdict::Answer(r) => answer_after_small_body(req, r).await,
        Verdict::Preflight(o) => with_cors(StatusCode::NO_CONTENT.into_response(), &o, true),
        Verdict::Pass(foreign) => {
            let response = next.run(req).await;
            match &foreign {
                Some(o) => with_cors(response, o, false),
                None => response,
            }
        }
    }
}

/// Most of a body read (and dropped) before a refusal is sent, and for how long at most.
pub(crate) const DRAIN_LIMIT: usize = 256 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs `read`, which reads and drops the rest of a refused request's body up to
/// [`DRAIN_LIMIT`], for at most [`DRAIN_TIME`]. Without this, a client still sending a small
/// upload sees the connection close under it instead of the refusal and its message; a larger
/// body is not read, and the connection closes after the answer.
pub(crate) async fn drain(read: impl std::future::Future<Output = ()>) {
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// Sends `answer` after [`drain`]ing the request's body.
async fn answer_after_small_body(req: Request, answer: Response) -> Response {
    drain(async {
        let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await;
    })
    .await;
    answer
}

/// The name the request is addressed to: the authority of an absolute-form target (or
/// HTTP/2's `:authority`), which RFC 9112 §3.2.2 puts before `Host`, else the one `Host`
/// header. A 400 for an HTTP/1.1 request without `Host`, or with several (RFC 9112 §3.2).
fn addressed_host(req: &Request) -> Result<Option<String>, ApiError> {
    let hosts: Vec<_> = req.headers().get_all(header::HOST).iter().collect();
    let refuse = |msg: &str| Err(ApiError::bad_request(msg));
    if hosts.len() > 1 {
        return refuse("the request has several Host headers: send exactly one");
    }
    if hosts.is_empty() && req.version() == axum::http::Version::HTTP_11 {
        return refuse("an HTTP/1.1 request needs a Host header");
    }
    if let Some(authority) = req.uri().authority() {
        return Ok(Some(authority.as_str().to_owned()));
    }
    match hosts.first().map(|h| h.to_str()) {
        Some(Ok(h)) => Ok(Some(h.to_owned())),
        Some(Err(_)) => refuse("the Host header is not ASCII"),
        None => Ok(None),
    }
}

/// The query of the token page's URL without `token=…`, for the redirect that drops it
/// (`/?selftest=1&token=T` → `/?selftest=1`).
fn without_token(query: Option<&str>) -> String {
    let kept: Vec<&str> =
        query.unwrap_or("").split('&').filter(|kv| !kv.is_empty() && !kv.starts_with("token=")).collect();
    if kept.is_empty() { "/".to_owned() } else { format!("/?{}", kept.join("&")) }
}

/// The rules applied to a request's head.
fn verdict(access: &Access, req: &Request) -> Verdict {
    let headers = req.headers();
    let host = match addressed_host(req) {
        Ok(h) => h,
        Err(e) => return Verdict::Answer(e.into_response()),
    };
    let host = host.as_deref();
    if let Some(h) = host.filter(|h| !access.host_allowed(h)) {
        let msg = format!(
            "this server does not answer to the name {} (it answers to IP addresses, localhost and the names given \
             with --public-host)",
            super::error::excerpt(host_name(h))
        );
        return Verdict::Answer(ApiError::new(StatusCode::MISDIRECTED_REQUEST, msg).into_response());
    }
    let origin = header(headers, header::ORIGIN).map(str::to_owned);
    let upgrade = header(headers, header::UPGRADE).is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) || upgrade;
    let cross_site = header(headers, header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site");
    if changes_state {
        let refused = match &origin {
            Some(o) => !access.origin_allowed(o, host),
            None => cross_site,
        };
        if refused {
            let from = origin.as_deref().unwrap_or("another site");
            let msg = format!(
                "cross-origin request from {from} refused: only pages served by this server may use it (start it with \
                 --allow-origin ORIGIN to allow another)"
            );
            return Verdict::Answer(ApiError::new(StatusCode::FORBIDDEN, msg).into_response());
        }
    }
    let foreign = origin.filter(|o| access.foreign_origin_allowed(o) && !own_origin(o, host));
    if req.method() == Method::OPTIONS
        && let Some(o) = foreign
    {
        return Verdict::Preflight(o);
    }
    let path = req.uri().path();
    if access.token.is_some() && path != "/healthz" && !access.authorized(headers) {
        if path == "/" {
            let given = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("token=")));
            if let Some(t) = given.filter(|t| same(t.as_bytes(), access.token.as_deref().unwrap_or("").as_bytes())) {
                let cookie = format!("{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/");
                return Verdict::Answer(
                    (
                        StatusCode::SEE_OTHER,
                        [(header::LOCATION, without_token(req.uri().query())), (header::SET_COOKIE, cookie)],
                    )
                        .into_response(),
                );
            }
        }
        let msg = "this server needs its token: open /?token=TOKEN in the browser once, or send \
                   `Authorization: Bearer TOKEN` (the token adain serve was started with)";
        let mut r = ApiError::new(StatusCode::UNAUTHORIZED, msg).into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Verdict::Answer(r);
    }
    Verdict::Pass(foreign)
}

/// Adds the CORS headers that let a page of `origin` read the answer (and, for a preflight,
/// send its request).
fn with_cors(mut r: Response, origin: &str, preflight: bool) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(origin) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("origin"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("x-image-size, retry-after"));
    if preflight {
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("authorization, content-type"));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_origins_and_tokens() {
        let a = Access { public_hosts: vec!["styles.example.org".into()], ..Access::default() };
        for ok in ["127.0.0.1:8080", "localhost", "LOCALHOST:1", "[::1]:80", "192.168.1.5:8080", "styles.example.org"] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io"] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        assert!(a.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(!a.origin_allowed("http://127.0.0.1:9999", Some("127.0.0.1:8080")));
        assert!(!a.origin_allowed("http://evil.example", Some("127.0.0.1:8080")));
        assert!(!a.origin_allowed("null", Some("127.0.0.1:8080")));
        let open = Access { allow_origins: vec!["https://app.example/".into()], ..Access::default() };
        assert!(open.origin_allowed("https://app.example", Some("127.0.0.1")));
        let t = Access { token: Some("s3cret".into()), ..Access::default() };
        let mut h = HeaderMap::new();
        assert!(!t.authorized(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(t.authorized(&h));
        let mut c = HeaderMap::new();
        c.insert(header::COOKIE, HeaderValue::from_static("a=b; adain_token=s3cret"));
        assert!(t.authorized(&c));
        c.insert(header::COOKIE, HeaderValue::from_static("adain_token=s3cre"));
        assert!(!t.authorized(&c));
        for scheme in ["bearer s3cret", "BEARER  s3cret", "  Bearer s3cret "] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(scheme));
            assert!(t.authorized(&h), "{scheme}");
        }
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!t.authorized(&h));
    }

    #[test]
    fn the_token_redirect_keeps_the_other_parameters() {
        assert_eq!(without_token(Some("token=x")), "/");
        assert_eq!(without_token(Some("selftest=1&token=x")), "/?selftest=1");
        assert_eq!(without_token(Some("token=x&selftest=1&mode=browser")), "/?selftest=1&mode=browser");
        assert_eq!(without_token(None), "/");
    }
}
