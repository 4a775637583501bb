package refresh

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

// TestStormOfDueAccounts makes 1,000 TikTok accounts due at once, with
// rotation on and a tenth of the sandbox's answers failing, and runs the
// queue until it settles. Every account must end refreshed, with a refresh
// token the sandbox still accepts; none may be marked needs re-auth; and
// the sandbox must have seen no refresh beyond the ones that succeeded or
// were failed on purpose (a double refresh would show as one more call).
func TestStormOfDueAccounts(t *testing.T) {
	if testing.Short() {
		t.Skip("the 1,000-account storm is not a short test")
	}
	const n = 1000
	e := newEnv(t)
	ids := connectMany(t, e, n)
	e.control("DELETE", "stats", nil)
	e.sqlExec("UPDATE social_accounts SET next_check_at = ?", e.clock.Now().Unix())
	e.fault(map[string]any{"endpoint": "tiktok.token", "kind": "5xx", "fraction": 0.05, "count": 1_000_000})
	e.fault(map[string]any{"endpoint": "tiktok.token", "kind": "429", "fraction": 0.03, "count": 1_000_000, "retry_after": 30})
	e.fault(map[string]any{"endpoint": "tiktok.userinfo", "kind": "5xx", "fraction": 0.02, "count": 1_000_000})
	issuedBefore := countRefreshTokens(e)

	r := e.refresher(func(o *Options) { o.Batch, o.Workers = 200, 8 })
	due := e.clock.Now()
	start := time.Now()
	var total Stats
	passes := 0
	// Each 429 pauses TikTok for the rest of its pass (the answer's
	// retry_after), so a pass gets through only some tens of accounts:
	// 1,000 took 16 to 28 passes over six runs. Eighty leave room for a
	// run of bad luck (30 once ran out) without hiding an account stuck.
	for ; passes < 80; passes++ {
		s := e.run(r)
		total.Claimed += s.Claimed
		total.Refreshed += s.Refreshed
		total.Retried += s.Retried
		total.NeedsReauth += s.NeedsReauth
		if pending(e, ids, due) == 0 {
			break
		}
		// Past the backoff of the failed ones (a minute or two after one or
		// two failures), yet far from the next due refresh of the others.
		e.clock.Add(2 * time.Minute)
	}
	took := time.Since(start)
	if left := pending(e, ids, due); left > 0 {
		reportLeft(t, e, ids, due)
		t.Fatalf("%d accounts never refreshed after %d passes", left, passes+1)
	}
	if total.NeedsReauth > 0 {
		t.Fatalf("%d accounts marked needs re-auth by transient faults", total.NeedsReauth)
	}
	valid := map[string]string{}
	for _, tok := range e.sandboxTokens() {
		if tok.Kind == "refresh" {
			valid[tok.Token] = tok.Status
		}
	}
	for _, id := range ids {
		if st := valid[e.tokens(id).Refresh.Reveal()]; st != "valid" {
			t.Fatalf("account %s holds a refresh token the sandbox calls %q", id, st)
		}
	}
	stats := e.stats()
	calls := stats["tiktok.token.refresh_token"]
	faulted := stats["fault.tiktok.token.5xx"] + stats["fault.tiktok.token.429"]
	succeeded := int64(countRefreshTokens(e) - issuedBefore)
	if calls-faulted != succeeded {
		t.Fatalf("%d refresh calls, %d failed on purpose, but %d succeeded: some account was refreshed twice", calls, faulted, succeeded)
	}
	t.Logf("%d accounts: %d passes, %d claims, %d refreshes, %d retries, %d injected failures (%d token, %d user info); %.2fs, %.0f refreshes/s",
		n, passes+1, total.Claimed, succeeded, total.Retried, faulted+stats["fault.tiktok.userinfo.5xx"], faulted,
		stats["fault.tiktok.userinfo.5xx"], took.Seconds(), float64(succeeded)/took.Seconds())
}

// pending counts accounts not yet refreshed since they fell due.
// connectMany connects n TikTok accounts, one workspace each (the sandbox
// has one TikTok Business persona, and an account may be connected once
// per workspace), and returns their ids.
func connectMany(t *testing.T, e *env, n int) []string {
	ctx := context.Background()
	ids := make([]string, 0, n)
	for i := range n {
		u, ws, err := e.st.SignUp(ctx, store.User{Email: fmt.Sprintf("u%d@example.com", i), PasswordHash: "h"}, "W", "business", false)
		if err != nil {
			t.Fatal(err)
		}
		g := e.authorize(providers.TikTok, "bloom")
		if _, err := e.st.Connect(ctx, store.Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok",
			Subject: g.Subject, Accounts: store.FromGrant(providers.TikTok, g, e.clock.Now())}); err != nil {
			t.Fatal(err)
		}
		accts, _ := e.st.Accounts(ctx, ws.ID)
		ids = append(ids, accts[0].ID)
	}
	return ids
}

// reportLeft names each account not refreshed since due, with its log lines.
func reportLeft(t *testing.T, e *env, ids []string, due time.Time) {
	logs := e.logs.String()
	for _, id := range ids {
		if q := e.state(id); q.Status != store.StatusActive || q.LastSyncedAt.Before(due) || q.Failures > 0 {
			t.Logf("never refreshed: %+v", q)
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, id) {
					t.Log(line)
				}
			}
		}
	}
}

func pending(e *env, ids []string, due time.Time) int {
	n := 0
	for _, id := range ids {
		q := e.state(id)
		if q.Status != store.StatusActive || q.LastSyncedAt.Before(due) || q.Failures > 0 {
			n++
		}
	}
	return n
}

func countRefreshTokens(e *env) int {
	n := 0
	for _, tok := range e.sandboxTokens() {
		if tok.Kind == "refresh" {
			n++
		}
	}
	return n
}
