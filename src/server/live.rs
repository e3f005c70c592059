//! Live mode over a WebSocket (`GET /api/live`).
//!
//! The page sends a text message with the settings, `{"style_id": "starry_night",
//! "alpha": 1, "size": 256, "temporal": 0.5, "preserve_color": false, "style2_id": "…",
//! "mix": 0.5}` (again whenever they change; all but `style_id` optional, `mix` the second
//! style's share), then camera
//! frames as binary messages (JPEG). For each frame the server answers a binary message
//! (the stylized JPEG) followed by a text message `{"compute_ms": …, "queued": …}`; or a text
//! message `{"busy": true}` when the pool's queue is full, or `{"error": "…"}`. The page
//! sends the next frame when the previous answer arrived (one frame in flight per
//! connection). Temporal smoothing (as `adain video --temporal`) keeps its state per
//! connection.

use super::error::ApiError;
use super::state::AppState;
use super::work::{Job, Output, StyleRef};
use adain::infer::{Family, PreparedStyle, Settings, Temporal};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Settings of a live connection; what is left out takes the network's default
/// ([`Settings::for_family`]).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveSettings {
    style_id: String,
    alpha: Option<f64>,
    /// The frames' shorter side (`live_size`).
    size: Option<u32>,
    temporal: Option<f64>,
    preserve_color: Option<bool>,
    /// A second style mixed in by `mix` (its share, in [0, 1]; default 0.5).
    style2_id: Option<String>,
    mix: Option<f64>,
}

impl LiveSettings {
    /// The stylize settings they stand for.
    fn settings(&self, family: Family) -> Settings {
        let d = Settings::for_family(family);
        Settings {
            alpha: self.alpha.unwrap_or(d.alpha),
            live_size: self.size.unwrap_or(d.live_size),
            temporal: self.temporal.unwrap_or(d.temporal),
            preserve_color: self.preserve_color.unwrap_or(d.preserve_color),
            ..d
        }
    }

    /// The styles and their weights.
    fn styles(&self) -> (Vec<StyleRef>, Vec<f64>) {
        let first = StyleRef::Gallery(self.style_id.clone());
        match &self.style2_id {
            Some(second) => {
                let mix = self.mix.unwrap_or(0.5);
                (vec![first, StyleRef::Gallery(second.clone())], vec![1.0 - mix, mix])
            }
            None => (vec![first], vec![1.0]),
        }
    }

    /// Whether a style prepared for `self` serves `other` too.
    fn same_style(&self, other: &LiveSettings) -> bool {
        self.style_id == other.style_id
            && self.style2_id == other.style2_id
            && self.mix == other.mix
            && self.preserve_color == other.preserve_color
    }
}

/// Opens a live session, if fewer than `workers + queue` are open, half of them at most from
/// one address (each may hold a frame of up to the upload limit in memory); else 503 or 429.
pub async fn upgrade(
    State(st): State<Arc<AppState>>,
    ConnectInfo(super::conn::Peer(peer)): ConnectInfo<super::conn::Peer>,
    ws: WebSocketUpgrade,
) -> Response {
    let permit = match st.live.take(peer.ip()) {
        Ok(slot) => slot,
        Err(r) => return r.answer("live sessions").into_response(),
    };
    let limit = st.config.max_upload_bytes;
    ws.max_message_size(limit).max_frame_size(limit).on_upgrade(move |socket| async move {
        session(socket, st).await;
        drop(permit);
    })
}

fn check(s: &LiveSettings, st: &AppState) -> Result<Settings, ApiError> {
    for id in std::iter::once(&s.style_id).chain(&s.style2_id) {
        if st.styles.get(id).is_none() {
            return Err(ApiError::bad_request(format!("no style {} in the gallery", super::error::excerpt(id))));
        }
    }
    if s.mix.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
        return Err(ApiError::bad_request("mix (the second style's share) must be in [0, 1]"));
    }
    let settings = s.settings(st.config.network.family);
    settings.validate()?;
    Ok(settings)
}

