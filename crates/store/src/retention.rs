//! Retention: alerts, ingested records and record ids older than the settings are removed.

use crate::error::{StoreError, sql};
use crate::store::Tx;

/// What one pass of [`Tx::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Alerts (with their notes and history).
    pub alerts: usize,
    /// Incidents.
    pub incidents: usize,
    /// Journal batches.
    pub batches: usize,
    /// Record ids kept for recognising records sent again.
    pub seen: usize,
}

/// What to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionCut {
    /// Alerts and incidents not changed since this time (ns).
    pub alerts_before: Option<i64>,
    /// Journal batches received before this time (ns)…
    pub batches_before: Option<i64>,
    /// …and at or before this position (what the detector's checkpoint covers).
    pub batches_up_to: i64,
    /// Record ids first accepted on days before this one (days since the epoch).
    pub seen_before_day: Option<i64>,
}

impl Tx<'_> {
    /// Remove what is older than `cut`.
    ///
    /// # Errors
    /// The write fails.
    pub fn prune(&self, cut: &RetentionCut) -> Result<Pruned, StoreError> {
        let mut p = Pruned::default();
        if let Some(before) = cut.alerts_before {
            for (kind, table) in [("alert", "alerts"), ("incident", "incidents")] {
                self.conn
                    .execute(
                        &format!(
                            "DELETE FROM notes WHERE kind = ?1 AND target IN
                             (SELECT id FROM {table} WHERE updated_at < ?2)"
                        ),
                        rusqlite::params![kind, before],
                    )
                    .map_err(sql("prune notes"))?;
                self.conn
                    .execute(
                        &format!(
                            "DELETE FROM status_history WHERE kind = ?1 AND target IN
                             (SELECT id FROM {table} WHERE updated_at < ?2)"
                        ),
                        rusqlite::params![kind, before],
                    )
                    .map_err(sql("prune history"))?;
            }
            p.alerts = self
                .conn
                .execute("DELETE FROM alerts WHERE updated_at < ?1", [before])
                .map_err(sql("prune alerts"))?;
            p.incidents = self
                .conn
                .execute("DELETE FROM incidents WHERE updated_at < ?1", [before])
                .map_err(sql("prune incidents"))?;
        }
        if let Some(before) = cut.batches_before {
            p.batches = self
                .conn
                .execute(
                    "DELETE FROM ingest_batches WHERE received_at < ?1 AND id <= ?2",
                    rusqlite::params![before, cut.batches_up_to],
                )
                .map_err(sql("prune batches"))?;
        }
        if let Some(day) = cut.seen_before_day {
            // Ids accepted from `day` on are kept; before the first day kept, all go.
            p.seen += self
                .conn
                .execute(
                    "DELETE FROM ingest_seen WHERE id < COALESCE(
                       (SELECT MIN(first_id) FROM ingest_seen_days WHERE day >= ?1),
                       (SELECT COALESCE(MAX(id), 0) + 1 FROM ingest_seen))",
                    [day],
                )
                .map_err(sql("prune record ids"))?;
            self.conn
                .execute("DELETE FROM ingest_seen_days WHERE day < ?1", [day])
                .map_err(sql("prune record ids"))?;
        }
        Ok(p)
    }
}
