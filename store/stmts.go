package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
)

// stmtCache keeps prepared statements for the reader pool, and on SQLite
// for the writer. modernc's SQLite parses a statement anew on every call
// otherwise, which profiling showed as a fifth of an accounts page. The
// queries are constants of this package, so the cache is bounded by the
// code; maxStmts bounds it should one ever be built at run time.
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query -> *sql.Stmt
	n  atomic.Int32
}

const maxStmts = 512

var errCacheFull = errors.New("store: statement cache full")

// lookup is q's statement if it is prepared already.
func (c *stmtCache) lookup(q string) (*sql.Stmt, bool) {
	st, ok := c.m.Load(q)
	if !ok {
		return nil, false
	}
	return st.(*sql.Stmt), true
}

// prepare caches qs, ignoring failures: a statement that cannot be
// prepared runs plain and reports its error then.
func (c *stmtCache) prepare(ctx context.Context, qs []string) {
	for _, q := range qs {
		c.get(ctx, q)
	}
}

func (c *stmtCache) get(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	if c.n.Add(1) > maxStmts {
		c.n.Add(-1)
		return nil, errCacheFull
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		c.n.Add(-1)
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(q, st); loaded {
		c.n.Add(-1)
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

func (c *stmtCache) close() {
	c.m.Range(func(_, st any) bool { st.(*sql.Stmt).Close(); return true })
}

// query and queryRow read through the cache.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = s.d.sql(q)
	st, err := s.reads.get(ctx, q)
	if err != nil {
		return s.r.QueryContext(ctx, q, args...) // carries the same error, or reads past a full cache
	}
	return st.QueryContext(ctx, args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = s.d.sql(q)
	st, err := s.reads.get(ctx, q)
	if err != nil {
		return s.r.QueryRowContext(ctx, q, args...) // carries the same error to Scan
	}
	return st.QueryRowContext(ctx, args...)
}

// cachedReader lets helpers that take a querier (a transaction or the
// reader pool) use the cache on the reader side.
type cachedReader struct{ s *Store }

func (c cachedReader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return c.s.queryRow(ctx, q, args...)
}

// collect reads every row of a query with scan and closes the rows: the
// one loop every list in the store needs.
func collect[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
