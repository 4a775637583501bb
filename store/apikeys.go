package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"time"

	"omnisocial/vault"
)

// APIKey is a workspace API key as listed; the key itself is never stored.
type APIKey struct {
	ID         int64
	Name       string
	Prefix     string // the first characters, to recognise it by
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt time.Time
	ReadOnly   bool // may list and read, not disconnect
}

// KeyAuth is what a presented key grants.
type KeyAuth struct {
	KeyID       int64
	WorkspaceID int64
	ReadOnly    bool
}

const apiKeyPrefix = "osk_"

// CreateAPIKey makes a key for a workspace and returns it: the only time
// its value exists outside the caller's hands. Only its hash is kept;
// a 256-bit random key needs no slow hash.
func (s *Store) CreateAPIKey(ctx context.Context, workspaceID, userID int64, name string, readOnly bool) (vault.Token, error) {
	key := apiKeyPrefix + randomString(32)
	h := sha256.Sum256([]byte(key))
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO api_keys (workspace_id, name, prefix, hash, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
			RETURNING id`, workspaceID, name, key[:len(apiKeyPrefix)+6], h[:], userID, s.now().Unix()).Scan(&id)
		if err != nil {
			return err
		}
		ro := 0
		if readOnly {
			ro = 1
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO api_key_access (key_id, read_only) VALUES (?, ?)", id, ro)
		return err
	})
	if err != nil {
		return vault.Token{}, err
	}
	return vault.NewToken(key), nil
}

// APIKey returns what a live key grants: its workspace, and whether it
// may only read.
func (s *Store) APIKey(ctx context.Context, key string) (KeyAuth, error) {
	var k KeyAuth
	if !strings.HasPrefix(key, apiKeyPrefix) || len(key) > 100 {
		return k, ErrNotFound
	}
	h := sha256.Sum256([]byte(key))
	var used sql.NullInt64
	err := s.queryRow(ctx, `SELECT k.id, k.workspace_id, k.last_used_at, coalesce(a.read_only, 0) FROM api_keys k
		LEFT JOIN api_key_access a ON a.key_id = k.id WHERE k.hash = ? AND k.revoked_at IS NULL`, h[:]).Scan(&k.KeyID, &k.WorkspaceID, &used, &k.ReadOnly)
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrNotFound
	}
	if err != nil {
		return k, err
	}
	id := k.KeyID
	// Record use at most once a minute: a busy client must not turn every
	// read into a write.
	if now := s.now(); !used.Valid || now.Unix()-used.Int64 > 60 {
		if _, err := s.exec(ctx, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", now.Unix(), id); err != nil {
			return k, err
		}
	}
	return k, nil
}

// APIKeys lists a workspace's live keys.
func (s *Store) APIKeys(ctx context.Context, workspaceID int64) ([]APIKey, error) {
	rows, err := s.query(ctx, `SELECT k.id, k.name, k.prefix, coalesce(u.email, ''), k.created_at, k.last_used_at, coalesce(a.read_only, 0)
		FROM api_keys k LEFT JOIN users u ON u.id = k.created_by LEFT JOIN api_key_access a ON a.key_id = k.id
		WHERE k.workspace_id = ? AND k.revoked_at IS NULL ORDER BY k.id`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []APIKey
	for rows.Next() {
		var k APIKey
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedBy, &created, &used, &k.ReadOnly); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt = time.Unix(created, 0), fromNull(used)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey ends a key of a workspace.
func (s *Store) RevokeAPIKey(ctx context.Context, workspaceID, id int64) error {
	res, err := s.exec(ctx, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND workspace_id = ? AND revoked_at IS NULL",
		s.now().Unix(), id, workspaceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
