//! The detector's checkpoint: its state snapshot with the journal position it covers, saved
//! once the alerts it raised up to there are stored (on SIGTERM and flush, in the same
//! transaction).

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// A saved checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorCheckpoint {
    /// The last journal batch whose records the snapshot holds.
    pub position: i64,
    /// The newest record time seen up to there.
    pub max_event: Option<Timestamp>,
    /// What the snapshot was made with (rules, settings): a detector built otherwise does not
    /// restore it.
    pub fingerprint: String,
    /// When it was saved.
    pub saved_at: Timestamp,
    /// The detector's snapshot; `None` when the detector could not make one (then the journal
    /// is read again from its start on restart).
    pub snapshot: Option<Vec<u8>>,
}

impl Tx<'_> {
    /// Save the checkpoint (replacing the previous one).
    ///
    /// # Errors
    /// The write fails.
    pub fn save_checkpoint(&self, c: &DetectorCheckpoint) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO detector_state (id, position, max_event, fingerprint, saved_at, snapshot)
                 VALUES (1, ?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET position = ?1, max_event = ?2, fingerprint = ?3,
                 saved_at = ?4, snapshot = ?5",
            )
            .and_then(|mut st| {
                st.execute(rusqlite::params![
                    c.position,
                    c.max_event.map(Timestamp::nanos),
                    c.fingerprint,
                    now_nanos(),
                    c.snapshot
                ])
            })
            .map_err(sql("save detector checkpoint"))?;
        Ok(())
    }

    /// The saved checkpoint, if any.
    ///
    /// # Errors
    /// The read fails.
    pub fn checkpoint_state(&self) -> Result<Option<DetectorCheckpoint>, StoreError> {
        self.conn
            .query_row(
                "SELECT position, max_event, fingerprint, saved_at, snapshot FROM detector_state
                 WHERE id = 1",
                [],
                |r| {
                    Ok(DetectorCheckpoint {
                        position: r.get(0)?,
                        max_event: r.get::<_, Option<i64>>(1)?.map(Timestamp::from_nanos),
                        fingerprint: r.get(2)?,
                        saved_at: Timestamp::from_nanos(r.get(3)?),
                        snapshot: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(sql("read detector checkpoint"))
    }

    /// The journal position a saved snapshot covers (0 when none is saved), without reading
    /// the snapshot.
    ///
    /// # Errors
    /// The read fails.
    pub fn snapshot_position(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT position FROM detector_state WHERE id = 1 AND snapshot IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read detector checkpoint"))?
            .unwrap_or(0))
    }

    /// The journal position of the saved checkpoint (0 when none).
    ///
    /// # Errors
    /// The read fails.
    pub fn checkpoint_position(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT position FROM detector_state WHERE id = 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql("read detector checkpoint"))?
            .unwrap_or(0))
    }
}
