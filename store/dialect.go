package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
)

// The store's queries are written once, in the SQL both databases share,
// with SQLite's `?` placeholders and its `INSERT OR IGNORE`. On PostgreSQL
// each query is translated the first time it runs and the translation kept:
// `?` becomes `$n` and `INSERT OR IGNORE … ` ends in `ON CONFLICT DO
// NOTHING`. What cannot be said the same way in both (locking a claim, the
// schema's version) is asked of the dialect by name.
type dialect struct {
	postgres bool
	cache    sync.Map // query -> translated query
	observe  atomic.Pointer[func(string)]
}

// sql is the one door every statement of the store passes (reads, and each
// statement of a write transaction), so an observer here sees them all.
func (d *dialect) sql(q string) string {
	if f := d.observe.Load(); f != nil {
		(*f)(q)
	}
	if !d.postgres {
		return q
	}
	if t, ok := d.cache.Load(q); ok {
		return t.(string)
	}
	t := toPostgres(q)
	d.cache.Store(q, t)
	return t
}

// ObserveStatements calls fn with every statement the store runs from
// now on, as written (before translation), from whichever goroutine runs
// it; nil stops. For tests that count round trips.
func (s *Store) ObserveStatements(fn func(query string)) {
	if fn == nil {
		s.d.observe.Store(nil)
		return
	}
	s.d.observe.Store(&fn)
}

// PostgresSQL is q, written as the store writes its queries, in
// PostgreSQL's words: for tests and tools that reach behind the store.
func PostgresSQL(q string) string { return toPostgres(q) }

// toPostgres numbers the placeholders outside string literals and turns
// INSERT OR IGNORE into its PostgreSQL form.
func toPostgres(q string) string {
	var b strings.Builder
	n, quoted := 0, false
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '\'':
			quoted = !quoted
			b.WriteByte(c)
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	t := b.String()
	if rest, ok := strings.CutPrefix(t, "INSERT OR IGNORE "); ok {
		t = "INSERT " + strings.TrimRight(rest, " \t\n;") + " ON CONFLICT DO NOTHING"
	}
	return t
}

// skipLocked ends a claim's SELECT: on PostgreSQL, replicas claiming at the
// same moment each take rows the others have not locked. SQLite has one
// writer, so the claim is alone anyway.
func (d *dialect) skipLocked() string {
	if d.postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// forUpdate locks the rows a SELECT reads until the transaction ends.
func (d *dialect) forUpdate() string {
	if d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// Tx is a write transaction: every statement goes through the dialect.
type Tx struct {
	tx *sql.Tx
	d  *dialect
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.sql(q), args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.sql(q), args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.sql(q), args...)
}

// pgCode is PostgreSQL's SQLSTATE for err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
