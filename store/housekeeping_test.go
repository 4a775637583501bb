package store

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time source for a Store.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func openWithClock(t testing.TB, clk *fakeClock) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clock.db")
	s, err := Open(context.Background(), withNow(testOptions(t, path, testBox(t, testKey)), clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// Housekeeping (serve's DeleteExpired and DeleteExpiredInvitations) drops
// each kind of row past its time and keeps the live ones, all of them in
// one database at once. It once ran three DELETEs in one Exec; the driver
// bound the first two arguments to every statement, so the session delete
// compared last_seen_at with "now" and logged out everyone not seen that
// second.
func TestDeleteExpired(t *testing.T) {
	const idle, maxAge = time.Hour, 12 * time.Hour
	const (
		flow       = "INSERT INTO oauth_flows (state_hash, session_hash, user_id, workspace_id, platform, purpose, expires_at) VALUES (?, 's', 1, 1, 'tiktok', 'connect', ?)"
		grant      = "INSERT INTO pending_grants (id, session_hash, user_id, workspace_id, platform, sealed, expires_at) VALUES (?, 's', 1, 1, 'tiktok', 'x', ?)"
		invitation = "INSERT INTO invitations (workspace_id, email, role, token_hash, created_at, expires_at) VALUES (1, ?, 'member', ?, 0, ?)"
		session    = "INSERT INTO sessions (id_hash, data, created_at, last_seen_at) VALUES (?, '', ?, ?)"
	)
	ago := func(d time.Duration) int64 { return t0.Add(-d).Unix() }
	tests := []struct {
		name  string
		table string // the row's table; its key column is named below
		key   string
		query string
		args  []any // after the key
		kept  bool
	}{
		{"flow expired a second ago", "oauth_flows", "state_hash", flow, []any{ago(time.Second)}, false},
		{"flow expiring this second", "oauth_flows", "state_hash", flow, []any{ago(0)}, false},
		{"flow live for a minute more", "oauth_flows", "state_hash", flow, []any{ago(-time.Minute)}, true},
		{"grant expired a second ago", "pending_grants", "id", grant, []any{ago(time.Second)}, false},
		{"grant expiring this second", "pending_grants", "id", grant, []any{ago(0)}, false},
		{"grant live for a minute more", "pending_grants", "id", grant, []any{ago(-time.Minute)}, true},
		{"invitation expired a second ago", "invitations", "email", invitation, []any{"a", ago(time.Second)}, false},
		{"invitation live for a day more", "invitations", "email", invitation, []any{"b", ago(-24 * time.Hour)}, true},
		{"session seen a second ago", "sessions", "id_hash", session, []any{ago(time.Minute), ago(time.Second)}, true},
		{"session seen 59 minutes ago", "sessions", "id_hash", session, []any{ago(2 * time.Hour), ago(59 * time.Minute)}, true},
		{"session idle past the limit", "sessions", "id_hash", session, []any{ago(2 * time.Hour), ago(idle + time.Second)}, false},
		{"session active but past the absolute limit", "sessions", "id_hash", session, []any{ago(maxAge + time.Second), ago(time.Second)}, false},
	}
	ctx := context.Background()
	s, _ := openWithClock(t, &fakeClock{t: t0})
	if _, _, err := s.SignUp(ctx, User{Email: "o@example.com", PasswordHash: "h"}, "W", "free", false); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		exec(t, s, tc.query, append([]any{tc.name}, tc.args...)...)
	}
	if err := s.DeleteExpired(ctx, t0.Add(-idle), t0.Add(-maxAge)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteExpiredInvitations(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n int
			if err := s.rawQueryRow("SELECT count(*) FROM "+tc.table+" WHERE "+tc.key+" = ?", tc.name).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if kept := n == 1; kept != tc.kept {
				t.Fatalf("kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}

// One statement per Exec, everywhere in store: the pattern above is
// forbidden by reading the package's own source.
func TestNoMultiStatementSQL(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{"Exec": true, "ExecContext": true, "Query": true, "QueryContext": true,
		"QueryRow": true, "QueryRowContext": true, "query": true, "queryRow": true, "PrepareContext": true, "exec": true}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !methods[sel.Sel.Name] {
				return true
			}
			for _, arg := range call.Args {
				lit, ok := arg.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				q, _ := strconv.Unquote(lit.Value)
				checked++
				if body := strings.TrimRight(strings.TrimSpace(q), ";"); strings.Contains(body, ";") {
					t.Errorf("%s: one SQL string holds several statements; run one per call, in a transaction", fset.Position(lit.Pos()))
				}
			}
			return true
		})
	}
	if checked < 30 {
		t.Fatalf("found only %d SQL strings; the scan is not seeing the store's queries", checked)
	}
}

func TestHistoryKeepsWhatPeopleRead(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	s, _ := openWithClock(t, clk)
	ws, ids := seedQueue(t, s, 1, t0)
	err := s.write(ctx, func(ctx context.Context, tx *Tx) error {
		for _, kind := range []string{"checked", "refreshed", "check_failed", "needs_reauth", "permissions_changed"} {
			if err := addEvent(ctx, tx, ws, ids[0], "A", 0, kind, "", t0.Add(-40*24*time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneHistory(ctx, t0.Add(-30*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the 2 routine events", n, err)
	}
	ev, _ := s.Events(ctx, ws, ids[0], 50)
	var kinds []string
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "permissions_changed needs_reauth check_failed connected" {
		t.Fatalf("history after pruning: %s", got)
	}
	// Nothing but pruning may delete history while the workspace exists.
	if _, err := s.rawExec("DELETE FROM account_events WHERE kind = 'needs_reauth'"); err == nil {
		t.Fatal("a non-routine event could be deleted")
	}
	if _, err := s.rawExec("UPDATE account_events SET detail = 'x'"); err == nil {
		t.Fatal("an event could be changed")
	}
	// Removing the workspace takes its history along.
	exec(t, s, "DELETE FROM social_accounts WHERE workspace_id = ?", ws)
	exec(t, s, "DELETE FROM workspaces WHERE id = ?", ws)
	var left int
	s.rawQueryRow("SELECT count(*) FROM account_events").Scan(&left)
	if left != 0 {
		t.Fatalf("%d events outlived their workspace", left)
	}
}
