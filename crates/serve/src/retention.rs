//! Retention: alerts, ingested records (once checkpointed) and record ids older than the
//! settings are removed, every `retention.interval`.

use std::time::Duration;

use stormwatch_store::{RetentionCut, Store};

use crate::config::{IngestConfig, RetentionConfig};

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Watched files not seen for this long are forgotten.
const FORGET_FILES: Duration = Duration::from_secs(7 * 86_400);

/// One pass.
pub(crate) fn prune(
    store: &mut Store,
    r: &RetentionConfig,
    ingest: &IngestConfig,
) -> Result<stormwatch_store::Pruned, stormwatch_store::StoreError> {
    let now = crate::now().nanos();
    // Only what a checkpoint with a snapshot covers may go: the detector needs the rest
    // to come back after a restart.
    let covered = store.read().snapshot_position()?;
    let cut = RetentionCut {
        alerts_before: r.alerts.map(|d| now.saturating_sub(nanos(d))),
        batches_before: r.records.map(|d| now.saturating_sub(nanos(d))),
        batches_up_to: covered,
        seen_before_day: Some(crate::journal::day_of(
            now.saturating_sub(nanos(ingest.dedup_window)),
        )),
    };
    let pruned = store.write(|tx| {
        let p = tx.prune(&cut)?;
        tx.forget_watch_files(now.saturating_sub(nanos(FORGET_FILES)))?;
        Ok(p)
    })?;
    if pruned != stormwatch_store::Pruned::default() {
        tracing::info!(
            message = "Retention removed old data.",
            alerts = pruned.alerts,
            incidents = pruned.incidents,
            batches = pruned.batches,
            record_ids = pruned.seen
        );
    }
    Ok(pruned)
}
