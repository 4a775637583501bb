package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"omnisocial/providers"
	"strings"
	"time"

	"omnisocial/vault"
)

// Account is a connected platform account without its tokens: what pages
// and the API show. Tokens are reached only through Tokens and the refresh
// queue's claims.
type Account struct {
	ID               string
	WorkspaceID      int64
	UserID           int64 // who connected it
	ConnectedBy      string
	Platform         string
	Login            string // the provider that holds its tokens; see Connect.Login
	PlatformUserID   string
	Username         string
	DisplayName      string
	AvatarURL        string
	Scopes           []string
	TokenExpiresAt   time.Time // zero: does not expire
	RefreshExpiresAt time.Time
	Metadata         map[string]any
	Status           Status
	LastError        string
	LastSyncedAt     time.Time
	NextCheckAt      time.Time
	ConnectedAt      time.Time
	UpdatedAt        time.Time
	GrantSubject     string // who signed in at the platform
	GrantSubjectName string
	LastOutcome      CheckOutcome
	Failures         int
}

// accountSelect reads what scanAccount scans, joined with who connected
// the account; callers append the WHERE.
const accountSelect = `SELECT a.id, a.workspace_id, a.user_id, u.email, a.platform, a.platform_user_id, a.username, a.display_name,
	a.avatar_url, a.scopes, a.token_expires_at, a.refresh_expires_at, a.metadata, a.status, a.last_error,
	a.last_synced_at, a.next_check_at, a.connected_at, a.updated_at, a.grant_subject, a.grant_subject_name,
	a.last_outcome, a.failures, a.login
	FROM social_accounts a JOIN users u ON u.id = a.user_id`

type scanner interface{ Scan(dest ...any) error }

func scanAccount(r scanner) (Account, error) {
	var a Account
	var scopes, meta string
	var exp, rexp, synced sql.NullInt64
	var next, connected, updated int64
	err := r.Scan(&a.ID, &a.WorkspaceID, &a.UserID, &a.ConnectedBy, &a.Platform, &a.PlatformUserID, &a.Username,
		&a.DisplayName, &a.AvatarURL, &scopes, &exp, &rexp, &meta, &a.Status, &a.LastError, &synced, &next,
		&connected, &updated, &a.GrantSubject, &a.GrantSubjectName, &a.LastOutcome, &a.Failures, &a.Login)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("store: account: %w", err)
	}
	a.Scopes = strings.Fields(scopes)
	a.TokenExpiresAt, a.RefreshExpiresAt, a.LastSyncedAt = fromNull(exp), fromNull(rexp), fromNull(synced)
	a.NextCheckAt, a.ConnectedAt, a.UpdatedAt = time.Unix(next, 0), time.Unix(connected, 0), time.Unix(updated, 0)
	if err := json.Unmarshal([]byte(meta), &a.Metadata); err != nil {
		return a, fmt.Errorf("store: account %s metadata: %w", a.ID, err)
	}
	return a, nil
}

// Accounts lists a workspace's accounts, by platform then name.
func (s *Store) Accounts(ctx context.Context, workspaceID int64) ([]Account, error) {
	return s.listAccounts(ctx, "a.workspace_id = ?", workspaceID)
}

// AccountList lists a workspace's accounts as the accounts page and its
// banner show them, in Accounts' order, reading only what they read: no
// who-connected join, and of the metadata only the keys the list reads
// (listMetadata), decoded without building the whole map. WorkspaceID is
// set; UserID, ConnectedBy, PlatformUserID, NextCheckAt, ConnectedAt,
// LastOutcome and Failures are left zero. Details, the API and anything
// that writes read Accounts or Account.
func (s *Store) AccountList(ctx context.Context, workspaceID int64) ([]Account, error) {
	rows, err := s.query(ctx, `SELECT a.id, a.platform, a.login, a.username, a.display_name, a.avatar_url, a.scopes,
		a.token_expires_at, a.refresh_expires_at, a.metadata, a.status, a.last_error, a.last_synced_at, a.updated_at,
		a.grant_subject, a.grant_subject_name
		FROM social_accounts a WHERE a.workspace_id = ?`+accountOrder, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("store: account list: %w", err)
	}
	return collect(rows, nil, func(r *sql.Rows) (Account, error) {
		a := Account{WorkspaceID: workspaceID}
		var scopes string
		var meta []byte
		var exp, rexp, synced sql.NullInt64
		var updated int64
		if err := r.Scan(&a.ID, &a.Platform, &a.Login, &a.Username, &a.DisplayName, &a.AvatarURL, &scopes,
			&exp, &rexp, &meta, &a.Status, &a.LastError, &synced, &updated, &a.GrantSubject, &a.GrantSubjectName); err != nil {
			return a, fmt.Errorf("store: account list: %w", err)
		}
		a.Scopes = strings.Fields(scopes)
		a.TokenExpiresAt, a.RefreshExpiresAt, a.LastSyncedAt = fromNull(exp), fromNull(rexp), fromNull(synced)
		a.UpdatedAt = time.Unix(updated, 0)
		var m listMetadata
		if err := json.Unmarshal(meta, &m); err != nil {
			return a, fmt.Errorf("store: account %s metadata: %w", a.ID, err)
		}
		a.Metadata = m.asMap()
		return a, nil
	})
}

