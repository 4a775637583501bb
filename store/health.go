package store

// The app's own health, apart from any one account: alerts for
// administrators, and what the setup check and doctor read (the database
// takes writes, the refresh job ran, the key opens the canary).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Alert is an admin-visible problem of the app itself, not of one account.
type Alert struct {
	Key, Message string
	CreatedAt    time.Time
}

// SetAlert raises (or rewords) the alert key; it keeps its first time.
func (s *Store) SetAlert(ctx context.Context, key, message string) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO system_alerts (key, message, created_at) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET message = excluded.message`, key, message, s.now().Unix())
		return err
	})
}

// ClearAlert removes the alert key, if raised.
func (s *Store) ClearAlert(ctx context.Context, key string) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM system_alerts WHERE key = ?", key)
		return err
	})
}

// Alerts lists the raised alerts, oldest first.
func (s *Store) Alerts(ctx context.Context) ([]Alert, error) {
	rows, err := s.query(ctx, "SELECT key, message, created_at FROM system_alerts ORDER BY created_at, key")
	if err != nil {
		return nil, fmt.Errorf("store: alerts: %w", err)
	}
	return collect(rows, nil, func(r *sql.Rows) (a Alert, err error) {
		var at int64
		err = r.Scan(&a.Key, &a.Message, &at)
		a.CreatedAt = time.Unix(at, 0)
		return a, err
	})
}

// CheckWritable makes one real write, so a refresher whose writes failed
// (disk full, I/O error) can tell when it may start refreshing again.
func (s *Store) CheckWritable(ctx context.Context) error {
	return s.write(context.WithoutCancel(ctx), func(ctx context.Context, tx *Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('write_probe', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, digits(s.now().UnixNano()))
		return err
	})
}

// MarkRefreshRun records that the refresh job ran at t, for the setup
// check (`omnisocial doctor` reads it from another process).
func (s *Store) MarkRefreshRun(ctx context.Context, t time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO meta (key, value) VALUES ('refresh_last_run', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, digits(t.Unix()))
	return err
}

// LastRefreshRun is when the refresh job last ran; zero if never.
func (s *Store) LastRefreshRun(ctx context.Context) (time.Time, error) {
	var v any
	err := s.queryRow(ctx, "SELECT value FROM meta WHERE key = 'refresh_last_run'").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	var at int64
	switch v := v.(type) {
	case int64: // as builds before PostgreSQL wrote it
		at = v
	case []byte:
		at, err = strconv.ParseInt(string(v), 10, 64)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("store: last refresh run: %w", err)
	}
	return time.Unix(at, 0), nil
}

// digits is a number as meta keeps it: its decimal digits, in a column
// that is BYTEA on PostgreSQL.
func digits(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// CheckKey reports whether the key canary opens with the configured key.
func (s *Store) CheckKey(ctx context.Context) error { return s.checkKey(ctx) }
