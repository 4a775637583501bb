package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// MarkMetaDeauthorized flags every Facebook and Instagram account connected
// through one person's Facebook sign-in as needing re-auth: they removed
// the app. It returns how many accounts it flagged.
func (s *Store) MarkMetaDeauthorized(ctx context.Context, subject, reason string) (int, error) {
	n, queued := 0, 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		queued = 0
		accts, err := metaAccountsOf(ctx, tx, subject)
		if err != nil {
			return err
		}
		now := s.now()
		for _, a := range accts {
			if _, err := tx.ExecContext(ctx, `UPDATE social_accounts SET status = 'needs_reauth', last_error = ?, last_outcome = 'deauthorized',
				version = version + 1, lease_until = NULL, attempt_id = NULL, updated_at = ? WHERE id = ?`, reason, now.Unix(), a.id); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, a.ws, a.id, a.name, 0, "needs_reauth", reason, now); err != nil {
				return err
			}
			if a.status != StatusNeedsReauth {
				q, err := s.emit(ctx, tx, a.ws, a.id, EventNeedsReauth, reason, nil, now)
				if err != nil {
					return err
				}
				queued += q
			}
		}
		n = len(accts)
		return nil
	})
	if err == nil {
		s.wakeWebhooks(queued)
	}
	return n, err
}

// DeleteMetaSubject deletes every Facebook and Instagram account, with its
// tokens, connected through one person's Facebook sign-in, and records the
// request under code so its status can be looked up.
func (s *Store) DeleteMetaSubject(ctx context.Context, subject, code string) (int, error) {
	n, queued := 0, 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		queued = 0
		accts, err := metaAccountsOf(ctx, tx, subject)
		if err != nil {
			return err
		}
		now := s.now()
		for _, a := range accts {
			// The webhook message needs the account as it was: queue it first.
			q, err := s.emit(ctx, tx, a.ws, a.id, EventDisconnected, "Deleted with its tokens at the person's request to Facebook", nil, now)
			if err != nil {
				return err
			}
			queued += q
			if _, err := tx.ExecContext(ctx, "DELETE FROM social_accounts WHERE id = ?", a.id); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, a.ws, a.id, a.name, 0, "deleted", "Deleted with its tokens at the person's request to Facebook", now); err != nil {
				return err
			}
		}
		n = len(accts)
		_, err = tx.ExecContext(ctx, "INSERT INTO deletion_requests (code, accounts_deleted, created_at) VALUES (?, ?, ?)", code, n, now.Unix())
		return err
	})
	if err == nil {
		s.wakeWebhooks(queued)
		s.Checkpoint(ctx)
	}
	return n, err
}

// DeletionRequest reports a recorded data-deletion request.
func (s *Store) DeletionRequest(ctx context.Context, code string) (deleted int, at time.Time, err error) {
	var unix int64
	err = s.queryRow(ctx, "SELECT accounts_deleted, created_at FROM deletion_requests WHERE code = ?", code).Scan(&deleted, &unix)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, at, ErrNotFound
	}
	return deleted, time.Unix(unix, 0), err
}

type accountRef struct {
	id, name, status string
	ws               int64
}

func metaAccountsOf(ctx context.Context, tx *sql.Tx, subject string) ([]accountRef, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, display_name, status, workspace_id FROM social_accounts
		WHERE platform IN ('facebook', 'instagram') AND grant_subject = ? AND grant_subject != ''`, subject)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []accountRef
	for rows.Next() {
		var a accountRef
		if err := rows.Scan(&a.id, &a.name, &a.status, &a.ws); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
