//! CSV outputs: detections, impact per message, impact per mailbox.
//!
//! Every text cell goes through [`cell`]: values starting with `=`, `+`, `-`, `@`, tab or
//! carriage return get a leading apostrophe so that a spreadsheet shows them as text.

use std::borrow::Borrow;
use std::io::Write;

use stormwatch_core::{Detection, ImpactReport, Incident, IncidentIndex, Limit, LimitKind};

use crate::error::ReportError;
use crate::text::{cell, ts};

/// Location of each detection listed in the `events` cell, at most.
const MAX_EVENTS_IN_CELL: usize = 20;

fn writer(w: &mut dyn Write) -> csv::Writer<&mut dyn Write> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(w)
}

fn row<const N: usize>(
    wr: &mut csv::Writer<&mut dyn Write>,
    cells: [&str; N],
) -> Result<(), ReportError> {
    wr.write_record(cells.iter().map(|c| cell(c)))?;
    Ok(())
}

/// Write detections already in output order, each with the incident it belongs to.
pub(crate) fn write_detections_csv<D, E>(
    w: &mut dyn Write,
    sorted: impl Iterator<Item = Result<D, E>>,
    index: &IncidentIndex,
) -> Result<(), ReportError>
where
    D: Borrow<Detection>,
    ReportError: From<E>,
{
    let mut wr = writer(w);
    row(
        &mut wr,
        [
            "timestamp",
            "level",
            "rule_id",
            "rule_title",
            "source",
            "tenant",
            "user",
            "mailbox",
            "ip",
            "session_id",
            "app_id",
            "records",
            "events",
            "explanation",
            "tags",
            "incident_id",
        ],
    )?;
    for d in sorted {
        let d = d?;
        let d = d.borrow();
        let mut events: Vec<String> = d
            .events
            .iter()
            .take(MAX_EVENTS_IN_CELL)
            .map(|l| match &l.record_id {
                Some(id) => format!("{l} ({id})"),
                None => l.to_string(),
            })
            .collect();
        if d.events.len() > MAX_EVENTS_IN_CELL {
            events.push(format!("… {} more", d.events.len() - MAX_EVENTS_IN_CELL));
        }
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        row(
            &mut wr,
            [
                &d.timestamp.to_string(),
                d.level.as_str(),
                &d.rule_id,
                &d.rule_title,
                &d.source.to_string(),
                &o(&d.tenant),
                &o(&d.user),
                &o(&d.mailbox),
                &o(&d.ip),
                &o(&d.session_id),
                &o(&d.app_id),
                &d.events.len().to_string(),
                &events.join("; "),
                &d.explanation,
                &d.tags.join("; "),
                index.find(d).unwrap_or(""),
            ],
        )?;
    }
    wr.flush()?;
    Ok(())
}

/// One row per incident: what it is, when, and every name it touched.
pub(crate) fn write_incidents_csv(
    w: &mut dyn Write,
    incidents: &[Incident],
) -> Result<(), ReportError> {
    let mut wr = writer(w);
    row(
        &mut wr,
        [
            "id",
            "level",
            "score",
            "first",
            "last",
            "title",
            "tenants",
            "domains",
            "mailboxes",
            "users",
            "ips",
            "sessions",
            "apps",
            "reasons",
            "rules",
            "detections",
            "records",
        ],
    )?;
    for i in incidents {
        let reasons: Vec<String> = i
            .reasons
            .iter()
            .map(|r| format!("{} {}: {}", r.level, r.rule_title, r.explanation))
            .collect();
        let rules: Vec<String> = i
            .rules
            .iter()
            .map(|r| format!("{} ({} {})", r.rule_id, r.detections, r.level))
            .collect();
        row(
            &mut wr,
            [
                &i.id,
                i.level.as_str(),
                &i.score.to_string(),
                &i.first.to_string(),
                &i.last.to_string(),
                &i.title,
                &i.tenants.join("; "),
                &i.domains().join("; "),
                &i.mailboxes.join("; "),
                &i.users.join("; "),
                &i.ips.join("; "),
                &i.sessions.join("; "),
                &i.apps.join("; "),
                &reasons.join(" | "),
                &rules.join("; "),
                &i.detections.len().to_string(),
                &i.records.to_string(),
            ],
        )?;
    }
    wr.flush()?;
    Ok(())
}

