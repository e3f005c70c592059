//! The HTTP endpoints.
//!
//! | route | what |
//! |---|---|
//! | `GET /` (`/app.js`, `/app.css`) | the page, embedded in the binary |
//! | `GET /healthz` | `{"status": "ok", workers, queued, capacity, styles_cached}` |
//! | `GET /api/settings[?model=lite]` | the stylize settings' defaults ([`Settings`]) for the server's network (or the one named): what the page starts from |
//! | `GET /api/styles/{id}/image` | a gallery style's image as it was given (for in-browser runs) |
//! | `GET /ort/{file}`, `GET /models/lite-{style,frame}.onnx` | onnxruntime-web's runtime and the lite network's two halves: the page stylizes in the browser |
//! | `GET /api/styles` | the gallery as JSON |
//! | `GET /api/styles/{id}` | a gallery thumbnail (JPEG) |
//! | `POST /api/styles` | add a style (multipart `style`, optional `name`) → `{id, name}`; listed for every visitor only with `--shared-uploads` |
//! | `POST /api/stylize` | multipart → the image |
//! | `POST /api/jobs` | the same multipart → `202 {id, position}` (id: 128 random bits); then poll |
//! | `GET /api/jobs/{id}` | `{state: queued/running/done/failed, position, error, width, height}` |
//! | `GET /api/jobs/{id}/result` | the image of a finished job |
//! | `GET /api/live` | WebSocket of live mode ([`super::live`]) |
//!
//! Stylize fields: `content` (file), `style` (file) and/or `style_id` (gallery id), several
//! for interpolation, in order (at most [`MAX_STYLES`] in all); `style_weights` (`1,3`), `mask` (file, two styles),
//! `alpha` (0–1), `preserve_color` (true/false), `match_palette` (0–1), `size` (shorter side; 0 =
//! original), `format` (png/jpeg), each defaulting as [`Settings::default`] says; each field once, except `style` and `style_id`. Errors: JSON
//! `{"error": …}` with 400 (bad or repeated field, unreadable or cut-off image), 413 (upload
//! over the limit), 415 (not an image format), 422 (more pixels than allowed, in the image or
//! in the result a `size` asks for), 503 + `Retry-After` (busy), 504 (timed out); the access
//! rules ([`super::guard`]) add 401, 403 and 421, and every other status is JSON too
//! ([`super::error`]).

use super::conn::Peer;
use super::error::{ApiError, excerpt};
use super::jobs::{AsyncJob, JobState};
use super::slots::Slot;
use super::state::AppState;
use super::styles::{MAX_UPLOADS, MAX_UPLOADS_PER_PEER};
use super::upload::{Pace, check_image};
use super::work::{Format, Job, Output, StyleRef, StylizeJob};
use adain::infer::{Family, Settings};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Shared = Arc<AppState>;

/// The routes, behind the access rules ([`super::guard`]), the upload limit, and JSON for
/// every error ([`super::error::json_errors`]).
pub fn router(state: Shared) -> Router {
    let limit = state.config.max_upload_bytes;
    let access = Arc::new(state.config.access.clone());
    Router::new()
        .route("/", get(|| async { page("text/html; charset=utf-8", include_str!("page/index.html")) }))
        .route("/app.js", get(|| async { page("text/javascript; charset=utf-8", include_str!("page/app.js")) }))
        .route("/app.css", get(|| async { page("text/css; charset=utf-8", include_str!("page/app.css")) }))
        .route("/local.js", get(|| async { page("text/javascript; charset=utf-8", include_str!("page/local.js")) }))
        .route("/ort/{file}", get(runtime_file))
        .route("/models/{file}", get(lite_graph))
        .route("/api/styles/{id}/image", get(style_image))
        .route("/healthz", get(health))
        .route("/api/settings", get(settings))
        .route("/api/styles", get(list_styles).post(upload_style))
        .route("/api/styles/{id}", get(thumbnail))
        .route("/api/stylize", post(stylize))
        .route("/api/jobs", post(submit_job))
        .route("/api/jobs/{id}", get(job_status))
        .route("/api/jobs/{id}/result", get(job_result))
        .route("/api/live", get(super::live::upgrade))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), reject_large_bodies))
        .layer(middleware::from_fn_with_state(access, super::guard::check))
        .layer(middleware::from_fn(super::error::json_errors))
        .layer(middleware::map_response(isolated))
        .with_state(state)
}

