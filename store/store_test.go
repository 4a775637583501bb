package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"omnisocial/internal/pgtest"
	"omnisocial/vault"
)

func readSchema(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func testBox(t testing.TB, hexKey string) *vault.Box {
	t.Helper()
	k, err := vault.ParseKey(hexKey)
	if err != nil {
		t.Fatal(err)
	}
	b, err := vault.NewBox(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func readSchemaPostgres(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../schema_postgres.sql")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testOptions open the test database at path with box: the file, or on
// PostgreSQL the schema named after it (pgtest).
func testOptions(t testing.TB, path string, box *vault.Box) Options {
	t.Helper()
	return Options{Path: pgtest.DSN(t, path), Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: box}
}

func withNow(o Options, now func() time.Time) Options {
	o.Now = now
	return o
}

func openAt(t testing.TB, path string) *Store {
	t.Helper()
	return mustOpen(t, testOptions(t, path, testBox(t, testKey)))
}

// openSQLite is openAt for the tests of SQLite's own files and pragmas,
// which run on SQLite whatever database the other tests use.
func openSQLite(t testing.TB, path string) *Store {
	t.Helper()
	return mustOpen(t, Options{Path: path, Schema: readSchema(t), Box: testBox(t, testKey)})
}

func mustOpen(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTestStore(t testing.TB) *Store {
	return openAt(t, filepath.Join(t.TempDir(), "test.db"))
}

func TestOpenRefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s := openAt(t, path)
	if s.Postgres() {
		s.rawExec("UPDATE schema_version SET version = 99")
	} else {
		s.rawExec("PRAGMA user_version = 99")
	}
	s.Close()
	_, err := Open(context.Background(), testOptions(t, path, testBox(t, testKey)))
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer database: %v", err)
	}
}

func TestOpenRefusesWrongKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	openAt(t, path).Close()
	other := strings.Repeat("9", 64)
	_, err := Open(context.Background(), testOptions(t, path, testBox(t, other)))
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v, want ErrWrongKey", err)
	}
}

func TestConnectionSettings(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "test.db"))
	tests := []struct {
		pragma string
		db     *sql.DB
		want   string
	}{
		{"journal_mode", s.w, "wal"},
		{"foreign_keys", s.w, "1"},
		{"synchronous", s.w, "2"}, // FULL
		{"secure_delete", s.w, "1"},
		{"foreign_keys", s.r, "1"},
		{"query_only", s.r, "1"},
	}
	for _, tc := range tests {
		var got string
		if err := tc.db.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("PRAGMA %s = %s, want %s", tc.pragma, got, tc.want)
		}
	}
}

func TestSignUp(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prior   []string
		email   string
		closed  bool
		wantErr error
	}{
		{"first user, open", nil, "a@example.com", false, nil},
		{"first user, closed", nil, "a@example.com", true, nil},
		{"second user, open", []string{"a@example.com"}, "b@example.com", false, nil},
		{"second user, closed", []string{"a@example.com"}, "b@example.com", true, ErrSignupClosed},
		{"same email any case", []string{"a@example.com"}, "A@Example.com", false, ErrConflict},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			for _, e := range tc.prior {
				if _, _, err := s.SignUp(ctx, User{Email: e, PasswordHash: "h"}, "W", "free", false); err != nil {
					t.Fatal(err)
				}
			}
			u, ws, err := s.SignUp(ctx, User{Email: tc.email, PasswordHash: "h"}, "Mine", "free", tc.closed)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("SignUp error = %v, want %v", err, tc.wantErr)
			}
			n, _ := s.CountUsers(ctx)
			if want := len(tc.prior) + map[bool]int{true: 1, false: 0}[tc.wantErr == nil]; n != want {
				t.Fatalf("%d users, want %d: a failed sign-up must change nothing", n, want)
			}
			if tc.wantErr == nil {
				m, err := s.Membership(ctx, u.ID, ws.ID)
				if err != nil || m.Role != RoleOwner || m.MaxAccounts != 3 {
					t.Fatalf("membership = %+v, %v", m, err)
				}
			}
		})
	}
}

func TestClosedSignupRaceHasOneWinner(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := s.SignUp(ctx, User{Email: string(rune('a'+i)) + "@example.com", PasswordHash: "h"}, "W", "free", true)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrSignupClosed):
			t.Fatalf("unexpected error (busy database?): %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d first users, want exactly 1", won)
	}
}

func TestAddUserAndPlans(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	owner, ws, _ := s.SignUp(ctx, User{Email: "o@example.com", PasswordHash: "h"}, "Acme", "free", false)
	m, err := s.AddUser(ctx, User{Email: "m@example.com", PasswordHash: "h"}, ws.ID, RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser(ctx, User{Email: "m@example.com"}, ws.ID, RoleAdmin); !errors.Is(err, ErrConflict) {
		t.Fatalf("adding twice: %v", err)
	}
	if _, err := s.AddUser(ctx, User{Email: "x@example.com"}, ws.ID, "king"); err == nil {
		t.Fatal("unknown role accepted")
	}
	members, _ := s.Members(ctx, ws.ID)
	if len(members) != 2 || members[0].UserID != owner.ID || members[1].UserID != m.ID {
		t.Fatalf("members = %+v", members)
	}
	if err := s.SetPlan(ctx, ws.ID, "business"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPlan(ctx, ws.ID, "platinum"); err == nil {
		t.Fatal("unknown plan accepted")
	}
	if err := s.SetPlanLimit(ctx, "business", 75); err != nil {
		t.Fatal(err)
	}
	mm, _ := s.Membership(ctx, m.ID, ws.ID)
	if mm.Plan != "business" || mm.MaxAccounts != 75 {
		t.Fatalf("plan = %s/%d, want business/75", mm.Plan, mm.MaxAccounts)
	}
	if _, err := s.Membership(ctx, m.ID, ws.ID+1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("membership of another workspace: %v", err)
	}
}

// rawExec, rawQuery and rawQueryRow reach behind the store's API in
// either database (the query translated as the store's own are).
func (s *Store) rawExec(q string, args ...any) (sql.Result, error) {
	return s.w.Exec(s.d.sql(q), args...)
}

func (s *Store) rawQuery(q string, args ...any) (*sql.Rows, error) {
	return s.r.Query(s.d.sql(q), args...)
}

func (s *Store) rawQueryRow(q string, args ...any) *sql.Row {
	return s.r.QueryRow(s.d.sql(q), args...)
}
