//! The dashboard's user accounts, browser sessions and incident assignees. Passwords are
//! hashed by the caller (the store keeps the PHC string it is given); session cookies are kept
//! as a SHA-256 only, like API tokens.

use rusqlite::OptionalExtension;
use stormwatch_core::Timestamp;

use crate::error::{StoreError, sql};
use crate::store::{Tx, now_nanos};

/// A user account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The login name.
    pub name: String,
    /// `viewer`, `analyst` or `admin`.
    pub role: String,
    /// When the account was made.
    pub created_at: Timestamp,
    /// The last successful login.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login_at: Option<Timestamp>,
}

/// A live browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its user.
    pub user: String,
    /// The user's role now (a changed role applies at once).
    pub role: String,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// Who an incident is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Assignment {
    /// The assignee.
    pub assignee: String,
    /// Who assigned it.
    pub by: String,
    /// When.
    pub at: Timestamp,
}

/// Longest user name.
pub const MAX_USER_NAME: usize = 64;

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: r.get(0)?,
        role: r.get(1)?,
        created_at: Timestamp::from_nanos(r.get(2)?),
        last_login_at: r.get::<_, Option<i64>>(3)?.map(Timestamp::from_nanos),
    })
}

impl Tx<'_> {
    /// Add a user with a password hash (a PHC string).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] when the name is empty, too long, holds control characters or
    /// is taken; the write fails.
    pub fn add_user(&self, name: &str, role: &str, hash: &str) -> Result<(), StoreError> {
        if name.trim().is_empty()
            || name.len() > MAX_USER_NAME
            || name.chars().any(char::is_control)
            || name.trim() != name
        {
            return Err(StoreError::Invalid(format!(
                "user name {name:?}: 1 to {MAX_USER_NAME} characters, no control characters, no surrounding spaces"
            )));
        }
        let taken: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)",
                [name],
                |r| r.get(0),
            )
            .map_err(sql("look up user"))?;
        if taken {
            return Err(StoreError::Invalid(format!(
                "a user named {name:?} exists already"
            )));
        }
        self.conn
            .execute(
                "INSERT INTO users (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![name, role, hash, now_nanos()],
            )
            .map_err(sql("add user"))?;
        Ok(())
    }

    /// A user and their password hash.
    ///
    /// # Errors
    /// The read fails.
    pub fn user_with_hash(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT name, role, created_at, last_login_at, hash FROM users WHERE name = ?1",
            )
            .and_then(|mut st| {
                st.query_row([name], |r| Ok((user_row(r)?, r.get(4)?)))
                    .optional()
            })
            .map_err(sql("look up user"))
    }

    /// Every user, by name.
    ///
    /// # Errors
    /// The read fails.
    pub fn users(&self) -> Result<Vec<User>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT name, role, created_at, last_login_at FROM users ORDER BY name")
            .map_err(sql("list users"))?;
        let rows = st.query_map([], user_row).map_err(sql("list users"))?;
        rows.collect::<Result<_, _>>().map_err(sql("list users"))
    }

    /// Remove a user and end their sessions; returns whether there was one by that name.
    ///
    /// # Errors
    /// The write fails.
    pub fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE user = ?1", [name])
            .map_err(sql("end sessions"))?;
        let n = self
            .conn
            .execute("DELETE FROM users WHERE name = ?1", [name])
            .map_err(sql("remove user"))?;
        Ok(n > 0)
    }

    /// Note a successful login.
    ///
    /// # Errors
    /// The write fails.
    pub fn note_login(&self, name: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE users SET last_login_at = ?2 WHERE name = ?1",
                rusqlite::params![name, now_nanos()],
            )
            .map_err(sql("note login"))?;
        Ok(())
    }

    /// Start a session (its cookie's hash), ending the user's expired ones.
    ///
    /// # Errors
    /// The write fails.
    pub fn add_session(
        &self,
        hash: &[u8],
        user: &str,
        csrf: &str,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let now = now_nanos();
        self.conn
            .execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])
            .map_err(sql("end expired sessions"))?;
        self.conn
            .execute(
                "INSERT INTO sessions (hash, user, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![hash, user, csrf, now, expires_at.nanos()],
            )
            .map_err(sql("add session"))?;
        Ok(())
    }

    /// The live session with this cookie hash (an expired one, or one whose user is gone, is
    /// none).
    ///
    /// # Errors
    /// The read fails.
    pub fn session(&self, hash: &[u8]) -> Result<Option<Session>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT s.user, u.role, s.csrf, s.expires_at FROM sessions s
                 JOIN users u ON u.name = s.user
                 WHERE s.hash = ?1 AND s.expires_at > ?2",
            )
            .and_then(|mut st| {
                st.query_row(rusqlite::params![hash, now_nanos()], |r| {
                    Ok(Session {
                        user: r.get(0)?,
                        role: r.get(1)?,
                        csrf: r.get(2)?,
                        expires_at: Timestamp::from_nanos(r.get(3)?),
                    })
                })
                .optional()
            })
            .map_err(sql("look up session"))
    }

    /// End a session.
    ///
    /// # Errors
    /// The write fails.
    pub fn remove_session(&self, hash: &[u8]) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE hash = ?1", [hash])
            .map_err(sql("end session"))?;
        Ok(())
    }

    /// Assign an incident. Returns `false` when there is no such incident.
    ///
    /// # Errors
    /// The write fails.
    pub fn assign_incident(
        &self,
        incident_id: &str,
        assignee: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let exists: bool = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM incidents WHERE id = ?1)",
                [incident_id],
                |r| r.get(0),
            )
            .map_err(sql("look up incident"))?;
        if !exists {
            return Ok(false);
        }
        self.conn
            .execute(
                "INSERT INTO incident_assignees (incident_id, assignee, assigned_by, assigned_at)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (incident_id) DO UPDATE SET assignee = ?2, assigned_by = ?3,
                 assigned_at = ?4",
                rusqlite::params![incident_id, assignee, by, now_nanos()],
            )
            .map_err(sql("assign incident"))?;
        Ok(true)
    }

    /// Who an incident is assigned to.
    ///
    /// # Errors
    /// The read fails.
    pub fn assignee(&self, incident_id: &str) -> Result<Option<Assignment>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT assignee, assigned_by, assigned_at FROM incident_assignees
                 WHERE incident_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([incident_id], |r| {
                    Ok(Assignment {
                        assignee: r.get(0)?,
                        by: r.get(1)?,
                        at: Timestamp::from_nanos(r.get(2)?),
                    })
                })
                .optional()
            })
            .map_err(sql("read assignee"))
    }

    /// Per rule: its alerts (live ones), their highest level and the newest alert's time.
    ///
    /// # Errors
    /// The read fails.
    pub fn rule_hits(&self) -> Result<Vec<RuleHits>, StoreError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT rule_id, MAX(rule_title), MAX(level), COUNT(*), MAX(ts_nanos)
                 FROM alerts WHERE withdrawn = 0 GROUP BY rule_id ORDER BY COUNT(*) DESC",
            )
            .map_err(sql("count rule hits"))?;
        let rows = st
            .query_map([], |r| {
                let n: i64 = r.get(3)?;
                Ok(RuleHits {
                    rule_id: r.get(0)?,
                    rule_title: r.get(1)?,
                    level: crate::detections::level_from_number(r.get(2)?),
                    alerts: u64::try_from(n).unwrap_or(0),
                    newest: Timestamp::from_nanos(r.get(4)?),
                })
            })
            .map_err(sql("count rule hits"))?;
        rows.collect::<Result<_, _>>()
            .map_err(sql("count rule hits"))
    }
}

