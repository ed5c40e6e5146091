//! Health, metrics and ingest health per source.

use std::sync::atomic::Ordering;

use axum::Extension;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stormwatch_core::Timestamp;

use super::{AppError, AppState, require};
use crate::auth::{Principal, Role};
use crate::metrics::StoreFigures;

/// `GET /healthz`: 200 while the service accepts records, 503 while it shuts down. No auth.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    if state.0.accepting.load(Ordering::Relaxed) {
        (StatusCode::OK, axum::Json(json!({ "status": "ok" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "shutting down" })),
        )
            .into_response()
    }
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) async fn metrics(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let figures = state
        .db(|s| {
            Ok(StoreFigures {
                alerts: s.read().alert_counts()?,
                sinks: s.read().sink_depths()?,
            })
        })
        .await?;
    let text = state.0.metrics.render(crate::now().nanos(), &figures);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// `GET /api/v1/sources`: per source, what was received, skipped and recognised as sent
/// again, when, the newest record time and its lag, and the latest located errors; and where
/// the detector stands.
pub(crate) async fn sources(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    require(&who, who.role.may_read(), Role::Viewer)?;
    let now = crate::now();
    let list = state
        .db(move |s| {
            let mut out = Vec::new();
            for src in s.read().sources()? {
                let errors = s.read().source_errors(&src.source, 20)?;
                let mut v = serde_json::to_value(&src).unwrap_or_else(|_| json!({}));
                v["event_lag_seconds"] = json!(
                    src.newest_event
                        .map(|t| (now.nanos() - t.nanos()) as f64 / 1e9)
                );
                v["errors"] = json!(errors);
                out.push(v);
            }
            Ok(out)
        })
        .await?;
    let m = &state.0.metrics;
    let wm = m.watermark.load(Ordering::Relaxed);
    Ok(axum::Json(json!({
        "sources": list,
        "pipeline": {
            "journal_head": m.journal_head.load(Ordering::Relaxed),
            "position": m.position.load(Ordering::Relaxed),
            "pending_records": m.pending_records(),
            "watermark": (wm != i64::MIN).then(|| Timestamp::from_nanos(wm)),
            "lag_seconds": m.ingest_lag_ms.load(Ordering::Relaxed) as f64 / 1e3,
        },
    }))
    .into_response())
}