/// One connection: the messages in, the answers out; ends when the client goes away.
async fn session(mut socket: WebSocket, st: Arc<AppState>) {
    let mut live = Live { settings: None, temporal: Temporal::new(0.0), prepared: None };
    while let Some(Ok(msg)) = socket.recv().await {
        let answers = match msg {
            Message::Text(t) => live.on_settings(&st, &t).map(error).into_iter().collect(),
            Message::Binary(frame) => live.on_frame(&st, frame).await,
            Message::Close(_) => return,
            _ => continue,
        };
        for m in answers {
            if socket.send(m).await.is_err() {
                return;
            }
        }
    }
}

/// `{"error": msg}` as a text message.
fn error(msg: String) -> Message {
    json(serde_json::json!({ "error": msg }))
}

fn json(v: serde_json::Value) -> Message {
    Message::Text(v.to_string().into())
}

/// The state of one connection: its settings, its temporal smoothing and its prepared style.
struct Live {
    /// The settings as sent, and the stylize settings they stand for.
    settings: Option<(LiveSettings, Settings)>,
    temporal: Temporal,
    /// The style as the last frame's worker prepared it; dropped when the style changes.
    prepared: Option<Box<PreparedStyle>>,
}

impl Live {
    /// New settings; the smoothing starts over when the style or the size changes.
    fn on_settings(&mut self, st: &AppState, text: &str) -> Option<String> {
        let s = match serde_json::from_str::<LiveSettings>(text) {
            Ok(s) => s,
            Err(e) => return Some(format!("settings: {e}")),
        };
        let settings = match check(&s, st) {
            Ok(settings) => settings,
            Err(e) => return Some(e.message),
        };
        let style_changed = self.settings.as_ref().is_none_or(|(old, _)| !old.same_style(&s));
        if style_changed {
            self.prepared = None;
        }
        if style_changed || self.settings.as_ref().is_some_and(|(_, old)| old.live_size != settings.live_size) {
            self.temporal = Temporal::new(settings.temporal);
        }
        self.temporal.weight = settings.temporal;
        self.settings = Some((s, settings));
        None
    }

    /// One camera frame through the pool: the stylized JPEG and its timing, or why not.
    async fn on_frame(&mut self, st: &AppState, frame: axum::body::Bytes) -> Vec<Message> {
        let Some((s, settings)) = self.settings.clone() else {
            return vec![error("send the settings (style_id, …) before frames".into())];
        };
        if let Err(e) = super::upload::check_image(&frame, st.config.max_pixels, "frame") {
            return vec![error(e.message)];
        }
        let (styles, weights) = s.styles();
        let job = super::work::FrameJob {
            frame,
            styles,
            weights,
            settings: settings.clone(),
            temporal: std::mem::take(&mut self.temporal),
            prepared: self.prepared.take(),
        };
        let Ok((ticket, rx)) = st.pool.submit(Job::Frame(job)) else {
            self.temporal = Temporal::new(settings.temporal);
            return vec![json(serde_json::json!({ "busy": true }))];
        };
        match tokio::time::timeout(st.config.timeout, rx).await {
            Ok(Ok(Ok(Output::Frame { bytes, temporal, prepared, compute_ms }))) => {
                self.temporal = temporal;
                self.prepared = Some(prepared);
                let queued = st.pool.queued.load(Ordering::SeqCst);
                vec![
                    Message::Binary(bytes.into()),
                    json(serde_json::json!({ "compute_ms": compute_ms, "queued": queued })),
                ]
            }
            other => {
                ticket.cancelled.store(true, Ordering::SeqCst);
                self.temporal = Temporal::new(settings.temporal);
                vec![error(match other {
                    Ok(Ok(Err(e))) => e.message,
                    Err(_) => "the frame took longer than the time limit".to_owned(),
                    _ => "the worker stopped".to_owned(),
                })]
            }
        }
    }
}
