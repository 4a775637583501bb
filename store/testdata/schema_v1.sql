-- OmniSocial schema as version 1 shipped it (kept to test migrations). A fresh database runs this file whole;
-- an older one is brought here by the numbered steps in store/migrate.go.
-- The last statement stamps the version those steps count up to.

CREATE TABLE IF NOT EXISTS meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS plans (
	name         TEXT PRIMARY KEY,
	max_accounts INTEGER NOT NULL CHECK (max_accounts >= 0)
);
INSERT OR IGNORE INTO plans (name, max_accounts) VALUES ('free', 3), ('pro', 10), ('business', 50);

CREATE TABLE IF NOT EXISTS users (
	id              INTEGER PRIMARY KEY,
	email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name            TEXT NOT NULL DEFAULT '',
	password_hash   TEXT NOT NULL,
	created_at      INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS workspaces (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	plan       TEXT NOT NULL REFERENCES plans (name),
	created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS memberships (
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
	created_at   INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (user_id);

-- Server-side sessions: the cookie carries a random id, the row holds the
-- rest, so logging out ends the session for good. Only a hash of the id is
-- stored, so a copy of the database logs nobody in.
CREATE TABLE IF NOT EXISTS sessions (
	id_hash      BLOB PRIMARY KEY,
	user_id      INTEGER REFERENCES users (id) ON DELETE CASCADE,
	data         BLOB NOT NULL,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);

PRAGMA user_version = 1;
