//! Graph's audit lists: `$filter` on time (and sign-in event type), `$top`, `$skiptoken`
//! paging through `@odata.nextLink`, newest first.

use axum::extract::{RawQuery, State as Ax};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use stormwatch_core::Timestamp;

use super::routes::{authorize, graph_error, json_response, lock, param, params, throttled};
use super::{Audience, Shared};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    SignIns,
    SignInsBeta,
    DirectoryAudits,
}

struct Filter {
    ge: Option<Timestamp>,
    le: Option<Timestamp>,
    event_type: Option<String>,
}

fn parse_filter(text: &str, field: &str) -> Result<Filter, String> {
    let mut f = Filter {
        ge: None,
        le: None,
        event_type: None,
    };
    for clause in text.split(" and ") {
        let c = clause
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        if let Some(rest) = c.strip_prefix("signInEventTypes/any(t: t eq '") {
            f.event_type = Some(rest.trim_end_matches(')').trim_end_matches('\'').to_owned());
            continue;
        }
        let parts: Vec<&str> = c.split_whitespace().collect();
        match parts.as_slice() {
            [fld, op, value] if *fld == field => {
                let t = Timestamp::parse(value).map_err(|e| format!("{value}: {e}"))?;
                match *op {
                    "ge" => f.ge = Some(t),
                    "le" => f.le = Some(t),
                    "gt" => f.ge = Some(t.add_seconds(0)),
                    "lt" => f.le = Some(Timestamp::from_nanos(t.nanos() - 1)),
                    _ => return Err(format!("operator {op}")),
                }
            }
            _ => return Err(format!("clause {c:?}")),
        }
    }
    Ok(f)
}

pub(super) async fn graph_list(
    Ax(st): Ax<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    list: List,
) -> Response {
    let mut s = lock(&st);
    let tenant = match authorize(&mut s, &headers, Audience::Graph) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let p = params(q.as_deref());
    let field = if list == List::DirectoryAudits {
        "activityDateTime"
    } else {
        "createdDateTime"
    };
    let filter = match param(&p, "$filter").map(|f| parse_filter(f, field)) {
        Some(Ok(f)) => f,
        Some(Err(e)) => {
            s.violations.push(format!("$filter not understood: {e}"));
            return graph_error(
                &mut s,
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid filter clause",
            );
        }
        None => Filter {
            ge: None,
            le: None,
            event_type: None,
        },
    };
    let source = match (list, filter.event_type.as_deref()) {
        (List::DirectoryAudits, _) => "directoryAudits",
        (List::SignInsBeta, Some("nonInteractiveUser")) => "nonInteractiveSignIns",
        (List::SignIns, Some("nonInteractiveUser")) => {
            s.violations
                .push("non-interactive sign-ins asked of v1.0".to_owned());
            "nonInteractiveSignIns"
        }
        _ => "signIns",
    };
    if s.scenario.inject.forbidden.contains(source) {
        return graph_error(
            &mut s,
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        );
    }
    if s.scenario.inject.non_premium && list != List::DirectoryAudits {
        return graph_error(
            &mut s,
            StatusCode::FORBIDDEN,
            "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
            "Neither tenant is B2C or tenant doesn't have premium license",
        );
    }
    if let Some(top) = param(&p, "$top") {
        match top.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => {}
            _ => {
                s.violations.push(format!("$top {top}"));
                return graph_error(
                    &mut s,
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    "Invalid $top",
                );
            }
        }
    }
    if s.throttle_left > 0 {
        s.throttle_left -= 1;
        return throttled(&s);
    }
    let Some(t) = s.scenario.tenants.iter().find(|t| t.id == tenant) else {
        return graph_error(&mut s, StatusCode::NOT_FOUND, "NotFound", "tenant");
    };
    let data = match source {
        "directoryAudits" => &t.directory_audits,
        "nonInteractiveSignIns" => &t.non_interactive,
        _ => &t.sign_ins,
    };
    let mut rows: Vec<(Timestamp, Value)> = data
        .iter()
        .filter_map(|r| {
            let at = Timestamp::parse(r[field].as_str()?).ok()?;
            let inside = filter.ge.is_none_or(|g| at >= g) && filter.le.is_none_or(|l| at <= l);
            inside.then(|| (at, r.clone()))
        })
        .collect();
    // Newest first, as the sign-in list documents.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    let offset: usize = param(&p, "$skiptoken")
        .and_then(|t| t.strip_prefix('o'))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let size = s.scenario.page_size.max(1);
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(size)
        .map(|r| r.1.clone())
        .collect();
    let path = match list {
        List::SignIns => "/v1.0/auditLogs/signIns",
        List::SignInsBeta => "/beta/auditLogs/signIns",
        List::DirectoryAudits => "/v1.0/auditLogs/directoryAudits",
    };
    let mut body = json!({
        "@odata.context": format!("https://graph.microsoft.com{}/$metadata#auditLogs", &path[..path[1..].find('/').map_or(0, |i| i + 1)]),
        "value": page,
    });
    if offset + size < rows.len() {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in p.iter().filter(|(k, _)| k != "$skiptoken") {
            next.append_pair(k, v);
        }
        next.append_pair("$skiptoken", &format!("o{}", offset + size));
        let host = if s.scenario.inject.foreign_next_link {
            "https://graph.example.net".to_owned()
        } else {
            s.base.clone()
        };
        body["@odata.nextLink"] = json!(format!("{host}{path}?{}", next.finish()));
    }
    s.served
        .entry((tenant, source.to_owned()))
        .or_default()
        .extend(page_values(&body));
    json_response(StatusCode::OK, &body)
}

pub(super) fn page_values(body: &Value) -> Vec<Value> {
    body["value"].as_array().cloned().unwrap_or_default()
}
