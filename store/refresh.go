package store

// The token-refresh queue (SECURITY.md §5). A claim is the write-ahead
// intent: lease, attempt id and attempt time are committed before any
// platform call, in a short transaction that is closed again before the
// call. Every outcome is then written with a compare-and-swap on the attempt
// id, so a reconnect (which clears it, see renew) or another worker that
// claimed the account since always wins over a late writer.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

var (
	// ErrLeased: another worker holds a live lease on the account.
	ErrLeased = errors.New("store: account is being refreshed")
	// ErrLostLease: the attempt was fenced off (reconnected, or claimed
	// again after the lease ran out); its outcome was not written.
	ErrLostLease = errors.New("store: refresh attempt was superseded")
	// ErrNeedsReauth: the account waits for its owner to reconnect it.
	ErrNeedsReauth = errors.New("store: account needs to be reconnected")
)

// Claim is one account leased to one refresh attempt.
type Claim struct {
	ID             string
	WorkspaceID    int64
	Platform       string
	PlatformUserID string
	DisplayName    string
	Status         Status
	GrantSubject   string // who signed in at the platform
	AttemptID      string
	Version        int64
	Tokens         Tokens
	TokensErr      error // the stored tokens could not be opened
	Metadata       map[string]any
	Scopes         []string
	Failures       int
	NextCheckAt    time.Time
	// Recovered: an earlier attempt's lease ran out without an outcome (a
	// crash, or a kill mid-call). Its refresh token may be rotated already;
	// this attempt is the one careful retry with the stored token.
	Recovered bool
}

// Result is a successful check or refresh. Empty profile fields, nil
// Scopes and nil Metadata keep what is stored; an empty refresh or user
// token never replaces a stored one.
type Result struct {
	At                               time.Time
	Tokens                           Tokens
	Username, DisplayName, AvatarURL string
	Scopes                           []string
	Metadata                         map[string]any
	Status                           Status // active, limited, or needs_reauth (tokens rotated, then a later step failed for good)
	Problem                          string // last_error; "" when all is well
	NextCheckAt                      time.Time
	Outcome                          CheckOutcome // last_outcome
	Failed                           bool         // tokens saved, but a later step failed: count a failure
	Event, EventDetail               string       // appended to the account's history
}

// Failure is a failed check or refresh.
type Failure struct {
	At          time.Time
	Permanent   bool   // needs re-auth; otherwise retry at NextCheckAt
	Reason      string // in words, for the owner
	NextCheckAt time.Time
	Outcome     CheckOutcome
	// Spread, if set on a Permanent failure, names the other accounts the
	// same dead sign-in takes down: they are marked in the same transaction.
	Spread *Spread
}

// A claim's platform is the login that holds the tokens: the provider
// that refreshes them.
const claimCols = `id, workspace_id, coalesce(nullif(login, ''), platform), platform_user_id, display_name, status, version, access_token, refresh_token,
	user_token, token_expires_at, refresh_expires_at, metadata, scopes, failures, next_check_at, attempt_id, grant_subject`

// ClaimDue leases up to limit due accounts, oldest due first. A lease that
// ran out counts as free: that is how work left by a crash is reclaimed.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, owner string, limit int, lease time.Duration) ([]Claim, error) {
	return s.claim(ctx, now, owner, lease, false, `next_check_at <= ? AND status != 'needs_reauth'
		AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_check_at, id LIMIT ?`+s.d.skipLocked(), now.Unix(), now.Unix(), limit)
}

// ClaimOne leases one account whether or not it is due (on-demand refresh).
func (s *Store) ClaimOne(ctx context.Context, now time.Time, id, owner string, lease time.Duration) (Claim, error) {
	cs, err := s.claim(ctx, now, owner, lease, true, "id = ?"+s.d.forUpdate(), id)
	if err != nil {
		return Claim{}, err
	}
	return cs[0], nil
}

