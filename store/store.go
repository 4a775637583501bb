// Package store keeps everything in SQLite, or in PostgreSQL when several
// replicas share one database. All SQL lives here; callers get plain
// structs and sentinel errors. Tokens are sealed and opened inside, so
// ciphertext never leaves this package and plaintext never enters the file.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"omnisocial/vault"

	_ "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: already exists")
)

// Store is the database. Writes go through one connection (SQLite allows one
// writer at a time; queueing in Go instead of in SQLite's busy handler means
// no SQLITE_BUSY ever reaches a person), reads through a pool beside it.
type Store struct {
	w, r   *sql.DB
	d      *dialect
	reads  *stmtCache
	writes *stmtCache // SQLite's writer; nil on PostgreSQL
	box    *vault.Box
	now    func() time.Time
	hooks  webhookHooks
	group  committer // refresh outcomes, written together (groupcommit.go)
}

// Options configure Open.
type Options struct {
	Path           string     // a SQLite file (or sqlite://file), or a postgres:// URL
	Schema         string     // the contents of schema.sql
	SchemaPostgres string     // the contents of schema_postgres.sql
	Box            *vault.Box // seals tokens; its key is checked against the database's canary
	Now            func() time.Time
}

// Open opens (creating if needed) and migrates the database at o.Path, and
// refuses a key that did not write it.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if IsPostgres(o.Path) {
		return openPostgres(ctx, o)
	}
	o.Path = strings.TrimPrefix(o.Path, "sqlite://")
	if dir := filepath.Dir(o.Path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	if err := ownerOnly(o.Path); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// Per-connection settings go in the DSN so every pooled connection has
	// them. synchronous=FULL: a rotated refresh token that was acknowledged
	// must survive power loss. secure_delete: a disconnected account's
	// ciphertext is overwritten, not left in free pages.
	pragmas := url.Values{"_pragma": {
		"foreign_keys(1)", "busy_timeout(10000)", "journal_mode(WAL)",
		"synchronous(FULL)", "secure_delete(1)",
	}}
	w, err := sql.Open("sqlite", o.Path+"?"+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	pragmas["_pragma"] = append(pragmas["_pragma"], "query_only(1)")
	r, err := sql.Open("sqlite", o.Path+"?"+pragmas.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	r.SetMaxOpenConns(8)
	s := &Store{w: w, r: r, d: &dialect{}, reads: &stmtCache{db: r}, writes: &stmtCache{db: w}, box: o.Box, now: o.Now}
	if err := s.migrate(ctx, o.Schema); err != nil {
		s.Close()
		return nil, err
	}
	// The side files exist now (WAL mode made them); make sure of them.
	if err := ownerOnly(o.Path); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	return s.ready(ctx)
}

// ready refuses a key that did not write the database (and stamps the key
// on a new one).
func (s *Store) ready(ctx context.Context) (*Store, error) {
	if s.box != nil {
		if err := s.checkKey(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ownerOnly makes the database file and its side files readable by the
// owner alone: they hold ciphertexts, password hashes and e-mails. The main
// file is created 0600 before SQLite sees it, because SQLite creates -wal,
// -shm and -journal lazily with the main file's permissions (its unix VFS
// copies them), whatever the umask; files an older build left wider are
// narrowed.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// WorldReadable reports whether others than the owner may list or read
// the folder that holds the database at path (a warning at start: the
// files are 0600, but names and new files are visible there).
func WorldReadable(path string) (string, bool) {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	if err != nil {
		return dir, false
	}
	return dir, info.Mode().Perm()&0o077 != 0
}

// Close commits the refresh outcomes handed over so far, then closes both
// pools.
func (s *Store) Close() error {
	s.stopGroup()
	s.reads.close()
	if s.writes != nil {
		s.writes.close()
	}
	if s.r == s.w {
		return s.w.Close()
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.queryRow(ctx, "SELECT 1").Scan(&one)
}

// ErrWrongKey means the configured encryption key is not the one this
// database was written with.
var ErrWrongKey = errors.New("store: the encryption key does not match the one this database was written with")

func (s *Store) checkKey(ctx context.Context) error {
	var canary []byte
	err := s.queryRow(ctx, "SELECT value FROM meta WHERE key = 'key_canary'").Scan(&canary)
	if errors.Is(err, sql.ErrNoRows) {
		// A new database takes this key's canary. Replicas starting together
		// race to write it: the first one wins, and the others check theirs
		// against it below.
		err = s.stampCanary(ctx)
		if err == nil {
			err = s.queryRow(ctx, "SELECT value FROM meta WHERE key = 'key_canary'").Scan(&canary)
		}
	}
	if err != nil {
		return fmt.Errorf("store: key canary: %w", err)
	}
	if s.box.CheckCanary(canary) != nil {
		return ErrWrongKey
	}
	return nil
}

func (s *Store) stampCanary(ctx context.Context) error {
	c, err := s.box.Canary()
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "INSERT OR IGNORE INTO meta (key, value) VALUES ('key_canary', ?)", c)
	return err
}

// write is the one way store changes the database: fn runs in one
// transaction that sees the database as if no other write ran beside it:
// on SQLite an immediate transaction on the single writer connection, on
// PostgreSQL a serializable one. Three rules come with it:
//   - One statement per Exec. The SQLite driver runs a string of several
//     statements, but binds the first arguments to each of them; that once
//     deleted every live session (TestNoMultiStatementSQL reads the source).
//   - The whole transaction may run again. Another process can hold
//     SQLite's lock past busy_timeout (omnisocial doctor, a backup), and
//     PostgreSQL cancels one of two serializable transactions that would
//     not have been serial; either is tried again a few times, so fn must
//     reset whatever it collects when it starts.
//   - The caller decides about cancellation. A write that must land even
//     when its caller is being cancelled (a token the platform has already
//     rotated, an outbox row owed) passes context.WithoutCancel(ctx).
func (s *Store) write(ctx context.Context, fn func(context.Context, *Tx) error) error {
	return s.writeAt(ctx, sql.LevelSerializable, fn)
}

// writeAt is write at a weaker isolation on PostgreSQL, for the one
// transaction that brings its own concurrency control (the queue's claim,
// with its row locks).
func (s *Store) writeAt(ctx context.Context, level sql.IsolationLevel, fn func(context.Context, *Tx) error) error {
	tries := 4
	if s.d.postgres {
		tries = 10 // a storm of replicas conflicts more often than a backup holds SQLite's lock
	}
	var err error
	for i := range tries {
		if err = s.writeOnce(ctx, level, fn); !s.retryable(err) || i == tries-1 {
			break
		}
		wait := time.Duration(50<<min(i, 4)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait/2 + time.Duration(mrand.Int64N(int64(wait/2)))):
		}
	}
	return err
}

func (s *Store) writeOnce(ctx context.Context, level sql.IsolationLevel, fn func(context.Context, *Tx) error) error {
	var opts *sql.TxOptions
	if s.d.postgres {
		opts = &sql.TxOptions{Isolation: level}
	}
	tx, err := s.w.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	t := &Tx{tx: tx, d: s.d, stmts: s.writes}
	defer func() { s.writes.prepare(ctx, t.missing) }()
	if err := fn(ctx, t); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// exec is write for a single statement.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// retryable: the transaction lost a race it may win on another try.
func (s *Store) retryable(err error) bool {
	if s.d.postgres {
		c := pgCode(err)
		return c == "40001" || c == "40P01" // serialization failure, deadlock
	}
	c := sqliteCode(err) & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// nullTime maps the zero time ("never") to NULL.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.Unix(), Valid: true}
}

func fromNull(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(n.Int64, 0)
}

// NewID returns a random id: unguessable (128 bits) and URL-safe.
func NewID() string { return randomString(16) }

// randomString is n random bytes, URL-safe: ids, and the secrets only a
// hash of which is kept (invitation links, API keys).
func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
