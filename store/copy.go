package store

// Moving a SQLite database into PostgreSQL (`omnisocial migrate --to`):
// every table copied row by row, ids kept and values byte for byte, so the
// sealed tokens (bound to their row's id and column) still open and
// nothing is ever decrypted. The copy goes in batches, each committed, so
// a run that stops resumes where the target stands; a marker in the
// target's meta names the source until FinishCopy has checked the whole.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Progress is how far CopyTo is in one table.
type Progress struct {
	Table       string
	Done, Total int64
	Finished    bool // the table is copied
}

var (
	// ErrNotEmpty: the target holds data and no copy from this source is
	// under way there.
	ErrNotEmpty = errors.New("store: the target database is not empty")
	// ErrOtherCopy: the target is half-way through a copy from another
	// source.
	ErrOtherCopy = errors.New("store: the target database is being filled from another source")
)

// copyMarker is the meta key that says a copy is under way; its value is
// the source's fingerprint.
const copyMarker = "migrating_from"

// copyBatch is the most rows one committed batch carries (a variable so
// tests can stop a copy part-way through a table).
var copyBatch = 1000

// seededTables come with rows of their own in a new target (schema.sql
// seeds the plans; the marker lives in meta): they are copied whole on
// every run, the source's rows winning, rather than resumed by key.
var seededTables = map[string]bool{"plans": true, "meta": true}

// CopyTo copies every table of src, a SQLite store opened with its key,
// into dst, a PostgreSQL store opened without one (so Open stamped no
// canary of its own: the source's is copied). dst must be empty, or hold
// an unfinished copy from src, which is then resumed. progress (may be
// nil) hears about each table and each batch; FinishCopy checks the copy
// and ends it.
func CopyTo(ctx context.Context, src, dst *Store, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	tables, fp, err := copyPlan(ctx, src, dst)
	if err != nil {
		return err
	}
	if err := dst.claimTarget(ctx, tables, fp); err != nil {
		return err
	}
	for _, t := range tables {
		if err := copyRows(ctx, src, dst, t, progress); err != nil {
			return err
		}
	}
	return dst.moveSequences(ctx, tables)
}

// copyPlan checks the two ends and describes the tables to copy, and
// fingerprints the source.
func copyPlan(ctx context.Context, src, dst *Store) ([]copyTable, string, error) {
	switch {
	case src.d.postgres:
		return nil, "", errors.New("store: the source must be a SQLite database")
	case !dst.d.postgres:
		return nil, "", errors.New("store: the target must be a PostgreSQL database")
	case src.box == nil:
		return nil, "", errors.New("store: open the source with its key, so a wrong key is refused before copying")
	case dst.box != nil:
		return nil, "", errors.New("store: open the target without a key, so it takes the source's key canary")
	}
	fp, err := fingerprint(ctx, src)
	if err != nil {
		return nil, "", err
	}
	tables, err := describeTables(ctx, src, dst)
	return tables, fp, err
}

// fingerprint names the source: a hash of its key canary, which is random
// for every database.
func fingerprint(ctx context.Context, src *Store) (string, error) {
	var canary []byte
	if err := src.queryRow(ctx, "SELECT value FROM meta WHERE key = 'key_canary'").Scan(&canary); err != nil {
		return "", fmt.Errorf("store: the source's key canary: %w", err)
	}
	sum := sha256.Sum256(canary)
	return hex.EncodeToString(sum[:]), nil
}

// claimTarget writes the marker into an empty target, or finds its own
// marker there. In one serializable transaction, so two copies started
// at once cannot both claim it.
func (s *Store) claimTarget(ctx context.Context, tables []copyTable, fp string) error {
	return s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var mark []byte
		err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", copyMarker).Scan(&mark)
		switch {
		case err == nil && string(mark) == fp:
			return nil // resuming
		case err == nil:
			return fmt.Errorf("%w (its meta table names source %.12s…); finish that copy, or start over with an empty database", ErrOtherCopy, mark)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("store: reading the target's copy marker: %w", err)
		}
		for _, t := range tables {
			if t.name == "plans" {
				continue // the schema's own seed, upserted
			}
			var has bool
			if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(t.name)+")").Scan(&has); err != nil {
				return fmt.Errorf("store: reading the target's %s: %w", t.name, err)
			}
			if has {
				return fmt.Errorf("%w: table %s has rows. migrate copies only into an empty database (was a server started on it?)", ErrNotEmpty, t.name)
			}
		}
		_, err = tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", copyMarker, []byte(fp))
		return err
	})
}

