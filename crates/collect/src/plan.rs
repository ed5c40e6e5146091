//! Windows: the unit of asking, committing, resuming and accounting. They lie on a grid of
//! fixed length from the Unix epoch, so every run cuts the same range the same way.

use stormwatch_core::Timestamp;

use crate::source::{Api, Source};

/// The Activity API keeps content for seven days after it became available.
pub(crate) const ACTIVITY_DAYS: i64 = 7;
/// Kept away from the seven-day edge: a request that starts just past it is refused (AF20055).
const EDGE_MARGIN_SECS: i64 = 600;

/// A half-open span of time `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Window {
    pub(crate) from: Timestamp,
    pub(crate) to: Timestamp,
}

/// The oldest time the Activity API still lists at `now`.
pub(crate) fn activity_floor(now: Timestamp) -> Timestamp {
    now.add_seconds(-ACTIVITY_DAYS * 86_400 + EDGE_MARGIN_SECS)
}

/// The grid windows covering `[since, until)`: the first starts at or before `since`, the last
/// ends at or after `until`.
pub(crate) fn grid(since: Timestamp, until: Timestamp, step: i64) -> Vec<Window> {
    let mut out = Vec::new();
    if until <= since || step <= 0 {
        return out;
    }
    let mut s = since.unix_seconds().div_euclid(step) * step;
    let end = until.unix_seconds();
    while s < end {
        out.push(Window {
            from: Timestamp::from_unix_seconds(s),
            to: Timestamp::from_unix_seconds(s + step),
        });
        s += step;
    }
    out
}

/// The ranges one source is asked to cover in one run, before cutting into windows.
pub(crate) fn ranges(
    source: Source,
    since: Timestamp,
    until: Timestamp,
    now: Timestamp,
    auto_query: bool,
) -> Vec<(Timestamp, Timestamp)> {
    let floor = activity_floor(now);
    match source.api() {
        // With the default selection, what the Activity API no longer keeps is left to the
        // Purview search; named explicitly, every window is planned (and the old ones are
        // reported as past retention).
        Api::Activity if auto_query => {
            let s = since.max(floor);
            if s < until { vec![(s, until)] } else { vec![] }
        }
        Api::Purview if auto_query => {
            let u = until.min(floor);
            if since < u { vec![(since, u)] } else { vec![] }
        }
        _ => vec![(since, until)],
    }
}

/// `YYYY-MM-DDTHH:MM:SS` in UTC, the form the Activity API takes for `startTime`/`endTime`.
pub(crate) fn activity_time(t: Timestamp) -> String {
    let s = Timestamp::from_unix_seconds(t.unix_seconds()).to_string();
    s.trim_end_matches('Z').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn grid_is_aligned_and_covers() {
        let w = grid(ts("2023-06-03T10:30:00Z"), ts("2023-06-03T12:00:01Z"), 3600);
        let shown: Vec<String> = w.iter().map(|w| w.from.to_string()).collect();
        assert_eq!(
            shown,
            [
                "2023-06-03T10:00:00Z",
                "2023-06-03T11:00:00Z",
                "2023-06-03T12:00:00Z"
            ]
        );
        assert_eq!(w[2].to, ts("2023-06-03T13:00:00Z"));
        assert!(grid(ts("2023-06-03"), ts("2023-06-03"), 3600).is_empty());
    }

    #[test]
    fn default_selection_splits_at_the_activity_floor() {
        let now = ts("2023-06-20T00:00:00Z");
        let since = ts("2023-06-01T00:00:00Z");
        let a = ranges(Source::Exchange, since, now, now, true);
        assert_eq!(a, vec![(activity_floor(now), now)]);
        let q = ranges(Source::AuditLogQuery, since, now, now, true);
        assert_eq!(q, vec![(since, activity_floor(now))]);
        // Within the seven days there is nothing for the search to do.
        let recent = ts("2023-06-18T00:00:00Z");
        assert!(ranges(Source::AuditLogQuery, recent, now, now, true).is_empty());
        // Named explicitly, both cover everything.
        assert_eq!(
            ranges(Source::Exchange, since, now, now, false),
            vec![(since, now)]
        );
        assert_eq!(
            ranges(Source::SignIns, since, now, now, true),
            vec![(since, now)]
        );
        assert_eq!(
            activity_time(ts("2023-06-03T10:00:00.5Z")),
            "2023-06-03T10:00:00"
        );
    }
}