/// Every answer asks for cross-origin isolation (COOP same-origin, COEP require-corp): the
/// page may then use SharedArrayBuffer, which onnxruntime-web's threads need. The page loads
/// nothing from other origins.
async fn isolated(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert("cross-origin-opener-policy", header::HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-embedder-policy", header::HeaderValue::from_static("require-corp"));
    r
}

/// A slot to hold a request body in memory ([`super::memory`]): at most `workers + queue`
/// requests hold one at a time, at most half of them from one peer address
/// ([`super::slots`]); more are answered at once (503 when all are taken, 429 when the
/// address holds its share), after the rest of a small body has been read and dropped (as
/// the access checks do, [`super::guard::drain`]), so that the client sees the answer and its
/// `Retry-After` rather than a connection closed under its upload.
async fn body_permit(st: &AppState, peer: SocketAddr, mp: &mut Multipart) -> Result<Slot, ApiError> {
    match st.bodies.take(peer.ip()) {
        Ok(slot) => Ok(slot),
        Err(refusal) => Err(refused_after_small_body(mp, refusal.answer("uploads")).await),
    }
}

/// `answer`, after the rest of a small body has been read and dropped (up to
/// [`super::guard::DRAIN_LIMIT`], for at most 2 s, [`super::guard::drain`]): a client still
/// sending its form then reads the refusal instead of a connection closed under it.
async fn refused_after_small_body(mp: &mut Multipart, answer: ApiError) -> ApiError {
    super::guard::drain(async {
        let mut read = 0;
        while let Ok(Some(mut field)) = mp.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                read += chunk.len();
                if read > super::guard::DRAIN_LIMIT {
                    return;
                }
            }
        }
    })
    .await;
    answer
}

fn page(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// A declared body over the limit is refused before a byte of it is read.
async fn reject_large_bodies(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.config.max_upload_bytes as u64) {
        let mb = st.config.max_upload_bytes as f64 / (1 << 20) as f64;
        return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("upload is larger than the limit of {mb:.1} MB"))
            .into_response();
    }
    next.run(req).await
}

async fn health(State(st): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "workers": st.pool.workers_count,
        "queued": st.pool.queued.load(Ordering::SeqCst),
        "capacity": st.pool.capacity,
        "styles_cached": st.styles.cached(),
    }))
}

/// Which network's defaults `GET /api/settings` gives.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsQuery {
    /// The server's network when absent; the page asks for `lite`'s for its in-browser runs.
    model: Option<Family>,
}

/// The defaults of the stylize settings for the server's network, or for `?model=NAME` (the
/// page reads them instead of repeating them).
async fn settings(State(st): State<Shared>, Query(q): Query<SettingsQuery>) -> Json<Settings> {
    Json(Settings::for_family(q.model.unwrap_or(st.config.network.family)))
}

/// A file of onnxruntime-web's runtime (404 when it is not installed: the page then
/// stylizes on the server).
async fn runtime_file(State(st): State<Shared>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let (name, bytes) = st.web.runtime.iter().find(|(n, _)| *n == file).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no in-browser runtime on this server (scripts/setup.sh fetches it)")
    })?;
    let ct = adain::export::web::content_type(name);
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "max-age=86400")], bytes.clone()).into_response())
}

/// One of the lite network's ONNX halves, for the page's in-browser stylization.
async fn lite_graph(State(st): State<Shared>, Path(file): Path<String>) -> Result<Response, ApiError> {
    let bytes = st.web.graphs.iter().find(|(n, _)| *n == file).map(|(_, b)| b.clone()).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no such lite graph on this server (models/lite.safetensors)")
    })?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, "no-cache")], bytes)
        .into_response())
}

