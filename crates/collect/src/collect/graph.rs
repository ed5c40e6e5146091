//! Microsoft Graph audit lists: `/auditLogs/signIns` (v1.0: interactive sign-ins; beta with
//! `signInEventTypes/any(t: t eq 'nonInteractiveUser')`: non-interactive ones) and
//! `/auditLogs/directoryAudits`, filtered on time per window and read page by page through
//! `@odata.nextLink`.

use std::collections::HashSet;
use std::sync::Arc;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use stormwatch_core::Timestamp;
use url::Url;

use super::window::{Tenant, Work};
use crate::cloud::{self, Endpoints};
use crate::error::{ApiError, CollectError};
use crate::http::Body;
use crate::manifest::WindowRecord;
use crate::plan::Window;
use crate::records;
use crate::source::Source;
use crate::store::spool::Spool;

/// Entra keeps sign-in and audit logs 30 days with Entra ID P1/P2 (7 days without).
const ENTRA_DAYS: i64 = 30;
const RETENTION: &str =
    "past the 30 days Entra ID keeps sign-in and audit logs (7 days without Entra ID P1/P2)";

/// Pages of one window followed before the paging is taken as broken.
pub(crate) const MAX_PAGES: usize = 100_000;

/// Characters left as they are in a query value (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The first page of a window: the list, its time field, and the `$filter` for `[from, to)`
/// (the APIs take `ge` and `le`, so the end is the last 100 ns tick before `to`).
pub(crate) fn first_page(base: &Url, source: Source, w: Window) -> Url {
    let (path, field, extra, top) = match source {
        Source::NonInteractiveSignIns => (
            "/beta/auditLogs/signIns",
            "createdDateTime",
            " and signInEventTypes/any(t: t eq 'nonInteractiveUser')",
            Some(1000),
        ),
        Source::DirectoryAudits => (
            "/v1.0/auditLogs/directoryAudits",
            "activityDateTime",
            "",
            None,
        ),
        _ => ("/v1.0/auditLogs/signIns", "createdDateTime", "", Some(1000)),
    };
    let last = Timestamp::from_nanos(w.to.nanos() - 100);
    let filter = format!("{field} ge {} and {field} le {last}{extra}", w.from);
    let mut q = format!("$filter={}", utf8_percent_encode(&filter, QUERY_VALUE));
    if let Some(n) = top {
        q.push_str(&format!("&$top={n}"));
    }
    let mut url = Endpoints::join(base, path);
    url.set_query(Some(&q));
    url
}

/// Collect one window of a Graph list.
pub(crate) async fn window(
    t: &Arc<Tenant>,
    source: Source,
    w: Window,
) -> Result<(Spool, WindowRecord), CollectError> {
    let now = t.settings.now;
    let mut work = Work::start(t, source, w)?;
    let kept = now.add_seconds(-ENTRA_DAYS * 86_400);
    if w.to <= kept {
        work.none_exists(RETENTION.to_owned(), true);
        return Ok(work.finish(now));
    }
    if w.from < kept {
        work.none_exists(format!("the start of the window is {}", RETENTION), false);
    }
    settle(&mut work, t, source, w, now);
    let first = first_page(&t.spec.endpoints.graph, source, w);
    if let Some((reason, e)) = pages(t, source, first, &mut work).await? {
        work.fail(reason, Some(&e));
    }
    Ok(work.finish(now))
}

/// Windows too recent to be final are `partial`.
pub(crate) fn settle(work: &mut Work, t: &Tenant, source: Source, w: Window, now: Timestamp) {
    let settle = t.settings.settle(source);
    if w.to > now {
        work.not_yet("the window had not ended when it was collected".to_owned());
    } else if w.to > now.add_seconds(-settle) {
        work.not_yet(format!(
            "collected within {} minutes of its end: {} records may still arrive",
            settle / 60,
            source.label()
        ));
    }
}

/// Read every page from `url` on, spooling the records. `Ok(Some(..))`: the API failure that
/// stopped the paging (what came before it is kept).
pub(crate) async fn pages(
    t: &Tenant,
    source: Source,
    mut url: Url,
    work: &mut Work,
) -> Result<Option<(String, ApiError)>, CollectError> {
    let mut seen = HashSet::new();
    let mut n = 0usize;
    loop {
        n += 1;
        if !seen.insert(url.to_string()) || n > MAX_PAGES {
            let e = ApiError::Invalid("@odata.nextLink goes round in circles".to_owned());
            return Ok(Some((page_reason(n, &e), e)));
        }
        let reply = t
            .http
            .send(
                Method::GET,
                &url,
                Body::Empty,
                Some(&t.graph),
                &t.redact,
                &mut work.tally,
            )
            .await;
        let parsed = match reply.and_then(|r| records::parse_page(&r.body, source)) {
            Ok(p) => p,
            Err(e) => return Ok(Some((page_reason(n, &e), e))),
        };
        work.rec.listed += 1;
        work.rec.fetched += 1;
        work.got();
        let next = parsed.next_link.clone();
        work.take(t, parsed)?;
        match next {
            Some(link) => {
                match cloud::follow(
                    &link,
                    &t.spec.endpoints.graph,
                    t.spec.endpoints.cloud.graph(),
                ) {
                    Ok(u) => url = u,
                    Err(e) => return Ok(Some((page_reason(n + 1, &e), e))),
                }
            }
            None => return Ok(None),
        }
    }
}

fn page_reason(n: usize, e: &ApiError) -> String {
    if n == 1 {
        format!("listing failed: {e}")
    } else {
        format!("page {n} failed: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_follow_the_documented_form() {
        let base = Url::parse("https://graph.microsoft.com").unwrap();
        let w = Window {
            from: Timestamp::parse("2023-06-03T10:00:00Z").unwrap(),
            to: Timestamp::parse("2023-06-03T11:00:00Z").unwrap(),
        };
        let u = first_page(&base, Source::NonInteractiveSignIns, w);
        assert_eq!(u.path(), "/beta/auditLogs/signIns");
        let filter: String = u
            .query_pairs()
            .find(|(k, _)| k == "$filter")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(
            filter,
            "createdDateTime ge 2023-06-03T10:00:00Z and createdDateTime le 2023-06-03T10:59:59.9999999Z and signInEventTypes/any(t: t eq 'nonInteractiveUser')"
        );
        assert!(u.query().unwrap().contains("%20ge%20"));
        let d = first_page(&base, Source::DirectoryAudits, w);
        assert_eq!(d.path(), "/v1.0/auditLogs/directoryAudits");
        assert!(
            d.query()
                .unwrap()
                .starts_with("$filter=activityDateTime%20ge")
        );
    }
}
