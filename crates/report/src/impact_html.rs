//! The impact report as a self-contained HTML page for readers who are not investigators.

use std::collections::BTreeMap;

use stormwatch_core::impact::{MailboxImpact, OrgImpact};
use stormwatch_core::{ImpactReport, Limit, LimitKind};

use crate::chart;
use crate::csv_out::presumed_exposed;
use crate::html::Html;
use crate::style::CSS;
use crate::text::{bytes, thousands, ts_cell, ts_human};

/// Message rows shown per mailbox (the CSV and JSON have all of them).
const MAX_MESSAGE_ROWS: usize = 1000;
/// Coverage rows shown.
const MAX_COVERAGE_ROWS: usize = 3000;

/// Records, `MailItemsAccessed` records and records per workload on one (tenant, day).
type DayCell<'a> = (u64, u64, Vec<(&'a str, u64)>);

/// A label for a limit kind that a manager understands.
pub(crate) fn limit_label(k: LimitKind) -> &'static str {
    match k {
        LimitKind::Throttled => "Auditing throttled",
        LimitKind::NoMailAudit => "No mail-access audit",
        LimitKind::LogGap => "Gap in the logs",
        LimitKind::ParseErrors => "Unreadable records",
        LimitKind::ItemsLost => "Message list lost in export",
        LimitKind::RetentionEdge => "Edge of the export",
        LimitKind::AuditBypass => "Auditing bypassed or disabled",
        LimitKind::NoSignIns => "No sign-in logs",
        LimitKind::Dedup => "Counts are lower bounds",
        LimitKind::NotCollected => "Not collected",
    }
}

/// The headline figures of an impact report, as its executive summary states them (and the
/// command's summary on standard error, so that the two agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImpactTotals {
    /// Organisations with actor activity.
    pub orgs_touched: usize,
    /// Organisations listed whose mail access cannot be observed (no mail-access audit) and
    /// where nothing was seen read.
    pub orgs_unobservable: usize,
    /// Mailboxes seen read (messages, whole folders or unlisted binds).
    pub mailboxes_read: usize,
    /// Mailboxes presumed exposed (throttled or unaudited).
    pub presumed: usize,
    /// Distinct messages read.
    pub messages: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Folders synchronised whole.
    pub whole_folders: usize,
    /// Binds whose messages the record does not list.
    pub unlisted: u64,
}

type Totals = ImpactTotals;

fn org_unobservable(o: &OrgImpact) -> bool {
    o.limits.iter().any(|l| l.kind == LimitKind::NoMailAudit)
        && !o.mailboxes.iter().any(mailbox_read)
}

fn mailbox_read(m: &MailboxImpact) -> bool {
    m.messages > 0 || m.folders.iter().any(|f| f.whole_folder) || m.unlisted_binds > 0
}

/// The headline figures of an impact report.
#[must_use]
pub fn impact_totals(r: &ImpactReport) -> ImpactTotals {
    totals(r)
}

