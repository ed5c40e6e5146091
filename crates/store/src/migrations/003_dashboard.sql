-- The dashboard's accounts: one row per person, an argon2 hash of the password (PHC string).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    hash          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_login_at INTEGER
);

-- Logged-in browsers: a SHA-256 of the session cookie, its user, its CSRF token, when it ends.
-- A removed user's sessions are deleted with it.
CREATE TABLE sessions (
    hash       BLOB PRIMARY KEY,
    user       TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Who an incident is assigned to (the latest assignment; each one is also kept as a note).
CREATE TABLE incident_assignees (
    incident_id TEXT PRIMARY KEY,
    assignee    TEXT NOT NULL,
    assigned_by TEXT NOT NULL,
    assigned_at INTEGER NOT NULL
);
