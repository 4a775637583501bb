package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"omnisocial/vault"
)

// Flow is an OAuth authorization in flight.
type Flow struct {
	StateHash   []byte
	SessionHash []byte
	UserID      int64
	WorkspaceID int64
	Platform    string
	Purpose     Purpose
	AccountID   string // for reconnect and rerequest
	Verifier    vault.Token
	ExpiresAt   time.Time
}

// CreateFlow records an authorization about to start.
func (s *Store) CreateFlow(ctx context.Context, f Flow) error {
	var verifier []byte
	if !f.Verifier.IsZero() {
		var err error
		if verifier, err = s.box.Seal(f.Verifier, hex.EncodeToString(f.StateHash), "verifier"); err != nil {
			return err
		}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO oauth_flows (state_hash, session_hash, user_id, workspace_id, platform, purpose,
		account_id, verifier, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.StateHash, f.SessionHash, f.UserID, f.WorkspaceID, f.Platform, f.Purpose, f.AccountID, verifier, f.ExpiresAt.Unix())
	return err
}

// TakeFlow removes and returns the flow for a state, if it belongs to this
// session and has not expired. The delete is the check: a state is used at
// most once, even by two callbacks racing each other.
func (s *Store) TakeFlow(ctx context.Context, stateHash, sessionHash []byte) (Flow, error) {
	f := Flow{StateHash: stateHash}
	var verifier []byte
	var exp int64
	err := s.w.QueryRowContext(ctx, `DELETE FROM oauth_flows WHERE state_hash = ? AND session_hash = ?
		RETURNING session_hash, user_id, workspace_id, platform, purpose, account_id, verifier, expires_at`, stateHash, sessionHash).
		Scan(&f.SessionHash, &f.UserID, &f.WorkspaceID, &f.Platform, &f.Purpose, &f.AccountID, &verifier, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, err
	}
	f.ExpiresAt = time.Unix(exp, 0)
	if !s.now().Before(f.ExpiresAt) {
		return f, ErrNotFound
	}
	if verifier != nil {
		if f.Verifier, err = s.box.Open(verifier, hex.EncodeToString(stateHash), "verifier"); err != nil {
			return f, err
		}
	}
	return f, nil
}

// Discovered is one account an authorization can manage.
type Discovered struct {
	PlatformUserID string
	Username       string
	DisplayName    string
	AvatarURL      string
	Tokens         Tokens
	Scopes         []string
	Metadata       map[string]any
	Status         Status // active or limited
	Problem        string // why limited, in words
	NextCheckAt    time.Time
}

// PendingGrant is what an authorization found, waiting for the person to
// choose. It lives sealed in one row: it holds tokens.
type PendingGrant struct {
	ID          string
	SessionHash []byte
	UserID      int64
	WorkspaceID int64
	Platform    string
	Subject     string // who signed in at the platform
	SubjectName string
	Scopes      []string
	Declined    []string
	Accounts    []Discovered
	Unlinked    []string // Instagram: Pages without a linked account
	Notes       []string // what the person should know about the search, in words
	ExpiresAt   time.Time
}

// grantJSON is PendingGrant's sealed form. Tokens marshal as "[REDACTED]",
// so they travel here as plain strings, inside the ciphertext only.
type grantJSON struct {
	Subject, SubjectName string
	Scopes, Declined     []string
	Unlinked             []string
	Notes                []string `json:",omitempty"`
	Accounts             []discoveredJSON
}

type discoveredJSON struct {
	PlatformUserID, Username, DisplayName, AvatarURL string
	Access, Refresh, User                            string
	Expiry, RefreshExpiry, NextCheckAt               time.Time
	Scopes                                           []string
	Metadata                                         map[string]any
	Status                                           Status
	Problem                                          string
}

// SavePendingGrant stores g and returns its id.
func (s *Store) SavePendingGrant(ctx context.Context, g PendingGrant) (string, error) {
	g.ID = NewID()
	j := grantJSON{Subject: g.Subject, SubjectName: g.SubjectName, Scopes: g.Scopes, Declined: g.Declined, Unlinked: g.Unlinked, Notes: g.Notes}
	for _, a := range g.Accounts {
		j.Accounts = append(j.Accounts, discoveredJSON{
			PlatformUserID: a.PlatformUserID, Username: a.Username, DisplayName: a.DisplayName, AvatarURL: a.AvatarURL,
			Access: a.Tokens.Access.Reveal(), Refresh: a.Tokens.Refresh.Reveal(), User: a.Tokens.User.Reveal(),
			Expiry: a.Tokens.Expiry, RefreshExpiry: a.Tokens.RefreshExpiry, NextCheckAt: a.NextCheckAt,
			Scopes: a.Scopes, Metadata: a.Metadata, Status: a.Status, Problem: a.Problem,
		})
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	sealed, err := s.box.Seal(vault.NewToken(string(b)), g.ID, "pending_grant")
	if err != nil {
		return "", err
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO pending_grants (id, session_hash, user_id, workspace_id, platform, sealed, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, g.ID, g.SessionHash, g.UserID, g.WorkspaceID, g.Platform, sealed, g.ExpiresAt.Unix())
	return g.ID, err
}

// PendingGrant loads a grant for the session that made it.
func (s *Store) PendingGrant(ctx context.Context, id string, sessionHash []byte) (PendingGrant, error) {
	return s.pendingGrant(ctx, id, sessionHash, false)
}

func (s *Store) pendingGrant(ctx context.Context, id string, sessionHash []byte, expired bool) (PendingGrant, error) {
	g := PendingGrant{ID: id}
	var sealed []byte
	var exp int64
	err := s.queryRow(ctx, `SELECT session_hash, user_id, workspace_id, platform, sealed, expires_at FROM pending_grants
		WHERE id = ? AND session_hash = ?`, id, sessionHash).Scan(&g.SessionHash, &g.UserID, &g.WorkspaceID, &g.Platform, &sealed, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	if err != nil {
		return g, err
	}
	if g.ExpiresAt = time.Unix(exp, 0); !expired && !s.now().Before(g.ExpiresAt) {
		return g, ErrNotFound
	}
	plain, err := s.box.Open(sealed, id, "pending_grant")
	if err != nil {
		return g, err
	}
	var j grantJSON
	if err := json.Unmarshal([]byte(plain.Reveal()), &j); err != nil {
		return g, err
	}
	g.Subject, g.SubjectName, g.Scopes, g.Declined, g.Unlinked, g.Notes = j.Subject, j.SubjectName, j.Scopes, j.Declined, j.Unlinked, j.Notes
	for _, a := range j.Accounts {
		g.Accounts = append(g.Accounts, Discovered{
			PlatformUserID: a.PlatformUserID, Username: a.Username, DisplayName: a.DisplayName, AvatarURL: a.AvatarURL,
			Tokens: Tokens{Access: vault.NewToken(a.Access), Refresh: vault.NewToken(a.Refresh), User: vault.NewToken(a.User),
				Expiry: a.Expiry, RefreshExpiry: a.RefreshExpiry},
			NextCheckAt: a.NextCheckAt, Scopes: a.Scopes, Metadata: a.Metadata, Status: a.Status, Problem: a.Problem,
		})
	}
	return g, nil
}

// DeletePendingGrant forgets a confirmed grant: its tokens live on in the
// accounts chosen (and Connect owed a revocation if none was).
func (s *Store) DeletePendingGrant(ctx context.Context, id string) error {
	_, err := s.w.ExecContext(ctx, "DELETE FROM pending_grants WHERE id = ?", id)
	return err
}

// DiscardPendingGrant forgets a grant nobody confirmed, and in the same
// commit owes the platform a revocation of its tokens unless an account
// uses the sign-in.
func (s *Store) DiscardPendingGrant(ctx context.Context, g PendingGrant, signIn []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return s.discardGrant(ctx, tx, g, signIn)
	})
}

func (s *Store) discardGrant(ctx context.Context, tx *sql.Tx, g PendingGrant, signIn []string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM pending_grants WHERE id = ?", g.ID); err != nil {
		return err
	}
	if len(g.Accounts) == 0 {
		return nil
	}
	d := g.Accounts[0] // one sign-in: Meta revokes through its user token, TikTok has one account
	return s.queueRevocation(ctx, tx, g.Platform, SignIn{Subject: g.Subject, Platforms: signIn}, d.PlatformUserID, d.Tokens,
		"received but the choice was never made")
}

// ExpirePendingGrants discards the grants past their time, owing the
// platform a revocation of their tokens as DiscardPendingGrant does.
func (s *Store) ExpirePendingGrants(ctx context.Context, signIn func(platform string) []string) (int, error) {
	rows, err := s.query(ctx, "SELECT id, session_hash FROM pending_grants WHERE expires_at <= ?", s.now().Unix())
	if err != nil {
		return 0, err
	}
	type ref struct {
		id      string
		session []byte
	}
	var expired []ref
	for rows.Next() {
		var r ref
		if err := rows.Scan(&r.id, &r.session); err != nil {
			rows.Close()
			return 0, err
		}
		expired = append(expired, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, r := range expired {
		g, err := s.pendingGrant(ctx, r.id, r.session, true)
		if err != nil {
			// Unreadable (a key gone): nothing can be revoked; just forget it.
			g = PendingGrant{ID: r.id}
		}
		if err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error { return s.discardGrant(ctx, tx, g, signIn(g.Platform)) }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Connect asks to manage accounts found by one authorization.
type Connect struct {
	WorkspaceID  int64
	UserID       int64
	Platform     string
	Subject      string
	SubjectName  string
	Accounts     []Discovered
	OnlyExisting bool // reconnect: renew accounts already here, add none
	// SignIn lists the platforms that share this sign-in; with it, a grant
	// of which nothing was kept is owed a revocation (SPEC §13).
	SignIn []string
}

// ConnectResult says what happened to each account asked for.
type ConnectResult struct {
	Added    []string // display names
	Renewed  []string
	Rejected []Rejection
}

type Rejection struct{ Name, Reason string }

// Connect stores the chosen accounts in one transaction. An account already
// in the workspace is renewed in place (same id and history; a refresh token
// is never replaced by an empty one). New accounts are added while the plan
// has room; the count is read inside the same transaction on the single
// writer, so two people confirming at once cannot exceed the plan.
func (s *Store) Connect(ctx context.Context, c Connect) (ConnectResult, error) {
	var res ConnectResult
	queued := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, queued = ConnectResult{}, 0
		emit := func(id, event, detail string) error {
			n, err := s.emit(ctx, tx, c.WorkspaceID, id, event, detail, nil, s.now())
			queued += n
			return err
		}
		var used, max int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM social_accounts WHERE workspace_id = w.id), p.max_accounts
			FROM workspaces w JOIN plans p ON p.name = w.plan WHERE w.id = ?`, c.WorkspaceID).Scan(&used, &max); err != nil {
			return fmt.Errorf("store: plan: %w", err)
		}
		now := s.now()
		for _, d := range c.Accounts {
			name := d.DisplayName
			var id, oldScopes string
			err := tx.QueryRowContext(ctx, "SELECT id, scopes FROM social_accounts WHERE workspace_id = ? AND platform = ? AND platform_user_id = ?",
				c.WorkspaceID, c.Platform, d.PlatformUserID).Scan(&id, &oldScopes)
			switch {
			case err == nil:
				if err := s.renew(ctx, tx, id, c, d, now); err != nil {
					return err
				}
				res.Renewed = append(res.Renewed, name)
				if err := addEvent(ctx, tx, c.WorkspaceID, id, name, c.UserID, "reconnected", "Tokens, permissions and profile renewed", now); err != nil {
					return err
				}
				if err := emit(id, EventReconnected, "Tokens, permissions and profile renewed"); err != nil {
					return err
				}
				if change := scopeChange(strings.Fields(oldScopes), d.Scopes); change != "" {
					if err := addEvent(ctx, tx, c.WorkspaceID, id, name, c.UserID, "permissions_changed", change, now); err != nil {
						return err
					}
					if err := emit(id, EventPermissionsChanged, change); err != nil {
						return err
					}
				}
				continue
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
			if c.OnlyExisting {
				continue
			}
			var elsewhere string
			err = tx.QueryRowContext(ctx, `SELECT w.name FROM social_accounts a JOIN workspaces w ON w.id = a.workspace_id
				WHERE a.user_id = ? AND a.platform = ? AND a.platform_user_id = ?`, c.UserID, c.Platform, d.PlatformUserID).Scan(&elsewhere)
			if err == nil {
				res.Rejected = append(res.Rejected, Rejection{name, "you already connected it in the workspace " + elsewhere})
				continue
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if used >= max {
				res.Rejected = append(res.Rejected, Rejection{name, fmt.Sprintf("the plan allows %d accounts and all are in use", max)})
				continue
			}
			id = NewID()
			if err := s.insertAccount(ctx, tx, id, c, d, now); err != nil {
				return err
			}
			used++
			res.Added = append(res.Added, name)
			if err := addEvent(ctx, tx, c.WorkspaceID, id, name, c.UserID, "connected", "Scopes granted: "+strings.Join(d.Scopes, ", "), now); err != nil {
				return err
			}
			if err := emit(id, EventConnected, "Scopes granted: "+strings.Join(d.Scopes, ", ")); err != nil {
				return err
			}
		}
		si := SignIn{Subject: c.Subject, Platforms: c.SignIn}
		if len(res.Added)+len(res.Renewed) > 0 {
			return cancelRevocations(ctx, tx, si)
		}
		if len(c.Accounts) > 0 {
			d := c.Accounts[0]
			return s.queueRevocation(ctx, tx, c.Platform, si, d.PlatformUserID, d.Tokens, "received but none of its accounts was kept")
		}
		return nil
	})
	if err == nil {
		s.wakeWebhooks(queued)
	}
	return res, err
}

func (s *Store) insertAccount(ctx context.Context, tx *sql.Tx, id string, c Connect, d Discovered, now time.Time) error {
	st, err := s.seal(id, d.Tokens)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(orEmpty(d.Metadata))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO social_accounts (id, workspace_id, user_id, platform, platform_user_id, username,
		display_name, avatar_url, access_token, refresh_token, user_token, scopes, token_expires_at, refresh_expires_at, metadata,
		status, last_error, last_synced_at, next_check_at, grant_subject, grant_subject_name, connected_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, c.WorkspaceID, c.UserID, c.Platform, d.PlatformUserID, d.Username, d.DisplayName, d.AvatarURL,
		st.access, st.refresh, st.user, strings.Join(d.Scopes, " "), nullTime(d.Tokens.Expiry), nullTime(d.Tokens.RefreshExpiry),
		string(meta), statusOr(d.Status), d.Problem, now.Unix(), nextCheck(d, now), c.Subject, c.SubjectName, now.Unix(), now.Unix())
	if isUnique(err) {
		return fmt.Errorf("store: account %s/%s: %w", c.Platform, d.PlatformUserID, ErrConflict)
	}
	return err
}

// renew writes fresh tokens into an existing row. Bumping version and
// clearing the lease fences off a refresh that was in flight with the old
// tokens: its late write will find its attempt id gone.
func (s *Store) renew(ctx context.Context, tx *sql.Tx, id string, c Connect, d Discovered, now time.Time) error {
	st, err := s.seal(id, d.Tokens)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(orEmpty(d.Metadata))
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE social_accounts SET username = ?, display_name = ?, avatar_url = ?,
		access_token = ?, refresh_token = coalesce(?, refresh_token), user_token = coalesce(?, user_token),
		refresh_expires_at = CASE WHEN ? IS NULL THEN refresh_expires_at ELSE ? END,
		scopes = ?, token_expires_at = ?, metadata = ?, status = ?, last_error = ?, last_synced_at = ?, next_check_at = ?,
		grant_subject = ?, grant_subject_name = ?, updated_at = ?, version = version + 1, lease_until = NULL, attempt_id = NULL,
		failures = 0, last_outcome = 'reconnected'
		WHERE id = ?`,
		d.Username, d.DisplayName, d.AvatarURL, st.access, st.refresh, st.user,
		st.refresh, nullTime(d.Tokens.RefreshExpiry),
		strings.Join(d.Scopes, " "), nullTime(d.Tokens.Expiry), string(meta), statusOr(d.Status), d.Problem, now.Unix(), nextCheck(d, now),
		c.Subject, c.SubjectName, now.Unix(), id)
	return err
}

// DeleteAccount removes an account and its tokens at once. In the same
// commit the tokens move to the revocation outbox when no other account uses
// their sign-in (signIn maps a platform to the platforms sharing its
// sign-ins), so a crash after the disconnect cannot leave them alive at the
// platform. secure_delete overwrites the freed pages; the checkpoint then
// clears the old copies from the WAL.
func (s *Store) DeleteAccount(ctx context.Context, workspaceID int64, id string, byUser int64, signIn func(platform string) []string) (Account, error) {
	var a Account
	queued := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if a, err = scanAccount(tx.QueryRowContext(ctx, "SELECT "+accountCols+" WHERE a.workspace_id = ? AND a.id = ?", workspaceID, id)); err != nil {
			return err
		}
		t, err := s.tokens(ctx, tx, id)
		if err != nil && !errors.Is(err, vault.ErrOpen) && !errors.Is(err, vault.ErrUnknownKey) {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM social_accounts WHERE id = ?", id); err != nil {
			return err
		}
		if err := addEvent(ctx, tx, workspaceID, id, a.DisplayName, byUser, "disconnected", "Account and its stored tokens removed", s.now()); err != nil {
			return err
		}
		if queued, err = s.emit(ctx, tx, workspaceID, id, EventDisconnected, "Account and its stored tokens removed", &a, s.now()); err != nil {
			return err
		}
		si := SignIn{Subject: a.GrantSubject, Platforms: signIn(a.Platform)}
		return s.queueRevocation(ctx, tx, a.Platform, si, a.PlatformUserID, t, "disconnected")
	})
	if err != nil {
		return a, err
	}
	s.wakeWebhooks(queued)
	s.Checkpoint(ctx)
	return a, nil
}

// Checkpoint moves the WAL into the database file and truncates it, so
// deleted ciphertext does not linger in the log. Best effort: a reader in
// the middle of a query can hold it back until the next one.
func (s *Store) Checkpoint(ctx context.Context) {
	s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}

// Event is one entry of an account's history.
type Event struct {
	AccountID   string
	AccountName string
	Actor       string // e-mail, or "" for OmniSocial itself
	Kind        string
	Detail      string
	At          time.Time
}

func addEvent(ctx context.Context, tx *sql.Tx, ws int64, accountID, name string, userID int64, kind, detail string, at time.Time) error {
	uid := sql.NullInt64{Int64: userID, Valid: userID != 0}
	_, err := tx.ExecContext(ctx, `INSERT INTO account_events (workspace_id, account_id, account_name, user_id, kind, detail, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, ws, accountID, name, uid, kind, detail, at.Unix())
	return err
}

// Events lists an account's history, newest first.
func (s *Store) Events(ctx context.Context, workspaceID int64, accountID string, limit int) ([]Event, error) {
	rows, err := s.query(ctx, `SELECT e.account_id, e.account_name, coalesce(u.email, ''), e.kind, e.detail, e.created_at
		FROM account_events e LEFT JOIN users u ON u.id = e.user_id
		WHERE e.workspace_id = ? AND e.account_id = ? ORDER BY e.id DESC LIMIT ?`, workspaceID, accountID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		if err := rows.Scan(&e.AccountID, &e.AccountName, &e.Actor, &e.Kind, &e.Detail, &at); err != nil {
			return nil, err
		}
		e.At = time.Unix(at, 0)
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeleteExpired removes flows, grants and sessions past their time. One
// statement per Exec: the driver binds the first arguments to every
// statement of a multi-statement string, which once deleted every session.
func (s *Store) DeleteExpired(ctx context.Context, sessionsIdleBefore, sessionsCreatedBefore time.Time) error {
	now := s.now().Unix()
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
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
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM account_events WHERE kind IN ('checked', 'refreshed') AND created_at < ?", before.Unix())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// NewID returns a random id: unguessable (128 bits) and URL-safe.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func statusOr(s Status) Status {
	if s == "" {
		return StatusActive
	}
	return s
}

func nextCheck(d Discovered, now time.Time) int64 {
	if d.NextCheckAt.IsZero() {
		return now.Add(time.Hour).Unix()
	}
	return d.NextCheckAt.Unix()
}

// scopeChange describes what a new authorization granted or took away.
func scopeChange(before, after []string) string {
	var added, removed []string
	for _, s := range after {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	for _, s := range before {
		if !slices.Contains(after, s) {
			removed = append(removed, s)
		}
	}
	var parts []string
	if len(added) > 0 {
		parts = append(parts, "Granted: "+strings.Join(added, ", "))
	}
	if len(removed) > 0 {
		parts = append(parts, "Removed: "+strings.Join(removed, ", "))
	}
	return strings.Join(parts, ". ")
}
