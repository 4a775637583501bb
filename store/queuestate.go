package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// QueueState is an account's place in the refresh queue.
type QueueState struct {
	Platform      string
	Status        Status
	LastError     string
	LastOutcome   CheckOutcome
	Failures      int
	Version       int64
	NextCheckAt   time.Time
	LastAttemptAt time.Time
	LastSyncedAt  time.Time
	LeaseUntil    time.Time // zero: not leased
}

// AccessTokenFor returns an account's tokens with its queue state, for the
// on-demand path (refresh.Refresher.AccessToken).
func (s *Store) AccessTokenFor(ctx context.Context, id string) (Tokens, QueueState, error) {
	q, err := s.QueueState(ctx, id)
	if err != nil {
		return Tokens{}, q, err
	}
	t, err := s.Tokens(ctx, id)
	return t, q, err
}

// QueueState reads an account's queue columns (for tests and the details view).
func (s *Store) QueueState(ctx context.Context, id string) (QueueState, error) {
	var q QueueState
	var next int64
	var attempt, synced, lease sql.NullInt64
	err := s.queryRow(ctx, `SELECT platform, status, last_error, last_outcome, failures, version, next_check_at,
		last_attempt_at, last_synced_at, lease_until FROM social_accounts WHERE id = ?`, id).
		Scan(&q.Platform, &q.Status, &q.LastError, &q.LastOutcome, &q.Failures, &q.Version, &next, &attempt, &synced, &lease)
	if errors.Is(err, sql.ErrNoRows) {
		return q, ErrNotFound
	}
	if err != nil {
		return q, fmt.Errorf("store: account %s: %w", id, err)
	}
	q.NextCheckAt, q.LastAttemptAt, q.LastSyncedAt, q.LeaseUntil = time.Unix(next, 0), fromNull(attempt), fromNull(synced), fromNull(lease)
	return q, nil
}
