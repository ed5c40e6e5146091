//! Schema migrations, tracked in SQLite's `user_version`.

use rusqlite::Connection;

use crate::error::{StoreError, sql};

/// Migrations in order; migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: detections, baselines, ingest checkpoints.
    "CREATE TABLE detections (
        id          INTEGER PRIMARY KEY,
        ts_nanos    INTEGER NOT NULL,
        level       INTEGER NOT NULL,
        rule_id     TEXT NOT NULL,
        source      TEXT NOT NULL,
        tenant      TEXT,
        user        TEXT,
        mailbox     TEXT,
        ip          TEXT,
        session_id  TEXT,
        app_id      TEXT,
        json        TEXT NOT NULL
    );
    CREATE INDEX detections_ts ON detections (ts_nanos);
    CREATE INDEX detections_level_ts ON detections (level, ts_nanos);
    CREATE TABLE baselines (
        key         TEXT PRIMARY KEY,
        version     INTEGER NOT NULL,
        saved_at    INTEGER NOT NULL,
        data        BLOB NOT NULL
    );
    CREATE TABLE checkpoints (
        file        TEXT PRIMARY KEY,
        offset      INTEGER NOT NULL,
        saved_at    INTEGER NOT NULL
    );",
    // 2: the service (`stormwatch serve`): its ingest journal, record dedup, per-source health,
    // watched files, the detector's checkpoint, alerts and incidents with their status, notes
    // and history, the sinks' outbox and dead letters, API tokens.
    include_str!("migrations/002_serve.sql"),
    // 3: the dashboard: user accounts (argon2 hashes), browser sessions with their CSRF
    // tokens, incident assignees.
    include_str!("migrations/003_dashboard.sql"),
    // 4: the incident an alert's detection names itself, in a column read without the JSON.
    include_str!("migrations/004_alert_groups.sql"),
];

/// The schema version this build writes.
pub(crate) const CURRENT: i64 = MIGRATIONS.len() as i64;

/// Bring the database to [`CURRENT`]; refuse newer databases.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<(), StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql("read schema version"))?;
    if found > CURRENT {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found,
            known: CURRENT,
        });
    }
    let tx = conn.transaction().map_err(sql("begin migration"))?;
    for (i, m) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(found).unwrap_or(0))
    {
        tx.execute_batch(m).map_err(sql("apply migration"))?;
        let v = i64::try_from(i + 1).map_err(|_| StoreError::OutOfRange("schema version"))?;
        tx.pragma_update(None, "user_version", v)
            .map_err(sql("set schema version"))?;
    }
    tx.commit().map_err(sql("commit migration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database of version 3 with alerts, one grouped by the analytics: after migration
    /// the rows, their order and the sequence are kept, and the alert's own incident is in
    /// its column.
    #[test]
    fn alerts_keep_their_rows_and_gain_their_own_incident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let mut conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..3] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        let row = |seq: i64, id: &str, json: &str| {
            conn.execute(
                "INSERT INTO alerts (seq, id, rule_id, rule_title, level, ts_nanos, incident_id,
                 status, late, settled, revision, created_at, updated_at, digest, json)
                 VALUES (?1, ?2, 'builtin/x', 'X', 3, 0, 'inc-2', 'acknowledged', 0, 0, 2, 0,
                 0, 'd', ?3)",
                rusqlite::params![seq, id, json],
            )
            .unwrap();
        };
        row(7, "a", r#"{"id":"a","incident_id":"inc-1"}"#);
        row(9, "b", r#"{"id":"b"}"#);
        migrate(&mut conn, &path).unwrap();
        type Row = (i64, String, Option<String>, Option<String>, String);
        let got: Vec<Row> = conn
            .prepare(
                "SELECT seq, id, incident_id, own_incident_id, status FROM alerts ORDER BY seq",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(
            got,
            vec![
                (7, "a".into(), s("inc-2"), s("inc-1"), "acknowledged".into()),
                (9, "b".into(), s("inc-2"), None, "acknowledged".into()),
            ]
        );
        // A new alert follows the sequence (AUTOINCREMENT kept).
        conn.execute(
            "INSERT INTO alerts (id, rule_id, rule_title, level, ts_nanos, status, late, settled,
             revision, created_at, updated_at, digest, json)
             VALUES ('c', 'r', 'R', 1, 0, 'new', 0, 0, 1, 0, 0, 'd', '{}')",
            [],
        )
        .unwrap();
        let seq: i64 = conn
            .query_row("SELECT seq FROM alerts WHERE id = 'c'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(seq, 10);
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, CURRENT);
    }
}
