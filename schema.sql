-- OmniSocial schema, current shape. A fresh database runs this file whole;
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

-- One row per connected platform account (SPEC §5). Tokens are AES-256-GCM
-- ciphertexts bound to (id, column); id is made by the app before insert.
CREATE TABLE IF NOT EXISTS social_accounts (
	id                 TEXT PRIMARY KEY,
	workspace_id       INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	user_id            INTEGER NOT NULL REFERENCES users (id),
	platform           TEXT NOT NULL CHECK (platform IN ('facebook', 'instagram', 'tiktok')),
	platform_user_id   TEXT NOT NULL,
	username           TEXT NOT NULL DEFAULT '',
	display_name       TEXT NOT NULL DEFAULT '',
	avatar_url         TEXT NOT NULL DEFAULT '',
	access_token       BLOB NOT NULL,
	refresh_token      BLOB,
	user_token         BLOB,
	scopes             TEXT NOT NULL DEFAULT '',
	token_expires_at   INTEGER,
	refresh_expires_at INTEGER,
	metadata           TEXT NOT NULL DEFAULT '{}',
	status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'limited', 'needs_reauth')),
	last_error         TEXT NOT NULL DEFAULT '',
	last_synced_at     INTEGER,
	next_check_at      INTEGER NOT NULL,
	connected_at       INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	UNIQUE (user_id, platform, platform_user_id),
	UNIQUE (workspace_id, platform, platform_user_id)
);
CREATE INDEX IF NOT EXISTS social_accounts_due ON social_accounts (next_check_at);

PRAGMA user_version = 2;