// copyRows copies one table in batches in primary-key order, from after
// the last key the target holds.
func copyRows(ctx context.Context, src, dst *Store, t copyTable, progress func(Progress)) error {
	var total int64
	if err := src.queryRow(ctx, "SELECT count(*) FROM "+quote(t.name)).Scan(&total); err != nil {
		return fmt.Errorf("store: counting %s: %w", t.name, err)
	}
	p := Progress{Table: t.name, Total: total}
	var after []any
	if !seededTables[t.name] {
		var err error
		if after, p.Done, err = resumeAt(ctx, dst, t); err != nil {
			return err
		}
	}
	progress(p)
	limit := min(copyBatch, 65535/len(t.cols)) // PostgreSQL takes at most 65535 parameters
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: copying %s: %w", t.name, err)
		}
		rows, err := readBatch(ctx, src, t, after, limit)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		if err := dst.write(ctx, func(ctx context.Context, tx *Tx) error {
			// The copied account_versions are the versions already:
			// the accounts arriving must not bump it (schema_postgres.sql).
			if _, err := tx.ExecContext(ctx, "SELECT set_config('omnisocial.copying', 'on', true)"); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, t.insert(len(rows), seededTables[t.name]), flatten(rows)...)
			return err
		}); err != nil {
			return fmt.Errorf("store: copying %s (the batch after key %v): %w", t.name, after, err)
		}
		after = t.key(rows[len(rows)-1])
		p.Done += int64(len(rows))
		progress(p)
	}
	p.Finished = true
	progress(p)
	return nil
}

// resumeAt is the last key the target holds of t, and how many rows it
// holds: batches land in key order, so these are the source's first rows.
func resumeAt(ctx context.Context, dst *Store, t copyTable) ([]any, int64, error) {
	var n int64
	if err := dst.queryRow(ctx, "SELECT count(*) FROM "+quote(t.name)).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("store: counting the target's %s: %w", t.name, err)
	}
	if n == 0 {
		return nil, 0, nil
	}
	key := make([]any, len(t.pk))
	ptrs := make([]any, len(key))
	for i := range key {
		ptrs[i] = &key[i]
	}
	q := "SELECT " + t.pkList() + " FROM " + quote(t.name) + " ORDER BY " + t.order(true, " DESC") + " LIMIT 1"
	if err := dst.queryRow(ctx, q).Scan(ptrs...); err != nil {
		return nil, 0, fmt.Errorf("store: the target's last %s: %w", t.name, err)
	}
	return key, n, nil
}

// readBatch reads up to limit rows of t after the key after (all from the
// start when nil), normalized for the target's columns.
func readBatch(ctx context.Context, src *Store, t copyTable, after []any, limit int) ([][]any, error) {
	q := "SELECT " + t.colList() + " FROM " + quote(t.name)
	args := append([]any(nil), after...)
	if after != nil {
		q += " WHERE (" + t.pkList() + ") > (" + marks(len(t.pk)) + ")"
	}
	q += " ORDER BY " + t.order(false, "") + " LIMIT ?"
	rows, err := src.query(ctx, q, append(args, limit)...)
	out, err := collect(rows, err, func(r *sql.Rows) ([]any, error) { return t.scan(r) })
	if err != nil {
		return nil, fmt.Errorf("store: reading %s: %w", t.name, err)
	}
	return out, nil
}

// moveSequences sets every identity column's sequence to its table's
// largest id, so the next row the app adds gets a new one.
func (s *Store) moveSequences(ctx context.Context, tables []copyTable) error {
	for _, t := range tables {
		for _, c := range t.identity {
			q := "SELECT setval(pg_get_serial_sequence(?, ?), max(" + quote(c) + ")) FROM " + quote(t.name)
			if err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
				_, err := tx.ExecContext(ctx, q, quote(t.name), c)
				return err
			}); err != nil {
				return fmt.Errorf("store: moving %s.%s's sequence: %w", t.name, c, err)
			}
		}
	}
	return nil
}

// flatten lays a batch's rows end to end, as one INSERT's arguments.
func flatten(rows [][]any) []any {
	out := make([]any, 0, len(rows)*len(rows[0]))
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
}

// quote is a name as SQL reads it, whatever it holds.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// marks is n placeholders: ?, ?, ?
func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