/// A gallery style's image as it was given (the page stylizes with it in the browser).
async fn style_image(State(st): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let item =
        st.styles.get(&id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no style {}", excerpt(&id))))?;
    let ct = image::guess_format(&item.bytes).map_or("application/octet-stream", |f| f.to_mime_type());
    let body = Bytes::from(item.bytes.as_ref().clone());
    Ok(([(header::CONTENT_TYPE, ct), (header::CACHE_CONTROL, "max-age=3600")], body).into_response())
}

/// The gallery: the built-in and `--styles` images, and visitors' uploads only with
/// `--shared-uploads` (an upload is otherwise its uploader's, kept in their page).
async fn list_styles(State(st): State<Shared>) -> Json<serde_json::Value> {
    let shared = st.config.shared_uploads;
    let items: Vec<_> = st
        .styles
        .list()
        .iter()
        .filter(|i| shared || i.source != "upload")
        .map(|i| serde_json::json!({ "id": i.id, "name": i.name, "source": i.source, "thumbnail": format!("/api/styles/{}", i.id) }))
        .collect();
    Json(serde_json::json!({ "styles": items }))
}

async fn thumbnail(State(st): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let item =
        st.styles.get(&id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no style {}", excerpt(&id))))?;
    let (max, styles) = (st.config.max_pixels, st.styles.clone());
    let bytes = tokio::task::spawn_blocking(move || item.thumbnail(max, &styles.thumbnails))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(([(header::CONTENT_TYPE, "image/jpeg"), (header::CACHE_CONTROL, "max-age=3600")], bytes).into_response())
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(status, "upload is larger than the limit");
    }
    ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
}

async fn upload_style(
    State(st): State<Shared>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mp: Form,
) -> Result<Response, ApiError> {
    let mut mp = form(mp)?;
    let _permit = body_permit(&st, peer, &mut mp).await?;
    let (bytes, name) = match style_fields(&mut mp).await {
        Err(e) if e.status != StatusCode::REQUEST_TIMEOUT => return Err(refused_after_small_body(&mut mp, e).await),
        r => r?,
    };
    let styles = st.styles.clone();
    // Behind a proxy (`--per-client 0`) every visitor has one address: no share per address.
    let per_peer = if st.config.per_client == Some(0) { MAX_UPLOADS } else { MAX_UPLOADS_PER_PEER };
    let item = tokio::task::spawn_blocking(move || styles.upload(peer.ip(), per_peer, &name, bytes.to_vec()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": item.id, "name": item.name }))).into_response())
}

/// The fields of a style upload: the file (`style`) and an optional `name`.
async fn style_fields(mp: &mut Multipart) -> Result<(Bytes, String), ApiError> {
    let (mut bytes, mut name) = (None, String::new());
    let mut seen = Seen::default();
    let mut pace = Pace::new();
    while let Some(field) = pace.read(mp.next_field(), |_| 0).await?.map_err(multipart_error)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        seen.once(&field_name)?;
        match field_name.as_str() {
            "style" => {
                name = field.file_name().unwrap_or_default().to_owned();
                bytes = Some(read_field(&mut pace, field, usize::MAX, "style").await?);
            }
            "name" => name = small_text(&mut pace, field, "name").await?,
            other => return Err(ApiError::bad_request(format!("unknown field {}", excerpt(other)))),
        }
    }
    let bytes = bytes.ok_or_else(|| ApiError::bad_request("the style file is missing (field `style`)"))?;
    Ok((bytes, name))
}

fn parse_bool(field: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!("{field} must be true or false, got {}", excerpt(v)))),
    }
}

/// The most styles (`style` and `style_id` fields together) one stylize request may name: each
/// is decoded and held while its job runs, so the count is part of the memory bound
/// ([`super::memory`]).
pub const MAX_STYLES: usize = 8;

