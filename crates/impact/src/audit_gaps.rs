//! Where mail-access auditing is missing or stops while other activity goes on.
//!
//! When an Audit Premium licence lapses or mailbox auditing is turned off, `MailItemsAccessed`
//! records stop while sign-ins, logons, sends and file access continue. Read naively, the
//! silence looks like "nothing was read". Per tenant and per mailbox (per day) this module
//! counts `MailItemsAccessed` records and the other records of the same tenant or person, and
//! finds the runs of days on which the other activity is there but the mail-access records are
//! not: every such run is a `no_mail_audit` limit with its window.
//!
//! A run counts when it spans at least [`MIN_ACTIVE_DAYS`] days with activity and, at the rate
//! at which this tenant or mailbox logs mail access on its other days, at least
//! [`MIN_EXPECTED`] `MailItemsAccessed` records would have been written: a quiet weekend with
//! two sign-ins is not a gap; a week of sends without a single mail read is.

use std::collections::BTreeMap;

use stormwatch_core::{Event, Outcome};

use crate::assessor::Assessor;
use crate::intern::{NONE, Sym};

/// Days with activity a silent run needs.
pub(crate) const MIN_ACTIVE_DAYS: u32 = 2;
/// `MailItemsAccessed` records a silent run would have had at the usual rate.
pub(crate) const MIN_EXPECTED: f64 = 5.0;
/// `MailItemsAccessed` records per other record, at most, when estimating what a run misses.
const MAX_RATE: f64 = 50.0;

/// One tenant's or person's records on one day.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DayAct {
    pub(crate) mia: u32,
    pub(crate) other: u32,
    /// First and last `MailItemsAccessed` record (ns), when `mia > 0`.
    pub(crate) mia_first: i64,
    pub(crate) mia_last: i64,
    /// First and last other record (ns), when `other > 0`.
    pub(crate) other_first: i64,
    pub(crate) other_last: i64,
}

impl DayAct {
    fn add(&mut self, mia: bool, t: i64) {
        if mia {
            if self.mia == 0 || t < self.mia_first {
                self.mia_first = t;
            }
            if self.mia == 0 || t > self.mia_last {
                self.mia_last = t;
            }
            self.mia = self.mia.saturating_add(1);
        } else {
            if self.other == 0 || t < self.other_first {
                self.other_first = t;
            }
            if self.other == 0 || t > self.other_last {
                self.other_last = t;
            }
            self.other = self.other.saturating_add(1);
        }
    }
}

impl Assessor {
    /// Count a timed record for its tenant (principal [`NONE`]) and for the mailbox it belongs
    /// to: the mailbox owner of a `MailItemsAccessed` record; for another Exchange record
    /// (sends, moves, other mailbox operations), its mailbox and the acting user (an address).
    /// A tenant's activity is everything (sign-ins, logons, file access too); a mailbox's is its
    /// Exchange activity, since sign-ins or file access say nothing about whether its mail is
    /// in use. Failed sign-ins are nobody's activity.
    pub(crate) fn note_audit(
        &mut self,
        ev: &Event,
        tenant: Sym,
        mailbox: Sym,
        mia: bool,
        t: i64,
        day: i32,
    ) {
        if tenant == NONE || (ev.is_sign_in() && ev.outcome == Outcome::Failure) {
            return;
        }
        self.audit
            .entry((tenant, NONE, day))
            .or_default()
            .add(mia, t);
        if mia {
            if mailbox != NONE {
                self.audit
                    .entry((tenant, mailbox, day))
                    .or_default()
                    .add(true, t);
            }
            return;
        }
        let exchange = ev
            .workload
            .as_deref()
            .is_some_and(|w| w.eq_ignore_ascii_case("Exchange"))
            || matches!(ev.record_type, Some(1..=3 | 19));
        if !exchange {
            return;
        }
        let user = ev
            .user
            .as_deref()
            .filter(|u| u.contains('@'))
            .map_or(NONE, |u| self.strings.opt(Some(u), true));
        if mailbox != NONE {
            self.audit
                .entry((tenant, mailbox, day))
                .or_default()
                .add(false, t);
        }
        if user != NONE && user != mailbox {
            self.audit
                .entry((tenant, user, day))
                .or_default()
                .add(false, t);
        }
    }
}

/// Why a run of days has no mail-access records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GapKind {
    /// No `MailItemsAccessed` record at all.
    Missing,
    /// Before the first one.
    Starts,
    /// Between two.
    Pauses,
    /// After the last one.
    Stops,
}

/// A run of days with other activity and no mail-access records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Gap {
    pub(crate) kind: GapKind,
    /// Half-open window (ns): from the last mail-access record before (or the first activity)
    /// to the next one after (or just past the last activity).
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// Other records and days with activity inside.
    pub(crate) other: u64,
    pub(crate) days: u32,
}

/// Mail-access records per other record on the days that have both (`None` without such days).
pub(crate) fn rate(days: &BTreeMap<i32, DayAct>) -> Option<f64> {
    let (mut mia, mut other) = (0u64, 0u64);
    for d in days.values().filter(|d| d.mia > 0) {
        mia += u64::from(d.mia);
        other += u64::from(d.other);
    }
    #[allow(clippy::cast_precision_loss)]
    (mia > 0 && other > 0).then(|| (mia as f64 / other as f64).min(MAX_RATE))
}

