package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"time"

	"omnisocial/vault"
)

// OwnerLinkTTL is how long a reconnect link for a login's owner works.
const OwnerLinkTTL = 72 * time.Hour

// Owner link purposes: renew the accounts of one sign-in, or connect new ones.
const (
	LinkReconnect = "reconnect"
	LinkConnect   = "connect"
)

// OwnerLink lets the owner of a platform login, who has no OmniSocial
// account, sign in at the platform for a workspace once.
type OwnerLink struct {
	ID            string
	WorkspaceID   int64
	WorkspaceName string
	CreatedBy     int64
	CreatedByName string // name or e-mail; empty once the person is gone
	Platform      string
	Purpose       string
	AccountID     string // reconnect: the account it was made on
	Subject       string // reconnect: the sign-in it names
	SubjectName   string
	SentTo        string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	UsedAt        time.Time // zero until used
	UsedBy        string    // who signed in, as the platform names them
	RevokedAt     time.Time
}

// Live reports whether the link still works at now.
func (l OwnerLink) Live(now time.Time) bool {
	return l.UsedAt.IsZero() && l.RevokedAt.IsZero() && now.Before(l.ExpiresAt)
}

func hashOwnerLinkToken(tok string) []byte {
	h := sha256.Sum256([]byte("owner-link:" + tok))
	return h[:]
}

// CreateOwnerLink records a link and returns its token, which only its hash
// outlives. A reconnect link takes its account's sign-in, and is refused
// for an account that is not in the workspace.
func (s *Store) CreateOwnerLink(ctx context.Context, l OwnerLink) (OwnerLink, vault.Token, error) {
	tok := randomString(32)
	now := s.now()
	l.ID, l.CreatedAt, l.ExpiresAt = NewID(), now, now.Add(OwnerLinkTTL)
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		if l.Purpose == LinkReconnect {
			var name string
			err := tx.QueryRowContext(ctx, `SELECT coalesce(nullif(login, ''), platform), grant_subject, grant_subject_name, display_name FROM social_accounts
				WHERE workspace_id = ? AND id = ?`, l.WorkspaceID, l.AccountID).Scan(&l.Platform, &l.Subject, &l.SubjectName, &name)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			if err != nil {
				return err
			}
			detail := "Reconnect link created for the owner of the login"
			if l.SentTo != "" {
				detail += " and sent to " + l.SentTo
			}
			if err := addEvent(ctx, tx, l.WorkspaceID, l.AccountID, name, l.CreatedBy, "link_created", detail, now); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO owner_links (id, token_hash, workspace_id, created_by, platform, purpose,
			account_id, subject, subject_name, sent_to, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, hashOwnerLinkToken(tok), l.WorkspaceID, l.CreatedBy, l.Platform, l.Purpose, l.AccountID, l.Subject,
			l.SubjectName, l.SentTo, now.Unix(), l.ExpiresAt.Unix())
		return err
	})
	if err != nil {
		return OwnerLink{}, vault.Token{}, err
	}
	return l, vault.NewToken(tok), nil
}

const ownerLinkSelect = `SELECT l.id, l.workspace_id, w.name, coalesce(l.created_by, 0), coalesce(nullif(u.name, ''), u.email, ''),
	l.platform, l.purpose, l.account_id, l.subject, l.subject_name, l.sent_to, l.created_at, l.expires_at,
	coalesce(l.used_at, 0), l.used_by, coalesce(l.revoked_at, 0)
	FROM owner_links l JOIN workspaces w ON w.id = l.workspace_id LEFT JOIN users u ON u.id = l.created_by`

func scanOwnerLink(sc interface{ Scan(...any) error }) (OwnerLink, error) {
	var l OwnerLink
	var created, expires, used, revoked int64
	err := sc.Scan(&l.ID, &l.WorkspaceID, &l.WorkspaceName, &l.CreatedBy, &l.CreatedByName, &l.Platform, &l.Purpose,
		&l.AccountID, &l.Subject, &l.SubjectName, &l.SentTo, &created, &expires, &used, &l.UsedBy, &revoked)
	l.CreatedAt, l.ExpiresAt = time.Unix(created, 0), time.Unix(expires, 0)
	if used != 0 {
		l.UsedAt = time.Unix(used, 0)
	}
	if revoked != 0 {
		l.RevokedAt = time.Unix(revoked, 0)
	}
	return l, err
}

