package store

import (
	"context"
	"fmt"
)

// A fresh database runs schema.sql whole, which stamps the latest version.
// An older one is brought forward one version at a time: steps[v-1] takes
// it from version v to v+1, and holds exactly what version v+1 added to
// schema.sql, one statement per string. So schema.sql stays the readable
// whole, and a step never depends on what the rest of schema.sql says
// today (a step that is not additive would break that: a column renamed,
// a table rebuilt). A new version appends a step here and changes
// schema.sql to match; TestMigrateStepByStep holds the two together.
//
// Every CREATE says IF NOT EXISTS, as schema.sql does. Builds before these
// steps were written out re-ran their whole schema.sql for an empty step;
// that ran in the one migration transaction that ended at their latest
// version, so a file stamped N holds nothing newer than N and its next
// steps find nothing made. IF NOT EXISTS keeps a step safe all the same on
// a file that already has the table or index (one a development build made,
// say); ALTER TABLE has no such guard, and no file can already have the
// columns it adds, since they came in with the version being migrated to.
var steps = [][]string{
	{ // 1→2: social accounts, OAuth flows, pending grants, account events, API keys, alerts
		`CREATE TABLE IF NOT EXISTS social_accounts (
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
	UNIQUE (user_id, platform, platform_user_id),
	UNIQUE (workspace_id, platform, platform_user_id)
)`,
		`CREATE INDEX IF NOT EXISTS social_accounts_due ON social_accounts (next_check_at) WHERE status != 'needs_reauth'`,
		`CREATE INDEX IF NOT EXISTS social_accounts_workspace ON social_accounts (workspace_id, status)`,
		`CREATE TABLE IF NOT EXISTS oauth_flows (
	state_hash   BLOB PRIMARY KEY,
	session_hash BLOB NOT NULL,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	platform     TEXT NOT NULL,
	purpose      TEXT NOT NULL CHECK (purpose IN ('connect', 'reconnect', 'rerequest')),
	account_id   TEXT NOT NULL DEFAULT '',
	verifier     BLOB,
	expires_at   INTEGER NOT NULL
)`,
		`CREATE TABLE IF NOT EXISTS pending_grants (
	id           TEXT PRIMARY KEY,
	session_hash BLOB NOT NULL,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	platform     TEXT NOT NULL,
	sealed       BLOB NOT NULL,
	expires_at   INTEGER NOT NULL
)`,
		`CREATE TABLE IF NOT EXISTS account_events (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	account_id   TEXT NOT NULL,
	account_name TEXT NOT NULL,
	user_id      INTEGER REFERENCES users (id) ON DELETE SET NULL,
	kind         TEXT NOT NULL,
	detail       TEXT NOT NULL DEFAULT '',
	created_at   INTEGER NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS account_events_account ON account_events (account_id, id)`,
		`CREATE TRIGGER IF NOT EXISTS account_events_append_only BEFORE UPDATE ON account_events
BEGIN SELECT RAISE(ABORT, 'account_events is append-only'); END`,
		`CREATE TABLE IF NOT EXISTS api_keys (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL,
	hash         BLOB NOT NULL UNIQUE,
	created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
)`,
		`CREATE TABLE IF NOT EXISTS system_alerts (
	key        TEXT PRIMARY KEY,
	message    TEXT NOT NULL,
	created_at INTEGER NOT NULL
)`,
	},
	{ // 2→3: Meta data-deletion requests
		`CREATE TABLE IF NOT EXISTS deletion_requests (
	code             TEXT PRIMARY KEY,
	accounts_deleted INTEGER NOT NULL,
	created_at       INTEGER NOT NULL
)`,
	},
	{ // 3→4: the revocation outbox; routine history may be pruned, nothing else deleted
		`CREATE INDEX IF NOT EXISTS account_events_routine ON account_events (created_at) WHERE kind IN ('checked', 'refreshed')`,
		`CREATE TRIGGER IF NOT EXISTS account_events_keep BEFORE DELETE ON account_events
WHEN OLD.kind NOT IN ('checked', 'refreshed') AND EXISTS (SELECT 1 FROM workspaces WHERE id = OLD.workspace_id)
BEGIN SELECT RAISE(ABORT, 'account_events keeps everything but routine checks'); END`,
		`CREATE TABLE IF NOT EXISTS revocations (
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
)`,
		`CREATE INDEX IF NOT EXISTS revocations_due ON revocations (next_attempt_at)`,
	},
	{ // 4→5: invitations instead of silent membership; the last workspace used
		`ALTER TABLE memberships ADD COLUMN last_used_at INTEGER`,
		`CREATE TABLE IF NOT EXISTS invitations (
	id           INTEGER PRIMARY KEY,
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	email        TEXT NOT NULL COLLATE NOCASE,
	role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
	token_hash   BLOB NOT NULL UNIQUE,
	invited_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	UNIQUE (workspace_id, email)
)`,
		`CREATE INDEX IF NOT EXISTS invitations_email ON invitations (email)`,
	},
	{ // 5→6: read-only API keys, webhooks and their outbox
		`CREATE TABLE IF NOT EXISTS api_key_access (
	key_id    INTEGER PRIMARY KEY REFERENCES api_keys (id) ON DELETE CASCADE,
	read_only INTEGER NOT NULL CHECK (read_only IN (0, 1))
)`,
		`CREATE TABLE IF NOT EXISTS webhooks (
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
)`,
		`CREATE INDEX IF NOT EXISTS webhooks_workspace ON webhooks (workspace_id)`,
		`CREATE TABLE IF NOT EXISTS webhook_deliveries (
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
)`,
		`CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending'`,
		`CREATE INDEX IF NOT EXISTS webhook_deliveries_order ON webhook_deliveries (webhook_id, account_id, seq) WHERE state = 'pending'`,
		`CREATE INDEX IF NOT EXISTS webhook_deliveries_list ON webhook_deliveries (webhook_id, seq)`,
		`CREATE TABLE IF NOT EXISTS webhook_attempts (
	id          INTEGER PRIMARY KEY,
	delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
	at          INTEGER NOT NULL,
	status_code INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	response    TEXT NOT NULL DEFAULT '',
	took_ms     INTEGER NOT NULL DEFAULT 0
)`,
		`CREATE INDEX IF NOT EXISTS webhook_attempts_delivery ON webhook_attempts (delivery_id, id)`,
	},
	{ // 6→7: e-mail alerts: a person's own switch, and the mail outbox
		`ALTER TABLE users ADD COLUMN mail_alerts INTEGER NOT NULL DEFAULT 1`,
		`CREATE TABLE IF NOT EXISTS mail_outbox (
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
)`,
		`CREATE UNIQUE INDEX IF NOT EXISTS mail_outbox_pending ON mail_outbox (workspace_id, kind, key) WHERE state = 'pending'`,
		`CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending'`,
	},
	// 7→8: reconnect links for the owner of a platform login.
	{
		`CREATE TABLE IF NOT EXISTS owner_links (
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
)`,
		`CREATE INDEX IF NOT EXISTS owner_links_workspace ON owner_links (workspace_id, created_at)`,
	},
	// 8→9: the login that holds an account's tokens; until now, its platform's own.
	{
		`ALTER TABLE social_accounts ADD COLUMN login TEXT NOT NULL DEFAULT ''`,
		`UPDATE social_accounts SET login = platform`,
	},
	// 9→10: a workspace's account versions, moved by every change to its
	// accounts, so pages can keep its rendered list until they move.
	{
		`CREATE TABLE IF NOT EXISTS account_versions (
	workspace_id INTEGER NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	shard        INTEGER NOT NULL,
	version      INTEGER NOT NULL,
	PRIMARY KEY (workspace_id, shard)
)`,
		`CREATE TRIGGER IF NOT EXISTS social_accounts_version_insert AFTER INSERT ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id = NEW.workspace_id
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END`,
		`CREATE TRIGGER IF NOT EXISTS social_accounts_version_delete AFTER DELETE ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id = OLD.workspace_id
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END`,
		`CREATE TRIGGER IF NOT EXISTS social_accounts_version_update AFTER UPDATE OF
	workspace_id, user_id, platform, platform_user_id, username, display_name, avatar_url, scopes, token_expires_at, refresh_expires_at, metadata, status, last_error, last_synced_at, next_check_at, grant_subject, grant_subject_name, connected_at, updated_at, failures, last_outcome, login
	ON social_accounts
BEGIN
	INSERT INTO account_versions (workspace_id, shard, version) SELECT id, 0, 1 FROM workspaces WHERE id IN (OLD.workspace_id, NEW.workspace_id)
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = version + 1;
END`,
	},
}

// Latest is the schema version this build writes.
var Latest = len(steps) + 1

// migrate brings a SQLite database to Latest (PostgreSQL: migratePostgres).
func (s *Store) migrate(ctx context.Context, schema string) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("store: schema version: %w", err)
		}
		if v > Latest {
			return fmt.Errorf("store: the database is at schema version %d, newer than this build (%d)", v, Latest)
		}
		if v == 0 {
			// schema.sql runs as one string: it binds no arguments, so the
			// driver's way with several statements (see write) cannot bite.
			if _, err := tx.ExecContext(ctx, schema); err != nil {
				return fmt.Errorf("store: create schema: %w", err)
			}
		}
		for ; v > 0 && v < Latest; v++ {
			if err := migrateStep(ctx, tx, v); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return err
		}
		if v != Latest {
			return fmt.Errorf("store: schema.sql stamps version %d, migrations reach %d", v, Latest)
		}
		return nil
	})
}

// migrateStep brings a database at version v to v+1, inside tx.
func migrateStep(ctx context.Context, tx *Tx, v int) error {
	for _, q := range steps[v-1] {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: migrate %d→%d: %w", v, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return fmt.Errorf("store: migrate %d→%d: %w", v, v+1, err)
	}
	return nil
}
