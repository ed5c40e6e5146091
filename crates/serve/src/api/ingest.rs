//! `POST /api/v1/ingest`: records in (NDJSON, JSON arrays, Graph `{"value":[…]}`, Azure
//! Monitor `{"records":[…]}`, anything `hunt` reads; gzip or zstd bodies), answered 2xx only
//! once they are durable.

use axum::Extension;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt as _;
use serde::Deserialize;
use serde_json::json;

use super::{AppError, AppState, require};
use crate::auth::{Principal, Role};
use crate::ingest::{BodyError, compression_of, parse_scanned, plain_and_stored};
use crate::journal::{Append, Kind, Records, append, reserve};

/// Query parameters of an ingest request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IngestQuery {
    /// The source the records are counted under (default `http`).
    source: Option<String>,
    /// Force an input format (as `hunt --input-format`).
    format: Option<String>,
}

fn valid_source(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Read the body, at most `limit` bytes, within `deadline`.
async fn read_body(
    body: Body,
    limit: u64,
    deadline: std::time::Duration,
) -> Result<Vec<u8>, AppError> {
    let limited = http_body_util::Limited::new(body, usize::try_from(limit).unwrap_or(usize::MAX));
    match tokio::time::timeout(deadline, limited.collect()).await {
        Err(_) => Err(AppError::Timeout),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(AppError::TooLarge(format!(
                    "the body is over the limit of {limit} bytes (ingest.max_body)"
                )))
            } else {
                Err(AppError::BadRequest(format!(
                    "the body could not be read: {e}"
                )))
            }
        }
        Ok(Ok(c)) => Ok(Vec::from(c.to_bytes())),
    }
}

pub(crate) async fn ingest(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    query: Result<Query<IngestQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let result = ingest_inner(&state, &who, query, &headers, body).await;
    let status = match &result {
        Ok(r) => r.status(),
        Err(e) => match e {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::BadRequest(_) | AppError::NotFound(_) => StatusCode::BAD_REQUEST,
            AppError::Timeout => StatusCode::REQUEST_TIMEOUT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        },
    };
    state.0.metrics.count_response(status.as_u16());
    result
}

#[allow(clippy::too_many_lines)]
async fn ingest_inner(
    state: &AppState,
    who: &Principal,
    query: Result<Query<IngestQuery>, axum::extract::rejection::QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    require(who, who.role.may_ingest(), Role::Ingest)?;
    let Query(q) = query.map_err(|e| AppError::BadRequest(e.body_text()))?;
    let cfg = &state.0.ingest;
    let source = q.source.unwrap_or_else(|| "http".to_owned());
    if !valid_source(&source) {
        return Err(AppError::BadRequest(format!(
            "source {source:?}: 1 to 64 letters, digits, '-', '_' or '.'"
        )));
    }
    let format = match q.format.as_deref() {
        None => cfg.format,
        Some(f) => Some(
            f.parse::<stormwatch_read::InputFormat>()
                .map_err(|e| AppError::BadRequest(e.to_string()))?,
        ),
    };
    if !state.0.accepting.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(AppError::Unavailable(
            "the service is shutting down".to_owned(),
        ));
    }
    // Back-pressure: no unbounded queue between ingest and the detector.
    if state.0.metrics.pending_records() >= cfg.max_pending_records {
        state
            .0
            .metrics
            .throttled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(AppError::Throttled(cfg.retry_after));
    }
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > cfg.max_body
    {
        return Err(AppError::TooLarge(format!(
            "the body ({len} bytes) is over the limit of {} bytes (ingest.max_body)",
            cfg.max_body
        )));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let t_start = std::time::Instant::now();
    let received = read_body(body, cfg.max_body, cfg.body_timeout).await?;
    let t_read = t_start.elapsed();
    if received.is_empty() {
        return Err(AppError::BadRequest("the body is empty".to_owned()));
    }
    let compression = compression_of(encoding.as_deref(), &received)
        .map_err(|e| AppError::UnsupportedEncoding(e.to_string()))?;
    let _permit = state
        .0
        .parsing
        .acquire()
        .await
        .map_err(|_| AppError::Unavailable("the service is shutting down".to_owned()))?;
    let max_decompressed = cfg.max_decompressed;
    // The batch id is taken once the body is here and a parse slot free (the batches after
    // it wait for it at the writer only while it is parsed): its records are scanned under
    // the name the journal gives them.
    let reservation = reserve(&state.0.batch_ids, &state.0.journal);
    let name = format!("ingest/{}", reservation.id());
    let scanner = state.0.scanner.clone();
    let bytes_received = received.len() as u64;
    let (parsed, stored) = tokio::task::spawn_blocking(move || {
        let (plain, stored) = plain_and_stored(received, compression, max_decompressed)?;
        let parsed =
            parse_scanned(&name, plain, format, 0, &scanner).map_err(|e| BodyError::Corrupt {
                encoding: "records",
                reason: e.to_string(),
            })?;
        Ok::<_, BodyError>((parsed, stored))
    })
    .await
    .map_err(|e| AppError::Internal(format!("parse task: {e}")))?
    .map_err(|e| match e {
        BodyError::TooLarge { .. } => AppError::TooLarge(format!("{e} (ingest.max_decompressed)")),
        BodyError::Encoding(_) => AppError::UnsupportedEncoding(e.to_string()),
        BodyError::Corrupt { .. } => AppError::BadRequest(e.to_string()),
    })?;
    drop(_permit);
    let t_parsed = t_start.elapsed();
    let errors: Vec<serde_json::Value> = parsed
        .errors
        .iter()
        .take(cfg.max_errors_reported)
        .map(|e| {
            let mut v = json!({ "line": e.loc.line, "reason": e.reason });
            if let Some(f) = &e.field {
                v["field"] = json!(f);
            }
            if let Some(id) = &e.loc.record_id {
                v["record_id"] = json!(id);
            }
            v
        })
        .collect();
    let total = parsed.keys.len() as u64;
    let skipped = parsed.skipped;
    let nothing = total == 0;
    let appended = append(
        &state.0.journal,
        Append {
            id: Some(reservation),
            source,
            kind: Kind::Http,
            name: String::new(),
            first_line: 1,
            format,
            stored,
            bytes_received,
            records: Records::Scanned {
                runs: parsed.runs,
                keys: parsed.keys,
            },
            skipped,
            errors: parsed.errors,
            last_line: parsed.last_line,
            newest: parsed.newest,
            file: None,
            reply: None,
        },
    )
    .await
    .map_err(AppError::Unavailable)?;
    tracing::debug!(
        message = "Ingest request timings.",
        read_ms = t_read.as_millis(),
        parsed_ms = t_parsed.as_millis(),
        durable_ms = t_start.elapsed().as_millis(),
        records = total
    );
    if nothing {
        let why = if skipped > 0 {
            format!("no record could be read ({skipped} bad; see errors)")
        } else {
            "the body holds no record".to_owned()
        };
        return Ok((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": why,
                "accepted": 0,
                "duplicates": 0,
                "skipped": skipped,
                "errors": errors,
                "batch": null,
            })),
        )
            .into_response());
    }
    Ok((
        StatusCode::OK,
        axum::Json(json!({
            "accepted": total,
            "duplicates": appended.duplicates,
            "skipped": skipped,
            "errors": errors,
            "batch": appended.batch,
        })),
    )
        .into_response())
}
