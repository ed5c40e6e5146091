//! Analysts' notes on alerts and incidents, and the history of their status.

use stormwatch_core::Timestamp;

use crate::alerts::Status;
use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// What a note or status change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An alert (by detection id).
    Alert,
    /// An incident.
    Incident,
}

impl Target {
    fn as_str(self) -> &'static str {
        match self {
            Target::Alert => "alert",
            Target::Incident => "incident",
        }
    }
}

/// One note.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// When it was written.
    pub at: Timestamp,
    /// Who wrote it (the API token's or user's name).
    pub author: String,
    /// What it says.
    pub text: String,
}

/// One status change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusChange {
    /// When.
    pub at: Timestamp,
    /// Who.
    pub author: String,
    /// From.
    pub from: Status,
    /// To.
    pub to: Status,
}

/// Longest note kept, in bytes.
pub const MAX_NOTE_BYTES: usize = 16 * 1024;

impl Tx<'_> {
    /// Set the status of an alert or an incident and, when `note` has text, add it with the
    /// same author. Returns the status it had, or `None` (and adds nothing) when there is no
    /// such alert or incident.
    ///
    /// # Errors
    /// The note is too long, or the write fails.
    pub fn triage(
        &self,
        target: Target,
        id: &str,
        status: Status,
        author: &str,
        note: Option<&str>,
    ) -> Result<Option<Status>, StoreError> {
        let old = match target {
            Target::Alert => self.set_alert_status(id, status, author)?,
            Target::Incident => self.set_incident_status(id, status, author)?,
        };
        if old.is_some()
            && let Some(n) = note.filter(|n| !n.trim().is_empty())
        {
            self.add_note(target, id, author, n)?;
        }
        Ok(old)
    }

    /// Add a note (at most [`MAX_NOTE_BYTES`]).
    ///
    /// # Errors
    /// The note is empty or too long, or the write fails.
    pub fn add_note(
        &self,
        target: Target,
        id: &str,
        author: &str,
        text: &str,
    ) -> Result<Note, StoreError> {
        if text.trim().is_empty() {
            return Err(StoreError::Invalid("a note needs some text".into()));
        }
        if text.len() > MAX_NOTE_BYTES {
            return Err(StoreError::Invalid(format!(
                "a note is at most {MAX_NOTE_BYTES} bytes"
            )));
        }
        let at = now_nanos();
        self.conn
            .execute(
                "INSERT INTO notes (kind, target, at, author, text) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![target.as_str(), id, at, author, text],
            )
            .map_err(sql("add note"))?;
        Ok(Note {
            at: Timestamp::from_nanos(at),
            author: author.to_owned(),
            text: text.to_owned(),
        })
    }

    /// The notes on an alert or incident, oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn notes(&self, target: Target, id: &str) -> Result<Vec<Note>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at, author, text FROM notes WHERE kind = ?1 AND target = ?2 ORDER BY id",
            )
            .map_err(sql("read notes"))?;
        let rows = st
            .query_map(rusqlite::params![target.as_str(), id], |r| {
                Ok(Note {
                    at: Timestamp::from_nanos(r.get(0)?),
                    author: r.get(1)?,
                    text: r.get(2)?,
                })
            })
            .map_err(sql("read notes"))?;
        rows.collect::<Result<_, _>>().map_err(sql("read notes"))
    }

    /// The status changes of an alert or incident, oldest first.
    ///
    /// # Errors
    /// The read fails.
    pub fn status_history(
        &self,
        target: Target,
        id: &str,
    ) -> Result<Vec<StatusChange>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT at, author, from_status, to_status FROM status_history
                 WHERE kind = ?1 AND target = ?2 ORDER BY id",
            )
            .map_err(sql("read status history"))?;
        let rows = st
            .query_map(rusqlite::params![target.as_str(), id], |r| {
                let from: String = r.get(2)?;
                let to: String = r.get(3)?;
                Ok(StatusChange {
                    at: Timestamp::from_nanos(r.get(0)?),
                    author: r.get(1)?,
                    from: from.parse().unwrap_or(Status::New),
                    to: to.parse().unwrap_or(Status::New),
                })
            })
            .map_err(sql("read status history"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("read status history"))
    }
}
