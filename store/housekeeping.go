package store

import (
	"context"
	"time"
)

// Checkpoint moves the WAL into the database file and truncates it, so
// deleted ciphertext does not linger in the log. Best effort: a reader in
// the middle of a query can hold it back until the next one. It is the
// one statement that bypasses write: a checkpoint cannot run inside a
// transaction, and it changes no rows.
func (s *Store) Checkpoint(ctx context.Context) {
	if s.d.postgres {
		return // PostgreSQL checkpoints by itself
	}
	s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// DeleteExpired removes flows, grants and sessions past their time. One
// statement per Exec: the driver binds the first arguments to every
// statement of a multi-statement string, which once deleted every session.
func (s *Store) DeleteExpired(ctx context.Context, sessionsIdleBefore, sessionsCreatedBefore time.Time) error {
	now := s.now().Unix()
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM oauth_flows WHERE expires_at <= ?", now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM pending_grants WHERE expires_at <= ?", now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?",
			sessionsIdleBefore.Unix(), sessionsCreatedBefore.Unix())
		return err
	})
}

// PruneHistory deletes routine successful checks older than before; every
// other event lives as long as the history does. It reports how many went.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM account_events WHERE kind IN ('checked', 'refreshed') AND created_at < ?", before.Unix())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