fn totals(r: &ImpactReport) -> Totals {
    let mbs = || r.organizations.iter().flat_map(|o| o.mailboxes.iter());
    Totals {
        orgs_touched: r
            .organizations
            .iter()
            .filter(|o| o.first_access.is_some())
            .count(),
        orgs_unobservable: r
            .organizations
            .iter()
            .filter(|o| org_unobservable(o))
            .count(),
        mailboxes_read: mbs().filter(|m| mailbox_read(m)).count(),
        presumed: mbs().filter(|m| presumed_exposed(m)).count(),
        messages: mbs().map(|m| m.messages).sum(),
        bytes: mbs().map(|m| m.bytes).fold(0, u64::saturating_add),
        whole_folders: mbs()
            .map(|m| m.folders.iter().filter(|f| f.whole_folder).count())
            .sum(),
        unlisted: mbs().map(|m| m.unlisted_binds).fold(0, u64::saturating_add),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", thousands(n), if n == 1 { one } else { many })
}

fn card(h: &mut Html, class: &'static str, n: &str, label: &str) {
    h.open_with("div", &[("class", class)]);
    h.elem_with("div", &[("class", "n")], n);
    h.elem_with("div", &[("class", "l")], label);
    h.close("div");
}

fn status(h: &mut Html, m: &MailboxImpact) {
    let unobservable = m.limits.iter().any(|l| l.kind == LimitKind::NoMailAudit);
    let throttled = m.limits.iter().any(|l| l.kind == LimitKind::Throttled);
    if unobservable {
        h.elem_with("span", &[("class", "badge b-none")], "Not observable");
    } else if throttled {
        h.elem_with("span", &[("class", "badge b-exposed")], "Presumed exposed");
    }
    if mailbox_read(m) {
        if unobservable || throttled {
            h.raw(" ");
        }
        h.elem_with("span", &[("class", "badge b-read")], "Read");
    }
}

pub(crate) fn render(r: &ImpactReport) -> String {
    let mut h = Html::new();
    let tot = totals(r);
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.void(
        "meta",
        &[
            ("name", "viewport"),
            ("content", "width=device-width, initial-scale=1"),
        ],
    );
    h.elem("title", "Mail access impact report");
    h.raw("<style>").raw(CSS).raw("</style></head><body>");

    h.open("header").elem("h1", "Mail access impact report");
    let sub = match (r.window.first, r.window.last) {
        (Some(f), Some(l)) => format!(
            "Actor activity observed from {} to {}",
            ts_human(Some(f)),
            ts_human(Some(l))
        ),
        _ => "No activity of the actor context was observed in the input".to_owned(),
    };
    h.elem("p", &sub).close("header");

    h.open("nav");
    for (href, label) in [
        ("#summary", "Summary"),
        ("#limits", "Limits"),
        ("#timeline", "Timeline"),
        ("#organisations", "Organisations"),
        ("#mailboxes", "Mailboxes"),
        ("#messages", "Messages"),
        ("#actor", "Actor"),
        ("#coverage", "Coverage"),
        ("#method", "Method"),
    ] {
        h.elem_with("a", &[("href", href)], label);
    }
    h.close("nav").open("main");

    summary(&mut h, r, &tot);
    limits(&mut h, r);

    h.open_with("section", &[("id", "timeline")])
        .elem("h2", "Timeline of actor activity");
    let hidden = chart::timeline(&mut h, r);
    if hidden > 0 {
        h.elem_with(
            "p",
            &[("class", "muted")],
            &format!("{hidden} more mailboxes are not drawn; they are in the tables below."),
        );
    }
    h.close("section");

    organisations(&mut h, r);
    mailboxes(&mut h, r);
    messages(&mut h, r);
    actor(&mut h, r);
    coverage(&mut h, r);
    method(&mut h);
    h.close("main");
    h.elem(
        "footer",
        "stormwatch impact report · self-contained: no external resources are loaded",
    );
    h.raw("</body></html>\n");
    h.finish()
}

fn summary(h: &mut Html, r: &ImpactReport, t: &Totals) {
    h.open_with("section", &[("id", "summary")])
        .elem("h2", "Executive summary");
    let lead = match (r.window.first, r.window.last) {
        (Some(f), Some(l)) => {
            let mut s = format!(
                "Between {} and {}, the actor read at least {} ({}) in {} of {}",
                ts_human(Some(f)),
                ts_human(Some(l)),
                plural(t.messages, "message", "messages"),
                bytes(t.bytes),
                plural(t.mailboxes_read as u64, "mailbox", "mailboxes"),
                plural(t.orgs_touched as u64, "organisation", "organisations"),
            );
            if t.whole_folders > 0 {
                s.push_str(&format!(", and synchronised {} whole", plural(t.whole_folders as u64, "folder", "folders")));
            }
            s.push('.');
            s
        }
        _ => "No record of the actor context was found in the input. This does not mean that no mail was read: see what the logs cannot show below.".to_owned(),
    };
    h.elem_with("p", &[("class", "lead")], &lead);
    let mut caveats = Vec::new();
    if t.presumed > 0 {
        caveats.push(format!(
            "{} must be presumed exposed because auditing was throttled or absent while the actor was active.",
            plural(t.presumed as u64, "mailbox", "mailboxes")
        ));
    }
    if t.orgs_unobservable > 0 {
        caveats.push(format!(
            "{} had no mail-access audit at all: reading there cannot be seen, so it cannot be ruled out.",
            plural(t.orgs_unobservable as u64, "organisation", "organisations")
        ));
    }
    if t.unlisted > 0 {
        caveats.push(format!(
            "{} more message reads were counted by Exchange without listing which messages.",
            thousands(t.unlisted)
        ));
    }
    caveats.push(
        "All counts are lower bounds: Exchange records repeated reads within an hour only once."
            .to_owned(),
    );
    h.open("ul");
    for c in &caveats {
        h.elem("li", c);
    }
    h.close("ul");
    h.open_with("div", &[("class", "cards")]);
    card(
        h,
        "card",
        &thousands(t.orgs_touched as u64),
        "organisations with actor activity",
    );
    card(
        h,
        "card",
        &thousands(t.mailboxes_read as u64),
        "mailboxes read",
    );
    card(
        h,
        "card",
        &thousands(t.messages),
        "messages read (at least)",
    );
    card(h, "card", &bytes(t.bytes), "data read (at least)");
    card(
        h,
        "card",
        &thousands(t.whole_folders as u64),
        "folders exposed whole",
    );
    card(
        h,
        if t.presumed > 0 { "card warn" } else { "card" },
        &thousands(t.presumed as u64),
        "mailboxes presumed exposed",
    );
    card(
        h,
        if t.orgs_unobservable > 0 {
            "card bad"
        } else {
            "card"
        },
        &thousands(t.orgs_unobservable as u64),
        "organisations not observable",
    );
    h.close("div").close("section");
}

/// What a kind of limit means, in one or two sentences for a non-specialist.
pub(crate) fn limit_meaning(k: LimitKind) -> &'static str {
    match k {
        LimitKind::Throttled => {
            "After a burst of activity Exchange stops writing message-level records for 24 hours. \
            Anything read in such a window cannot be listed: the mailbox is presumed exposed."
        }
        LimitKind::NoMailAudit => {
            "No MailItemsAccessed record exists for these organisations or mailboxes (no audit \
            licence, auditing off, or missing from the export). Mail reading there cannot be seen, so it cannot be ruled out."
        }
        LimitKind::LogGap => {
            "Whole days without any record inside the period the input covers: nothing that happened \
            on those days can be seen."
        }
        LimitKind::ParseErrors => {
            "Some records could not be read and were skipped; what they recorded is missing."
        }
        LimitKind::ItemsLost => {
            "The export flattened the message lists of some records: those reads are counted but \
            the messages cannot be named."
        }
        LimitKind::RetentionEdge => {
            "The actor's activity reaches the start or the end of the input; it may extend \
            beyond it (older records may have expired)."
        }
        LimitKind::AuditBypass => {
            "An operation in the log may have turned mailbox auditing off or exempted an account."
        }
        LimitKind::NoSignIns => {
            "Without sign-in logs, the actor's sessions could only be linked through mailbox records."
        }
        LimitKind::Dedup => {
            "Exchange records repeated reads of the same item in the same context within an hour only \
            once, so read counts are lower bounds."
        }
        LimitKind::NotCollected => {
            "The collector could not get these windows from Microsoft's APIs (or got only part of \
            them); whatever happened in them is not in the input."
        }
    }
}

