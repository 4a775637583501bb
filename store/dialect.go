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
// On SQLite, statements with arguments run prepared from the writer's
// cache: parsing them anew was half of a refresh outcome's write.
// (PostgreSQL's driver keeps prepared statements per connection itself.)
// The single writer connection is the transaction's, so a statement not
// cached yet runs plain and is prepared once the transaction is over.
// Statements without arguments are left alone: a schema script is several
// statements in one string, and a prepared statement would run only the
// first.
type Tx struct {
	tx      *sql.Tx
	d       *dialect
	stmts   *stmtCache // nil: prepare nothing
	missing []string   // to prepare after the transaction
}

// stmt is q prepared for this transaction, or nil.
func (t *Tx) stmt(ctx context.Context, q string, args []any) *sql.Stmt {
	if t.stmts == nil || len(args) == 0 {
		return nil
	}
	st, ok := t.stmts.lookup(q)
	if !ok {
		t.missing = append(t.missing, q)
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = t.d.sql(q)
	if st := t.stmt(ctx, q, args); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = t.d.sql(q)
	if st := t.stmt(ctx, q, args); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	q = t.d.sql(q)
	if st := t.stmt(ctx, q, args); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// pgCode is PostgreSQL's SQLSTATE for err, or "".
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
