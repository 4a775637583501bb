package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Session is a server-side login session. The id itself is never stored:
// callers pass its hash.
type Session struct {
	IDHash     []byte
	UserID     int64 // 0 before log-in
	Data       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// Session loads a session by id hash.
func (s *Store) Session(ctx context.Context, idHash []byte) (Session, error) {
	var se Session
	var uid sql.NullInt64
	var created, seen int64
	err := s.queryRow(ctx, "SELECT id_hash, user_id, data, created_at, last_seen_at FROM sessions WHERE id_hash = ?", idHash).
		Scan(&se.IDHash, &uid, &se.Data, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return se, ErrNotFound
	}
	se.UserID, se.CreatedAt, se.LastSeenAt = uid.Int64, time.Unix(created, 0), time.Unix(seen, 0)
	return se, err
}

// SaveSession inserts or updates a session. CreatedAt is kept from the first
// save: it anchors the absolute timeout.
func (s *Store) SaveSession(ctx context.Context, se Session) error {
	uid := sql.NullInt64{Int64: se.UserID, Valid: se.UserID != 0}
	now := s.now().Unix()
	_, err := s.exec(ctx, `INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id_hash) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, last_seen_at = excluded.last_seen_at`,
		se.IDHash, uid, se.Data, now, now)
	return err
}

// TouchSession records activity, for the idle timeout.
func (s *Store) TouchSession(ctx context.Context, idHash []byte) error {
	_, err := s.exec(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?", s.now().Unix(), idHash)
	return err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.exec(ctx, "DELETE FROM sessions WHERE id_hash = ?", idHash)
	return err
}