/// Rows of one kind shown before the rest is folded away.
const LIMIT_ROWS_SHOWN: usize = 5;

/// Every limit with its scope: the whole input, an organisation, or a mailbox. A limit that
/// is both top-level and on an organisation is listed once, under the organisation.
fn all_limits(r: &ImpactReport) -> Vec<(String, &Limit)> {
    let mut v: Vec<(String, &Limit)> = Vec::new();
    for l in &r.limits {
        let owner = r.organizations.iter().find(|o| o.limits.contains(l));
        let scope = owner.map_or_else(
            || "whole input".to_owned(),
            |o| format!("organisation {}", o.tenant_id),
        );
        v.push((scope, l));
    }
    for o in &r.organizations {
        for l in &o.limits {
            if !r.limits.contains(l) {
                v.push((format!("organisation {}", o.tenant_id), l));
            }
        }
        for m in &o.mailboxes {
            for l in &m.limits {
                v.push((format!("mailbox {}", m.mailbox), l));
            }
        }
    }
    v.sort_by(|a, b| {
        (a.1.kind, a.1.from, &a.0, &a.1.detail).cmp(&(b.1.kind, b.1.from, &b.0, &b.1.detail))
    });
    v
}

fn limit_rows(h: &mut Html, rows: &[(String, &Limit)]) {
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&["Applies to", "From (UTC)", "To (UTC)", "Detail"])
        .open("tbody");
    for (scope, l) in rows {
        h.open("tr");
        h.elem_with("td", &[("class", "scope")], scope);
        h.elem_with("td", &[("class", "t")], &ts_cell(l.from));
        h.elem_with("td", &[("class", "t")], &ts_cell(l.to));
        h.elem("td", &l.detail);
        h.close("tr");
    }
    h.close("tbody").close("table").close("div");
}

