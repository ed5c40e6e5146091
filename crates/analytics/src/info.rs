//! What `stormwatch analytics list` shows: each analytic, its settings and its docs page.

use serde::{Deserialize, Serialize};
use stormwatch_core::Level;

use crate::config::AnalyticsConfig;

/// One setting of an analytic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    /// TOML key (`section.key`).
    pub name: String,
    /// Current value, as TOML.
    pub value: String,
    /// What it means.
    pub meaning: String,
}

/// One built-in analytic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnalyticInfo {
    /// 1–14, the order of the detections table.
    pub number: u8,
    /// `builtin/<slug>`.
    pub id: String,
    /// Title (also the detections' `rule_title`).
    pub title: String,
    /// The highest level it reports by default (`informational` for the modifier).
    pub default_level: Level,
    /// One line: what it detects.
    pub summary: String,
    /// Its settings with their current values.
    pub settings: Vec<Setting>,
    /// Its documentation page, relative to the repository root.
    pub docs: String,
}

/// (number, slug, title, highest level, summary)
pub(crate) const ANALYTICS: &[(u8, &str, &str, Level, &str)] = &[
    (
        1,
        "new-mail-app",
        "New application reading a mailbox",
        Level::Medium,
        "MailItemsAccessed from an AppId/ClientAppId not seen for the mailbox in the baseline (\"Big Yellow Taxi\"); first-party apps stay in scope",
    ),
    (
        2,
        "mail-access-without-sign-in",
        "Mail access with no sign-in behind it",
        Level::High,
        "SessionId / UniqueTokenId of Exchange records with no sign-in; IP-only evidence ranked lower",
    ),
    (
        3,
        "forged-token-signals",
        "Forged-token signals",
        Level::Critical,
        "TokenTenantId differs from OrganizationId for a non-guest, consumer tenant at Exchange, or a token verdict",
    ),
    (
        4,
        "ioc-infrastructure",
        "Known-bad infrastructure (IOC IP in its window)",
        Level::Critical,
        "any record from an IOC IP inside its validity window (± margin); informational outside it",
    ),
    (
        5,
        "watchlist-new-context",
        "New context on a watch-listed mailbox",
        Level::High,
        "any new app, client or network on a high-value mailbox",
    ),
    (
        6,
        "hosting-or-new-asn",
        "Hosting / VPN network or new ASN",
        Level::Medium,
        "mail access from hosting / VPN ASNs or an ASN new for the mailbox (needs IP → ASN data)",
    ),
    (
        7,
        "breadth",
        "One actor reading many mailboxes",
        Level::Medium,
        "one session, IP or app reading many mailboxes in a short window; new non-owner readers",
    ),
    (
        8,
        "bulk-bind",
        "Bulk binds",
        Level::Medium,
        "Σ OperationCount above the mailbox's norm, huge single records, IsThrottled",
    ),
    (
        9,
        "sync-new-context",
        "Folder sync from a new context",
        Level::Medium,
        "Sync (whole folder exposed) from a network or client new for the mailbox",
    ),
    (
        10,
        "scripted-rest-client",
        "Scripted REST client",
        Level::Medium,
        "Client=REST / python / PowerShell / curl clients for a mailbox that never used them",
    ),
    (
        11,
        "concurrent-sessions",
        "Concurrent sessions on different networks",
        Level::Medium,
        "two sessions of one mailbox on different networks within minutes",
    ),
    (
        12,
        "owa-token-issuance",
        "OWA token issuance bursts",
        Level::Medium,
        "bursts of RecordType 275 OWA token issuance",
    ),
    (
        13,
        "visibility-gaps",
        "Visibility gaps in the evidence",
        Level::Medium,
        "mailboxes without MailItemsAccessed, throttling, audit bypass / audit off, days with no records",
    ),
    (
        14,
        "actor-hours",
        "Actor hours (score modifier)",
        Level::Informational,
        "raises the score of detections in Mon–Fri 00–09 UTC when the owner is rarely active then; never fires alone",
    ),
];

pub(crate) fn title_of(slug: &str) -> &'static str {
    ANALYTICS
        .iter()
        .find(|a| a.1 == slug)
        .map_or("Built-in analytic", |a| a.2)
}

fn s(name: &str, value: impl ToString, meaning: &str) -> Setting {
    Setting {
        name: name.to_owned(),
        value: value.to_string(),
        meaning: meaning.to_owned(),
    }
}