// OwnerLinkByToken finds a link that still works: not used, revoked or
// expired, and made by someone who may still manage the workspace's
// accounts (a demoted or removed admin's links die with their role).
func (s *Store) OwnerLinkByToken(ctx context.Context, tok string) (OwnerLink, error) {
	l, err := scanOwnerLink(s.queryRow(ctx, ownerLinkSelect+" WHERE l.token_hash = ?", hashOwnerLinkToken(tok)))
	if errors.Is(err, sql.ErrNoRows) {
		return l, ErrNotFound
	}
	if err != nil {
		return l, err
	}
	return l, s.checkOwnerLink(ctx, l)
}

func (s *Store) checkOwnerLink(ctx context.Context, l OwnerLink) error {
	if !l.Live(s.now()) {
		return ErrNotFound
	}
	var role Role
	err := s.queryRow(ctx, "SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?", l.WorkspaceID, l.CreatedBy).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !CanManage(role)) {
		return ErrNotFound
	}
	return err
}

// OwnerLinks lists a workspace's links of the last 30 days, newest first.
func (s *Store) OwnerLinks(ctx context.Context, workspaceID int64) ([]OwnerLink, error) {
	rows, err := s.query(ctx, ownerLinkSelect+" WHERE l.workspace_id = ? AND l.created_at > ? ORDER BY l.created_at DESC, l.id",
		workspaceID, s.now().Add(-30*24*time.Hour).Unix())
	return collect(rows, err, func(r *sql.Rows) (OwnerLink, error) { return scanOwnerLink(r) })
}

// RevokeOwnerLink kills a link that has not been used; its account's
// history says so.
func (s *Store) RevokeOwnerLink(ctx context.Context, workspaceID, by int64, id string) error {
	now := s.now()
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var accountID string
		err := tx.QueryRowContext(ctx, `UPDATE owner_links SET revoked_at = ?, state_hash = NULL, session_hash = NULL, verifier = NULL
			WHERE workspace_id = ? AND id = ? AND used_at IS NULL AND revoked_at IS NULL RETURNING account_id`,
			now.Unix(), workspaceID, id).Scan(&accountID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil || accountID == "" {
			return err
		}
		return addAccountEvent(ctx, tx, workspaceID, accountID, by, "link_revoked", "Reconnect link revoked", now)
	})
}

// StartOwnerLink binds a sign-in at the platform to the link: the state
// (and PKCE verifier) come back with the callback, to the same browser.
// Starting again replaces an earlier start that never came back.
func (s *Store) StartOwnerLink(ctx context.Context, id string, stateHash, sessionHash []byte, verifier vault.Token, until time.Time) error {
	var sealed []byte
	if !verifier.IsZero() {
		var err error
		if sealed, err = s.box.Seal(verifier, id, "owner_link_verifier"); err != nil {
			return err
		}
	}
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE owner_links SET state_hash = ?, session_hash = ?, verifier = ?, state_expires_at = ?
			WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`,
			stateHash, sessionHash, sealed, until.Unix(), id, s.now().Unix())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// TakeOwnerLinkState returns the link a callback's state was made for, if
// it came back to the same browser in time, and forgets the state: it is
// used once. ErrNotFound means the state is not a link's.
func (s *Store) TakeOwnerLinkState(ctx context.Context, stateHash, sessionHash []byte) (OwnerLink, vault.Token, error) {
	var id string
	var sealed []byte
	var until int64
	// Every callback asks, most of them for a person's own flow: a read
	// answers those without taking the writer. The clear is conditional on
	// the state, so of two racing callbacks only one takes it.
	err := s.queryRow(ctx, `SELECT id, verifier, state_expires_at FROM owner_links WHERE state_hash = ? AND session_hash = ?`,
		stateHash, sessionHash).Scan(&id, &sealed, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return OwnerLink{}, vault.Token{}, ErrNotFound
	}
	if err != nil {
		return OwnerLink{}, vault.Token{}, err
	}
	err = s.write(ctx, func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE owner_links SET state_hash = NULL, session_hash = NULL, verifier = NULL, state_expires_at = NULL
			WHERE id = ? AND state_hash = ?`, id, stateHash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return OwnerLink{}, vault.Token{}, err
	}
	l, err := scanOwnerLink(s.queryRow(ctx, ownerLinkSelect+" WHERE l.id = ?", id))
	if err != nil {
		return l, vault.Token{}, err
	}
	if !s.now().Before(time.Unix(until, 0)) {
		return l, vault.Token{}, ErrExpired
	}
	var verifier vault.Token
	if sealed != nil {
		if verifier, err = s.box.Open(sealed, id, "owner_link_verifier"); err != nil {
			return l, verifier, err
		}
	}
	if err := s.checkOwnerLink(ctx, l); errors.Is(err, ErrNotFound) {
		return l, verifier, ErrExpired // it was a link's state, but the link died meanwhile
	} else if err != nil {
		return l, verifier, err
	}
	return l, verifier, nil
}