fn limits(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "limits"), ("class", "limits")]);
    h.elem("h2", "What the logs cannot show");
    h.elem(
        "p",
        "These limits of the evidence bound every figure above. Where the logs are silent, access is not observable; \
         it is never reported as “not accessed”.",
    );
    let ls = all_limits(r);
    if ls.is_empty() {
        h.elem("p", "No limit of the evidence was found.");
        h.close("section");
        return;
    }
    let mut by_kind: BTreeMap<LimitKind, Vec<(String, &Limit)>> = BTreeMap::new();
    for (scope, l) in ls {
        by_kind.entry(l.kind).or_default().push((scope, l));
    }
    for (kind, rows) in &by_kind {
        h.open_with("div", &[("class", "limit")]);
        h.open("h3").text(limit_label(*kind));
        h.elem_with(
            "span",
            &[("class", "count")],
            &format!(" · {}", plural(rows.len() as u64, "case", "cases")),
        );
        h.close("h3");
        h.elem_with("p", &[("class", "meaning")], limit_meaning(*kind));
        let (shown, rest) = rows.split_at(rows.len().min(LIMIT_ROWS_SHOWN));
        limit_rows(h, shown);
        if !rest.is_empty() {
            h.open("details")
                .elem("summary", &format!("Show {} more", rest.len()));
            limit_rows(h, rest);
            h.close("details");
        }
        h.close("div");
    }
    h.close("section");
}

fn org_title(o: &OrgImpact) -> String {
    match &o.name {
        Some(n) => format!("{n} ({})", o.tenant_id),
        None => o.tenant_id.clone(),
    }
}

