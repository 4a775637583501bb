package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// openFixture makes a database at path from an old schema file, as a build
// of that version would have, and returns it without migrating it.
func openFixture(t *testing.T, path, fixture string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	schema, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(schema)); err != nil {
		t.Fatal(err)
	}
	return db
}

func mustExec(t *testing.T, db *sql.DB, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Rows a version 1 database had: a person who owns a workspace on a plan.
var v1Rows = []string{
	`INSERT INTO users (email, name, password_hash, created_at) VALUES ('dana@example.com', 'Dana', 'h', 1)`,
	`INSERT INTO workspaces (name, plan, created_at) VALUES ('Acme', 'pro', 1)`,
	`INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES (1, 1, 'owner', 1)`,
}

// Rows a version 4 database could add: an account, its history, a
// revocation owed.
var v4Rows = []string{
	`INSERT INTO social_accounts (id, workspace_id, user_id, platform, platform_user_id, display_name, access_token,
		next_check_at, connected_at, updated_at) VALUES ('acc1', 1, 1, 'tiktok', 'tt1', 'Dana on TikTok', x'00', 2, 1, 1)`,
	`INSERT INTO account_events (workspace_id, account_id, account_name, kind, detail, created_at)
		VALUES (1, 'acc1', 'Dana on TikTok', 'connected', 'Scopes granted', 1)`,
	`INSERT INTO revocations (id, platform, sign_in, subject, sealed, reason, next_attempt_at, created_at)
		VALUES ('rev1', 'tiktok', 'tiktok', 's', x'00', 'disconnected', 1, 1)`,
}

// From version 1, each step alone brings the file one version up. At
// version 4 it is the schema version 4 shipped; at the end it is what
// schema.sql makes of a fresh file; and the rows written along the way are
// all still there.
func TestMigrateStepByStep(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db := openFixture(t, path, "testdata/schema_v1.sql")
	mustExec(t, db, v1Rows...)
	shipped := map[int]string{4: "testdata/schema_v4.sql"}
	for v := 1; v < Latest; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := migrateStep(ctx, &Tx{tx: tx, d: &dialect{}}, v); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var got int
		db.QueryRow("PRAGMA user_version").Scan(&got)
		if got != v+1 {
			t.Fatalf("after step %d→%d the file says version %d", v, v+1, got)
		}
		if fixture, ok := shipped[v+1]; ok {
			want := openFixture(t, filepath.Join(t.TempDir(), "shipped.db"), fixture)
			diffSchemas(t, fmt.Sprintf("version %d", v+1), schemaOf(t, db), schemaOf(t, want))
		}
		if v+1 == 4 {
			mustExec(t, db, v4Rows...)
		}
	}
	db.Close()

	s := openSQLite(t, path) // at the latest version already: Open migrates nothing
	diffSchemas(t, "latest", schemaOf(t, s.r), schemaOf(t, openSQLite(t, filepath.Join(t.TempDir(), "fresh.db")).r))
	checkRowsKept(t, s, true)
}

// Open brings an old file to the latest version in one go, keeping its rows.
func TestMigrateFromOldVersionsKeepsRows(t *testing.T) {
	for _, tc := range []struct {
		from     string
		accounts bool // the version has accounts, so v4Rows go in too
	}{
		{"testdata/schema_v1.sql", false},
		{"testdata/schema_v4.sql", true},
	} {
		t.Run(tc.from, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			db := openFixture(t, path, tc.from)
			mustExec(t, db, v1Rows...)
			if tc.accounts {
				mustExec(t, db, v4Rows...)
			}
			db.Close()
			s := openSQLite(t, path)
			var v int
			s.rawQueryRow("PRAGMA user_version").Scan(&v)
			if v != Latest {
				t.Fatalf("user_version = %d, want %d", v, Latest)
			}
			diffSchemas(t, "latest", schemaOf(t, s.r), schemaOf(t, openSQLite(t, filepath.Join(t.TempDir(), "fresh.db")).r))
			checkRowsKept(t, s, tc.accounts)
		})
	}
}