/// Refuses a style beyond [`MAX_STYLES`] before it is read or looked up.
fn room_for_a_style(job: &StylizeJob) -> Result<(), ApiError> {
    if job.styles.len() >= MAX_STYLES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_STYLES} styles (style and style_id fields) per request"
        )));
    }
    Ok(())
}

/// The fields of a form seen so far: each may be given once, except the repeatable ones
/// (several styles).
#[derive(Default)]
struct Seen(std::collections::HashSet<String>);

impl Seen {
    fn once(&mut self, name: &str) -> Result<(), ApiError> {
        if matches!(name, "style" | "style_id") || self.0.insert(name.to_owned()) {
            return Ok(());
        }
        Err(ApiError::bad_request(format!("the field {} is given twice; send it once", excerpt(name))))
    }
}

/// Reads and checks the stylize fields: files as they come (each checked from its header),
/// text fields through [`text_field`], then the checks that need all of them. A refusal is
/// sent after the rest of a small body (see [`refused_after_small_body`]); a stalled one at
/// once.
async fn read_job(st: &AppState, mp: &mut Multipart) -> Result<StylizeJob, ApiError> {
    match read_fields(st, mp).await {
        Err(e) if e.status != StatusCode::REQUEST_TIMEOUT => Err(refused_after_small_body(mp, e).await),
        r => r,
    }
}

/// The fields of [`read_job`].
async fn read_fields(st: &AppState, mp: &mut Multipart) -> Result<StylizeJob, ApiError> {
    let mut job = StylizeJob {
        content: Bytes::new(),
        styles: Vec::new(),
        weights: None,
        mask: None,
        settings: Settings::for_family(st.config.network.family),
        format: Format::Png,
    };
    let mut content = None;
    let mut seen = Seen::default();
    let mut pace = Pace::new();
    while let Some(field) = pace.read(mp.next_field(), |_| 0).await?.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        seen.once(&name)?;
        if matches!(name.as_str(), "style" | "style_id") {
            room_for_a_style(&job)?;
        }
        if matches!(name.as_str(), "content" | "style" | "mask") {
            let bytes = read_field(&mut pace, field, usize::MAX, &name).await?;
            let dims = check_image(&bytes, st.config.max_pixels, &name)?;
            match name.as_str() {
                "content" => content = Some((bytes, dims)),
                "style" => job.styles.push(StyleRef::Upload(bytes)),
                _ => job.mask = Some(bytes),
            }
        } else {
            let v = small_text(&mut pace, field, &name).await?;
            text_field(st, &mut job, &name, &v)?;
        }
    }
    let (bytes, (w, h)) =
        content.ok_or_else(|| ApiError::bad_request("the content image is missing (field `content`)"))?;
    job.content = bytes;
    if job.styles.is_empty() {
        return Err(ApiError::bad_request("no style given (field `style` or `style_id`)"));
    }
    if let Some(w) = &job.weights {
        if w.len() != job.styles.len() {
            let msg = format!("style_weights has {} values for {} styles", w.len(), job.styles.len());
            return Err(ApiError::bad_request(msg));
        }
        if w.iter().any(|x| *x < 0.0 || !x.is_finite()) || w.iter().sum::<f64>() <= 0.0 {
            return Err(ApiError::bad_request("style_weights must be non-negative and not all zero"));
        }
    }
    if job.mask.is_some() && job.styles.len() != 2 {
        return Err(ApiError::bad_request(format!("a mask needs exactly two styles, got {}", job.styles.len())));
    }
    job.settings.validate()?;
    super::upload::check_result_size(w, h, job.settings.content_size, st.config.max_result_pixels)?;
    Ok(job)
}

/// A field's bytes as they come at the upload's [`Pace`], refused once they pass `max`
/// (before the rest is read, so that a long value is neither held nor echoed).
async fn read_field(
    pace: &mut Pace,
    mut field: axum::extract::multipart::Field<'_>,
    max: usize,
    name: &str,
) -> Result<Bytes, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) =
        pace.read(field.chunk(), |c| c.as_ref().map_or(0, Bytes::len)).await?.map_err(multipart_error)?
    {
        if bytes.len() + chunk.len() > max {
            return Err(ApiError::bad_request(format!("the field {} is longer than {max} bytes", excerpt(name))));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes.into())
}

