-- The ingest journal: every accepted body (HTTP) or file chunk (directory watch), as received,
-- in the order it was made durable. The detector reads it in `id` order; its checkpoint says
-- up to which `id` it has absorbed.
CREATE TABLE ingest_batches (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    first_line   INTEGER NOT NULL,
    last_line    INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    records      INTEGER NOT NULL,
    skipped      INTEGER NOT NULL,
    duplicates   INTEGER NOT NULL,
    format       TEXT,
    newest_event INTEGER,
    dup_lines    BLOB,
    body         BLOB NOT NULL
);
CREATE INDEX ingest_batches_name ON ingest_batches (name, first_line);
CREATE INDEX ingest_batches_received ON ingest_batches (received_at);

-- Records already accepted, by a hash of their tenant and own id, in the order accepted (the
-- rowid only grows: retention cuts a prefix, found through the first id of each day).
CREATE TABLE ingest_seen (
    id   INTEGER PRIMARY KEY,
    key  BLOB NOT NULL UNIQUE
);
CREATE TABLE ingest_seen_days (
    day      INTEGER PRIMARY KEY,
    first_id INTEGER NOT NULL
);

-- Health per source (an HTTP client's `source`, a watched folder).
CREATE TABLE ingest_sources (
    source         TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    batches        INTEGER NOT NULL DEFAULT 0,
    records        INTEGER NOT NULL DEFAULT 0,
    skipped        INTEGER NOT NULL DEFAULT 0,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    bytes          INTEGER NOT NULL DEFAULT 0,
    first_received INTEGER,
    last_received  INTEGER,
    newest_event   INTEGER,
    last_error     TEXT,
    last_error_at  INTEGER
);

-- The latest located record errors per source (a bounded number is kept).
CREATE TABLE ingest_errors (
    id      INTEGER PRIMARY KEY,
    source  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    file    TEXT NOT NULL,
    line    INTEGER NOT NULL,
    field   TEXT,
    reason  TEXT NOT NULL
);
CREATE INDEX ingest_errors_source ON ingest_errors (source, id);

-- Files of watched folders: identity (device, inode and a hash of their first bytes) and how
-- far they were read. Committed with the batch that read them.
CREATE TABLE watch_files (
    dev        INTEGER NOT NULL,
    ino        INTEGER NOT NULL,
    path       TEXT NOT NULL,
    source     TEXT NOT NULL,
    head_len   INTEGER NOT NULL,
    head_hash  BLOB NOT NULL,
    offset     INTEGER NOT NULL,
    line       INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,
    done       INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (dev, ino)
);

-- The detector's checkpoint: its state snapshot and the journal position it covers.
CREATE TABLE detector_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    position    INTEGER NOT NULL,
    max_event   INTEGER,
    fingerprint TEXT NOT NULL,
    saved_at    INTEGER NOT NULL,
    snapshot    BLOB
);

-- Alerts: one row per detection id. `seq` orders them by first appearance (API cursors).
CREATE TABLE alerts (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    rule_id         TEXT NOT NULL,
    rule_title      TEXT NOT NULL,
    level           INTEGER NOT NULL,
    ts_nanos        INTEGER NOT NULL,
    tenant          TEXT,
    user            TEXT,
    mailbox         TEXT,
    ip              TEXT,
    session_id      TEXT,
    incident_id     TEXT,
    status          TEXT NOT NULL,
    status_by       TEXT,
    status_at       INTEGER,
    late            INTEGER NOT NULL,
    settled         INTEGER NOT NULL,
    withdrawn       INTEGER NOT NULL DEFAULT 0,
    withdrawn_reason TEXT,
    revision        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    digest          TEXT NOT NULL,
    json            TEXT NOT NULL
);
CREATE INDEX alerts_level ON alerts (level, seq);
CREATE INDEX alerts_status ON alerts (status, seq);
CREATE INDEX alerts_rule ON alerts (rule_id, seq);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_session ON alerts (session_id);
CREATE INDEX alerts_ip ON alerts (ip);
CREATE INDEX alerts_updated ON alerts (updated_at);

-- Incidents: detections grouped by actor context, as `hunt` groups them.
CREATE TABLE incidents (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    level      INTEGER NOT NULL,
    score      INTEGER NOT NULL,
    first_ns   INTEGER NOT NULL,
    last_ns    INTEGER NOT NULL,
    title      TEXT NOT NULL,
    status     TEXT NOT NULL,
    status_by  TEXT,
    status_at  INTEGER,
    removed    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    json       TEXT NOT NULL
);
CREATE INDEX incidents_level ON incidents (level, seq);
CREATE INDEX incidents_status ON incidents (status, seq);

-- Analysts' notes and every status change, for alerts and incidents.
CREATE TABLE notes (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    target  TEXT NOT NULL,
    at      INTEGER NOT NULL,
    author  TEXT NOT NULL,
    text    TEXT NOT NULL
);
CREATE INDEX notes_target ON notes (kind, target, id);
CREATE TABLE status_history (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    target      TEXT NOT NULL,
    at          INTEGER NOT NULL,
    author      TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL
);
CREATE INDEX status_history_target ON status_history (kind, target, id);

-- What each sink still has to deliver (one pending message per sink and alert: a newer
-- revision replaces an undelivered one), and what it gave up on.
CREATE TABLE sink_outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    sink       TEXT NOT NULL,
    alert_id   TEXT NOT NULL,
    event      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    last_error TEXT,
    version    INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    UNIQUE (sink, alert_id)
);
CREATE INDEX sink_outbox_due ON sink_outbox (sink, next_at, id);
CREATE TABLE sink_dead_letters (
    id         INTEGER PRIMARY KEY,
    sink       TEXT NOT NULL,
    alert_id   TEXT NOT NULL,
    event      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    failed_at  INTEGER NOT NULL
);
CREATE INDEX sink_dead_letters_sink ON sink_dead_letters (sink, id);

-- API tokens: only a SHA-256 of each is kept.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
