package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"omnisocial/vault"
)

// MarkMetaDeauthorized flags every account of platforms (those one Facebook
// sign-in serves: providers.SignInPlatforms) connected through one person's
// Facebook sign-in as needing re-auth: they removed the app. It returns how many accounts it flagged. Accounts a refresh
// worker holds at this moment are flagged without taking their lease away
// (see markSignInDead).
func (s *Store) MarkMetaDeauthorized(ctx context.Context, platforms []string, subject, reason string) (int, error) {
	n, queued := 0, 0
	err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		var err error
		n, queued, err = s.markSignInDead(ctx, tx, Spread{Platforms: platforms, Subject: subject},
			reason, OutcomeDeauthorized, s.now(), "")
		return err
	})
	if err == nil {
		s.wakeWebhooks(queued)
	}
	return n, err
}

// Spread names the accounts a dead sign-in takes down with it: those of
// Platforms connected by Subject (the platform's id of the person who signed
// in), in any workspace, and, when UserToken is set, only those holding that
// very user token (one sign-in, not every sign-in of that person).
type Spread struct {
	Platforms []string
	Subject   string
	UserToken vault.Token
}

// markSignInDead marks every account of sp, except the one with id except,
// as needing re-auth with reason, each with an event and its webhook
// messages (it returns how many accounts it marked and messages it queued).
// It runs inside the caller's write transaction.
//
// The refresh queue's fencing (store/refresh.go) is kept:
//   - An account with no live lease is marked and its attempt id cleared,
//     as a reconnect does: a late writer whose lease ran out finds itself
//     fenced off, and nobody claims a needs_reauth account again.
//   - An account whose lease is live belongs to a worker that is talking to
//     the platform right now. Its lease, attempt id and version are left
//     alone, so its outcome is still written: above all a TikTok refresh
//     token it may just have rotated, which must never be dropped (the old
//     one is dead the moment the new one is issued). Only status, reason
//     and event are set here, and RecordSuccess keeps a needs_reauth status
//     it finds (a claimed row can only have become needs_reauth this way):
//     the worker's call may have run before the sign-in died, so its
//     success is no evidence against the death. If the verdict was wrong
//     for that account, the cost is one reconnect, never a lost token.
func (s *Store) markSignInDead(ctx context.Context, tx *Tx, sp Spread, reason string, outcome CheckOutcome, at time.Time, except string) (n, queued int, err error) {
	if sp.Subject == "" || len(sp.Platforms) == 0 {
		return 0, 0, nil
	}
	args := []any{sp.Subject, except}
	marks := make([]string, len(sp.Platforms))
	for i, p := range sp.Platforms {
		marks[i] = "?"
		args = append(args, p)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, display_name, workspace_id, user_token, coalesce(lease_until >= ?, FALSE) AND attempt_id IS NOT NULL
		FROM social_accounts WHERE grant_subject = ? AND id != ? AND status != 'needs_reauth' AND login IN (`+strings.Join(marks, ",")+`)`,
		append([]any{at.Unix()}, args...)...)
	if err != nil {
		return 0, 0, fmt.Errorf("store: sign-in accounts: %w", err)
	}
	type hit struct {
		accountRef
		user   []byte
		leased bool
	}
	var hits []hit
	for rows.Next() {
		var h hit
		if err := rows.Scan(&h.id, &h.name, &h.ws, &h.user, &h.leased); err != nil {
			rows.Close()
			return 0, 0, err
		}
		hits = append(hits, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	for _, h := range hits {
		if !sp.UserToken.IsZero() {
			// Only the accounts this very sign-in reached: another sign-in
			// of the same person holds another user token.
			u, err := s.box.Open(h.user, h.id, colUser)
			if err != nil || !u.Equal(sp.UserToken) {
				continue
			}
		}
		q := `UPDATE social_accounts SET status = 'needs_reauth', last_error = ?, last_outcome = ?, updated_at = ?,
			version = version + 1, lease_until = NULL, attempt_id = NULL WHERE id = ?`
		if h.leased {
			q = `UPDATE social_accounts SET status = 'needs_reauth', last_error = ?, last_outcome = ?, updated_at = ? WHERE id = ?`
		}
		if _, err := tx.ExecContext(ctx, q, reason, outcome, at.Unix(), h.id); err != nil {
			return n, queued, fmt.Errorf("store: mark %s: %w", h.id, err)
		}
		if err := addEvent(ctx, tx, h.ws, h.id, h.name, 0, "needs_reauth", reason, at); err != nil {
			return n, queued, err
		}
		msgs, err := s.emit(ctx, tx, h.ws, h.id, EventNeedsReauth, reason, nil, at)
		if err != nil {
			return n, queued, err
		}
		queued += msgs
		n++
	}
	return n, queued, nil
}

// DeleteMetaSubject deletes every account of platforms (those one Facebook
// sign-in serves), with its tokens, connected through one person's
// Facebook sign-in, and records the request under code so its status can
// be looked up.
func (s *Store) DeleteMetaSubject(ctx context.Context, platforms []string, subject, code string) (int, error) {
	n, queued := 0, 0
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		queued = 0
		accts, err := accountsOfSignIn(ctx, tx, platforms, subject)
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

// accountsOfSignIn lists the accounts of platforms connected through
// subject's sign-in.
func accountsOfSignIn(ctx context.Context, tx *Tx, platforms []string, subject string) ([]accountRef, error) {
	if subject == "" || len(platforms) == 0 {
		return nil, nil
	}
	args := []any{subject}
	for _, p := range platforms {
		args = append(args, p)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, display_name, status, workspace_id FROM social_accounts
		WHERE grant_subject = ? AND login IN (?`+strings.Repeat(", ?", len(platforms)-1)+`)`, args...)
	return collect(rows, err, func(r *sql.Rows) (a accountRef, err error) { return a, r.Scan(&a.id, &a.name, &a.status, &a.ws) })
}
