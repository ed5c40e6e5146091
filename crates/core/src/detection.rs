//! What a rule or analytic reports.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::level::Level;
use crate::location::Location;
use crate::time::Timestamp;

/// Who produced a detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectionSource {
    /// A Sigma rule (detection or correlation).
    Sigma,
    /// A built-in analytic (`builtin/<slug>`).
    Builtin,
}

impl fmt::Display for DetectionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DetectionSource::Sigma => "sigma",
            DetectionSource::Builtin => "builtin",
        })
    }
}

/// One detection: a rule or analytic that fired on one or more records.
///
/// Serialised as one line of `hunt --format jsonl` (the contract other tools rely on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Deterministic id of this detection ([`crate::detection_id`]): the same input gives
    /// the same id, whatever the order or the run. Empty only for a detection built by hand
    /// that was never given one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Sigma `id` (or the rule file name when it has none), or `builtin/<slug>`.
    pub rule_id: String,
    /// Sigma `title` or the analytic's name.
    pub rule_title: String,
    /// Severity.
    pub level: Level,
    /// Sigma or built-in.
    pub source: DetectionSource,
    /// Time of the (first) record that fired, UTC.
    pub timestamp: Timestamp,
    /// The records behind it.
    pub events: Vec<Location>,
    /// Tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Acting user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Mailbox owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox: Option<String>,
    /// Client IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Application id (`ClientAppId` when present, else `AppId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Why it fired, in an analyst's words (baseline compared against, sign-ins searched, IOC
    /// and its window, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub explanation: String,
    /// Tags (ATT&CK ids, Sigma tags).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Structured evidence (analytic-specific).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub evidence: serde_json::Value,
    /// The [`crate::Incident`] it belongs to, when the step that grouped it knows (the
    /// analytics set it on the detections they group; [`crate::IncidentIndex::find`] ties the
    /// others to an incident at output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
}

impl Detection {
    /// A detection with the required fields and everything optional empty.
    #[must_use]
    pub fn new(
        rule_id: impl Into<String>,
        rule_title: impl Into<String>,
        level: Level,
        source: DetectionSource,
        timestamp: Timestamp,
    ) -> Self {
        Detection {
            id: String::new(),
            rule_id: rule_id.into(),
            rule_title: rule_title.into(),
            level,
            source,
            timestamp,
            events: Vec::new(),
            tenant: None,
            user: None,
            mailbox: None,
            ip: None,
            session_id: None,
            app_id: None,
            explanation: String::new(),
            tags: Vec::new(),
            evidence: serde_json::Value::Null,
            incident_id: None,
        }
    }

    /// Fill tenant, user, mailbox, ip, session and app from an event (keeps what is set).
    pub fn with_context_of(mut self, ev: &crate::event::Event) -> Self {
        self.tenant = self.tenant.or_else(|| ev.tenant.clone());
        self.user = self.user.or_else(|| ev.user.clone());
        self.mailbox = self.mailbox.or_else(|| ev.mailbox.clone());
        self.ip = self.ip.or_else(|| ev.ip_string());
        self.session_id = self.session_id.or_else(|| ev.session_id.clone());
        self.app_id = self
            .app_id
            .or_else(|| ev.client_app_id.clone().or_else(|| ev.app_id.clone()));
        if self.events.is_empty() {
            self.events.push(ev.loc.clone());
        }
        self
    }

    /// The deterministic output order: time, then rule, then first location.
    #[must_use]
    pub fn sort_key(&self) -> (Timestamp, &str, Option<&Location>) {
        (self.timestamp, self.rule_id.as_str(), self.events.first())
    }

    /// The comparison behind the output order: [`Detection::sort_key`], then title, then
    /// explanation. Detections equal under it keep the order they were found in
    /// ([`sort_detections`] is a stable sort).
    #[must_use]
    pub fn cmp_output_order(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key()
            .cmp(&other.sort_key())
            .then_with(|| self.rule_title.cmp(&other.rule_title))
            .then_with(|| self.explanation.cmp(&other.explanation))
    }
}

/// Sort detections into the deterministic output order (stable: see
/// [`Detection::cmp_output_order`]).
pub fn sort_detections(d: &mut [Detection]) {
    d.sort_by(Detection::cmp_output_order);
}
