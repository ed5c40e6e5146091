-- The incident an alert's detection names itself (the analytics group their own detections),
-- in a column of its own, before the detection's JSON: tying alerts to the incidents that
-- moved reads these columns only, never the JSON (up to 20,000 evidence records an alert).
-- SQLite appends an added column after the JSON, where reading it walks the JSON's overflow
-- pages; the table is rebuilt instead, its rows and sequence kept.
CREATE TABLE alerts_v4 (
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
    own_incident_id TEXT,
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
INSERT INTO alerts_v4 (seq, id, rule_id, rule_title, level, ts_nanos, tenant, user, mailbox, ip,
    session_id, incident_id, own_incident_id, status, status_by, status_at, late, settled,
    withdrawn, withdrawn_reason, revision, created_at, updated_at, digest, json)
SELECT seq, id, rule_id, rule_title, level, ts_nanos, tenant, user, mailbox, ip,
    session_id, incident_id, json_extract(json, '$.incident_id'), status, status_by, status_at,
    late, settled, withdrawn, withdrawn_reason, revision, created_at, updated_at, digest, json
FROM alerts;
DROP TABLE alerts;
ALTER TABLE alerts_v4 RENAME TO alerts;
CREATE INDEX alerts_level ON alerts (level, seq);
CREATE INDEX alerts_status ON alerts (status, seq);
CREATE INDEX alerts_rule ON alerts (rule_id, seq);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_session ON alerts (session_id);
CREATE INDEX alerts_ip ON alerts (ip);
CREATE INDEX alerts_updated ON alerts (updated_at);