fn organisations(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "organisations")])
        .elem("h2", "Organisations");
    if r.organizations.is_empty() {
        h.elem(
            "p",
            "No organisation in the input shows actor activity or a limit.",
        );
        h.close("section");
        return;
    }
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&[
            "Organisation",
            "First access (UTC)",
            "Last access (UTC)",
            "Mailboxes read",
            "Messages",
            "Data",
            "Sessions / IPs / apps",
            "Status",
        ])
        .open("tbody");
    for o in &r.organizations {
        let read = o.mailboxes.iter().filter(|m| mailbox_read(m)).count();
        let msgs: u64 = o.mailboxes.iter().map(|m| m.messages).sum();
        let data: u64 = o
            .mailboxes
            .iter()
            .map(|m| m.bytes)
            .fold(0, u64::saturating_add);
        h.open("tr");
        h.open("td");
        if let Some(n) = &o.name {
            h.elem("strong", n).raw("<br>");
        }
        h.elem_with("span", &[("class", "id")], &o.tenant_id);
        h.close("td");
        h.elem_with("td", &[("class", "t")], &ts_cell(o.first_access));
        h.elem_with("td", &[("class", "t")], &ts_cell(o.last_access));
        h.elem_with("td", &[("class", "num")], &thousands(read as u64));
        h.elem_with("td", &[("class", "num")], &thousands(msgs));
        h.elem_with("td", &[("class", "num")], &bytes(data));
        h.elem_with(
            "td",
            &[("class", "num")],
            &format!(
                "{} / {} / {}",
                thousands(o.sessions),
                thousands(o.ips),
                thousands(o.apps)
            ),
        );
        h.open("td");
        if org_unobservable(o) {
            h.elem_with("span", &[("class", "badge b-none")], "Not observable");
        } else if o.mailboxes.iter().any(presumed_exposed) {
            h.elem_with("span", &[("class", "badge b-exposed")], "Presumed exposed");
        } else if read > 0 {
            h.elem_with("span", &[("class", "badge b-read")], "Read");
        }
        h.close("td").close("tr");
    }
    h.close("tbody")
        .close("table")
        .close("div")
        .close("section");
}

fn mailboxes(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "mailboxes")])
        .elem("h2", "Mailboxes");
    let n: usize = r.organizations.iter().map(|o| o.mailboxes.len()).sum();
    if n == 0 {
        h.elem("p", "No mailbox shows actor activity or a limit.");
        h.close("section");
        return;
    }
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .header_row(&[
            "Mailbox",
            "First access (UTC)",
            "Last access (UTC)",
            "Messages",
            "Data",
            "Whole folders",
            "Unlisted reads",
            "Sessions / IPs / apps",
            "Status",
        ])
        .open("tbody");
    for o in &r.organizations {
        if o.mailboxes.is_empty() {
            continue;
        }
        h.open_with("tr", &[("class", "group")])
            .open_with("td", &[("colspan", "9")])
            .text(&org_title(o))
            .close("td")
            .close("tr");
        for m in &o.mailboxes {
            let whole: Vec<&str> = m
                .folders
                .iter()
                .filter(|f| f.whole_folder)
                .map(|f| f.path.as_str())
                .collect();
            let warn = presumed_exposed(m);
            h.open_with("tr", if warn { &[("class", "warnrow")] } else { &[] });
            h.elem_with("td", &[("class", "id")], &m.mailbox);
            h.elem_with("td", &[("class", "t")], &ts_cell(m.first_access));
            h.elem_with("td", &[("class", "t")], &ts_cell(m.last_access));
            h.elem_with("td", &[("class", "num")], &thousands(m.messages));
            h.elem_with("td", &[("class", "num")], &bytes(m.bytes));
            h.elem("td", &whole.join(", "));
            h.elem_with("td", &[("class", "num")], &thousands(m.unlisted_binds));
            h.elem_with(
                "td",
                &[("class", "num")],
                &format!(
                    "{} / {} / {}",
                    thousands(m.sessions),
                    thousands(m.ips),
                    thousands(m.apps)
                ),
            );
            h.open("td");
            status(h, m);
            h.close("td").close("tr");
        }
    }
    h.close("tbody")
        .close("table")
        .close("div")
        .close("section");
}

