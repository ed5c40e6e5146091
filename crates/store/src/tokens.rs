//! API tokens. Only a hash of each token is stored: the token itself is shown once, when it
//! is made.

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// A stored API token (without the token).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiToken {
    /// Its name (who acts with it: notes and status changes carry it).
    pub name: String,
    /// Its role (`ingest`, `viewer`, `analyst`, `admin`).
    pub role: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last used (to the minute).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        name: r.get(0)?,
        role: r.get(1)?,
        created_at: Timestamp::from_nanos(r.get(2)?),
        last_used_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_nanos),
    })
}

const MINUTE: i64 = 60_000_000_000;

impl Tx<'_> {
    /// Store a token's hash under a new name.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when the name is empty or taken; the write fails.
    pub fn add_token(&self, name: &str, role: &str, hash: &[u8]) -> Result<(), StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::Invalid("a token needs a name".into()));
        }
        let taken: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM api_tokens WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )
            .map_err(sql("look up token"))?;
        if taken {
            return Err(StoreError::Invalid(format!(
                "a token named {name:?} exists already"
            )));
        }
        self.conn
            .execute(
                "INSERT INTO api_tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![name, role, hash, now_nanos()],
            )
            .map_err(sql("add token"))?;
        Ok(())
    }

    /// The token with this hash, if any; its last use is noted (to the minute).
    ///
    /// # Errors
    /// The read fails.
    pub fn token_by_hash(&self, hash: &[u8]) -> Result<Option<ApiToken>, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT name, role, created_at, last_used_at FROM api_tokens WHERE hash = ?1",
            )
            .and_then(|mut st| st.query_row([hash], token_row).optional())
            .map_err(sql("look up token"))?;
        if let Some(t) = &found {
            let now = now_nanos();
            if t.last_used_at.is_none_or(|l| now - l.nanos() > MINUTE) {
                // Best effort: a busy database does not fail the request.
                let _ = self.conn.execute(
                    "UPDATE api_tokens SET last_used_at = ?2 WHERE name = ?1",
                    rusqlite::params![t.name, now],
                );
            }
        }
        Ok(found)
    }

    /// Every token, by name.
    ///
    /// # Errors
    /// The read fails.
    pub fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT name, role, created_at, last_used_at FROM api_tokens ORDER BY name",
            )
            .map_err(sql("list tokens"))?;
        let rows = st.query_map([], token_row).map_err(sql("list tokens"))?;
        rows.collect::<Result<_, _>>().map_err(sql("list tokens"))
    }

    /// Remove a token; returns whether there was one by that name.
    ///
    /// # Errors
    /// The write fails.
    pub fn remove_token(&self, name: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM api_tokens WHERE name = ?1", [name])
            .map_err(sql("remove token"))?;
        Ok(n > 0)
    }
}