/// The silent runs of one tenant or person: days in order; `fallback` is the rate to expect
/// when the days themselves give none.
pub(crate) fn gaps(days: &BTreeMap<i32, DayAct>, fallback: Option<f64>) -> Vec<Gap> {
    let active = days.values().filter(|d| d.other > 0);
    if days.values().all(|d| d.mia == 0) {
        let (mut from, mut to, mut other, mut n) = (i64::MAX, i64::MIN, 0u64, 0u32);
        for d in active {
            from = from.min(d.other_first);
            to = to.max(d.other_last);
            other += u64::from(d.other);
            n += 1;
        }
        if n == 0 {
            return Vec::new();
        }
        return vec![Gap {
            kind: GapKind::Missing,
            from,
            to: to.saturating_add(1),
            other,
            days: n,
        }];
    }
    let rate = rate(days).or(fallback).unwrap_or(1.0);
    let mut out = Vec::new();
    // (first day's activity, other records, days) of the run being built.
    let mut run: Option<(i64, i64, u64, u32)> = None;
    let mut prev_mia: Option<i64> = None;
    let close = |run: Option<(i64, i64, u64, u32)>,
                 prev: Option<i64>,
                 next: Option<i64>,
                 out: &mut Vec<Gap>| {
        let Some((first, last, other, n)) = run else {
            return;
        };
        #[allow(clippy::cast_precision_loss)]
        let expected = other as f64 * rate;
        if n < MIN_ACTIVE_DAYS || expected < MIN_EXPECTED {
            return;
        }
        let kind = match (prev, next) {
            (None, _) => GapKind::Starts,
            (Some(_), Some(_)) => GapKind::Pauses,
            (Some(_), None) => GapKind::Stops,
        };
        out.push(Gap {
            kind,
            from: prev.unwrap_or(first),
            to: next.unwrap_or_else(|| last.saturating_add(1)),
            other,
            days: n,
        });
    };
    for d in days.values() {
        if d.mia > 0 {
            close(run.take(), prev_mia, Some(d.mia_first), &mut out);
            prev_mia = Some(d.mia_last);
        } else if d.other > 0 {
            let r = run.get_or_insert((d.other_first, d.other_last, 0, 0));
            r.1 = r.1.max(d.other_last);
            r.2 += u64::from(d.other);
            r.3 += 1;
        }
    }
    close(run.take(), prev_mia, None, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;
    const HOUR: i64 = DAY / 24;

    fn day(mia: u32, other: u32, d: i64) -> DayAct {
        let mut a = DayAct::default();
        for i in 0..mia {
            a.add(true, d * DAY + 9 * HOUR + i64::from(i));
        }
        for i in 0..other {
            a.add(false, d * DAY + 10 * HOUR + i64::from(i));
        }
        a
    }

    fn days(v: &[(u32, u32)]) -> BTreeMap<i32, DayAct> {
        v.iter()
            .enumerate()
            .map(|(i, &(m, o))| (i as i32, day(m, o, i as i64)))
            .collect()
    }

    #[test]
    fn audit_that_stops_while_activity_goes_on_is_a_gap_from_the_last_read() {
        let d = days(&[(20, 10), (18, 9), (25, 12), (0, 11), (0, 10), (0, 9)]);
        let g = gaps(&d, None);
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].kind, GapKind::Stops);
        assert_eq!(g[0].from, d[&2].mia_last);
        assert_eq!(g[0].to, d[&5].other_last + 1);
        assert_eq!((g[0].other, g[0].days), (30, 3));
    }

    #[test]
    fn a_pause_ends_at_the_next_read_and_a_late_start_is_reported() {
        let d = days(&[(0, 10), (0, 10), (20, 10), (0, 10), (0, 10), (20, 10)]);
        let g = gaps(&d, None);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].kind, GapKind::Starts);
        assert_eq!(g[0].from, d[&0].other_first);
        assert_eq!(g[0].to, d[&2].mia_first);
        assert_eq!(g[1].kind, GapKind::Pauses);
        assert_eq!((g[1].from, g[1].to), (d[&2].mia_last, d[&5].mia_first));
    }

    #[test]
    fn a_quiet_weekend_or_a_single_day_is_not_a_gap() {
        // Two days with a sign-in each: at 2 reads per other record, 4 expected < 5.
        let d = days(&[(20, 10), (0, 1), (0, 1), (20, 10)]);
        assert!(gaps(&d, None).is_empty());
        // One silent day, however busy.
        let d = days(&[(20, 10), (0, 40), (20, 10)]);
        assert!(gaps(&d, None).is_empty());
        // Days without any record do not make a run.
        let mut d = days(&[(20, 10), (20, 10)]);
        d.insert(9, day(20, 10, 9));
        assert!(gaps(&d, None).is_empty());
    }

    #[test]
    fn no_mail_access_at_all_is_missing_over_the_whole_activity() {
        let d = days(&[(0, 3), (0, 0), (0, 2)]);
        let g = gaps(&d, Some(2.0));
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].kind, GapKind::Missing);
        assert_eq!(
            (g[0].from, g[0].to),
            (d[&0].other_first, d[&2].other_last + 1)
        );
        assert!(gaps(&days(&[(0, 0)]), None).is_empty());
    }
}