/// Alerts per rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleHits {
    /// The rule.
    pub rule_id: String,
    /// Its title.
    pub rule_title: String,
    /// The highest level of its alerts.
    pub level: stormwatch_core::Level,
    /// Its live alerts.
    pub alerts: u64,
    /// The newest alert's detection time.
    pub newest: Timestamp,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Store;

    fn later(secs: i64) -> Timestamp {
        Timestamp::from_nanos(now_nanos() + secs * 1_000_000_000)
    }

    #[test]
    fn users_sessions_and_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.write(|tx| tx.add_user("alice", "analyst", "$argon2id$x"))
            .unwrap();
        assert!(s.write(|tx| tx.add_user("alice", "viewer", "h")).is_err());
        for bad in ["", " alice", "a\nb", &"x".repeat(65)] {
            assert!(
                s.write(|tx| tx.add_user(bad, "viewer", "h")).is_err(),
                "{bad:?}"
            );
        }
        let (u, h) = s.read().user_with_hash("alice").unwrap().unwrap();
        assert_eq!((u.role.as_str(), h.as_str()), ("analyst", "$argon2id$x"));
        s.write(|tx| tx.add_session(b"live", "alice", "csrf1", later(60)))
            .unwrap();
        s.write(|tx| tx.add_session(b"old", "alice", "csrf2", later(-1)))
            .unwrap();
        let live = s.read().session(b"live").unwrap().unwrap();
        assert_eq!(
            (live.user.as_str(), live.role.as_str(), live.csrf.as_str()),
            ("alice", "analyst", "csrf1")
        );
        assert!(s.read().session(b"old").unwrap().is_none(), "expired");
        assert!(s.read().session(b"other").unwrap().is_none());
        s.write(|tx| tx.remove_session(b"live")).unwrap();
        assert!(s.read().session(b"live").unwrap().is_none());
        s.write(|tx| tx.add_session(b"again", "alice", "c", later(60)))
            .unwrap();
        assert!(s.write(|tx| tx.remove_user("alice")).unwrap());
        assert!(
            s.read().session(b"again").unwrap().is_none(),
            "ended with the user"
        );
        // A new user of the same name does not inherit sessions.
        s.write(|tx| tx.add_user("alice", "viewer", "h")).unwrap();
        assert!(s.read().session(b"again").unwrap().is_none());
        assert_eq!(s.read().users().unwrap().len(), 1);
    }

    #[test]
    fn assignments_need_an_incident() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        assert!(
            !s.write(|tx| tx.assign_incident("INC-1", "bob", "alice"))
                .unwrap()
        );
        s.write(|tx| {
            tx.upsert_incident(&crate::IncidentRecord {
                id: "INC-1".into(),
                level: stormwatch_core::Level::High,
                score: 50,
                first: Timestamp::EPOCH,
                last: Timestamp::EPOCH,
                title: "t".into(),
                body: serde_json::json!({}),
            })
        })
        .unwrap();
        assert!(
            s.write(|tx| tx.assign_incident("INC-1", "bob", "alice"))
                .unwrap()
        );
        assert!(
            s.write(|tx| tx.assign_incident("INC-1", "carol", "alice"))
                .unwrap()
        );
        let a = s.read().assignee("INC-1").unwrap().unwrap();
        assert_eq!((a.assignee.as_str(), a.by.as_str()), ("carol", "alice"));
        assert!(s.read().rule_hits().unwrap().is_empty());
    }
}