/// The longest text field a form may carry (a style id, a number, a name), in bytes.
const MAX_TEXT_FIELD: usize = 1024;

/// A text field of at most [`MAX_TEXT_FIELD`] bytes (see [`read_field`]).
async fn small_text(
    pace: &mut Pace,
    field: axum::extract::multipart::Field<'_>,
    name: &str,
) -> Result<String, ApiError> {
    let bytes = read_field(pace, field, MAX_TEXT_FIELD, name).await?;
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ApiError::bad_request(format!("the field {} is not UTF-8 text", excerpt(name))))
}

/// A number in [0, 1].
fn unit_interval(field: &str, v: &str) -> Result<f64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|a| (0.0..=1.0).contains(a))
        .ok_or_else(|| ApiError::bad_request(format!("{field} must be a number in [0, 1], got {}", excerpt(v))))
}

/// One text field of a stylize request into `job`.
fn text_field(st: &AppState, job: &mut StylizeJob, name: &str, v: &str) -> Result<(), ApiError> {
    match name {
        "style_id" => {
            st.styles.get(v).ok_or_else(|| ApiError::bad_request(format!("no style {} in the gallery", excerpt(v))))?;
            job.styles.push(StyleRef::Gallery(v.to_owned()));
        }
        "style_weights" => {
            let w = v.split(',').map(|x| x.trim().parse::<f64>()).collect::<Result<Vec<_>, _>>();
            let w = w.map_err(|_| {
                ApiError::bad_request(format!("style_weights {}: expected comma-separated numbers", excerpt(v)))
            })?;
            job.weights = Some(w);
        }
        "alpha" => job.settings.alpha = unit_interval("alpha", v)?,
        "preserve_color" => job.settings.preserve_color = parse_bool("preserve_color", v)?,
        "match_palette" => job.settings.match_palette = unit_interval("match_palette", v)?,
        "size" => {
            job.settings.content_size = v.trim().parse::<u32>().ok().filter(|s| *s <= 4096).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "size must be 0 (original) or a shorter side up to 4096, got {}",
                    excerpt(v)
                ))
            })?
        }
        "format" => {
            job.format = match v.trim() {
                "png" => Format::Png,
                "jpeg" | "jpg" => Format::Jpeg,
                _ => return Err(ApiError::bad_request(format!("format must be png or jpeg, got {}", excerpt(v)))),
            }
        }
        other => return Err(ApiError::bad_request(format!("unknown field {}", excerpt(other)))),
    }
    Ok(())
}

fn image_response(out: Output) -> Response {
    match out {
        Output::Image { bytes, format, width, height } => (
            [
                (header::CONTENT_TYPE, format.content_type().to_owned()),
                (header::HeaderName::from_static("x-image-size"), format!("{width}x{height}")),
            ],
            bytes,
        )
            .into_response(),
        Output::Frame { bytes, .. } => ([(header::CONTENT_TYPE, "image/jpeg")], bytes).into_response(),
    }
}

/// A multipart body as axum extracts it, or why not.
type Form = Result<Multipart, axum::extract::multipart::MultipartRejection>;

/// The multipart body, or a 400 saying the request was not a form.
fn form(mp: Form) -> Result<Multipart, ApiError> {
    mp.map_err(|e| ApiError::bad_request(format!("expected a multipart form: {}", e.body_text())))
}

fn timed_out(t: Duration) -> ApiError {
    ApiError::new(StatusCode::GATEWAY_TIMEOUT, format!("the request took longer than the limit of {} s", t.as_secs()))
}

