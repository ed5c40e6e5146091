//! Helpers for the analytics' unit tests.
#![allow(clippy::unwrap_used)]

use stormwatch_core::{Detection, Event, Level};

use crate::testkit::{Ev, at, number};
use crate::{Analytics, AnalyticsConfig, AnalyticsOutput, AppCatalog, AsnDb, IocSet};

pub(crate) fn run_full(
    cfg: AnalyticsConfig,
    asn: Option<AsnDb>,
    watch: Vec<String>,
    mut events: Vec<Event>,
) -> AnalyticsOutput {
    number(&mut events);
    let mut a = Analytics::new(
        cfg,
        IocSet::builtin_storm_0558(),
        AppCatalog::builtin(),
        asn,
        watch,
    );
    for e in &events {
        a.observe(e);
    }
    a.finish()
}

pub(crate) fn run(events: Vec<Event>) -> AnalyticsOutput {
    run_full(AnalyticsConfig::default(), None, Vec::new(), events)
}

pub(crate) fn of<'a>(out: &'a AnalyticsOutput, slug: &str) -> Vec<&'a Detection> {
    let id = format!("builtin/{slug}");
    out.detections.iter().filter(|d| d.rule_id == id).collect()
}

pub(crate) fn max_level(out: &AnalyticsOutput, slug: &str) -> Option<Level> {
    of(out, slug).iter().map(|d| d.level).max()
}

/// `days` days (from day 0) of ordinary Outlook life for `mailbox`: each working hour 9–16 a
/// non-interactive sign-in and a Bind in the same session from the same office IP.
pub(crate) fn history(mailbox: &str, days: u32) -> Vec<Event> {
    let mut v = Vec::new();
    let user = mailbox.split('@').next().unwrap_or("u");
    for d in 0..days {
        let session = format!("sess-{user}-{d}");
        for h in 9..17 {
            v.push(
                Ev::sign_in(&at(d, h, 0), mailbox)
                    .session(&session)
                    .ip("198.51.100.10")
                    .interactive(h != 9)
                    .build(),
            );
            v.push(
                Ev::mail(&at(d, h, 5), mailbox)
                    .session(&session)
                    .ip("198.51.100.10")
                    .build(),
            );
        }
    }
    v
}
