package main

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"omnisocial/sandbox"
)

// The refresh queue, against a platform of its own that is slow to answer
// refreshes (so overlapping calls overlap for certain):
//   - INTERVAL: accounts made due after the run at start-up are refreshed
//     by a later run, well before the default 30 s would come round;
//   - BATCH=1: one account claimed (leased) at a time; by default all;
//   - WORKERS=1: one refresh call in flight at the platform; by default several;
//   - RATE=1: refresh calls start at least about a second apart;
//   - LOG_LEVEL=debug: the per-account debug line appears;
//   - TIKTOK_API_URL: the refreshes reach it.
func wireRefresh(t *testing.T) {
	const accounts = 3
	for _, tc := range refreshCases(accounts) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRefreshCase(t, tc, accounts)
		})
	}
}

// refreshCase is one setting of the refresh queue and what it shows.
type refreshCase struct {
	name      string
	env       []string
	dueLater  bool // made due after start-up (else before: the start-up run takes them)
	check     func(t *testing.T, s refreshSeen)
	wantDebug bool
}

func refreshCases(accounts int) []refreshCase {
	return []refreshCase{
		{"interval 1s, defaults otherwise", []string{"OMNISOCIAL_REFRESH_INTERVAL", "1s", "OMNISOCIAL_LOG_LEVEL", "debug"}, true,
			func(t *testing.T, s refreshSeen) {
				if s.maxLeased != accounts || s.maxInFlight < 2 {
					t.Errorf("defaults: %d claimed at once, %d calls in flight; want %d and several", s.maxLeased, s.maxInFlight, accounts)
				}
			}, true},
		{"batch 1", []string{"OMNISOCIAL_REFRESH_BATCH", "1"}, false,
			func(t *testing.T, s refreshSeen) {
				if s.maxLeased != 1 {
					t.Errorf("batch 1: %d accounts claimed at once", s.maxLeased)
				}
			}, false},
		{"workers 1", []string{"OMNISOCIAL_REFRESH_WORKERS", "1"}, false,
			func(t *testing.T, s refreshSeen) {
				if s.maxInFlight != 1 || s.maxLeased != accounts {
					t.Errorf("workers 1: %d calls in flight, %d claimed; want 1 and %d", s.maxInFlight, s.maxLeased, accounts)
				}
			}, false},
		{"rate 1", []string{"OMNISOCIAL_REFRESH_RATE", "1"}, false,
			func(t *testing.T, s refreshSeen) {
				slices.SortFunc(s.starts, func(a, b time.Time) int { return a.Compare(b) })
				for i := 1; i < len(s.starts); i++ {
					if gap := s.starts[i].Sub(s.starts[i-1]); gap < 800*time.Millisecond {
						t.Errorf("rate 1/s: refresh calls %s apart", gap)
					}
				}
			}, false},
	}
}

// tiktokEnv points the server's TikTok at p, with the sandbox's app keys.
func tiktokEnv(p *platform) []string {
	return []string{"OMNISOCIAL_TIKTOK_CLIENT_KEY", sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET", sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL", p.URL + "/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL", p.URL + "/sandbox/open.tiktokapis.com"}
}

// runRefreshCase boots the server with tc's settings over accounts due
// TikTok accounts, waits until all are refreshed, and checks what the
// database and the platform saw.
func runRefreshCase(t *testing.T, tc refreshCase, accounts int) {
	p := startPlatform(t, 300*time.Millisecond)
	db := filepath.Join(t.TempDir(), "refresh.db")
	seedTikTok(t, db, p.URL, accounts)
	dbh := openRaw(t, db)
	due := func(at time.Time) {
		if _, err := dbh.Exec("UPDATE social_accounts SET next_check_at = ?, last_synced_at = 0", at.Unix()); err != nil {
			t.Fatal(err)
		}
	}
	if !tc.dueLater {
		due(time.Now().Add(-time.Second))
	}
	w := boot(t, append(append([]string{"OMNISOCIAL_DB", db}, tiktokEnv(p)...), tc.env...)...)
	if tc.dueLater {
		// Later than the run at start-up: only a run an interval later finds them.
		due(time.Now().Add(1500 * time.Millisecond))
	}
	var s refreshSeen
	s.maxLeased = waitAllRefreshed(t, dbh, accounts, w)
	s.maxInFlight, s.starts = p.refreshes()
	if len(s.starts) != accounts {
		t.Errorf("%d refresh calls reached OMNISOCIAL_TIKTOK_API_URL, want %d", len(s.starts), accounts)
	}
	tc.check(t, s)
	if got := strings.Contains(w.logs.String(), `level=DEBUG msg="refresh: account ok"`); got != tc.wantDebug {
		t.Errorf("debug line in the log: %v, want %v", got, tc.wantDebug)
	}
}