/// Every limit of a report with where it applies: (scope, tenant id, organisation, mailbox,
/// limit); scope is `input`, `organization` or `mailbox`.
fn every_limit(r: &ImpactReport) -> Vec<(&'static str, &str, String, &str, &Limit)> {
    let mut v: Vec<(&'static str, &str, String, &str, &Limit)> = r
        .limits
        .iter()
        .map(|l| ("input", "", String::new(), "", l))
        .collect();
    for o in &r.organizations {
        let org = o.name.clone().unwrap_or_default();
        v.extend(
            o.limits
                .iter()
                .map(|l| ("organization", o.tenant_id.as_str(), org.clone(), "", l)),
        );
        for m in &o.mailboxes {
            v.extend(m.limits.iter().map(|l| {
                (
                    "mailbox",
                    o.tenant_id.as_str(),
                    org.clone(),
                    m.mailbox.as_str(),
                    l,
                )
            }));
        }
    }
    v
}

/// `kind from → to: detail` (the window when there is one).
fn limit_text(l: &Limit) -> String {
    let window = match (l.from, l.to) {
        (None, None) => String::new(),
        (f, t) => format!(" {} → {}", ts(f), ts(t)),
    };
    format!("{}{window}: {}", l.kind.as_str(), l.detail)
}

/// Per message: one row per message read, and one per folder exposed whole by a Sync; then one
/// row per limit of the evidence (the input's, each organisation's, each mailbox's), so that a
/// reader of this file alone sees what the logs cannot show. Message rows leave the `limit_*`
/// columns empty; limit rows leave the message columns empty.
pub(crate) fn write_impact_csv(w: &mut dyn Write, r: &ImpactReport) -> Result<(), ReportError> {
    let mut wr = writer(w);
    row(
        &mut wr,
        [
            "tenant_id",
            "organization",
            "mailbox",
            "folder",
            "whole_folder",
            "internet_message_id",
            "subject",
            "size_bytes",
            "first_access",
            "last_access",
            "access_count",
            "limit_scope",
            "limit_kind",
            "limit_from",
            "limit_to",
            "limit_detail",
        ],
    )?;
    for o in &r.organizations {
        let org = o.name.clone().unwrap_or_default();
        for m in &o.mailboxes {
            for f in &m.folders {
                let whole = if f.whole_folder { "true" } else { "false" };
                if f.messages.is_empty() && f.whole_folder {
                    row(
                        &mut wr,
                        [
                            &o.tenant_id,
                            &org,
                            &m.mailbox,
                            &f.path,
                            whole,
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                            "",
                        ],
                    )?;
                }
                for msg in &f.messages {
                    row(
                        &mut wr,
                        [
                            &o.tenant_id,
                            &org,
                            &m.mailbox,
                            &f.path,
                            whole,
                            &msg.internet_message_id,
                            msg.subject.as_deref().unwrap_or(""),
                            &msg.size_bytes.map(|s| s.to_string()).unwrap_or_default(),
                            &ts(msg.first_access),
                            &ts(msg.last_access),
                            &msg.access_count.to_string(),
                            "",
                            "",
                            "",
                            "",
                            "",
                        ],
                    )?;
                }
            }
        }
    }
    for (scope, tenant, org, mailbox, l) in every_limit(r) {
        row(
            &mut wr,
            [
                tenant,
                &org,
                mailbox,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                scope,
                l.kind.as_str(),
                &ts(l.from),
                &ts(l.to),
                &l.detail,
            ],
        )?;
    }
    wr.flush()?;
    Ok(())
}

/// Does a mailbox carry a limit that means "presume exposed / not observable"?
pub(crate) fn presumed_exposed(m: &stormwatch_core::impact::MailboxImpact) -> bool {
    m.limits
        .iter()
        .any(|l| matches!(l.kind, LimitKind::Throttled | LimitKind::NoMailAudit))
}

pub(crate) fn write_mailbox_csv(w: &mut dyn Write, r: &ImpactReport) -> Result<(), ReportError> {
    let mut wr = writer(w);
    row(
        &mut wr,
        [
            "tenant_id",
            "organization",
            "mailbox",
            "first_access",
            "last_access",
            "messages",
            "bytes",
            "whole_folders",
            "whole_folder_paths",
            "unlisted_binds",
            "records",
            "sessions",
            "ips",
            "apps",
            "presumed_exposed",
            "limits",
            "limit_details",
        ],
    )?;
    for o in &r.organizations {
        let org = o.name.clone().unwrap_or_default();
        for m in &o.mailboxes {
            let whole: Vec<&str> = m
                .folders
                .iter()
                .filter(|f| f.whole_folder)
                .map(|f| f.path.as_str())
                .collect();
            let mut kinds: Vec<&str> = m.limits.iter().map(|l| l.kind.as_str()).collect();
            kinds.dedup();
            let details: Vec<String> = m.limits.iter().map(limit_text).collect();
            row(
                &mut wr,
                [
                    &o.tenant_id,
                    &org,
                    &m.mailbox,
                    &ts(m.first_access),
                    &ts(m.last_access),
                    &m.messages.to_string(),
                    &m.bytes.to_string(),
                    &whole.len().to_string(),
                    &whole.join("; "),
                    &m.unlisted_binds.to_string(),
                    &m.records.to_string(),
                    &m.sessions.to_string(),
                    &m.ips.to_string(),
                    &m.apps.to_string(),
                    if presumed_exposed(m) { "true" } else { "false" },
                    &kinds.join("; "),
                    &details.join(" | "),
                ],
            )?;
        }
    }
    // The organisations' and the input's own limits, one row each with no mailbox.
    for (scope, tenant, org, _, l) in every_limit(r) {
        if scope == "mailbox" {
            continue;
        }
        row(
            &mut wr,
            [
                tenant,
                &org,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                l.kind.as_str(),
                &limit_text(l),
            ],
        )?;
    }
    wr.flush()?;
    Ok(())
}