fn list_str(v: &[String]) -> String {
    format!(
        "[{}]",
        v.iter()
            .map(|x| format!("{x:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn settings(c: &AnalyticsConfig, n: u8) -> Vec<Setting> {
    let base = || {
        s(
            "baseline_days",
            c.baseline_days,
            "a value not seen for the mailbox in this many days before is new",
        )
    };
    let learn = || {
        s(
            "learning_days",
            c.learning_days,
            "less history than this: first-party values not reported, third-party ones at low",
        )
    };
    let mut v = match n {
        1 => vec![
            base(),
            learn(),
            s(
                "new_mail_app.adoption_fraction",
                c.new_mail_app.adoption_fraction,
                "fraction of active mailboxes adopting the app within the window that makes it a rollout (level lowered)",
            ),
            s(
                "new_mail_app.adoption_hours",
                c.new_mail_app.adoption_hours,
                "the adoption window, hours",
            ),
            s(
                "new_mail_app.adoption_min_mailboxes",
                c.new_mail_app.adoption_min_mailboxes,
                "and at least this many mailboxes",
            ),
        ],
        2 => vec![
            s(
                "no_sign_in.session_lookback_hours",
                c.no_sign_in.session_lookback_hours,
                "a sign-in of the SessionId this many hours before backs the record",
            ),
            s(
                "no_sign_in.session_max_age_days",
                c.no_sign_in.session_max_age_days,
                "without non-interactive sign-ins (or at the start of the logs), any sign-in of the session this many days before",
            ),
            s(
                "no_sign_in.token_lookback_hours",
                c.no_sign_in.token_lookback_hours,
                "a sign-in that issued the UniqueTokenId this many hours before backs the record",
            ),
            s(
                "no_sign_in.ip_window_hours",
                c.no_sign_in.ip_window_hours,
                "weaker: the user signed in from the IP within ± this many hours (level medium)",
            ),
        ],
        3 => vec![s(
            "forged_token.consumer_tenant",
            format!("{:?}", c.forged_token.consumer_tenant),
            "the consumer (MSA) tenant id",
        )],
        4 => vec![s(
            "ioc.margin_days",
            c.ioc.margin_days,
            "days outside an indicator's window still reported (medium); beyond: informational",
        )],
        5 => vec![
            base(),
            learn(),
            s(
                "watchlist",
                list_str(&c.watchlist),
                "high-value mailboxes (also --watchlist)",
            ),
        ],
        6 => vec![
            s(
                "asn.baseline_days",
                c.asn.baseline_days,
                "an ASN not seen for the mailbox in this many days before is new",
            ),
            s(
                "asn.hosting_keywords",
                list_str(&c.asn.hosting_keywords),
                "AS organisation substrings that mark hosting / VPN networks",
            ),
        ],
        7 => vec![
            s(
                "breadth.window_minutes",
                c.breadth.window_minutes,
                "short window, minutes",
            ),
            s(
                "breadth.window_mailboxes",
                c.breadth.window_mailboxes,
                "mailboxes in the short window",
            ),
            s(
                "breadth.day_mailboxes",
                c.breadth.day_mailboxes,
                "mailboxes in 24 hours",
            ),
            base(),
        ],
        8 => vec![
            s(
                "bulk_bind.sigma",
                c.bulk_bind.sigma,
                "an hour above the mailbox's mean + sigma × standard deviation",
            ),
            s(
                "bulk_bind.min_hour_operations",
                c.bulk_bind.min_hour_operations,
                "and at least this many binds in the hour",
            ),
            s(
                "bulk_bind.min_history_hours",
                c.bulk_bind.min_history_hours,
                "context-hours of history needed for the norm",
            ),
            s(
                "bulk_bind.single_record_operations",
                c.bulk_bind.single_record_operations,
                "one record with at least this OperationCount",
            ),
        ],
        9 | 10 => {
            let mut v = vec![base(), learn()];
            if n == 10 {
                v.push(s(
                    "scripted_rest.patterns",
                    list_str(&c.scripted_rest.patterns),
                    "client substrings that mark scripts (^ = prefix)",
                ));
            }
            v
        }
        11 => vec![s(
            "concurrent_sessions.window_minutes",
            c.concurrent_sessions.window_minutes,
            "two sessions on different networks within this many minutes",
        )],
        12 => vec![s(
            "owa_token.burst_per_hour",
            c.owa_token.burst_per_hour,
            "RecordType 275 issuances per user and hour that make a burst",
        )],
        13 => vec![
            s(
                "visibility.min_exchange_records",
                c.visibility.min_exchange_records,
                "Exchange records without any MailItemsAccessed that make a mailbox unaudited",
            ),
            s(
                "visibility.min_gap_days",
                c.visibility.min_gap_days,
                "days without any record reported as a gap",
            ),
        ],
        14 => vec![
            s(
                "actor_hours.weekdays_only",
                c.actor_hours.weekdays_only,
                "only Monday to Friday",
            ),
            s(
                "actor_hours.start_hour",
                c.actor_hours.start_hour,
                "start of the actor window, UTC",
            ),
            s(
                "actor_hours.end_hour",
                c.actor_hours.end_hour,
                "end of the actor window, UTC (exclusive)",
            ),
            s(
                "actor_hours.norm_fraction",
                c.actor_hours.norm_fraction,
                "the owner's share of activity in the window below which the score is raised",
            ),
        ],
        _ => Vec::new(),
    };
    let enabled = match n {
        1 => c.new_mail_app.enabled,
        2 => c.no_sign_in.enabled,
        3 => c.forged_token.enabled,
        4 => c.ioc.enabled,
        5 => c.watchlist_new_context.enabled,
        6 => c.asn.enabled,
        7 => c.breadth.enabled,
        8 => c.bulk_bind.enabled,
        9 => c.sync_new_context.enabled,
        10 => c.scripted_rest.enabled,
        11 => c.concurrent_sessions.enabled,
        12 => c.owa_token.enabled,
        13 => c.visibility.enabled,
        _ => c.actor_hours.enabled,
    };
    let section = match n {
        1 => "new_mail_app",
        2 => "no_sign_in",
        3 => "forged_token",
        4 => "ioc",
        5 => "watchlist_new_context",
        6 => "asn",
        7 => "breadth",
        8 => "bulk_bind",
        9 => "sync_new_context",
        10 => "scripted_rest",
        11 => "concurrent_sessions",
        12 => "owa_token",
        13 => "visibility",
        _ => "actor_hours",
    };
    v.insert(
        0,
        s(&format!("{section}.enabled"), enabled, "run this analytic"),
    );
    v
}

/// Every analytic with the settings of `cfg`.
pub(crate) fn list(cfg: &AnalyticsConfig) -> Vec<AnalyticInfo> {
    ANALYTICS
        .iter()
        .map(|&(number, slug, title, level, summary)| AnalyticInfo {
            number,
            id: format!("builtin/{slug}"),
            title: title.to_owned(),
            default_level: level,
            summary: summary.to_owned(),
            settings: settings(cfg, number),
            docs: format!("docs/analytics/{slug}.md"),
        })
        .collect()
}
