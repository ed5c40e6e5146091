//! Admin routes: flush the detector, API tokens, dead letters.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{AppError, AppState, json_body, require};
use crate::auth::{Principal, Role};
use crate::pipeline::Msg;

fn admin(who: &Principal) -> Result<(), AppError> {
    require(who, who.role == Role::Admin, Role::Admin)
}

/// `POST /api/v1/admin/flush`: the detector takes every record accepted so far and decides
/// everything pending, as `hunt` does at the end of its input; the alerts are stored before
/// the answer.
pub(crate) async fn flush(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    admin(&who)?;
    let (reply, rx) = tokio::sync::oneshot::channel();
    let tx = state.0.detector.clone();
    tokio::task::spawn_blocking(move || tx.send(Msg::Flush(reply)))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .map_err(|_| AppError::Unavailable("the detector stopped".to_owned()))?;
    let report = rx
        .await
        .map_err(|_| AppError::Unavailable("the detector stopped".to_owned()))?
        .map_err(AppError::Internal)?;
    tracing::info!(
        message = "Detector flushed.",
        by = %who.name,
        raised = report.raised,
        withdrawn = report.withdrawn
    );
    Ok(axum::Json(json!({ "flushed": report })).into_response())
}

pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> Result<Response, AppError> {
    admin(&who)?;
    let tokens = state.db(|s| Ok(s.read().tokens()?)).await?;
    Ok(axum::Json(json!({ "tokens": tokens })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
}

/// `POST /api/v1/admin/tokens` `{"name", "role"}`: the token is in the answer, and only there.
pub(crate) async fn add_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Body,
) -> Result<Response, AppError> {
    admin(&who)?;
    let b: NewToken = json_body(body).await?;
    let role: Role = b.role.parse().map_err(AppError::BadRequest)?;
    if b.name.len() > 64 || b.name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "a token name is at most 64 printable characters".into(),
        ));
    }
    let name = b.name.clone();
    let token = state
        .db(move |s| {
            crate::auth::add_token(s, &b.name, role).map_err(|e| match e {
                crate::ServeError::Store(stormwatch_store::StoreError::Invalid(m)) => {
                    AppError::BadRequest(m)
                }
                other => AppError::from(other),
            })
        })
        .await?;
    tracing::info!(message = "API token added.", name = %name, role = %role, by = %who.name);
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "name": name, "role": role, "token": token })),
    )
        .into_response())
}

pub(crate) async fn remove_token(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    Path(name): Path<String>,
) -> Result<Response, AppError> {
    admin(&who)?;
    let n = name.clone();
    let removed = state
        .db(move |s| Ok(s.write(|tx| tx.remove_token(&n))?))
        .await?;
    if !removed {
        return Err(AppError::NotFound(format!("no token named {name:?}")));
    }
    tracing::info!(message = "API token removed.", name = %name, by = %who.name);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkQuery {
    sink: Option<String>,
}

pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    q: Result<Query<SinkQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AppError> {
    admin(&who)?;
    let Query(q) = q.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let list = state
        .db(move |s| Ok(s.read().dead_letters(q.sink.as_deref(), 1000)?))
        .await?;
    Ok(axum::Json(json!({ "dead_letters": list })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    sink: Option<String>,
}

/// `POST /api/v1/admin/dead-letters/replay` `{"sink": NAME}` (or `{}` for every sink): the
/// dead letters go back to the outbox, due at once.
pub(crate) async fn replay_dead_letters(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    body: Body,
) -> Result<Response, AppError> {
    admin(&who)?;
    let bytes = axum::body::to_bytes(body, 1 << 16)
        .await
        .map_err(|_| AppError::TooLarge("the JSON body is over 64 KiB".to_owned()))?;
    let b: ReplayBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        ReplayBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| AppError::BadRequest(format!("the JSON body: {e}")))?
    };
    if let Some(s) = &b.sink
        && !state.0.sinks.contains(s)
    {
        return Err(AppError::NotFound(format!("no sink named {s:?}")));
    }
    let n = state
        .db(move |s| Ok(s.write(|tx| tx.replay_dead_letters(b.sink.as_deref()))?))
        .await?;
    tracing::info!(message = "Dead letters replayed.", count = n, by = %who.name);
    Ok(axum::Json(json!({ "replayed": n })).into_response())
}
