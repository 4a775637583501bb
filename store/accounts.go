package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
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

const accountCols = `a.id, a.workspace_id, a.user_id, u.email, a.platform, a.platform_user_id, a.username, a.display_name,
	a.avatar_url, a.scopes, a.token_expires_at, a.refresh_expires_at, a.metadata, a.status, a.last_error,
	a.last_synced_at, a.next_check_at, a.connected_at, a.updated_at, a.grant_subject, a.grant_subject_name,
	a.last_outcome, a.failures
	FROM social_accounts a JOIN users u ON u.id = a.user_id`

type scanner interface{ Scan(dest ...any) error }

func scanAccount(r scanner) (Account, error) {
	var a Account
	var scopes, meta string
	var exp, rexp, synced sql.NullInt64
	var next, connected, updated int64
	err := r.Scan(&a.ID, &a.WorkspaceID, &a.UserID, &a.ConnectedBy, &a.Platform, &a.PlatformUserID, &a.Username,
		&a.DisplayName, &a.AvatarURL, &scopes, &exp, &rexp, &meta, &a.Status, &a.LastError, &synced, &next,
		&connected, &updated, &a.GrantSubject, &a.GrantSubjectName, &a.LastOutcome, &a.Failures)
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

// listAccounts runs the account query with a filter, in the list's order.
func (s *Store) listAccounts(ctx context.Context, where string, args ...any) ([]Account, error) {
	rows, err := s.query(ctx, "SELECT "+accountCols+" WHERE "+where+" ORDER BY a.platform, lower(a.display_name), a.id", args...)
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Account returns one account of a workspace. An account of another
// workspace is ErrNotFound, exactly like one that does not exist.
func (s *Store) Account(ctx context.Context, workspaceID int64, id string) (Account, error) {
	return scanAccount(s.queryRow(ctx, "SELECT "+accountCols+" WHERE a.workspace_id = ? AND a.id = ?", workspaceID, id))
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
