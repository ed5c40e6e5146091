//! The Office 365 Management Activity API: subscriptions per content type, content listed per
//! window (`/subscriptions/content`, `NextPageUri` pages), each content blob fetched; the
//! `PublisherIdentifier` on every request, the blob URIs included.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use stormwatch_core::Timestamp;
use url::Url;

use super::window::{Tenant, Work};
use crate::cloud::{self, Endpoints};
use crate::error::{ApiError, CollectError};
use crate::http::{Body, Tally};
use crate::manifest::WindowRecord;
use crate::plan::{self, Window};
use crate::records;
use crate::source::Source;
use crate::store::journal::{Entry, SubscriptionEntry};
use crate::store::spool::Spool;

/// Pages of one listing followed before the listing is taken as broken.
const MAX_PAGES: usize = 10_000;

/// A subscription's state for this run.
#[derive(Debug, Clone)]
pub(crate) enum Subscription {
    /// Enabled; `started_at` when this collector started it (now or in an earlier run).
    Ready { started_at: Option<Timestamp> },
    /// Could not be listed or started.
    Failed(String),
}

#[derive(Deserialize)]
struct Listed {
    #[serde(rename = "contentType", default)]
    content_type: Option<String>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Content {
    #[serde(rename = "contentId")]
    id: String,
    #[serde(rename = "contentUri")]
    uri: String,
    #[serde(rename = "contentCreated", default)]
    created: Option<String>,
}

fn feed(t: &Tenant, path: &str) -> Url {
    Endpoints::join(
        &t.spec.endpoints.manage,
        &format!("/api/v1.0/{}/activity/feed{path}", t.spec.tenant),
    )
}

/// Add `PublisherIdentifier` unless the URL has it.
fn with_publisher(mut url: Url, publisher: &str) -> Url {
    if !url.query_pairs().any(|(k, _)| k == "PublisherIdentifier") {
        url.query_pairs_mut()
            .append_pair("PublisherIdentifier", publisher);
    }
    url
}

/// Make sure each content type has an enabled subscription, starting the missing ones.
pub(crate) async fn subscriptions(
    t: &Tenant,
    sources: &[Source],
    earlier: &HashMap<Source, Timestamp>,
) -> Result<HashMap<Source, Subscription>, CollectError> {
    let mut out = HashMap::new();
    let mut tally = Tally::default();
    let list_url = with_publisher(feed(t, "/subscriptions/list"), &t.spec.publisher_id);
    let listed = t
        .http
        .send(
            Method::GET,
            &list_url,
            Body::Empty,
            Some(&t.manage),
            &t.redact,
            &mut tally,
        )
        .await
        .and_then(|r| {
            serde_json::from_slice::<Vec<Listed>>(&r.body).map_err(|e| {
                ApiError::Invalid(format!("subscriptions/list is not a JSON array: {e}"))
            })
        });
    let enabled: HashSet<String> = match &listed {
        Ok(l) => l
            .iter()
            .filter(|s| {
                s.status
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case("enabled"))
            })
            .filter_map(|s| s.content_type.clone())
            .map(|c| c.to_ascii_lowercase())
            .collect(),
        Err(_) => HashSet::new(),
    };
    for &s in sources {
        if let Err(e) = &listed {
            out.insert(
                s,
                Subscription::Failed(format!("listing the subscriptions failed: {e}")),
            );
            continue;
        }
        if enabled.contains(&s.name().to_ascii_lowercase()) {
            out.insert(
                s,
                Subscription::Ready {
                    started_at: earlier.get(&s).copied(),
                },
            );
            continue;
        }
        let mut url = feed(t, "/subscriptions/start");
        url.query_pairs_mut().append_pair("contentType", s.name());
        let url = with_publisher(url, &t.spec.publisher_id);
        let started = t
            .http
            .send(
                Method::POST,
                &url,
                Body::Empty,
                Some(&t.manage),
                &t.redact,
                &mut tally,
            )
            .await;
        match started {
            Ok(_) => {
                let at = crate::options::now();
                let store = Arc::clone(&t.store);
                let entry = Entry::Subscription(SubscriptionEntry {
                    tenant: t.spec.tenant.clone(),
                    source: s.name().to_owned(),
                    started_at: at,
                });
                tokio::task::spawn_blocking(move || store.note(entry))
                    .await
                    .map_err(|e| CollectError::Invalid(format!("a worker stopped: {e}")))??;
                out.insert(
                    s,
                    Subscription::Ready {
                        started_at: Some(at),
                    },
                );
            }
            Err(e) => {
                out.insert(
                    s,
                    Subscription::Failed(format!("the subscription could not be started: {e}")),
                );
            }
        }
    }
    Ok(out)
}

