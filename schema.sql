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

-- mail_alerts 0: this person turned e-mail alerts off for themselves.
-- (Written where SQLite's ALTER TABLE puts it, so a migrated file and a
-- fresh one read the same.)
CREATE TABLE IF NOT EXISTS users (
	id              INTEGER PRIMARY KEY,
	email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name            TEXT NOT NULL DEFAULT '',
	password_hash   TEXT NOT NULL,
	created_at      INTEGER NOT NULL
, mail_alerts INTEGER NOT NULL DEFAULT 1);

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
	created_at   INTEGER NOT NULL, last_used_at INTEGER,
	PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX IF NOT EXISTS memberships_user ON memberships (user_id);
-- last_used_at: when the person last chose this workspace, so log-in
-- opens the one they used last. (Written on the line SQLite's ALTER TABLE
-- puts it, so a migrated database and a fresh one read the same.)

-- Invitations (SPEC §14): nobody joins a workspace without accepting. Only
-- a hash of the link's token is kept; the link is shown once, to the
-- inviter. One pending invitation per e-mail and workspace; inviting again
-- replaces the link.
CREATE TABLE IF NOT EXISTS invitations (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	email        TEXT NOT NULL COLLATE NOCASE,
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
	token_hash   BLOB NOT NULL UNIQUE,
	invited_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	UNIQUE (workspace_id, email)
);
CREATE INDEX IF NOT EXISTS invitations_email ON invitations (email);

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
	-- who signed in at the platform: one sign-in can fix all its accounts
	grant_subject      TEXT NOT NULL DEFAULT '',
	grant_subject_name TEXT NOT NULL DEFAULT '',
	connected_at       INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	-- the refresh queue (SECURITY.md §5): a lease marks work in flight, the
	-- attempt id fences a late writer, version orders token writes
	version            INTEGER NOT NULL DEFAULT 1,
	lease_until        INTEGER,
	attempt_id         TEXT,
	failures           INTEGER NOT NULL DEFAULT 0,
	last_attempt_at    INTEGER,
	last_outcome       TEXT NOT NULL DEFAULT '',
	-- the login that holds its tokens (the provider: facebook, instagram,
	-- instagram_login, tiktok); an Instagram account is one row whichever
	-- login connected it last
	login              TEXT NOT NULL DEFAULT '',
	UNIQUE (user_id, platform, platform_user_id),
	UNIQUE (workspace_id, platform, platform_user_id)
);
CREATE INDEX IF NOT EXISTS social_accounts_due ON social_accounts (next_check_at) WHERE status != 'needs_reauth';
CREATE INDEX IF NOT EXISTS social_accounts_workspace ON social_accounts (workspace_id, status);

-- Every change to what the account lists show (the page's and the API's)
-- moves its workspace's version, the sum of its account_versions, in the
-- same transaction: pages keep a workspace's rendered list under that
-- number, and any replica sees a change on its very next request. The
-- claim's lease columns and the sealed tokens are not shown, so they move
-- nothing. A workspace being deleted takes its versions along. (SQLite has
-- one writer: one shard. PostgreSQL's writers each use their own.)
CREATE TABLE IF NOT EXISTS account_versions (
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	shard        INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, shard)
);
CREATE TRIGGER IF NOT EXISTS social_accounts_version_insert AFTER INSERT ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id = NEW.workspace_id
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER IF NOT EXISTS social_accounts_version_delete AFTER DELETE ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id = OLD.workspace_id
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END;
CREATE TRIGGER IF NOT EXISTS social_accounts_version_update AFTER UPDATE OF
	workspace_id, user_id, platform, platform_user_id, username, display_name, avatar_url, scopes, token_expires_at, refresh_expires_at, metadata, status, last_error, last_synced_at, next_check_at, grant_subject, grant_subject_name, connected_at, updated_at, failures, last_outcome, login
	ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id IN (OLD.workspace_id, NEW.workspace_id)
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END;

