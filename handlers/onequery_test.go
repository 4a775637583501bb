package handlers

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"omnisocial/store"
)

// statements records what the store runs, as the store wrote it.
type statements struct {
	mu sync.Mutex
	qs []string
}

func watchStatements(t *testing.T, st *store.Store) *statements {
	s := &statements{}
	st.ObserveStatements(func(q string) {
		s.mu.Lock()
		s.qs = append(s.qs, strings.Join(strings.Fields(q), " "))
		s.mu.Unlock()
	})
	t.Cleanup(func() { st.ObserveStatements(nil) })
	return s
}

// take returns the statements since the last take.
func (s *statements) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.qs
	s.qs = nil
	return qs
}

// TestOneQueryPerLoggedInRequest: a logged-in request reads its session,
// user and workspaces in one statement, and what changed since the last
// request shows at once: a removed membership, a user who has gone. The
// touch of last-seen is the only other statement, at most once a minute.
func TestOneQueryPerLoggedInRequest(t *testing.T) {
	k := newKit(t)
	ctx := context.Background()
	// Who the request is, as loadViewer saw it; the route reads nothing.
	k.echo.GET("/test/viewer", func(c echo.Context) error {
		v := viewerOf(c)
		return c.String(http.StatusOK, fmt.Sprintf("user %d in %d of %d, logged in %v", v.user.ID, v.member.ID, len(v.memberOf), v.loggedIn))
	})
	b := k.browser()
	b.signup("dana@example.com", "Acme")
	dana, _ := k.st.UserByEmail(ctx, "dana@example.com")
	beta, err := k.st.CreateWorkspace(ctx, dana.ID, "Beta", "free")
	if err != nil {
		t.Fatal(err)
	}
	k.addUser("olga@example.com", beta.ID, store.RoleOwner)
	if res := b.form("/settings/accounts", "/workspaces/switch", url.Values{"workspace": {idStr(beta.ID)}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch: %d", res.StatusCode)
	}
	const read = "SELECT s.user_id, s.data"
	const touch = "UPDATE sessions SET last_seen_at"
	sqs := watchStatements(t, k.st)
	tests := []struct {
		name   string
		change func() error
		wait   time.Duration
		want   string
		stmts  []string // prefixes, in order
	}{
		{"logged in, in the workspace chosen", nil, 0, "user 1 in 2 of 2, logged in true", []string{read}},
		{"again, within the minute", nil, 30 * time.Second, "user 1 in 2 of 2, logged in true", []string{read}},
		{"after a minute last-seen is touched", nil, 31 * time.Second, "user 1 in 2 of 2, logged in true", []string{read, touch}},
		{"removed from the workspace chosen", func() error { return k.st.RemoveMember(ctx, beta.ID, dana.ID, nil) }, 0,
			"user 1 in 1 of 1, logged in true", []string{read}},
		{"the user has gone", func() error { return deleteUsersBehindTheApp(k) }, 0, "user 0 in 0 of 0, logged in false", []string{read}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				if err := tc.change(); err != nil {
					t.Fatal(err)
				}
			}
			k.clock.Add(tc.wait)
			sqs.take()
			res := b.get("/test/viewer")
			body, _ := io.ReadAll(res.Body)
			got := sqs.take()
			if string(body) != tc.want {
				t.Errorf("viewer %q, want %q", body, tc.want)
			}
			ok := len(got) == len(tc.stmts)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tc.stmts[i])
			}
			if !ok {
				t.Errorf("statements:\n%s\nwant %d starting %q", strings.Join(got, "\n"), len(tc.stmts), tc.stmts)
			}
		})
	}
}

// TestAccountsPageReadsTheSessionOnce: the page's own reads come on top of
// the one session read, never a second read of the user.
func TestAccountsPageReadsTheSessionOnce(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Acme")
	b.get("/settings/accounts") // the sign-up's welcome is shown and cleared
	sqs := watchStatements(t, k.st)
	if res := b.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	n := 0
	for _, q := range sqs.take() {
		if strings.Contains(q, "sessions") || strings.Contains(q, "FROM users") || strings.Contains(q, "m.user_id = ") {
			n++
			if !strings.HasPrefix(q, "SELECT s.user_id, s.data") {
				t.Errorf("a second read of the session or user: %s", q)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d reads of the session, want 1", n)
	}
}

// deleteUsersBehindTheApp deletes every user with the foreign keys off, so
// their session rows stay (as a restore or a hand edit might leave them).
func deleteUsersBehindTheApp(k *kit) error {
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("DELETE FROM users")
	return err
}
