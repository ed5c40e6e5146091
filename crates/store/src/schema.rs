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