-- An OAuth authorization in flight, keyed by a hash of its state and bound
-- to the session that started it. Deleted as it is used: single use.
CREATE TABLE IF NOT EXISTS oauth_flows (
	state_hash   BLOB PRIMARY KEY,
	session_hash BLOB NOT NULL,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	platform     TEXT NOT NULL,
	purpose      TEXT NOT NULL CHECK (purpose IN ('connect', 'reconnect', 'rerequest')),
	account_id   TEXT NOT NULL DEFAULT '',
	verifier     BLOB,
	expires_at   INTEGER NOT NULL
);

-- What an authorization found, waiting for the person to choose what to
-- manage. Its tokens are one sealed blob; nothing is an account until the
-- person confirms, and an abandoned choice simply expires.
CREATE TABLE IF NOT EXISTS pending_grants (
	id           TEXT PRIMARY KEY,
	session_hash BLOB NOT NULL,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	platform     TEXT NOT NULL,
	sealed       BLOB NOT NULL,
	expires_at   INTEGER NOT NULL
);

-- Append-only history of each workspace's accounts. The account may be gone;
-- its name is kept here so the history still reads.
CREATE TABLE IF NOT EXISTS account_events (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	account_id   TEXT NOT NULL,
	account_name TEXT NOT NULL,
	user_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
	kind         TEXT NOT NULL,
	detail       TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS account_events_account ON account_events (account_id, id);
CREATE TRIGGER IF NOT EXISTS account_events_append_only BEFORE UPDATE ON account_events
BEGIN SELECT RAISE(ABORT, 'account_events is append-only'); END;
-- What a person reads lives as long as the history does. The one delete
-- allowed is housekeeping's pruning of routine successful checks; a
-- workspace's removal takes its whole history with it.
CREATE INDEX IF NOT EXISTS account_events_routine ON account_events (created_at) WHERE kind IN ('checked', 'refreshed');
CREATE TRIGGER IF NOT EXISTS account_events_keep BEFORE DELETE ON account_events
WHEN OLD.kind NOT IN ('checked', 'refreshed') AND EXISTS (SELECT 1 FROM workspaces WHERE id = OLD.workspace_id)
BEGIN SELECT RAISE(ABORT, 'account_events keeps everything but routine checks'); END;

-- The revocation outbox (SPEC §13): tokens owed a revocation at the
-- platform, written in the same transaction that dropped them (a disconnect,
-- a sign-in nobody kept) and deleted, ciphertext and all, once the platform
-- has them. subject and sign_in name the platform sign-in, so a reconnect
-- through it cancels the revocation instead of having it undo the reconnect.
CREATE TABLE IF NOT EXISTS revocations (
	id              TEXT PRIMARY KEY,
	platform        TEXT NOT NULL,
	sign_in         TEXT NOT NULL,
	subject         TEXT NOT NULL,
	sealed          BLOB NOT NULL,
	reason          TEXT NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	next_attempt_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_due ON revocations (next_attempt_at);

-- Workspace API keys: only a hash is kept; the key is shown once.
CREATE TABLE IF NOT EXISTS api_keys (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL,
	hash         BLOB NOT NULL UNIQUE,
	created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
);

-- Alerts for administrators that are about the app, not one account (a
-- platform rejecting the app's own credentials, the database refusing writes).
CREATE TABLE IF NOT EXISTS system_alerts (
	key        TEXT PRIMARY KEY,
	message    TEXT NOT NULL,
	created_at INTEGER NOT NULL
);

-- Meta data-deletion requests, so the status URL given to Meta can answer.
CREATE TABLE IF NOT EXISTS deletion_requests (
	code             TEXT PRIMARY KEY,
	accounts_deleted INTEGER NOT NULL,
	created_at       INTEGER NOT NULL
);

-- Whether a key may only read (GET) or also disconnect. A key without a row
-- here predates the choice and keeps the read-write rights it was made with.
CREATE TABLE IF NOT EXISTS api_key_access (
	key_id    INTEGER PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
	read_only INTEGER NOT NULL CHECK (read_only IN (0, 1))
);

-- Webhook endpoints of a workspace (Standard Webhooks). The signing secret
-- is sealed like a token, bound to (id, 'webhook_secret'): it must sign, so
-- a hash would not do. failing_since starts at the first failed attempt
-- after a success; an endpoint failing for long enough is paused.
CREATE TABLE IF NOT EXISTS webhooks (
	id            TEXT PRIMARY KEY,
	workspace_id  INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	url           TEXT NOT NULL,
	events        TEXT NOT NULL,
	secret        BLOB NOT NULL,
	created_by    INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at    INTEGER NOT NULL,
	failing_since INTEGER,
	paused_at     INTEGER,
	paused_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS webhooks_workspace ON webhooks (workspace_id);

-- The webhook outbox (SPEC §13): one row per message per endpoint, written
-- in the transaction that wrote the account event it announces. seq orders
-- the messages of one account: a message waits while an earlier one to the
-- same endpoint about the same account is still pending. payload is the
-- exact body sent (the account as the API shows it; never a token).
CREATE TABLE IF NOT EXISTS webhook_deliveries (
	seq             INTEGER PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	account_id      TEXT NOT NULL,
	event           TEXT NOT NULL,
	payload         BLOB NOT NULL,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	give_up_at      INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	done_at         INTEGER
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON webhook_deliveries (webhook_id, account_id, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS webhook_deliveries_list ON webhook_deliveries (webhook_id, seq);

-- Every attempt of a delivery and what the endpoint answered (the start of
-- its body), for the webhook's page.
CREATE TABLE IF NOT EXISTS webhook_attempts (
	id          INTEGER PRIMARY KEY,
	delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
	at          INTEGER NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	response    TEXT NOT NULL DEFAULT '',
	took_ms     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, id);

-- E-mail alerts owed: written in the same transaction as their cause (an
-- account needing re-auth) or by the daily digest job; the message itself is
-- composed when sent, from what is still true, and never holds a token.
CREATE TABLE IF NOT EXISTS mail_outbox (
	id              INTEGER PRIMARY KEY,
	workspace_id    INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	kind            TEXT NOT NULL CHECK (kind IN ('reauth', 'digest')),
	key             TEXT NOT NULL,
	account_id      TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed', 'sent')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	next_attempt_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS mail_outbox_pending ON mail_outbox (workspace_id, kind, key) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';

-- A reconnect link for the owner of a platform login who has no OmniSocial
-- account (SPEC §7): single use, 72 hours, only its hash kept. A link for a
-- needs-re-auth account names that account's sign-in; a link for a new
-- connection names only the platform. While the owner is at the platform,
-- the row also holds that sign-in's state, bound to their browser session.
CREATE TABLE IF NOT EXISTS owner_links (
	id               TEXT PRIMARY KEY,
	token_hash       BLOB NOT NULL UNIQUE,
	workspace_id     INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	created_by       INTEGER REFERENCES users (id) ON DELETE SET NULL,
	platform         TEXT NOT NULL,
	purpose          TEXT NOT NULL CHECK (purpose IN ('reconnect', 'connect')),
	account_id       TEXT NOT NULL DEFAULT '',
	subject          TEXT NOT NULL DEFAULT '',
	subject_name     TEXT NOT NULL DEFAULT '',
	sent_to          TEXT NOT NULL DEFAULT '',
	created_at       INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	used_at          INTEGER,
	used_by          TEXT NOT NULL DEFAULT '',
	revoked_at       INTEGER,
	state_hash       BLOB UNIQUE,
	session_hash     BLOB,
	verifier         BLOB,
	state_expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS owner_links_workspace ON owner_links (workspace_id, created_at);

PRAGMA user_version = 10;
