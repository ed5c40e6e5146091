//! One window being collected: its records spooled and de-duplicated as they come, its counts,
//! and the rules that turn what happened into `complete`, `partial` or `missing`.

use std::sync::Arc;

use stormwatch_core::Timestamp;

use crate::auth::TokenSource;
use crate::error::{ApiError, CollectError};
use crate::http::{Http, Tally};
use crate::manifest::{Status, WindowRecord};
use crate::options::{PollPolicy, TenantSpec};
use crate::plan::Window;
use crate::records::Parsed;
use crate::secret::Redactor;
use crate::source::Source;
use crate::store::Store;
use crate::store::spool::Spool;

/// Reasons of one kind kept per window before the rest are counted.
const REASONS_KEPT: usize = 5;

/// What the collectors of one tenant share.
pub(crate) struct Tenant {
    pub(crate) spec: TenantSpec,
    pub(crate) store: Arc<Store>,
    pub(crate) http: Arc<Http>,
    pub(crate) redact: Redactor,
    pub(crate) manage: TokenSource,
    pub(crate) graph: TokenSource,
    pub(crate) settings: Settings,
}

/// Run-wide settings the collectors read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) now: Timestamp,
    pub(crate) concurrency: usize,
    pub(crate) poll: PollPolicy,
    pub(crate) record_types: Vec<String>,
    pub(crate) settle_override: Option<i64>,
}

impl Settings {
    pub(crate) fn settle(&self, source: Source) -> i64 {
        self.settle_override.unwrap_or_else(|| source.settle_secs())
    }
}

/// A window in progress.
pub(crate) struct Work {
    pub(crate) rec: WindowRecord,
    pub(crate) tally: Tally,
    source: Source,
    spool: Spool,
    /// Some request of the window got what it asked for.
    got_something: bool,
    /// Some part of the window could not be had.
    failed: bool,
    /// The window cannot be complete yet, for a reason that is not a failure.
    incomplete: bool,
    /// Nothing can exist for the window: with no records it is missing, not partial.
    nothing_exists: bool,
    dropped_reasons: usize,
}

impl Work {
    pub(crate) fn start(t: &Tenant, source: Source, w: Window) -> Result<Work, CollectError> {
        let name = format!(
            "{}-{}-{}.spool",
            t.spec.tenant,
            source.name(),
            w.from.unix_seconds()
        );
        Ok(Work {
            rec: WindowRecord::new(&t.spec.tenant, source, w),
            tally: Tally::default(),
            source,
            spool: t.store.spool(&name)?,
            got_something: false,
            failed: false,
            incomplete: false,
            nothing_exists: false,
            dropped_reasons: 0,
        })
    }

    /// A request that succeeded.
    pub(crate) fn got(&mut self) {
        self.got_something = true;
    }

    /// A part of the window that could not be had.
    pub(crate) fn fail(&mut self, reason: String, error: Option<&ApiError>) {
        self.failed = true;
        if let Some(e) = error {
            let text = e.to_string();
            if !self.rec.errors.contains(&text) && self.rec.errors.len() < REASONS_KEPT {
                self.rec.errors.push(text);
            }
        }
        self.reason(reason);
    }

    /// The window is not complete yet (it has not ended, or records may still arrive).
    pub(crate) fn not_yet(&mut self, reason: String) {
        self.incomplete = true;
        self.reason(reason);
    }

    /// Nothing can exist for (part of) the window (past retention, no subscription then).
    pub(crate) fn none_exists(&mut self, reason: String, whole: bool) {
        if whole {
            self.nothing_exists = true;
        }
        self.incomplete = true;
        self.reason(reason);
    }

    fn reason(&mut self, reason: String) {
        if self.rec.reasons.contains(&reason) {
            return;
        }
        if self.rec.reasons.len() < REASONS_KEPT {
            self.rec.reasons.push(reason);
        } else {
            self.dropped_reasons += 1;
        }
    }

    /// Spool the records of one response, dropping ids already collected.
    pub(crate) fn take(&mut self, t: &Tenant, parsed: Parsed) -> Result<(), CollectError> {
        let fallback_day = self.rec.from.day_number();
        self.rec.records_served += parsed.records.len() as u64 + parsed.invalid;
        for r in parsed.records {
            match r.key {
                Some(k) => {
                    if !t.store.claim(&t.spec.tenant, self.source.family(), k) {
                        self.rec.duplicates += 1;
                        continue;
                    }
                    self.spool.keys.push(k);
                }
                None => self.rec.without_id += 1,
            }
            let day = r.time.map_or(fallback_day, Timestamp::day_number);
            self.spool.push(day, &r.line)?;
            self.rec.records_written += 1;
            if r.mail_items_accessed {
                *self.rec.mail_items_accessed.get_or_insert(0) += 1;
            }
        }
        if parsed.invalid > 0 {
            self.rec.invalid += parsed.invalid;
            let first = parsed.first_problem.unwrap_or_default();
            self.fail(
                format!("elements that are not records were skipped ({first})"),
                None,
            );
        }
        Ok(())
    }

    /// Settle the status and hand over what to commit.
    pub(crate) fn finish(mut self, now: Timestamp) -> (Spool, WindowRecord) {
        if matches!(self.source, Source::Exchange | Source::AuditLogQuery)
            && self.rec.mail_items_accessed.is_none()
        {
            self.rec.mail_items_accessed = Some(0);
        }
        if self.dropped_reasons > 0 {
            self.rec
                .reasons
                .push(format!("and {} more reasons", self.dropped_reasons));
        }
        self.rec.retries = self.tally.retries;
        self.rec.throttled = self.tally.throttled;
        self.rec.collected_at = Some(now);
        self.rec.status = if self.failed {
            if self.got_something {
                Status::Partial
            } else {
                Status::Missing
            }
        } else if self.nothing_exists && self.spool.len() == 0 && self.rec.duplicates == 0 {
            Status::Missing
        } else if self.incomplete {
            Status::Partial
        } else {
            Status::Complete
        };
        debug_assert!(self.rec.status == Status::Complete || !self.rec.reasons.is_empty());
        (self.spool, self.rec)
    }
}
