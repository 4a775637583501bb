// Package testrig is the one test rig the packages' tests share: a clock
// the tests move, a real SQLite store in a temporary directory, and the
// real sandbox behind httptest with the adapters pointed at it. Tests only.
package testrig

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"omnisocial/internal/pgtest"
	"omnisocial/providers"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

// Clock is a settable time source shared by the store and the code under
// test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

func (c *Clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// Key is the encryption key of every test store.
func Key() []byte {
	k, err := vault.ParseKey(strings.Repeat("ab", 32))
	if err != nil {
		panic(err)
	}
	return k
}

// Schema is the application's schema.sql.
func Schema(t testing.TB) string { return readTop(t, "schema.sql") }

// SchemaPostgres is the application's schema_postgres.sql.
func SchemaPostgres(t testing.TB) string { return readTop(t, "schema_postgres.sql") }

func readTop(t testing.TB, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Store opens a store on a new file in t.TempDir() with the schema, the
// test key and now (nil: time.Now), closed when the test ends; on
// PostgreSQL when OMNISOCIAL_TEST_POSTGRES is set (see pgtest). It returns
// where the database is too (a file's path or a postgres:// URL), for
// tests that change the database behind the store's back.
func Store(t testing.TB, now func() time.Time) (*store.Store, string) {
	t.Helper()
	path := pgtest.DSN(t, filepath.Join(t.TempDir(), "test.db"))
	return StoreAt(t, path, now), path
}

// StoreAt opens a store on the database at path (a file or a postgres://
// URL) as Store does: another replica's, when the database is shared.
func StoreAt(t testing.TB, path string, now func() time.Time) *store.Store {
	t.Helper()
	box, err := vault.NewBox(Key())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), store.Options{Path: path, Schema: Schema(t), SchemaPostgres: SchemaPostgres(t), Box: box, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Sandbox serves a new sandbox until the test ends; its platforms live
// under {URL}/sandbox/.
func Sandbox(t testing.TB) *httptest.Server { return SandboxAt(t, nil) }

// SandboxAt is a sandbox whose clock is now (nil: the real one), for tests
// where the platform's own sense of time decides (Instagram's 24-hour rule).
func SandboxAt(t testing.TB, now func() time.Time) *httptest.Server {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	return srv
}

// SandboxApps points every app at the sandbox served at url, with the
// sandbox's development credentials. hc may be nil.
func SandboxApps(url string, hc *http.Client) providers.Apps {
	base := url + "/sandbox/"
	return providers.Apps{
		Meta: providers.MetaConfig{HTTPClient: hc, AppID: sandbox.DevMetaAppID, AppSecret: vault.NewToken(sandbox.DevMetaAppSecret),
			DialogBase: base + "www.facebook.com", GraphBase: base + "graph.facebook.com"},
		TikTok: providers.TikTokConfig{HTTPClient: hc, ClientKey: sandbox.DevTikTokClientKey,
			ClientSecret: vault.NewToken(sandbox.DevTikTokClientSecret), AuthBase: base + "www.tiktok.com", APIBase: base + "open.tiktokapis.com"},
		Instagram: providers.InstagramLoginConfig{HTTPClient: hc, AppID: sandbox.DevInstagramAppID,
			AppSecret: vault.NewToken(sandbox.DevInstagramAppSecret), AuthBase: base + "www.instagram.com",
			APIBase: base + "api.instagram.com", GraphBase: base + "graph.instagram.com"},
	}
}

// SyncBuffer collects output (logs) from many goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Exec changes the database at dsn behind its store's back (what a crash
// or an old version would leave), with q written as the store writes its
// queries, on SQLite or PostgreSQL.
func Exec(t testing.TB, dsn, q string, args ...any) {
	t.Helper()
	driver, src := "sqlite", dsn+"?_pragma=busy_timeout(5000)"
	if store.IsPostgres(dsn) {
		driver, src, q = "pgx", dsn, store.PostgresSQL(q)
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatal(err)
	}
}