// waitAllRefreshed polls until every account is synced and none leased,
// within 20 s (under the default 30 s interval), and returns the most
// accounts seen leased at once.
func waitAllRefreshed(t *testing.T, dbh *sql.DB, accounts int, w *wired) int {
	t.Helper()
	maxLeased := 0
	deadline := time.Now().Add(20 * time.Second)
	for {
		var leased, synced int
		if err := dbh.QueryRow(`SELECT coalesce(sum(lease_until IS NOT NULL), 0), coalesce(sum(last_synced_at > 0), 0)
			FROM social_accounts`).Scan(&leased, &synced); err != nil {
			t.Fatal(err)
		}
		maxLeased = max(maxLeased, leased)
		if synced == accounts && leased == 0 {
			return maxLeased
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accounts refreshed in 20 s\n%s", synced, accounts, w.logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// OMNISOCIAL_METRICS_TOKEN: without it /metrics is 404; with it a scraper
// needs the bearer, and after a refresh storm in the sandbox the counters,
// the latency histogram, the account gauges and the request counts (by
// route pattern, not the raw URL) have moved.
func wireMetrics(t *testing.T) {
	const token = "metrics-token-0123456789abcdef0123456789"
	off := boot(t)
	if res := httpGet(t, off.URL+"/metrics"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics without OMNISOCIAL_METRICS_TOKEN: %d %s, want 404", res.StatusCode, res.Request.URL)
	}
	if _, err := tryBoot(t, "OMNISOCIAL_METRICS_TOKEN", "short"); err == nil || !strings.Contains(err.Error(), "OMNISOCIAL_METRICS_TOKEN") {
		t.Fatalf("a short token: err = %v", err)
	}

	const accounts = 5
	p := startPlatform(t, 50*time.Millisecond)
	db := filepath.Join(t.TempDir(), "metrics.db")
	seedTikTok(t, db, p.URL, accounts)
	dbh := openRaw(t, db)
	w := boot(t, append([]string{"OMNISOCIAL_DB", db, "OMNISOCIAL_METRICS_TOKEN", token, "OMNISOCIAL_REFRESH_INTERVAL", "1s"}, tiktokEnv(p)...)...)
	for _, bearer := range []string{"", "wrong-" + token} {
		if code, body := scrapeMetrics(t, w.URL, bearer); code != http.StatusUnauthorized || strings.Contains(body, "omnisocial_") {
			t.Fatalf("/metrics with bearer %q: %d", bearer, code)
		}
	}
	// A request to a route with an id: counted under its pattern.
	httpGet(t, w.URL+"/join/some-secret-looking-token")
	httpGet(t, w.URL+"/no/such/page")
	_, before := scrapeMetrics(t, w.URL, token)
	if !strings.Contains(before, `omnisocial_accounts{platform="tiktok",status="active"} `+fmt.Sprint(accounts)) {
		t.Fatalf("accounts gauge before the storm:\n%s", grepLines(before, "omnisocial_accounts"))
	}
	// The storm: every account due at once.
	if _, err := dbh.Exec("UPDATE social_accounts SET next_check_at = ?, last_synced_at = 0", time.Now().Add(-time.Minute).Unix()); err != nil {
		t.Fatal(err)
	}
	after := waitMetrics(t, w.URL, token, []string{
		`omnisocial_refreshes_total{outcome="refreshed",platform="tiktok"} ` + fmt.Sprint(accounts),
		`omnisocial_platform_call_seconds_count{platform="tiktok"} ` + fmt.Sprint(accounts),
		`omnisocial_refresh_due_accounts 0`,
		`omnisocial_http_requests_total{code="404",method="GET",route="/join/:token"} 1`,
		`omnisocial_http_requests_total{code="303",method="GET",route="unmatched"} 1`,
		`omnisocial_revocations_owed 0`,
		`omnisocial_mail_pending 0`,
	})
	if strings.Contains(after, "some-secret-looking-token") || strings.Contains(after, "/no/such/page") {
		t.Errorf("a raw URL is a label:\n%s", grepLines(after, "http_requests"))
	}
	if strings.Contains(before, `omnisocial_refreshes_total{outcome="refreshed",platform="tiktok"} `+fmt.Sprint(accounts)) {
		t.Errorf("the counter had its after-storm value before the storm")
	}
}

// scrapeMetrics GETs base's /metrics, with bearer if not empty.
func scrapeMetrics(t *testing.T, base, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// waitMetrics scrapes until every line of want is there, within 20 s, and
// returns the last scrape.
func waitMetrics(t *testing.T, base, token string, want []string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, after := scrapeMetrics(t, base, token)
		missing := ""
		for _, l := range want {
			if !strings.Contains(after, l) {
				missing = l
			}
		}
		if missing == "" {
			return after
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the storm, no %q:\n%s", missing, grepLines(after, "omnisocial_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

type refreshSeen struct {
	maxLeased, maxInFlight int
	starts                 []time.Time
}