/// Collect one window of one content type. `fetched` holds the content ids fetched by earlier
/// windows of this run (a blob listed again is not fetched again).
pub(crate) async fn window(
    t: &Arc<Tenant>,
    source: Source,
    w: Window,
    sub: &Subscription,
    fetched: &mut HashSet<String>,
) -> Result<(Spool, WindowRecord), CollectError> {
    let now = t.settings.now;
    let mut work = Work::start(t, source, w)?;
    // The seven days move on while a long collection runs.
    let floor = plan::activity_floor(crate::options::now());
    if w.to <= floor {
        work.none_exists(
            format!(
                "past the Activity API's {}-day availability (it lists content from {} on)",
                plan::ACTIVITY_DAYS,
                floor
            ),
            true,
        );
        return Ok(work.finish(now));
    }
    let from = w.from.max(floor);
    if from > w.from {
        work.none_exists(
            format!(
                "the start of the window is past the Activity API's {}-day availability",
                plan::ACTIVITY_DAYS
            ),
            false,
        );
    }
    let to = w.to.min(now);
    if to < w.to {
        work.not_yet("the window had not ended when it was collected".to_owned());
    }
    match sub {
        Subscription::Failed(reason) => {
            work.fail(reason.clone(), None);
            return Ok(work.finish(now));
        }
        Subscription::Ready {
            started_at: Some(at),
        } if *at > w.from => {
            work.none_exists(
                format!(
                    "the {} subscription was started by this collector at {at}: the Activity API has no content from before a subscription",
                    source.name()
                ),
                *at >= w.to,
            );
        }
        Subscription::Ready { .. } => {}
    }
    if from >= to {
        return Ok(work.finish(now));
    }

    // What was listed before a listing failure is still fetched.
    let (listed, list_error) = list(t, source, from, to, &mut work).await;
    if let Some(e) = list_error {
        work.fail(format!("listing content failed: {e}"), Some(&e));
    }
    let mut blobs: Vec<Content> = Vec::new();
    let mut this_window = HashSet::new();
    for c in listed {
        work.rec.listed += 1;
        if !this_window.insert(c.id.clone()) || fetched.contains(&c.id) {
            work.rec.duplicate_blobs += 1;
            continue;
        }
        blobs.push(c);
    }
    // Listed in the order content became available, which is not the order of the events
    // inside: written in (created, id) order so that a run gives the same files every time.
    blobs.sort_by(|a, b| (&a.created, &a.id).cmp(&(&b.created, &b.id)));

    let chunk = t.settings.concurrency.max(1) * 2;
    for group in blobs.chunks(chunk) {
        let mut handles = Vec::with_capacity(group.len());
        for c in group {
            let t2 = Arc::clone(t);
            let c2 = c.clone();
            handles.push(tokio::spawn(async move {
                let mut tally = Tally::default();
                let r = fetch_blob(&t2, source, &c2, &mut tally).await;
                (r, tally)
            }));
        }
        for (c, h) in group.iter().zip(handles) {
            let (result, tally) = h
                .await
                .map_err(|e| CollectError::Invalid(format!("a worker stopped: {e}")))?;
            work.tally.add(tally);
            match result {
                Ok(parsed) => {
                    work.got();
                    work.rec.fetched += 1;
                    fetched.insert(c.id.clone());
                    work.take(t, parsed)?;
                }
                Err(e) if e.code() == Some("AF20051") => {
                    work.rec.expired += 1;
                    work.fail(
                        format!("content blob {} had expired when fetched (AF20051)", c.id),
                        Some(&e),
                    );
                }
                Err(e) => work.fail(format!("content blob {}: {e}", c.id), Some(&e)),
            }
        }
    }
    Ok(work.finish(now))
}

/// Every page of the content listing of `[from, to)`, and the error that stopped it early.
async fn list(
    t: &Tenant,
    source: Source,
    from: Timestamp,
    to: Timestamp,
    work: &mut Work,
) -> (Vec<Content>, Option<ApiError>) {
    let mut out = Vec::new();
    let err = list_into(t, source, from, to, work, &mut out).await.err();
    (out, err)
}

async fn list_into(
    t: &Tenant,
    source: Source,
    from: Timestamp,
    to: Timestamp,
    work: &mut Work,
    out: &mut Vec<Content>,
) -> Result<(), ApiError> {
    let mut url = feed(t, "/subscriptions/content");
    url.query_pairs_mut()
        .append_pair("contentType", source.name())
        .append_pair("startTime", &plan::activity_time(from))
        .append_pair("endTime", &plan::activity_time(to));
    let mut url = with_publisher(url, &t.spec.publisher_id);
    let mut seen = HashSet::new();
    loop {
        if !seen.insert(url.to_string()) || seen.len() > MAX_PAGES {
            return Err(ApiError::Invalid(format!(
                "NextPageUri goes round in circles (page {})",
                seen.len()
            )));
        }
        let reply = t
            .http
            .send(
                Method::GET,
                &url,
                Body::Empty,
                Some(&t.manage),
                &t.redact,
                &mut work.tally,
            )
            .await?;
        let page: Vec<Content> = serde_json::from_slice(&reply.body).map_err(|e| {
            ApiError::Invalid(format!(
                "the content listing is not a JSON array of content: {e}"
            ))
        })?;
        out.extend(page);
        match reply.next_page {
            Some(next) if !next.trim().is_empty() => {
                url = with_publisher(
                    cloud::follow(
                        &next,
                        &t.spec.endpoints.manage,
                        t.spec.endpoints.cloud.manage(),
                    )?,
                    &t.spec.publisher_id,
                );
            }
            _ => return Ok(()),
        }
    }
}

async fn fetch_blob(
    t: &Tenant,
    source: Source,
    c: &Content,
    tally: &mut Tally,
) -> Result<records::Parsed, ApiError> {
    let url = with_publisher(
        cloud::follow(
            &c.uri,
            &t.spec.endpoints.manage,
            t.spec.endpoints.cloud.manage(),
        )?,
        &t.spec.publisher_id,
    );
    let reply = t
        .http
        .send(
            Method::GET,
            &url,
            Body::Empty,
            Some(&t.manage),
            &t.redact,
            tally,
        )
        .await?;
    records::parse_blob(&reply.body, source)
}
