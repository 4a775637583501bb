package store

import (
	"context"
	"database/sql"
	"fmt"
)

// steps[i] brings a database from version i+1 to i+2. An empty step marks a
// purely additive change: re-running the idempotent schema.sql makes it, so
// the statements are not written twice. Anything else (ALTER, data moves)
// is spelled out here.
var steps = []string{
	"", // 1→2: social accounts, OAuth flows, pending grants, account events, API keys, alerts
	"", // 2→3: deletion_requests
	"", // 3→4: revocation outbox; routine history may be pruned, nothing else deleted
	// 4→5: invitations instead of silent membership; the last workspace used.
	// From version 1 to 3 the empty steps already ran schema.sql, which made
	// the table, hence IF NOT EXISTS; the column is new to every older file.
	`ALTER TABLE memberships ADD COLUMN last_used_at INTEGER;
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
CREATE INDEX IF NOT EXISTS invitations_email ON invitations (email);`,
	"", // 5→6: read-only API keys, webhooks and their outbox
	// 6→7: e-mail alerts: a person's own switch, and the mail outbox.
	`ALTER TABLE users ADD COLUMN mail_alerts INTEGER NOT NULL DEFAULT 1;
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
CREATE INDEX IF NOT EXISTS mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';`,
}

// Latest is the schema version this build writes.
var Latest = len(steps) + 1

func (s *Store) migrate(ctx context.Context, schema string) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("store: schema version: %w", err)
		}
		if v > Latest {
			return fmt.Errorf("store: the database is at schema version %d, newer than this build (%d)", v, Latest)
		}
		if v == 0 {
			if _, err := tx.ExecContext(ctx, schema); err != nil {
				return fmt.Errorf("store: create schema: %w", err)
			}
		}
		for ; v > 0 && v < Latest; v++ {
			step := steps[v-1]
			if step == "" {
				step = schema
			}
			if _, err := tx.ExecContext(ctx, step); err != nil {
				return fmt.Errorf("store: migrate %d→%d: %w", v, v+1, err)
			}
			if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
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
