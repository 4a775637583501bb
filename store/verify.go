package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"strings"
)

// TableCheck compares one table on both ends of a copy: its rows and a
// SHA-256 over them in primary-key order.
type TableCheck struct {
	Table                  string
	SourceRows, TargetRows int64
	SourceSum, TargetSum   string // hex
}

// OK reports whether both ends hold the same rows.
func (c TableCheck) OK() bool {
	return c.SourceRows == c.TargetRows && c.SourceSum == c.TargetSum
}

// ErrMismatch: after a copy, a table differs between the two databases.
var ErrMismatch = errors.New("store: the copy differs from the source")

// Verify compares every table of src with dst, row by row, from the same
// encoding of the values on both ends (the copy marker aside). A table
// that differs makes the error ErrMismatch, naming it; the checks are
// returned either way.
func Verify(ctx context.Context, src, dst *Store) ([]TableCheck, error) {
	tables, err := describeTables(ctx, src, dst)
	if err != nil {
		return nil, err
	}
	var checks []TableCheck
	var bad []string
	for _, t := range tables {
		c := TableCheck{Table: t.name}
		if c.SourceRows, c.SourceSum, err = checksum(ctx, src, t, false); err != nil {
			return checks, err
		}
		if c.TargetRows, c.TargetSum, err = checksum(ctx, dst, t, true); err != nil {
			return checks, err
		}
		checks = append(checks, c)
		if !c.OK() {
			bad = append(bad, t.name)
		}
	}
	if bad != nil {
		return checks, fmt.Errorf("%w in %s", ErrMismatch, strings.Join(bad, ", "))
	}
	return checks, nil
}

// FinishCopy verifies a copy from src into dst and, when every table
// matches, removes the marker: dst is then a database like any other.
func FinishCopy(ctx context.Context, src, dst *Store) ([]TableCheck, error) {
	fp, err := fingerprint(ctx, src)
	if err != nil {
		return nil, err
	}
	checks, err := Verify(ctx, src, dst)
	if err != nil {
		return checks, err
	}
	err = dst.write(ctx, func(ctx context.Context, tx *Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM meta WHERE key = ? AND value = ?", copyMarker, []byte(fp))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errors.New("store: the target holds no copy in progress from this source")
		}
		return nil
	})
	return checks, err
}

// checksum counts and hashes t's rows on one end, in key order.
func checksum(ctx context.Context, s *Store, t copyTable, target bool) (int64, string, error) {
	q := "SELECT " + t.colList() + " FROM " + quote(t.name)
	var args []any
	if target && t.name == "meta" {
		q += " WHERE key <> ?"
		args = append(args, copyMarker)
	}
	rows, err := s.query(ctx, q+" ORDER BY "+t.order(target, ""), args...)
	if err != nil {
		return 0, "", fmt.Errorf("store: reading %s: %w", t.name, err)
	}
	defer rows.Close()
	h := sha256.New()
	var n int64
	for rows.Next() {
		row, err := t.scan(rows)
		if err != nil {
			return 0, "", fmt.Errorf("store: reading %s: %w", t.name, err)
		}
		for _, v := range row {
			encode(h, v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", fmt.Errorf("store: reading %s: %w", t.name, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// encode writes a normalized value unambiguously: a tag, then the value
// (a length before bytes, so no two rows encode alike).
func encode(h hash.Hash, v any) {
	var buf [binary.MaxVarintLen64 + 1]byte
	switch v := v.(type) {
	case nil:
		h.Write([]byte{'N'})
	case int64:
		buf[0] = 'I'
		h.Write(binary.BigEndian.AppendUint64(buf[:1], uint64(v)))
	case float64:
		buf[0] = 'F'
		h.Write(binary.BigEndian.AppendUint64(buf[:1], math.Float64bits(v)))
	case string:
		buf[0] = 'S'
		h.Write(binary.AppendUvarint(buf[:1], uint64(len(v))))
		h.Write([]byte(v))
	case []byte:
		buf[0] = 'S' // text and bytes alike: a column's kind already decided which
		h.Write(binary.AppendUvarint(buf[:1], uint64(len(v))))
		h.Write(v)
	}
}
