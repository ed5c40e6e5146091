//! The dashboard: server-rendered pages over the store, behind a login.
//!
//! - Pages ([`pages`]): incidents (filtered, most severe and newest first, counts by level,
//!   refreshed by a small script), one incident (its sentence, the mailboxes, users, IPs,
//!   sessions and apps it names, an SVG timeline of its alerts, each alert's explanation and
//!   evidence records, triage actions), its impact ([`impact`]) as `stormwatch impact` makes
//!   it, a mailbox, ingest health, rules and analytics, and a JWT checker.
//! - Accounts ([`session`]): users with roles (viewer, analyst, admin, as API tokens), a
//!   session cookie (HttpOnly, SameSite=Strict, Secure under TLS), a CSRF token checked on
//!   every state-changing request made with the cookie, a rate-limited login.
//! - Safe by construction: every value goes through minijinja's HTML autoescape; no inline
//!   script or style (the CSP forbids them); assets are embedded in the binary.

pub(crate) mod impact;
pub(crate) mod openapi;
pub(crate) mod pages;
pub(crate) mod session;
mod timeline;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use stormwatch_sigma::RuleInfo;

use crate::api::AppState;

pub(crate) use session::cookie_principal;

/// What the dashboard keeps while the service runs.
pub(crate) struct Dash {
    templates: minijinja::Environment<'static>,
    pub(crate) limiter: session::Limiter,
    /// Cookies are marked `Secure` (the service speaks TLS).
    pub(crate) secure: bool,
    /// The Sigma rules loaded.
    pub(crate) rules: Arc<Vec<RuleInfo>>,
}

/// The templates, embedded.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../assets/templates/base.html"),
    ),
    (
        "login.html",
        include_str!("../../assets/templates/login.html"),
    ),
    (
        "message.html",
        include_str!("../../assets/templates/message.html"),
    ),
    (
        "incidents.html",
        include_str!("../../assets/templates/incidents.html"),
    ),
    (
        "incidents_live.html",
        include_str!("../../assets/templates/incidents_live.html"),
    ),
    (
        "incident.html",
        include_str!("../../assets/templates/incident.html"),
    ),
    (
        "impact.html",
        include_str!("../../assets/templates/impact.html"),
    ),
    (
        "mailbox.html",
        include_str!("../../assets/templates/mailbox.html"),
    ),
    (
        "health.html",
        include_str!("../../assets/templates/health.html"),
    ),
    (
        "rules.html",
        include_str!("../../assets/templates/rules.html"),
    ),
    (
        "tokens.html",
        include_str!("../../assets/templates/tokens.html"),
    ),
];

/// Static files, embedded: name, content type, bytes.
const STATIC: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/static/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/static/app.js"),
    ),
];

impl Dash {
    /// With the rules loaded and whether the listener speaks TLS.
    pub(crate) fn new(rules: Vec<RuleInfo>, secure: bool) -> Dash {
        let mut env = minijinja::Environment::new();
        // Escape every value of every `.html` template (minijinja's default for the name).
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, text) in TEMPLATES {
            if let Err(e) = env.add_template(name, text) {
                tracing::error!(message = "A dashboard template does not parse.", template = name, error = %e);
            }
        }
        Dash {
            templates: env,
            limiter: session::Limiter::default(),
            secure,
            rules: Arc::new(rules),
        }
    }

    /// Render a page; a template failure is logged and answered 500.
    pub(crate) fn render(&self, name: &str, ctx: &serde_json::Value) -> Response {
        let out = self
            .templates
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(ctx)));
        match out {
            Ok(html) => html_response(StatusCode::OK, html),
            Err(e) => {
                tracing::error!(message = "A dashboard page failed to render.", template = name, error = %e);
                html_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "<!doctype html><title>Error</title><p>internal error (see the server log)</p>"
                        .to_owned(),
                )
            }
        }
    }
}

pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// The Content Security Policy of every answer: scripts, styles and images only from the
/// service itself, never inline; no framing; forms post only here.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Security headers on every answer (pages and API).
pub(crate) async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn static_file(Path(name): Path<String>) -> Response {
    match STATIC.iter().find(|(n, _, _)| *n == name) {
        Some((_, ctype, bytes)) => (
            [
                (header::CONTENT_TYPE, *ctype),
                (header::CACHE_CONTROL, "private, max-age=300"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

/// The dashboard's routes. `/login` and `/static/…` (the login page and its style and
/// script) are open; every other page needs a session, and every POST its CSRF token.
pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let pages = Router::new()
        .route("/", get(pages::home))
        .route("/incidents", get(pages::incidents))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/status", post(pages::incident_status))
        .route("/incidents/{id}/notes", post(pages::incident_note))
        .route("/incidents/{id}/assign", post(pages::incident_assign))
        .route("/incidents/{id}/impact", get(impact::page))
        .route("/incidents/{id}/impact/download", get(impact::download))
        .route("/mailboxes/{mailbox}", get(pages::mailbox))
        .route("/health", get(pages::health))
        .route("/rules", get(pages::rules))
        .route("/tokens", get(pages::tokens).post(pages::tokens_verify))
        .route("/logout", post(session::logout))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            session::require_session,
        ));
    Router::new()
        .route("/login", get(session::login_page).post(session::login))
        .route("/static/{name}", get(static_file))
        .merge(pages)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_template_parses_and_escapes() {
        let d = Dash::new(Vec::new(), false);
        for (name, _) in TEMPLATES {
            assert!(d.templates.get_template(name).is_ok(), "{name}");
        }
        let html = d
            .templates
            .get_template("message.html")
            .unwrap()
            .render(minijinja::value::Serde(
                serde_json::json!({ "message": "<b>x</b>" }),
            ))
            .unwrap();
        assert!(
            html.contains("&lt;b&gt;x&lt;") && !html.contains("<b>x"),
            "{html}"
        );
    }

    #[test]
    fn the_incidents_list_renders() {
        let d = Dash::new(Vec::new(), false);
        let ctx = serde_json::json!({
            "incidents": [{"id": "i1", "level": "high", "score": 3, "title": "t", "status": "new",
                "mailboxes": ["a@b"], "ips": ["1.2.3.4"], "tenants": ["t1"], "first": "x", "last": "y"}],
            "counts": {"high": 1, "low": 0, "medium": 0, "critical": 0, "informational": 0},
            "truncated": false, "max_listed": 10, "q": {"level": null},
            "levels": ["critical", "high"], "now": "n", "me": {"name": "a", "role": "viewer"}, "csrf": "c",
        });
        let out = d
            .templates
            .get_template("incidents.html")
            .unwrap()
            .render(minijinja::value::Serde(&ctx));
        assert!(out.is_ok(), "{out:?}");
    }
}