// listMetadata is the part of an account's metadata the list reads: a
// Page's category for its handle, and the Meta sign-in's ends for its
// renewal deadline (RenewalDeadline). Values keep the types a full decode
// gives them.
type listMetadata struct {
	Category        any `json:"category"`
	UserTokenExpiry any `json:"user_token_expires_at"`  // providers.MetaUserTokenExpiry
	DataAccessUntil any `json:"data_access_expires_at"` // providers.MetaDataAccessUntil
}

// asMap is the metadata as a full decode would give those keys; nil when
// none is present, as for "{}".
func (m listMetadata) asMap() map[string]any {
	var out map[string]any
	set := func(k string, v any) {
		if v == nil {
			return
		}
		if out == nil {
			out = make(map[string]any, 3)
		}
		out[k] = v
	}
	set("category", m.Category)
	set(providers.MetaUserTokenExpiry, m.UserTokenExpiry)
	set(providers.MetaDataAccessUntil, m.DataAccessUntil)
	return out
}

// accountOrder is the order every list of accounts is shown in.
const accountOrder = " ORDER BY a.platform, lower(a.display_name), a.id"

// listAccounts runs the account query with a filter, in the list's order.
func (s *Store) listAccounts(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.query(ctx, accountSelect+" WHERE "+where+accountOrder, args...)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	return collect(rows, nil, func(r *sql.Rows) (Account, error) { return scanAccount(r) })
}

// Account returns one account of a workspace. An account of another
// workspace is ErrNotFound, exactly like one that does not exist.
func (s *Store) Account(ctx context.Context, workspaceID int64, id string) (Account, error) {
	return scanAccount(s.queryRow(ctx, accountSelect+" WHERE a.workspace_id = ? AND a.id = ?", workspaceID, id))
}

// CountAccounts is the number of accounts a workspace has connected.
func (s *Store) CountAccounts(ctx context.Context, workspaceID int64) (int, error) {
	var n int
	err := s.queryRow(ctx, "SELECT count(*) FROM social_accounts WHERE workspace_id = ?", workspaceID).Scan(&n)
	return n, err
}

// NeedingReauth lists a workspace's accounts that need someone to sign in
// again, in the list's order (the banner reads the same either way).
func (s *Store) NeedingReauth(ctx context.Context, workspaceID int64) ([]Account, error) {
	return s.listAccounts(ctx, "a.workspace_id = ? AND a.status = 'needs_reauth'", workspaceID)
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
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		if a, err = scanAccount(tx.QueryRowContext(ctx, accountSelect+" WHERE a.workspace_id = ? AND a.id = ?", workspaceID, id)); err != nil {
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
		si := SignIn{Subject: a.GrantSubject, Platforms: signIn(a.Login)}
		return s.queueRevocation(ctx, tx, a.Login, si, a.PlatformUserID, t, "disconnected")
	})
	if err != nil {
		return a, err
	}
	s.wakeWebhooks(queued)
	s.Checkpoint(ctx)
	return a, nil
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

func addEvent(ctx context.Context, tx *Tx, ws int64, accountID, name string, userID int64, kind, detail string, at time.Time) error {
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

// Provider is the provider that holds the account's tokens: its login's,
// which for an Instagram account may be Facebook's or Instagram's own.
func (a Account) Provider() providers.Platform {
	if a.Login != "" {
		return providers.Platform(a.Login)
	}
	return providers.Platform(a.Platform)
}