func checkRowsKept(t *testing.T, s *Store, accounts bool) {
	t.Helper()
	ctx := context.Background()
	ms, err := s.Memberships(ctx, 1)
	if err != nil || len(ms) != 1 || ms[0].Name != "Acme" || ms[0].Role != RoleOwner || ms[0].MaxAccounts != 10 || !ms[0].LastUsedAt.IsZero() {
		t.Fatalf("memberships after migration: %+v, %v", ms, err)
	}
	if on, err := s.MailAlerts(ctx, 1); err != nil || !on {
		t.Fatalf("a person from before e-mail alerts gets them: %v, %v; want true", on, err)
	}
	if !accounts {
		return
	}
	accts, err := s.Accounts(ctx, 1)
	if err != nil || len(accts) != 1 || accts[0].DisplayName != "Dana on TikTok" || accts[0].ConnectedBy != "dana@example.com" {
		t.Fatalf("accounts after migration: %+v, %v", accts, err)
	}
	ev, err := s.Events(ctx, 1, "acc1", 10)
	if err != nil || len(ev) != 1 || ev[0].Kind != "connected" {
		t.Fatalf("history after migration: %+v, %v", ev, err)
	}
	if n, err := s.RevocationsOwed(ctx); err != nil || n != 1 {
		t.Fatalf("revocations owed after migration: %d, %v", n, err)
	}
}

// Each statement of a step is run by itself (see write): only a trigger's
// body may hold a semicolon.
func TestMigrationStepsAreSingleStatements(t *testing.T) {
	for i, step := range steps {
		for _, q := range step {
			body := strings.TrimRight(strings.TrimSpace(q), ";")
			if strings.HasPrefix(body, "CREATE TRIGGER") {
				body = body[:strings.Index(body, "BEGIN")]
			}
			if strings.Contains(body, ";") {
				t.Errorf("step %d→%d: one string holds several statements: %.60s…", i+1, i+2, q)
			}
		}
	}
}

func diffSchemas(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for _, l := range got {
		if !slices.Contains(want, l) {
			t.Errorf("%s: migrated only:  %s", what, l)
		}
	}
	for _, l := range want {
		if !slices.Contains(got, l) {
			t.Errorf("%s: expected only: %s", what, l)
		}
	}
	if !t.Failed() {
		t.Errorf("%s: the same facts in another order:\n got %q\nwant %q", what, got, want)
	}
	t.FailNow()
}

var (
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	sqlSpace   = regexp.MustCompile(`\s+`)
	sqlPunct   = regexp.MustCompile(`\s*([(),])\s*`)
)

// normalSQL is a CREATE statement without comments and with spacing folded,
// so a column that ALTER TABLE appended reads as one a CREATE listed last.
func normalSQL(q string) string {
	q = sqlSpace.ReplaceAllString(sqlComment.ReplaceAllString(q, ""), " ")
	return strings.TrimSpace(sqlPunct.ReplaceAllString(q, "$1"))
}

// schemaOf lists a database's schema as facts, one line each, sorted:
// every object with its SQL (CHECK constraints and collations show only
// there), each table's columns with type, NOT NULL, default and key, its
// foreign keys and indexes, and each index's columns.
func schemaOf(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	var tables, indexes []string
	for _, o := range queryStrings(t, db, 4, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master") {
		out = append(out, fmt.Sprintf("%s %s on %s: %s", o[0], o[1], o[2], normalSQL(o[3])))
		switch o[0] {
		case "table":
			tables = append(tables, o[1])
		case "index":
			indexes = append(indexes, o[1])
		}
	}
	for _, tb := range tables {
		for _, c := range queryStrings(t, db, 7, "SELECT cid, name, type, \"notnull\", coalesce(dflt_value, 'NULL'), pk, hidden FROM pragma_table_xinfo(?)", tb) {
			out = append(out, fmt.Sprintf("table %s column %v", tb, c))
		}
		for _, fk := range queryStrings(t, db, 8, "SELECT id, seq, \"table\", \"from\", coalesce(\"to\", ''), on_update, on_delete, match FROM pragma_foreign_key_list(?)", tb) {
			out = append(out, fmt.Sprintf("table %s foreign key %v", tb, fk))
		}
		for _, ix := range queryStrings(t, db, 4, "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?)", tb) {
			out = append(out, fmt.Sprintf("table %s index %v", tb, ix))
		}
	}
	for _, ix := range indexes {
		for _, c := range queryStrings(t, db, 6, "SELECT seqno, cid, coalesce(name, ''), desc, coll, key FROM pragma_index_xinfo(?)", ix) {
			out = append(out, fmt.Sprintf("index %s column %v", ix, c))
		}
	}
	slices.Sort(out)
	return out
}

// queryStrings runs q and returns each row's n columns as text.
func queryStrings(t *testing.T, db *sql.DB, n int, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		row := make([]string, n)
		ptrs := make([]any, n)
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