func (s *Store) claim(ctx context.Context, now time.Time, owner string, lease time.Duration, one bool, where string, args ...any) ([]Claim, error) {
	type row struct {
		c      Claim
		st     sealedTokens
		leased bool
	}
	var rows []row
	// Read committed is enough on PostgreSQL: the rows are locked as they
	// are read, and another replica's claim skips them (ClaimDue) or waits
	// and then sees the lease (ClaimOne).
	err := s.writeAt(context.WithoutCancel(ctx), sql.LevelReadCommitted, func(ctx context.Context, tx *Tx) error {
		rows = rows[:0]
		rs, err := tx.QueryContext(ctx, "SELECT "+claimCols+", coalesce(lease_until >= ?, FALSE) FROM social_accounts WHERE "+where,
			append([]any{now.Unix()}, args...)...)
		if err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		for rs.Next() {
			var r row
			var exp, rexp sql.NullInt64
			var meta, scopes string
			var next int64
			var attempt sql.NullString
			if err := rs.Scan(&r.c.ID, &r.c.WorkspaceID, &r.c.Platform, &r.c.PlatformUserID, &r.c.DisplayName, &r.c.Status,
				&r.c.Version, &r.st.access, &r.st.refresh, &r.st.user, &exp, &rexp, &meta, &scopes, &r.c.Failures, &next,
				&attempt, &r.c.GrantSubject, &r.leased); err != nil {
				rs.Close()
				return fmt.Errorf("store: claim: %w", err)
			}
			r.c.Tokens.Expiry, r.c.Tokens.RefreshExpiry = fromNull(exp), fromNull(rexp)
			r.c.NextCheckAt, r.c.Scopes, r.c.Recovered = time.Unix(next, 0), strings.Fields(scopes), attempt.Valid
			if json.Unmarshal([]byte(meta), &r.c.Metadata) != nil {
				r.c.Metadata = map[string]any{}
			}
			rows = append(rows, r)
		}
		rs.Close()
		if err := rs.Err(); err != nil {
			return fmt.Errorf("store: claim: %w", err)
		}
		if one {
			switch {
			case len(rows) == 0:
				return ErrNotFound
			case rows[0].c.Status == StatusNeedsReauth:
				return ErrNeedsReauth
			case rows[0].leased:
				return ErrLeased
			}
		}
		for i := range rows {
			rows[i].c.AttemptID = owner + ":" + NewID()
			if _, err := tx.ExecContext(ctx, `UPDATE social_accounts SET lease_until = ?, attempt_id = ?, last_attempt_at = ?
				WHERE id = ?`, now.Add(lease).Unix(), rows[i].c.AttemptID, now.Unix(), rows[i].c.ID); err != nil {
				return fmt.Errorf("store: claim: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Claim, len(rows))
	for i, r := range rows {
		out[i] = r.c
		exp, rexp := r.c.Tokens.Expiry, r.c.Tokens.RefreshExpiry
		out[i].Tokens, out[i].TokensErr = s.open(r.c.ID, r.st)
		out[i].Tokens.Expiry, out[i].Tokens.RefreshExpiry = exp, rexp
	}
	return out, nil
}

// resultColumns are r's scopes and metadata as stored, NULL to keep what
// is there.
func resultColumns(r Result) (scopes, meta any, err error) {
	if r.Scopes != nil {
		scopes = strings.Join(r.Scopes, " ")
	}
	if r.Metadata != nil {
		b, err := json.Marshal(r.Metadata)
		if err != nil {
			return nil, nil, err
		}
		meta = string(b)
	}
	return scopes, meta, nil
}

// RecordSuccess stores a check's outcome: new tokens sealed first of all,
// profile, schedule, and one history entry, in one transaction, unless the
// attempt was fenced off meanwhile (ErrLostLease: nothing is written, since
// whoever fenced it holds newer tokens). A needs_reauth status set while
// the attempt was in flight (a dead sign-in found through another account,
// see markSignInDead) stays, with its reason: the tokens are stored all the
// same.
func (s *Store) RecordSuccess(ctx context.Context, c Claim, r Result) error {
	start := time.Now()
	if r.Tokens.Access.IsZero() {
		return fmt.Errorf("store: account %s: refusing to store an empty access token", c.ID)
	}
	st, err := s.seal(c.ID, r.Tokens)
	if err != nil {
		return err
	}
	scopes, meta, err := resultColumns(r)
	if err != nil {
		return err
	}
	at := s.at(r.At)
	// Group-committed with other outcomes (groupcommit.go), at read
	// committed on PostgreSQL as the claim: the first read's row lock and
	// the attempt-id fence suffice (serializable failed half a storm's
	// outcomes). The caller's cancellation does not reach the write.
	group, err := s.grouped(c.WorkspaceID, c.ID, func(ctx context.Context, tx *Tx) (int, error) {
		return s.applySuccess(ctx, tx, c, r, st, scopes, meta, at)
	})
	if err == nil {
		s.group.observeOutcome(start, group)
	}
	return err
}

// applySuccess is RecordSuccess's write in tx; it returns the webhook
// messages it queued.
func (s *Store) applySuccess(ctx context.Context, tx *Tx, c Claim, r Result, st sealedTokens, scopes, meta any, at time.Time) (int, error) {
	var oldStatus Status
	var oldScopes string
	if err := tx.QueryRowContext(ctx, "SELECT status, scopes FROM social_accounts WHERE id = ? AND attempt_id = ?"+s.d.forUpdate(),
		c.ID, c.AttemptID).Scan(&oldStatus, &oldScopes); errors.Is(err, sql.ErrNoRows) {
		return 0, ErrLostLease
	} else if err != nil {
		return 0, fmt.Errorf("store: refresh outcome: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE social_accounts SET access_token = ?, refresh_token = coalesce(?, refresh_token),
		user_token = coalesce(?, user_token), token_expires_at = ?, refresh_expires_at = coalesce(?, refresh_expires_at),
		username = coalesce(nullif(?, ''), username), display_name = coalesce(nullif(?, ''), display_name),
		avatar_url = coalesce(nullif(?, ''), avatar_url), scopes = coalesce(?, scopes), metadata = coalesce(?, metadata),
		status = CASE WHEN status = 'needs_reauth' THEN status ELSE ? END,
		last_error = CASE WHEN status = 'needs_reauth' THEN last_error ELSE ? END,
		last_synced_at = ?, next_check_at = ?, updated_at = ?,
		failures = CASE WHEN ? THEN failures + 1 ELSE 0 END, last_outcome = ?,
		version = version + 1, lease_until = NULL, attempt_id = NULL
		WHERE id = ? AND attempt_id = ?`,
		st.access, st.refresh, st.user, nullTime(r.Tokens.Expiry), nullTime(r.Tokens.RefreshExpiry),
		r.Username, r.DisplayName, r.AvatarURL, scopes, meta,
		statusOr(r.Status), r.Problem, at.Unix(), r.NextCheckAt.Unix(), at.Unix(),
		r.Failed, r.Outcome, c.ID, c.AttemptID)
	if err := fenced(res, err); err != nil {
		return 0, err
	}
	if err := s.event(ctx, tx, c, r.Event, r.EventDetail, at); err != nil {
		return 0, err
	}
	// Webhooks hear of a change of status or permissions, not of routine checks.
	var events [][2]string
	switch newStatus := statusOr(r.Status); {
	case newStatus == oldStatus:
	case newStatus == StatusNeedsReauth:
		events = append(events, [2]string{EventNeedsReauth, r.EventDetail})
	case newStatus == StatusActive:
		events = append(events, [2]string{EventRecovered, "Working again"})
	}
	if r.Scopes != nil {
		if change := scopeChange(strings.Fields(oldScopes), r.Scopes); change != "" {
			events = append(events, [2]string{EventPermissionsChanged, change})
		}
	}
	queued := 0
	for _, e := range events {
		n, err := s.emit(ctx, tx, c.WorkspaceID, c.ID, e[0], e[1], nil, at)
		if err != nil {
			return 0, err
		}
		queued += n
	}
	return queued, nil
}

// RecordFailure stores a failed attempt. Transient: the status stays (an
// outage never condemns an account) and the next try waits. Permanent: the
// account needs re-auth, with the reason in words, and is not claimed again
// until reconnected.
func (s *Store) RecordFailure(ctx context.Context, c Claim, f Failure) error {
	at := s.at(f.At)
	status, event, detail, next := c.Status, "needs_reauth", f.Reason, f.NextCheckAt
	if next.IsZero() {
		next = at
	}
	if f.Permanent {
		status = StatusNeedsReauth
	} else {
		event, detail = "check_failed", f.Reason+"; next try "+next.UTC().Format("2006-01-02 15:04 UTC")
	}
	apply := func(ctx context.Context, tx *Tx) (int, error) {
		// A transient failure keeps the status, and the reason of a
		// needs_reauth a dead sign-in set meanwhile (markSignInDead).
		res, err := tx.ExecContext(ctx, `UPDATE social_accounts SET status = CASE WHEN ? THEN ? ELSE status END,
			last_error = CASE WHEN NOT ? AND status = 'needs_reauth' THEN last_error ELSE ? END,
			failures = failures + 1, next_check_at = ?, last_outcome = ?, updated_at = ?,
			lease_until = NULL, attempt_id = NULL
			WHERE id = ? AND attempt_id = ?`,
			f.Permanent, status, f.Permanent, f.Reason, next.Unix(), f.Outcome, at.Unix(), c.ID, c.AttemptID)
		if err := fenced(res, err); err != nil {
			return 0, err
		}
		if err := s.event(ctx, tx, c, event, detail, at); err != nil {
			return 0, err
		}
		queued := 0
		if f.Permanent && c.Status != StatusNeedsReauth {
			if queued, err = s.emit(ctx, tx, c.WorkspaceID, c.ID, EventNeedsReauth, f.Reason, nil, at); err != nil {
				return 0, err
			}
		}
		if f.Permanent && f.Spread != nil {
			_, n, err := s.markSignInDead(ctx, tx, *f.Spread, f.Reason, f.Outcome, at, c.ID)
			return queued + n, err
		}
		return queued, nil
	}
	if f.Spread == nil {
		// One fenced row and its history: group-committed at read
		// committed, as RecordSuccess (outages fail every call at once).
		_, err := s.grouped(c.WorkspaceID, c.ID, apply)
		return err
	}
	// A dead sign-in marks other accounts too: alone, and serializable.
	queued := 0
	err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		var err error
		queued, err = apply(ctx, tx)
		return err
	})
	if err == nil {
		s.wakeWebhooks(queued)
	}
	return err
}

// ReleaseLease puts an account back untouched, to be tried at next: for
// problems that are not the account's (the app's own credentials rejected,
// the platform asking everyone to wait, shutdown before the call).
func (s *Store) ReleaseLease(ctx context.Context, c Claim, next time.Time, outcome CheckOutcome) error {
	// One fenced row: group-committed at read committed, as RecordSuccess
	// (a platform asking everyone to wait puts a whole batch back at once).
	_, err := s.grouped(c.WorkspaceID, c.ID, func(ctx context.Context, tx *Tx) (int, error) {
		res, err := tx.ExecContext(ctx, `UPDATE social_accounts SET next_check_at = ?,
			last_outcome = CASE WHEN ? = '' THEN last_outcome ELSE ? END, lease_until = NULL, attempt_id = NULL
			WHERE id = ? AND attempt_id = ?`, next.Unix(), outcome, outcome, c.ID, c.AttemptID)
		return 0, fenced(res, err)
	})
	return err
}

// fenced turns "no row matched the attempt id" into ErrLostLease.
func fenced(res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("store: refresh outcome: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return ErrLostLease
	}
	return nil
}

func (s *Store) event(ctx context.Context, tx *Tx, c Claim, kind, detail string, at time.Time) error {
	if kind == "" {
		return nil
	}
	return addEvent(ctx, tx, c.WorkspaceID, c.ID, c.DisplayName, 0, kind, detail, at)
}

func (s *Store) at(t time.Time) time.Time {
	if t.IsZero() {
		return s.now()
	}
	return t
}
