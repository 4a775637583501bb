// Package pgtest puts a test's store on PostgreSQL when
// OMNISOCIAL_TEST_POSTGRES names a server (a postgres:// URL of a database
// the tests may create schemas in) and OMNISOCIAL_TEST_STORE=postgres asks
// for it (`make test` runs the store and refresh tests so, after the whole
// suite on SQLite): each test database is a schema of its own, dropped
// when the test ends. Otherwise tests keep their SQLite files. Tests that
// need a server whatever the store (the replicas, the move from SQLite)
// use Admin and WithSchema directly. Tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// Env is the variable that names the test server.
const Env = "OMNISOCIAL_TEST_POSTGRES"

// Available reports whether a test server is named.
func Available() bool { return os.Getenv(Env) != "" }

// On reports whether tests run their stores on PostgreSQL.
func On() bool { return Available() && os.Getenv("OMNISOCIAL_TEST_STORE") == "postgres" }

// DSN is where a test's database at path lives: path itself on SQLite; on
// PostgreSQL, a URL whose search_path is a schema named after path, so
// opening the same path again opens the same database, as with a file.
func DSN(t testing.TB, path string) string {
	t.Helper()
	if !On() {
		return path
	}
	sum := sha256.Sum256([]byte(path))
	schema := "t_" + hex.EncodeToString(sum[:10])
	admin := Admin(t)
	if _, err := admin.Exec("CREATE SCHEMA IF NOT EXISTS " + schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	return WithSchema(t, schema)
}

// WithSchema is the server's URL with search_path set to schema.
func WithSchema(t testing.TB, schema string) string {
	t.Helper()
	u, err := url.Parse(os.Getenv(Env))
	if err != nil {
		t.Fatalf("pgtest: %s: %v", Env, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Admin is a connection pool to the server, outside any test's schema,
// closed when the test ends.
func Admin(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", os.Getenv(Env))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatalf("pgtest: %s: %v", Env, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Require skips a test that needs the server when none is named, or fails
// it when OMNISOCIAL_REQUIRE_POSTGRES says one must be (CI, where a skip
// would hide that the test never ran).
func Require(t testing.TB) {
	t.Helper()
	if Available() {
		return
	}
	if os.Getenv("OMNISOCIAL_REQUIRE_POSTGRES") != "" {
		t.Fatalf("OMNISOCIAL_REQUIRE_POSTGRES is set but %s is not: set %s to a postgres:// URL", Env, Env)
	}
	t.Skipf("needs a PostgreSQL server: set %s to a postgres:// URL", Env)
}

// Fresh is the URL of a new, empty schema on the test server (Require
// first), dropped when the test ends.
func Fresh(t testing.TB) string {
	t.Helper()
	Require(t)
	b := make([]byte, 8)
	rand.Read(b)
	schema := "f_" + hex.EncodeToString(b)
	admin := Admin(t)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE") })
	return WithSchema(t, schema)
}
