package store

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	_, err := s.exec(ctx, `INSERT INTO oauth_flows (state_hash, session_hash, user_id, workspace_id, platform, purpose,
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
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		return tx.QueryRowContext(ctx, `DELETE FROM oauth_flows WHERE state_hash = ? AND session_hash = ?
			RETURNING session_hash, user_id, workspace_id, platform, purpose, account_id, verifier, expires_at`, stateHash, sessionHash).
			Scan(&f.SessionHash, &f.UserID, &f.WorkspaceID, &f.Platform, &f.Purpose, &f.AccountID, &verifier, &exp)
	})
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
	_, err = s.exec(ctx, `INSERT INTO pending_grants (id, session_hash, user_id, workspace_id, platform, sealed, expires_at)
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
	_, err := s.exec(ctx, "DELETE FROM pending_grants WHERE id = ?", id)
	return err
}

// DiscardPendingGrant forgets a grant nobody confirmed, and in the same
// commit owes the platform a revocation of its tokens unless an account
// uses the sign-in.
func (s *Store) DiscardPendingGrant(ctx context.Context, g PendingGrant, signIn []string) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		return s.discardGrant(ctx, tx, g, signIn)
	})
}

func (s *Store) discardGrant(ctx context.Context, tx *Tx, g PendingGrant, signIn []string) error {
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
		if err := s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error { return s.discardGrant(ctx, tx, g, signIn(g.Platform)) }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