// ErrExpired: a link's sign-in came back after its time.
var ErrExpired = errors.New("store: expired")

// useOwnerLink spends a link inside the transaction that acts on it, so a
// link works once even when two callbacks race, and an action that fails
// leaves it unspent.
func useOwnerLink(ctx context.Context, tx *Tx, id, usedBy string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE owner_links SET used_at = ?, used_by = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`, now.Unix(), usedBy, id, now.Unix())
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RecordOwnerLinkRefusal writes in the account's history that its link was
// used with a sign-in it does not name; nothing else changes.
func (s *Store) RecordOwnerLinkRefusal(ctx context.Context, l OwnerLink, signedInAs string) error {
	if l.AccountID == "" {
		return nil
	}
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		return addAccountEvent(ctx, tx, l.WorkspaceID, l.AccountID, 0, "link_refused",
			"Reconnect link used with "+signedInAs+"'s sign-in, which it does not name; nothing changed", s.now())
	})
}

// addAccountEvent records an event under the account's current name; an
// account gone meanwhile gets none.
func addAccountEvent(ctx context.Context, tx *Tx, ws int64, accountID string, by int64, kind, detail string, at time.Time) error {
	var name string
	err := tx.QueryRowContext(ctx, "SELECT display_name FROM social_accounts WHERE workspace_id = ? AND id = ?", ws, accountID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return addEvent(ctx, tx, ws, accountID, name, by, kind, detail, at)
}

// PruneOwnerLinks forgets links that ended more than 30 days ago.
func (s *Store) PruneOwnerLinks(ctx context.Context) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM owner_links WHERE expires_at < ?", s.now().Add(-30*24*time.Hour).Unix())
		return err
	})
}

// LinkAccounts lists the accounts a reconnect link renews: the workspace's
// accounts on its platform that its sign-in manages.
func (s *Store) LinkAccounts(ctx context.Context, l OwnerLink) ([]Account, error) {
	all, err := s.Accounts(ctx, l.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return l.Renewing(all), nil
}

// Renewing picks, of a workspace's accounts, those the link renews.
func (l OwnerLink) Renewing(accounts []Account) []Account {
	var out []Account
	for _, a := range accounts {
		if string(a.Provider()) == l.Platform && (a.ID == l.AccountID || (l.Subject != "" && a.GrantSubject == l.Subject)) {
			out = append(out, a)
		}
	}
	return out
}

// OwnerLink loads a link by id, if it still works.
func (s *Store) OwnerLink(ctx context.Context, id string) (OwnerLink, error) {
	l, err := scanOwnerLink(s.queryRow(ctx, ownerLinkSelect+" WHERE l.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, ErrNotFound
	}
	if err != nil {
		return l, err
	}
	return l, s.checkOwnerLink(ctx, l)
}
