//! `GET /api/openapi.json`: the API described in OpenAPI 3.1, embedded in the binary and
//! checked against the router by the tests (every route documented, every documented route
//! served).

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The document.
pub(crate) const DOCUMENT: &str = include_str!("../../assets/openapi.json");

/// `GET /api/openapi.json`.
pub(crate) async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT).into_response()
}