fn messages(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "messages")])
        .elem("h2", "Messages read, per mailbox and folder");
    h.elem_with(
        "p",
        &[("class", "muted")],
        "Each message is identified by its InternetMessageId. “Reads” counts the audit records listing it (a lower bound). \
         A folder marked “whole folder” was synchronised by a desktop client: every item in it is exposed.",
    );
    let with_subjects = r
        .organizations
        .iter()
        .flat_map(|o| o.mailboxes.iter())
        .flat_map(|m| m.folders.iter())
        .flat_map(|f| f.messages.iter())
        .any(|m| m.subject.is_some());
    let mut any = false;
    for o in &r.organizations {
        for m in &o.mailboxes {
            if m.folders.is_empty() {
                continue;
            }
            any = true;
            let total: usize = m.folders.iter().map(|f| f.messages.len()).sum();
            h.open("details");
            h.elem(
                "summary",
                &format!(
                    "{} — {} in {}",
                    m.mailbox,
                    plural(m.messages, "message", "messages"),
                    plural(m.folders.len() as u64, "folder", "folders")
                ),
            );
            h.open_with("div", &[("class", "tw")]).open("table");
            if with_subjects {
                h.header_row(&[
                    "Folder",
                    "Message",
                    "Subject",
                    "Size",
                    "First read (UTC)",
                    "Last read (UTC)",
                    "Reads",
                ]);
            } else {
                h.header_row(&[
                    "Folder",
                    "Message",
                    "Size",
                    "First read (UTC)",
                    "Last read (UTC)",
                    "Reads",
                ]);
            }
            h.open("tbody");
            let mut shown = 0usize;
            for f in &m.folders {
                if f.whole_folder {
                    h.open("tr");
                    h.elem("td", &f.path);
                    h.open_with("td", &[("colspan", if with_subjects { "6" } else { "5" })])
                        .elem_with("span", &[("class", "badge b-exposed")], "whole folder")
                        .text(" synchronised: every item in it is exposed")
                        .close("td");
                    h.close("tr");
                }
                for msg in &f.messages {
                    if shown >= MAX_MESSAGE_ROWS {
                        break;
                    }
                    shown += 1;
                    h.open("tr");
                    h.elem("td", &f.path);
                    h.elem_with("td", &[("class", "mono")], &msg.internet_message_id);
                    if with_subjects {
                        h.elem("td", msg.subject.as_deref().unwrap_or(""));
                    }
                    h.elem_with(
                        "td",
                        &[("class", "num")],
                        &msg.size_bytes.map(bytes).unwrap_or_default(),
                    );
                    h.elem_with("td", &[("class", "t")], &ts_cell(msg.first_access));
                    h.elem_with("td", &[("class", "t")], &ts_cell(msg.last_access));
                    h.elem_with("td", &[("class", "num")], &thousands(msg.access_count));
                    h.close("tr");
                }
            }
            h.close("tbody").close("table").close("div");
            if total > shown {
                h.elem_with(
                    "p",
                    &[("class", "muted")],
                    &format!("{} more messages are not shown here; the CSV and JSON outputs list all of them.", thousands((total - shown) as u64)),
                );
            }
            h.close("details");
        }
    }
    if !any {
        h.elem(
            "p",
            "No message or folder read by the actor was listed in the input.",
        );
    }
    h.close("section");
}

fn id_list(h: &mut Html, label: &str, v: &[String]) {
    h.open("tr")
        .elem("th", label)
        .open_with("td", &[("class", "mono")]);
    if v.is_empty() {
        h.elem_with("span", &[("class", "muted")], "none");
    } else {
        h.text(&v.join(", "));
    }
    h.close("td").close("tr");
}

