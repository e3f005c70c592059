//! Live mode over a WebSocket (`GET /api/live`).
//!
//! The page sends a text message with the settings, `{"style_id": "starry_night",
//! "alpha": 1, "size": 256, "temporal": 0.5}` (again whenever they change), then camera
//! frames as binary messages (JPEG). For each frame the server answers a binary message
//! (the stylized JPEG) followed by a text message `{"compute_ms": …, "queued": …}`; or a text
//! message `{"busy": true}` when the pool's queue is full, or `{"error": "…"}`. The page
//! sends the next frame when the previous answer arrived (one frame in flight per
//! connection). Temporal smoothing (as `adain video --temporal`) keeps its state per
//! connection.

use super::work::{Job, Output, StyleRef};
use super::{ApiError, AppState};
use adain::infer::Temporal;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Settings of a live connection.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveSettings {
    style_id: String,
    #[serde(default = "one")]
    alpha: f64,
    #[serde(default = "default_size")]
    size: u32,
    #[serde(default)]
    temporal: f64,
}

fn one() -> f64 {
    1.0
}
fn default_size() -> u32 {
    256
}

pub async fn upgrade(State(st): State<Arc<AppState>>, ws: WebSocketUpgrade) -> Response {
    let limit = st.config.max_upload_bytes;
    ws.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| session(socket, st))
}

async fn send_json(socket: &mut WebSocket, v: serde_json::Value) -> bool {
    socket.send(Message::Text(v.to_string().into())).await.is_ok()
}

fn check(s: &LiveSettings, st: &AppState) -> Result<(), ApiError> {
    if st.styles.get(&s.style_id).is_none() {
        return Err(ApiError::bad_request(format!("no style {:?} in the gallery", s.style_id)));
    }
    if !(0.0..=1.0).contains(&s.alpha) || !(0.0..1.0).contains(&s.temporal) || s.size > 1024 {
        return Err(ApiError::bad_request("alpha must be in [0, 1], temporal in [0, 1), size at most 1024"));
    }
    Ok(())
}

async fn session(mut socket: WebSocket, st: Arc<AppState>) {
    let mut settings: Option<LiveSettings> = None;
    let mut temporal = Temporal::new(0.0);
    while let Some(Ok(msg)) = socket.recv().await {
        match msg {
            Message::Text(t) => match serde_json::from_str::<LiveSettings>(&t) {
                Ok(s) => match check(&s, &st) {
                    Ok(()) => {
                        if settings.as_ref().is_none_or(|old| old.style_id != s.style_id || old.size != s.size) {
                            temporal = Temporal::new(s.temporal);
                        }
                        temporal.weight = s.temporal;
                        settings = Some(s);
                    }
                    Err(e) => {
                        if !send_json(&mut socket, serde_json::json!({ "error": e.message })).await {
                            return;
                        }
                    }
                },
                Err(e) => {
                    if !send_json(&mut socket, serde_json::json!({ "error": format!("settings: {e}") })).await {
                        return;
                    }
                }
            },
            Message::Binary(frame) => {
                let Some(s) = settings.clone() else {
                    if !send_json(
                        &mut socket,
                        serde_json::json!({ "error": "send the settings (style_id, …) before frames" }),
                    )
                    .await
                    {
                        return;
                    }
                    continue;
                };
                if let Err(e) = super::work::check_image(&frame, st.config.max_pixels, "frame") {
                    if !send_json(&mut socket, serde_json::json!({ "error": e.message })).await {
                        return;
                    }
                    continue;
                }
                let job = super::work::FrameJob {
                    frame,
                    style: StyleRef::Gallery(s.style_id.clone()),
                    alpha: s.alpha,
                    size: s.size,
                    temporal: std::mem::take(&mut temporal),
                };
                let Ok((ticket, rx)) = st.pool.submit(Job::Frame(job)) else {
                    temporal = Temporal::new(s.temporal);
                    if !send_json(&mut socket, serde_json::json!({ "busy": true })).await {
                        return;
                    }
                    continue;
                };
                let result = tokio::time::timeout(st.config.timeout, rx).await;
                match result {
                    Ok(Ok(Ok(Output::Frame { bytes, temporal: t, compute_ms }))) => {
                        temporal = t;
                        if socket.send(Message::Binary(bytes.into())).await.is_err() {
                            return;
                        }
                        let queued = st.pool.queued.load(Ordering::SeqCst);
                        if !send_json(&mut socket, serde_json::json!({ "compute_ms": compute_ms, "queued": queued }))
                            .await
                        {
                            return;
                        }
                    }
                    other => {
                        ticket.cancelled.store(true, Ordering::SeqCst);
                        temporal = Temporal::new(s.temporal);
                        let msg = match other {
                            Ok(Ok(Err(e))) => e.message,
                            Err(_) => "the frame took longer than the time limit".to_owned(),
                            _ => "the worker stopped".to_owned(),
                        };
                        if !send_json(&mut socket, serde_json::json!({ "error": msg })).await {
                            return;
                        }
                    }
                }
            }
            Message::Close(_) => return,
            _ => {}
        }
    }
}
