package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"omnisocial/vault"
)

// SignIn names one sign-in at a platform: who signed in (the grant subject)
// and the platforms whose accounts that one sign-in authorizes (Facebook and
// Instagram share a Facebook sign-in; a TikTok sign-in is its own). A
// revocation is owed when no stored account uses the sign-in any more.
type SignIn struct {
	Subject   string
	Platforms []string
}

func (si SignIn) key() string { return strings.Join(si.Platforms, ",") }

// inUse reports whether any account, in any workspace, is connected through
// the sign-in. An unknown subject shared by several platforms counts as in
// use: revoking it could cut off accounts nobody meant to touch.
func (si SignIn) inUse(ctx context.Context, q querier) (bool, error) {
	if si.Subject == "" || len(si.Platforms) == 0 {
		return len(si.Platforms) != 1, nil
	}
	args := []any{si.Subject}
	for _, p := range si.Platforms {
		args = append(args, p)
	}
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM social_accounts WHERE grant_subject = ? AND login IN (?`+
		strings.Repeat(", ?", len(si.Platforms)-1)+`)`, args...).Scan(&n)
	return n > 0, err
}

// Revocation is a platform token owed a revocation, opened.
type Revocation struct {
	ID             string
	Platform       string
	PlatformUserID string
	Tokens         Tokens
	Reason         string
	Attempts       int
	CreatedAt      time.Time
	// Err is set when the tokens no longer open (a key gone): nothing can
	// be revoked, and the row should be dropped.
	Err error
}

type revocationJSON struct {
	PlatformUserID string `json:"platform_user_id"`
	Access         string `json:"access"`
	Refresh        string `json:"refresh,omitempty"`
	User           string `json:"user,omitempty"`
}

const revocationField = "revocation"

// queueRevocation owes the platform a revocation of t, unless an account
// still uses the sign-in. It runs inside the caller's transaction, so the
// tokens leave the account and enter the outbox in one commit.
func (s *Store) queueRevocation(ctx context.Context, tx *Tx, platform string, si SignIn, puid string, t Tokens, reason string) error {
	if t.Access.IsZero() && t.User.IsZero() {
		return nil
	}
	if used, err := si.inUse(ctx, tx); err != nil || used {
		return err
	}
	b, err := json.Marshal(revocationJSON{PlatformUserID: puid, Access: t.Access.Reveal(), Refresh: t.Refresh.Reveal(), User: t.User.Reveal()})
	if err != nil {
		return err
	}
	id := NewID()
	sealed, err := s.box.Seal(vault.NewToken(string(b)), id, revocationField)
	if err != nil {
		return err
	}
	now := s.now().Unix()
	_, err = tx.ExecContext(ctx, `INSERT INTO revocations (id, platform, sign_in, subject, sealed, reason, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, platform, si.key(), si.Subject, sealed, reason, now, now)
	return err
}

// cancelRevocations forgets revocations owed for a sign-in that is in use
// again: revoking it now would undo the reconnect that just happened.
func cancelRevocations(ctx context.Context, tx *Tx, si SignIn) error {
	if si.Subject == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, "DELETE FROM revocations WHERE sign_in = ? AND subject = ?", si.key(), si.Subject)
	return err
}

// RevokeUnused owes the platform a revocation of tokens that were received
// but not kept (a choice cancelled or expired, a reconnect as somebody
// else), unless an account uses the sign-in.
func (s *Store) RevokeUnused(ctx context.Context, platform string, si SignIn, puid string, t Tokens, reason string) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		return s.queueRevocation(ctx, tx, platform, si, puid, t, reason)
	})
}

// DueRevocations lists up to limit revocations whose next attempt is due,
// oldest first.
func (s *Store) DueRevocations(ctx context.Context, limit int) ([]Revocation, error) {
	rows, err := s.query(ctx, `SELECT id, platform, sealed, reason, attempts, created_at FROM revocations
		WHERE next_attempt_at <= ? ORDER BY next_attempt_at, created_at LIMIT ?`, s.now().Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: revocations: %w", err)
	}
	defer rows.Close()
	var out []Revocation
	for rows.Next() {
		var r Revocation
		var sealed []byte
		var created int64
		if err := rows.Scan(&r.ID, &r.Platform, &sealed, &r.Reason, &r.Attempts, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = time.Unix(created, 0)
		plain, err := s.box.Open(sealed, r.ID, revocationField)
		var j revocationJSON
		if err == nil {
			err = json.Unmarshal([]byte(plain.Reveal()), &j)
		}
		if err != nil {
			r.Err = fmt.Errorf("store: revocation %s: %w", r.ID, err)
		}
		r.PlatformUserID = j.PlatformUserID
		r.Tokens = Tokens{Access: vault.NewToken(j.Access), Refresh: vault.NewToken(j.Refresh), User: vault.NewToken(j.User)}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RevocationDone deletes a revocation and its ciphertext: the platform has
// it, or it can never be done.
func (s *Store) RevocationDone(ctx context.Context, id string) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM revocations WHERE id = ?", id)
		return err
	})
}

// RevocationRetry records a failed attempt and when to try again.
func (s *Store) RevocationRetry(ctx context.Context, id string, next time.Time, reason string) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE revocations SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
			reason, next.Unix(), id)
		return err
	})
}

// RevocationsOwed counts revocations still waiting, due or not.
func (s *Store) RevocationsOwed(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM revocations").Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
