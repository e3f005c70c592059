//! The HTTP endpoints.
//!
//! | route | what |
//! |---|---|
//! | `GET /` (`/app.js`, `/app.css`) | the page, embedded in the binary |
//! | `GET /healthz` | `{"status": "ok", workers, queued, capacity, styles_cached}` |
//! | `GET /api/styles` | the gallery as JSON |
//! | `GET /api/styles/{id}` | a gallery thumbnail (JPEG) |
//! | `POST /api/styles` | add a style (multipart `style`, optional `name`) → `{id, name}` |
//! | `POST /api/stylize` | multipart → the image |
//! | `POST /api/jobs` | the same multipart → `202 {id, position}` (id: 128 random bits); then poll |
//! | `GET /api/jobs/{id}` | `{state: queued/running/done/failed, position, error, width, height}` |
//! | `GET /api/jobs/{id}/result` | the image of a finished job |
//! | `GET /api/live` | WebSocket of live mode ([`super::live`]) |
//!
//! Stylize fields: `content` (file), `style` (file) and/or `style_id` (gallery id), several
//! for interpolation, in order; `style_weights` (`1,3`), `mask` (file, two styles),
//! `alpha` (0–1), `preserve_color` (true/false), `match_palette` (0–1), `size` (shorter side; 0 = original),
//! `format` (png/jpeg); each field once, except `style` and `style_id`. Errors: JSON
//! `{"error": …}` with 400 (bad or repeated field, unreadable or cut-off image), 413 (upload
//! over the limit), 415 (not an image format), 422 (more pixels than allowed, in the image or
//! in the result a `size` asks for), 503 + `Retry-After` (busy), 504 (timed out); the access
//! rules ([`super::guard`]) add 401, 403 and 421, and every other status is JSON too
//! ([`super::error`]).

use super::work::{Format, Job, Output, StyleRef, StylizeJob, check_image};
use super::{ApiError, AppState};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use std::collections::HashMap;
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
        .route("/healthz", get(health))
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
        .with_state(state)
}

/// A permit to hold a request body in memory ([`super::memory`]): at most `workers + queue`
/// requests hold one at a time; more are answered 503 at once.
fn body_permit(st: &AppState) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    st.bodies.clone().try_acquire_owned().map_err(|_| ApiError::busy())
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

async fn list_styles(State(st): State<Shared>) -> Json<serde_json::Value> {
    let items: Vec<_> = st
        .styles
        .list()
        .iter()
        .map(|i| serde_json::json!({ "id": i.id, "name": i.name, "source": i.source, "thumbnail": format!("/api/styles/{}", i.id) }))
        .collect();
    Json(serde_json::json!({ "styles": items }))
}

async fn thumbnail(State(st): State<Shared>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let item = st.styles.get(&id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no style {id:?}")))?;
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

async fn upload_style(State(st): State<Shared>, mp: Form) -> Result<Response, ApiError> {
    let mut mp = form(mp)?;
    let _permit = body_permit(&st)?;
    let (mut bytes, mut name) = (None, String::new());
    let mut seen = Seen::default();
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let field_name = field.name().unwrap_or_default().to_owned();
        seen.once(&field_name)?;
        match field_name.as_str() {
            "style" => {
                name = field.file_name().unwrap_or_default().to_owned();
                bytes = Some(field.bytes().await.map_err(multipart_error)?);
            }
            "name" => name = field.text().await.map_err(multipart_error)?,
            other => return Err(ApiError::bad_request(format!("unknown field {other:?}"))),
        }
    }
    let bytes = bytes.ok_or_else(|| ApiError::bad_request("the style file is missing (field `style`)"))?;
    let styles = st.styles.clone();
    let item = tokio::task::spawn_blocking(move || styles.upload(&name, bytes.to_vec()))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": item.id, "name": item.name }))).into_response())
}

fn parse_bool(field: &str, v: &str) -> Result<bool, ApiError> {
    match v.trim() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" | "" => Ok(false),
        _ => Err(ApiError::bad_request(format!("{field} must be true or false, got {v:?}"))),
    }
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
        Err(ApiError::bad_request(format!("the field `{name}` is given twice; send it once")))
    }
}

/// Reads and checks the stylize fields: files as they come (each checked from its header),
/// text fields through [`text_field`], then the checks that need all of them.
async fn read_job(st: &AppState, mut mp: Multipart) -> Result<StylizeJob, ApiError> {
    let mut job = StylizeJob {
        content: Bytes::new(),
        styles: Vec::new(),
        weights: None,
        mask: None,
        alpha: 1.0,
        preserve_color: false,
        match_palette: adain::infer::Settings::MATCH_PALETTE,
        size: 512,
        format: Format::Png,
    };
    let mut content = None;
    let mut seen = Seen::default();
    while let Some(field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        seen.once(&name)?;
        if matches!(name.as_str(), "content" | "style" | "mask") {
            let bytes = field.bytes().await.map_err(multipart_error)?;
            let dims = check_image(&bytes, st.config.max_pixels, &name)?;
            match name.as_str() {
                "content" => content = Some((bytes, dims)),
                "style" => job.styles.push(StyleRef::Upload(bytes)),
                _ => job.mask = Some(bytes),
            }
        } else {
            let v = field.text().await.map_err(multipart_error)?;
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
    super::work::check_result_size(w, h, job.size, st.config.max_result_pixels)?;
    Ok(job)
}

/// A number in [0, 1].
fn unit_interval(field: &str, v: &str) -> Result<f64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|a| (0.0..=1.0).contains(a))
        .ok_or_else(|| ApiError::bad_request(format!("{field} must be a number in [0, 1], got {v:?}")))
}