/// `POST /api/stylize`: the whole request (upload, queue, work) within the timeout.
async fn stylize(
    State(st): State<Shared>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mp: Form,
) -> Result<Response, ApiError> {
    let mut mp = form(mp)?;
    let _permit = body_permit(&st, peer, &mut mp).await?;
    let limit = st.config.timeout;
    let work = async {
        let job = read_job(&st, &mut mp).await?;
        let (ticket, rx) = st.pool.submit(Job::Stylize(job)).map_err(|_| ApiError::busy())?;
        let cancel = CancelOnDrop(ticket);
        let out = rx.await.map_err(|_| ApiError::internal("the worker stopped"))??;
        drop(cancel);
        Ok::<_, ApiError>(image_response(out))
    };
    tokio::time::timeout(limit, work).await.map_err(|_| timed_out(limit))?
}

/// Marks a job cancelled when its waiter goes away first (timeout, closed connection).
struct CancelOnDrop(Arc<super::pool::Ticket>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancelled.store(true, Ordering::SeqCst);
    }
}

/// `POST /api/jobs`: queue a stylization and return at once with its id and position.
async fn submit_job(
    State(st): State<Shared>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    mp: Form,
) -> Result<Response, ApiError> {
    let mut mp = form(mp)?;
    let permit = body_permit(&st, peer, &mut mp).await?;
    let limit = st.config.timeout;
    let job = tokio::time::timeout(limit, read_job(&st, &mut mp)).await.map_err(|_| timed_out(limit))??;
    drop(permit);
    let (ticket, rx) = st.pool.submit(Job::Stylize(job)).map_err(|_| ApiError::busy())?;
    let entry =
        Arc::new(AsyncJob { ticket: ticket.clone(), state: Mutex::new(JobState::Pending), created: Instant::now() });
    let Some(id) = st.jobs.insert(entry.clone())? else {
        ticket.cancelled.store(true, Ordering::SeqCst);
        return Err(ApiError::busy());
    };
    tokio::spawn(async move {
        let result = match tokio::time::timeout(limit, rx).await {
            Ok(Ok(r)) => r,
            Ok(Err(_)) => Err(ApiError::internal("the worker stopped")),
            Err(_) => {
                entry.ticket.cancelled.store(true, Ordering::SeqCst);
                Err(timed_out(limit))
            }
        };
        *entry.state.lock().unwrap_or_else(|e| e.into_inner()) = JobState::Done(result);
    });
    let position = st.pool.position(&ticket);
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "id": id, "position": position }))).into_response())
}

fn find_job(st: &AppState, id: &str) -> Result<Arc<AsyncJob>, ApiError> {
    st.jobs.get(id).ok_or_else(|| {
        ApiError::new(StatusCode::NOT_FOUND, "no such job (ids are kept for 5 minutes after the job finishes)")
    })
}

async fn job_status(State(st): State<Shared>, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let job = find_job(&st, &id)?;
    let state = job.state.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Json(match &*state {
        JobState::Pending => {
            let position = st.pool.position(&job.ticket);
            serde_json::json!({ "state": if position == 0 { "running" } else { "queued" }, "position": position })
        }
        JobState::Done(Ok(Output::Image { width, height, .. })) => {
            serde_json::json!({ "state": "done", "position": 0, "width": width, "height": height })
        }
        JobState::Done(Ok(Output::Frame { .. })) => serde_json::json!({ "state": "done", "position": 0 }),
        JobState::Done(Err(e)) => {
            serde_json::json!({ "state": "failed", "position": 0, "error": e.message, "status": e.status.as_u16() })
        }
    }))
}

async fn job_result(State(st): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = find_job(&st, &id)?;
    let state = job.state.lock().unwrap_or_else(|e| e.into_inner());
    match &*state {
        JobState::Pending => Err(ApiError::new(StatusCode::CONFLICT, "the job has not finished yet")),
        JobState::Done(Err(e)) => Err(e.clone()),
        JobState::Done(Ok(Output::Image { bytes, format, width, height })) => {
            Ok(image_response(Output::Image { bytes: bytes.clone(), format: *format, width: *width, height: *height }))
        }
        JobState::Done(Ok(Output::Frame { .. })) => Err(ApiError::internal("not an image job")),
    }
}