fn actor(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "actor")])
        .elem("h2", "Actor context");
    h.elem(
        "p",
        "A record belongs to the actor when any of its identifiers is in this context. The context starts from the seeds \
         (given on the command line, an IOC file or hunt findings) and, unless expansion was turned off, grows transitively: \
         an IP leads to the sessions seen with it, a session to its other IPs.",
    );
    h.open_with("div", &[("class", "tw")])
        .open("table")
        .open("tbody");
    id_list(h, "IP addresses", &r.actor.ips);
    id_list(h, "Sessions", &r.actor.sessions);
    id_list(h, "Apps", &r.actor.apps);
    id_list(h, "User agents", &r.actor.user_agents);
    h.close("tbody").close("table").close("div");
    if !r.expansion.is_empty() {
        h.elem("h3", "How the context was built");
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&["#", "Added", "Kind", "Because of", "Linking record"])
            .open("tbody");
        for (i, s) in r.expansion.iter().enumerate() {
            h.open("tr");
            h.elem_with("td", &[("class", "num")], &(i + 1).to_string());
            h.elem_with("td", &[("class", "mono")], &s.added);
            h.elem("td", &s.added_kind);
            h.elem("td", &s.via);
            h.elem_with(
                "td",
                &[("class", "mono")],
                s.evidence.as_deref().unwrap_or(""),
            );
            h.close("tr");
        }
        h.close("tbody").close("table").close("div");
    }
    h.close("section");
}

fn coverage(h: &mut Html, r: &ImpactReport) {
    h.open_with("section", &[("id", "coverage")])
        .elem("h2", "What the input covers");
    h.elem(
        "p",
        "Records per organisation and day, and whether mail-access auditing (MailItemsAccessed) is present. \
         Days without MailItemsAccessed cannot show mail reads; days with no record at all are listed as gaps in the limits above.",
    );
    // (tenant, day) → (records, mia, workloads)
    let mut grid: BTreeMap<(&str, &str), DayCell<'_>> = BTreeMap::new();
    for c in &r.coverage {
        let e = grid.entry((c.tenant.as_str(), c.day.as_str())).or_default();
        e.0 += c.records;
        e.1 += c.mail_items_accessed;
        e.2.push((c.workload.as_str(), c.records));
    }
    if grid.is_empty() {
        h.elem_with(
            "p",
            &[("class", "muted")],
            "No coverage information was passed to the report.",
        );
    } else {
        // Per tenant at a glance.
        struct T<'a> {
            first: &'a str,
            last: &'a str,
            days: u64,
            mia_days: u64,
            records: u64,
            mia: u64,
        }
        let mut tenants: BTreeMap<&str, T<'_>> = BTreeMap::new();
        for ((tenant, day), (recs, mia, _)) in &grid {
            let e = tenants.entry(tenant).or_insert(T {
                first: day,
                last: day,
                days: 0,
                mia_days: 0,
                records: 0,
                mia: 0,
            });
            e.first = e.first.min(day);
            e.last = e.last.max(day);
            e.days += 1;
            e.mia_days += u64::from(*mia > 0);
            e.records += recs;
            e.mia += mia;
        }
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&[
                "Tenant",
                "First day",
                "Last day",
                "Days with records",
                "Days with MailItemsAccessed",
                "Records",
                "MailItemsAccessed",
                "Mail reads observable?",
            ])
            .open("tbody");
        for (tenant, t) in &tenants {
            h.open_with(
                "tr",
                if t.mia == 0 {
                    &[("class", "warnrow")]
                } else {
                    &[]
                },
            );
            h.elem_with("td", &[("class", "id")], tenant);
            h.elem_with("td", &[("class", "t")], t.first);
            h.elem_with("td", &[("class", "t")], t.last);
            h.elem_with("td", &[("class", "num")], &thousands(t.days));
            h.elem_with("td", &[("class", "num")], &thousands(t.mia_days));
            h.elem_with("td", &[("class", "num")], &thousands(t.records));
            h.elem_with("td", &[("class", "num")], &thousands(t.mia));
            h.open("td");
            if t.mia == 0 {
                h.elem_with(
                    "span",
                    &[("class", "badge b-none")],
                    "No: no MailItemsAccessed",
                );
            } else if t.mia_days < t.days {
                h.elem_with(
                    "span",
                    &[("class", "badge b-exposed")],
                    "Partly: some days without",
                );
            } else {
                h.elem_with("span", &[("class", "badge b-read")], "Yes");
            }
            h.close("td").close("tr");
        }
        h.close("tbody").close("table").close("div");
        h.open("details")
            .elem("summary", "Records per organisation, day and workload");
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&["Tenant", "Day", "Records", "MailItemsAccessed", "Workloads"])
            .open("tbody");
        for (i, ((tenant, day), (recs, mia, wl))) in grid.iter().enumerate() {
            if i >= MAX_COVERAGE_ROWS {
                break;
            }
            h.open_with(
                "tr",
                if *mia == 0 {
                    &[("class", "warnrow")]
                } else {
                    &[]
                },
            );
            h.elem_with("td", &[("class", "id")], tenant);
            h.elem_with("td", &[("class", "t")], day);
            h.elem_with("td", &[("class", "num")], &thousands(*recs));
            h.elem_with(
                "td",
                &[("class", "num")],
                &if *mia == 0 {
                    "none".to_owned()
                } else {
                    thousands(*mia)
                },
            );
            let parts: Vec<String> = wl
                .iter()
                .map(|(w, n)| format!("{w} {}", thousands(*n)))
                .collect();
            h.elem("td", &parts.join(" · "));
            h.close("tr");
        }
        h.close("tbody").close("table").close("div");
        if grid.len() > MAX_COVERAGE_ROWS {
            h.elem_with(
                "p",
                &[("class", "muted")],
                &format!(
                    "{} more rows in the JSON output.",
                    grid.len() - MAX_COVERAGE_ROWS
                ),
            );
        }
        h.close("details");
    }
    if !r.sources.is_empty() {
        h.elem("h3", "Input files");
        h.open_with("div", &[("class", "tw")])
            .open("table")
            .header_row(&[
                "File",
                "Format",
                "Records",
                "Skipped",
                "First record (UTC)",
                "Last record (UTC)",
            ])
            .open("tbody");
        for s in &r.sources {
            h.open_with(
                "tr",
                if s.skipped > 0 {
                    &[("class", "warnrow")]
                } else {
                    &[]
                },
            );
            h.elem_with("td", &[("class", "mono")], &s.file);
            h.elem("td", &s.format);
            h.elem_with("td", &[("class", "num")], &thousands(s.records));
            h.elem_with("td", &[("class", "num")], &thousands(s.skipped));
            h.elem_with("td", &[("class", "t")], &ts_cell(s.first));
            h.elem_with("td", &[("class", "t")], &ts_cell(s.last));
            h.close("tr");
        }
        h.close("tbody").close("table").close("div");
    }
    h.close("section");
}