/// One text field of a stylize request into `job`.
fn text_field(st: &AppState, job: &mut StylizeJob, name: &str, v: &str) -> Result<(), ApiError> {
    match name {
        "style_id" => {
            st.styles.get(v).ok_or_else(|| ApiError::bad_request(format!("no style {v:?} in the gallery")))?;
            job.styles.push(StyleRef::Gallery(v.to_owned()));
        }
        "style_weights" => {
            let w = v.split(',').map(|x| x.trim().parse::<f64>()).collect::<Result<Vec<_>, _>>();
            let w =
                w.map_err(|_| ApiError::bad_request(format!("style_weights {v:?}: expected comma-separated numbers")))?;
            job.weights = Some(w);
        }
        "alpha" => job.alpha = unit_interval("alpha", v)?,
        "preserve_color" => job.preserve_color = parse_bool("preserve_color", v)?,
        "match_palette" => job.match_palette = unit_interval("match_palette", v)?,
        "size" => {
            job.size = v.trim().parse::<u32>().ok().filter(|s| *s <= 4096).ok_or_else(|| {
                ApiError::bad_request(format!("size must be 0 (original) or a shorter side up to 4096, got {v:?}"))
            })?
        }
        "format" => {
            job.format = match v.trim() {
                "png" => Format::Png,
                "jpeg" | "jpg" => Format::Jpeg,
                _ => return Err(ApiError::bad_request(format!("format must be png or jpeg, got {v:?}"))),
            }
        }
        other => return Err(ApiError::bad_request(format!("unknown field {other:?}"))),
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
async fn stylize(State(st): State<Shared>, mp: Form) -> Result<Response, ApiError> {
    let mp = form(mp)?;
    let _permit = body_permit(&st)?;
    let limit = st.config.timeout;
    let work = async {
        let job = read_job(&st, mp).await?;
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

/// State of an asynchronous job.
enum JobState {
    Pending,
    Done(Result<Output, ApiError>),
}

struct AsyncJob {
    ticket: Arc<super::pool::Ticket>,
    state: Mutex<JobState>,
    created: Instant,
}

/// The asynchronous jobs, by random id (bounded; finished ones are kept for [`Jobs::KEEP`]
/// while their results fit in [`super::memory::RESULTS_BYTES`]).
#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<AsyncJob>>>,
}

/// 128 random bits in hex: a job's result is readable by whoever knows its id, and only by them.
fn random_id() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness for a job id: {e}")))?;
    Ok(super::styles::hex(&b))
}

impl AsyncJob {
    fn finished(&self) -> bool {
        !matches!(*self.state.lock().unwrap_or_else(|e| e.into_inner()), JobState::Pending)
    }
    /// Bytes of the kept result.
    fn result_bytes(&self) -> u64 {
        match &*self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            JobState::Done(Ok(Output::Image { bytes, .. })) => bytes.len() as u64,
            _ => 0,
        }
    }
}

impl Jobs {
    const KEEP: Duration = Duration::from_secs(300);
    const MAX: usize = 256;

    fn insert(&self, job: Arc<AsyncJob>) -> Result<Option<String>, ApiError> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        m.retain(|_, j| j.created.elapsed() < Self::KEEP || !j.finished());
        // The oldest finished results go first when the kept results outgrow their budget.
        let mut kept: u64 = m.values().map(|j| j.result_bytes()).sum();
        while kept > super::memory::RESULTS_BYTES {
            let oldest = m.iter().filter(|(_, j)| j.finished()).min_by_key(|(_, j)| j.created).map(|(k, _)| k.clone());
            let Some(k) = oldest else { break };
            kept -= m.remove(&k).map_or(0, |j| j.result_bytes());
        }
        if m.len() >= Self::MAX {
            return Ok(None);
        }
        let id = random_id()?;
        m.insert(id.clone(), job);
        Ok(Some(id))
    }

    fn get(&self, id: &str) -> Option<Arc<AsyncJob>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }
}

/// `POST /api/jobs`: queue a stylization and return at once with its id and position.
async fn submit_job(State(st): State<Shared>, mp: Form) -> Result<Response, ApiError> {
    let mp = form(mp)?;
    let permit = body_permit(&st)?;
    let limit = st.config.timeout;
    let job = tokio::time::timeout(limit, read_job(&st, mp)).await.map_err(|_| timed_out(limit))??;
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
