package store

import (
	"context"
	"database/sql"
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
	s, err := Open(context.Background(), Options{Path: path, Schema: readSchema(t), Box: testBox(t, testKey), Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// Housekeeping once ran three DELETEs in one Exec; the driver bound the
// first two arguments to every statement, so the session delete compared
// last_seen_at with "now" and logged out everyone not seen that second.
func TestDeleteExpiredKeepsLiveSessions(t *testing.T) {
	const idle, maxAge = time.Hour, 12 * time.Hour
	tests := []struct {
		name       string
		seenAgo    time.Duration
		createdAgo time.Duration
		kept       bool
	}{
		{"seen a second ago", time.Second, time.Minute, true},
		{"seen 59 minutes ago", 59 * time.Minute, 2 * time.Hour, true},
		{"idle past the limit", idle + time.Second, 2 * time.Hour, false},
		{"active but past the absolute limit", time.Second, maxAge + time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			clk := &fakeClock{t: t0}
			s, _ := openWithClock(t, clk)
			exec(t, s, "INSERT INTO sessions (id_hash, data, created_at, last_seen_at) VALUES (?, x'', ?, ?)",
				[]byte("sess"), t0.Add(-tc.createdAgo).Unix(), t0.Add(-tc.seenAgo).Unix())
			if err := s.DeleteExpired(ctx, t0.Add(-idle), t0.Add(-maxAge)); err != nil {
				t.Fatal(err)
			}
			_, err := s.Session(ctx, []byte("sess"))
			if kept := err == nil; kept != tc.kept {
				t.Fatalf("session kept = %v, want %v (err %v)", kept, tc.kept, err)
			}
		})
	}
}

func TestDeleteExpiredFlowsAndGrants(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	s, _ := openWithClock(t, clk)
	u, ws, err := s.SignUp(ctx, User{Email: "o@example.com", PasswordHash: "h"}, "W", "free", false)
	if err != nil {
		t.Fatal(err)
	}
	for i, exp := range []time.Time{t0.Add(-time.Second), t0.Add(time.Hour)} {
		if err := s.CreateFlow(ctx, Flow{StateHash: []byte{byte(i)}, SessionHash: []byte("s"), UserID: u.ID, WorkspaceID: ws.ID,
			Platform: "tiktok", Purpose: "connect", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteExpired(ctx, t0.Add(-time.Hour), t0.Add(-12*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	s.r.QueryRow("SELECT count(*) FROM oauth_flows").Scan(&n)
	if n != 1 {
		t.Fatalf("%d flows left, want the live one", n)
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
	err := s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
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
	if _, err := s.w.Exec("DELETE FROM account_events WHERE kind = 'needs_reauth'"); err == nil {
		t.Fatal("a non-routine event could be deleted")
	}
	if _, err := s.w.Exec("UPDATE account_events SET detail = 'x'"); err == nil {
		t.Fatal("an event could be changed")
	}
	// Removing the workspace takes its history along.
	exec(t, s, "DELETE FROM social_accounts WHERE workspace_id = ?", ws)
	exec(t, s, "DELETE FROM workspaces WHERE id = ?", ws)
	var left int
	s.r.QueryRow("SELECT count(*) FROM account_events").Scan(&left)
	if left != 0 {
		t.Fatalf("%d events outlived their workspace", left)
	}
}
