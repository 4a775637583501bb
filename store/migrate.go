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
	"", // 4→5: read-only API keys, webhooks and their outbox
}

// Latest is the schema version this build writes.
var Latest = len(steps) + 1

func (s *Store) migrate(ctx context.Context, schema string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
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
