//! The admin HTTP API under `/admin`, guarded by `Authorization: Bearer <admin_secret>`.
//!
//! - `GET /admin/rooms` → `[RoomInfo]`
//! - `GET /admin/rooms/{room_id}` → `RoomInfo`, 404 if none
//! - `POST /admin/rooms/{room_id}/kick` `{"user_id": "...", "reason": "..."}` → 200, 404 if no such user
//! - `POST /admin/rooms/{room_id}/close` `{"reason": "..."}` (body optional) → 200, 404 if none
//! - `POST /admin/drain` → 202 `{"draining": true, "deadline_ms": N}`: the node drains (`drain.rs`)
//!   with the config's `drain_timeout`; `roomlink serve` exits once it is done
//!
//! Errors are JSON `{"error": "..."}`, the router's own too (unknown path 404, wrong method 405,
//! body over [`MAX_BODY_BYTES`] 413, URI over [`MAX_URI_BYTES`] 414). Room IDs are path segments,
//! percent-decoded (a `/` in a room ID is sent as `%2F`).

mod client;

pub use client::request;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::AppState;

/// Largest admin request body (a kick's or close's JSON is a few hundred bytes at most).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest admin request URI (a room ID is under 128 bytes, percent-encoded under 384).
pub const MAX_URI_BYTES: usize = 8 * 1024;

fn fail(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// The admin routes, nested under `/admin` by the caller.
pub(crate) fn router(app: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/rooms", get(list))
        .route("/rooms/{room_id}", get(show))
        .route("/rooms/{room_id}/kick", post(kick))
        .route("/rooms/{room_id}/close", post(close))
        .route("/drain", post(drain))
        .fallback(|| async { fail(StatusCode::NOT_FOUND, "no such admin path") })
        .method_not_allowed_fallback(|| async {
            fail(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(app, auth))
        .layer(middleware::from_fn(uri_limit))
}

/// A URI over [`MAX_URI_BYTES`] is refused before anything else reads it.
async fn uri_limit(req: Request, next: Next) -> Response {
    if req.uri().to_string().len() > MAX_URI_BYTES {
        return fail(
            StatusCode::URI_TOO_LONG,
            format!("URI over {MAX_URI_BYTES} bytes"),
        );
    }
    next.run(req).await
}

/// Refusals made by extractors (a body over the limit: 413 in plain text) become JSON like every
/// other admin error.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_success() || is_json {
        return res;
    }
    let reason = status.canonical_reason().unwrap_or("error");
    fail(status, reason.to_lowercase())
}

async fn auth(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // A missing or malformed header never matches, whatever the secret (`start` also refuses an
    // empty one). Constant time, so the secret cannot be found byte by byte from timings.
    let ok = given.is_some_and(|given| {
        !given.is_empty() && bool::from(given.as_bytes().ct_eq(app.config.admin_secret.as_bytes()))
    });
    if ok {
        next.run(req).await
    } else {
        // Once per interval, not per request: anyone can send these, and a line each would let
        // them flood the log at the default level.
        crate::ratelog::warn_limited!(
            app.admin_refusals,
            "admin request without a valid bearer: {} {}",
            req.method(),
            req.uri().path()
        );
        fail(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")
    }
}

/// The cluster's shared store could not be reached: nothing happened, try again.
fn unavailable() -> Response {
    fail(
        StatusCode::SERVICE_UNAVAILABLE,
        "the cluster store is unreachable; nothing changed, retry",
    )
}

async fn list(State(app): State<Arc<AppState>>) -> Response {
    match app.registry.rooms().await {
        Ok(rooms) => Json(rooms).into_response(),
        Err(_) => unavailable(),
    }
}

async fn show(State(app): State<Arc<AppState>>, Path(room_id): Path<String>) -> Response {
    match app.registry.room(&room_id).await {
        Err(_) => unavailable(),
        Ok(Some(r)) => Json(r).into_response(),
        Ok(None) => fail(StatusCode::NOT_FOUND, format!("no room {room_id:?}")),
    }
}

#[derive(Deserialize)]
struct KickBody {
    user_id: String,
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize, Default)]
struct CloseBody {
    #[serde(default)]
    reason: String,
}

fn parse<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))
}

/// Starts a drain and answers at once; the drain runs on (the connections close themselves).
async fn drain(State(app): State<Arc<AppState>>) -> Response {
    let asked = crate::config::deadline(std::time::Instant::now(), app.config.drain_timeout);
    match app.control.begin(asked) {
        Some(deadline) => {
            let ms = crate::drain::remaining(deadline).as_millis();
            log::info!("admin started a drain ({ms} ms to the deadline)");
            (
                StatusCode::ACCEPTED,
                Json(json!({ "draining": true, "deadline_ms": ms })),
            )
                .into_response()
        }
        None => fail(StatusCode::CONFLICT, "the server is shutting down"),
    }
}

async fn kick(
    State(app): State<Arc<AppState>>,
    Path(room_id): Path<String>,
    body: Bytes,
) -> Response {
    let b: KickBody = match parse(&body) {
        Ok(b) => b,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let kicked = match app.registry.kick(&room_id, &b.user_id, &b.reason).await {
        Ok(k) => k,
        Err(_) => return unavailable(),
    };
    if kicked {
        log::info!("admin kicked {} from {room_id}: {}", b.user_id, b.reason);
        Json(json!({ "kicked": b.user_id })).into_response()
    } else {
        fail(
            StatusCode::NOT_FOUND,
            format!("no user {:?} in room {room_id:?}", b.user_id),
        )
    }
}

async fn close(
    State(app): State<Arc<AppState>>,
    Path(room_id): Path<String>,
    body: Bytes,
) -> Response {
    let b: CloseBody = if body.iter().all(u8::is_ascii_whitespace) {
        CloseBody::default()
    } else {
        match parse(&body) {
            Ok(b) => b,
            Err(e) => return fail(StatusCode::BAD_REQUEST, e),
        }
    };
    let closed = match app.registry.close_room(&room_id, &b.reason).await {
        Ok(c) => c,
        Err(_) => return unavailable(),
    };
    if closed {
        Json(json!({ "closed": room_id })).into_response()
    } else {
        fail(StatusCode::NOT_FOUND, format!("no room {room_id:?}"))
    }
}