fn method(h: &mut Html) {
    h.open_with("section", &[("id", "method")])
        .elem("h2", "How this was computed");
    h.open("ol");
    for p in [
        "Every record of the input was read once. Exchange MailItemsAccessed records say which messages a client opened (Bind, \
         each message by its InternetMessageId) or which folders a desktop client synchronised (Sync).",
        "The actor context (IPs, sessions, apps, user agents) started from the seeds and, unless turned off, was expanded: an IP \
         leads to the sessions seen with it, a session to its other IPs. Each step and the record behind it is listed above.",
        "A record belongs to the actor when one of its identifiers is in the context; an IP from an IOC list counts only inside \
         its validity window.",
        "Per mailbox: the distinct messages of the actor's Bind records, with size and first and last read; every folder of a \
         Sync is exposed whole; OperationCount beyond the listed messages is reported as unlisted reads.",
        "Where Exchange throttled auditing (IsThrottled), reads in the following 24 hours were not written: the mailbox is \
         presumed exposed for that window. Organisations and mailboxes without MailItemsAccessed, gaps in the logs, unreadable \
         records and flattened exports are reported as limits: not observable, never “not accessed”.",
        "Counts are lower bounds: Exchange writes one record for repeated reads of the same item in the same context within an \
         hour. The set of distinct messages is exact inside the observable window.",
    ] {
        h.elem("li", p);
    }
    h.close("ol").close("section");
}
