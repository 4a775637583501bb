package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

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
	tests := []struct {
		name      string
		env       []string
		dueLater  bool // made due after start-up (else before: the start-up run takes them)
		check     func(t *testing.T, s refreshSeen)
		wantDebug bool
	}{
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
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
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
			w := boot(t, append([]string{"OMNISOCIAL_DB", db,
				"OMNISOCIAL_TIKTOK_CLIENT_KEY", sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET", sandbox.DevTikTokClientSecret,
				"OMNISOCIAL_TIKTOK_AUTH_URL", p.URL + "/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL", p.URL + "/sandbox/open.tiktokapis.com",
			}, tc.env...)...)
			if tc.dueLater {
				// Later than the run at start-up: only a run an interval later finds them.
				due(time.Now().Add(1500 * time.Millisecond))
			}
			var s refreshSeen
			deadline := time.Now().Add(20 * time.Second) // under the default 30 s interval
			for {
				var leased, synced int
				if err := dbh.QueryRow(`SELECT coalesce(sum(lease_until IS NOT NULL), 0), coalesce(sum(last_synced_at > 0), 0)
					FROM social_accounts`).Scan(&leased, &synced); err != nil {
					t.Fatal(err)
				}
				s.maxLeased = max(s.maxLeased, leased)
				if synced == accounts && leased == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d accounts refreshed in 20 s\n%s", synced, accounts, w.logs)
				}
				time.Sleep(5 * time.Millisecond)
			}
			s.maxInFlight, s.starts = p.refreshes()
			if len(s.starts) != accounts {
				t.Errorf("%d refresh calls reached OMNISOCIAL_TIKTOK_API_URL, want %d", len(s.starts), accounts)
			}
			tc.check(t, s)
			if got := strings.Contains(w.logs.String(), `level=DEBUG msg="refresh: account ok"`); got != tc.wantDebug {
				t.Errorf("debug line in the log: %v, want %v", got, tc.wantDebug)
			}
		})
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
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_METRICS_TOKEN", token, "OMNISOCIAL_REFRESH_INTERVAL", "1s",
		"OMNISOCIAL_TIKTOK_CLIENT_KEY", sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET", sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL", p.URL+"/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL", p.URL+"/sandbox/open.tiktokapis.com")
	scrape := func(bearer string) (int, string) {
		req, _ := http.NewRequest("GET", w.URL+"/metrics", nil)
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
	for _, bearer := range []string{"", "wrong-" + token} {
		if code, body := scrape(bearer); code != http.StatusUnauthorized || strings.Contains(body, "omnisocial_") {
			t.Fatalf("/metrics with bearer %q: %d", bearer, code)
		}
	}
	// A request to a route with an id: counted under its pattern.
	httpGet(t, w.URL+"/join/some-secret-looking-token")
	httpGet(t, w.URL+"/no/such/page")
	_, before := scrape(token)
	if !strings.Contains(before, `omnisocial_accounts{platform="tiktok",status="active"} `+fmt.Sprint(accounts)) {
		t.Fatalf("accounts gauge before the storm:\n%s", grepLines(before, "omnisocial_accounts"))
	}
	// The storm: every account due at once.
	if _, err := dbh.Exec("UPDATE social_accounts SET next_check_at = ?, last_synced_at = 0", time.Now().Add(-time.Minute).Unix()); err != nil {
		t.Fatal(err)
	}
	var after string
	deadline := time.Now().Add(20 * time.Second)
	want := []string{
		`omnisocial_refreshes_total{outcome="refreshed",platform="tiktok"} ` + fmt.Sprint(accounts),
		`omnisocial_platform_call_seconds_count{platform="tiktok"} ` + fmt.Sprint(accounts),
		`omnisocial_refresh_due_accounts 0`,
		`omnisocial_http_requests_total{code="404",method="GET",route="/join/:token"} 1`,
		`omnisocial_http_requests_total{code="303",method="GET",route="unmatched"} 1`,
		`omnisocial_revocations_owed 0`,
		`omnisocial_mail_pending 0`,
	}
	for {
		_, after = scrape(token)
		missing := ""
		for _, l := range want {
			if !strings.Contains(after, l) {
				missing = l
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the storm, no %q:\n%s", missing, grepLines(after, "omnisocial_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(after, "some-secret-looking-token") || strings.Contains(after, "/no/such/page") {
		t.Errorf("a raw URL is a label:\n%s", grepLines(after, "http_requests"))
	}
	if strings.Contains(before, `omnisocial_refreshes_total{outcome="refreshed",platform="tiktok"} `+fmt.Sprint(accounts)) {
		t.Errorf("the counter had its after-storm value before the storm")
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

// OMNISOCIAL_SMTP_URL and OMNISOCIAL_MAIL_FROM: when a Facebook sign-in
// dies, its workspace's owners and admins (not one who turned alerts off)
// get one message for all its accounts, from OMNISOCIAL_MAIL_FROM, through
// the SMTP server of the URL (auth with its user and password), linking to
// the fix and carrying no token; a message the server refused first is
// retried from the outbox. A bad URL or a missing From stops the start.
func wireMail(t *testing.T) {
	for _, kv := range [][]string{{"OMNISOCIAL_SMTP_URL", "http://mail.example.com"}, {"OMNISOCIAL_SMTP_URL", "smtp://mail.example.com:587", "OMNISOCIAL_MAIL_FROM", ""}} {
		if _, err := tryBoot(t, kv...); err == nil || !strings.Contains(err.Error(), kv[len(kv)-2]) {
			t.Fatalf("%v: err = %v", kv, err)
		}
	}
	sink := startSMTPSink(t)
	sink.refuseNext(1)
	db := filepath.Join(t.TempDir(), "mail.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true",
		"OMNISOCIAL_SMTP_URL", "smtp://user:pass@"+sink.Addr, "OMNISOCIAL_MAIL_FROM", "OmniSocial <alerts@example.com>")
	owner := newVisitor(t, w.URL)
	owner.signup("owner@example.com", "Harbor")
	res := owner.connect("facebook", w.URL, "dana")
	choose := owner.page(res.Header.Get("Location"))
	form := url.Values{}
	// Two Pages: the free plan has no room for every Page of dana's.
	choose.Find("input[name=account]").Slice(0, 2).Each(func(_ int, s *goquery.Selection) { form.Add("account", s.AttrOr("value", "")) })
	if res, _ = owner.do("POST", res.Header.Get("Location"), form); res.StatusCode != http.StatusSeeOther || len(form["account"]) < 2 {
		t.Fatalf("choose %v: %d", form["account"], res.StatusCode)
	}
	for _, who := range []string{"admin", "quiet", "member"} {
		role := map[string]string{"admin": "admin", "quiet": "admin", "member": "member"}[who]
		var out bytes.Buffer
		if err := run(context.Background(), []string{"omnisocial", "user", "add", "--email", who + "@example.com", "--workspace", "Harbor", "--role", role,
			"--password-stdin"}, env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret),
			strings.NewReader("correct horse battery\n"), &out, &out); err != nil {
			t.Fatal(err)
		}
	}
	quiet := newVisitor(t, w.URL)
	if res, _ := quiet.do("POST", "/login", url.Values{"email": {"quiet@example.com"}, "password": {"correct horse battery"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in: %d", res.StatusCode)
	}
	if res, _ := quiet.do("POST", "/settings/alerts", url.Values{"alerts": {"off"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("alerts off: %d", res.StatusCode)
	}
	if res, _ := quiet.do("POST", "/settings/alerts", url.Values{"alerts": {"maybe"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("alerts=maybe: %d", res.StatusCode)
	}
	// Dana's Facebook sign-in dies; checking one of its accounts finds out.
	req, _ := http.NewRequest("POST", w.URL+"/sandbox/control/revoke", strings.NewReader(`{"persona":"dana"}`))
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode >= 300 {
		t.Fatalf("revoke: %v %v", res, err)
	}
	first := queryString(t, db, "SELECT id FROM social_accounts WHERE platform = 'facebook' ORDER BY id LIMIT 1")
	owner.do("POST", "/settings/accounts/"+first+"/check", url.Values{})
	n := queryString(t, db, "SELECT count(*) FROM social_accounts WHERE status = 'needs_reauth'")
	if n != fmt.Sprint(len(form["account"])) && n < "2" {
		t.Fatalf("%s accounts need re-auth after the check", n)
	}
	// The relay refused the first try: the message waits in the outbox.
	deadline := time.Now().Add(20 * time.Second)
	for queryString(t, db, "SELECT coalesce(max(attempts), 0) FROM mail_outbox WHERE kind = 'reauth'") != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	openRaw(t, db).Exec("UPDATE mail_outbox SET next_attempt_at = 0") // past its backoff
	for len(sink.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no mail received; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(6 * time.Second) // a second message would have come by now
	msgs := sink.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want one for the sign-in", len(msgs))
	}
	m := msgs[0]
	slices.Sort(m.To)
	if m.From != "alerts@example.com" || !slices.Equal(m.To, []string{"admin@example.com", "owner@example.com"}) {
		t.Errorf("from %s to %v; want alerts@example.com to the owner and the admin who kept alerts on", m.From, m.To)
	}
	body := string(m.Data)
	_, link, _ := strings.Cut(body, w.URL+"/settings/accounts/")
	link, _, _ = strings.Cut(link, "\r\n")
	if queryString(t, db, "SELECT status FROM social_accounts WHERE id = '"+link+"'") != "needs_reauth" {
		t.Errorf("the link does not lead to an account to reconnect: %q", link)
	}
	for _, want := range []string{"From: \"OmniSocial\" <alerts@example.com>", `workspace "Harbor", Dana Whitfield's Facebook sign-in stopped working`} {
		if !strings.Contains(body, want) {
			t.Errorf("mail lacks %q:\n%s", want, body)
		}
	}
	names := strings.Split(queryString(t, db, "SELECT group_concat(display_name, '|') FROM social_accounts WHERE status = 'needs_reauth'"), "|")
	for _, name := range names {
		if !strings.Contains(body, "  - "+name+" on ") {
			t.Errorf("mail does not list %q:\n%s", name, body)
		}
	}
	// No token, in any byte: every token the sandbox ever issued.
	req, _ = http.NewRequest("GET", w.URL+"/sandbox/control/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var toks []struct{ Token string }
	json.NewDecoder(res.Body).Decode(&toks)
	res.Body.Close()
	if len(toks) == 0 {
		t.Fatal("the sandbox listed no tokens")
	}
	for _, tok := range toks {
		if len(tok.Token) >= 8 && bytes.Contains(m.Data, []byte(tok.Token)) {
			t.Errorf("a token is in the mail")
		}
	}
	if strings.Contains(w.logs.String(), "pass@") {
		t.Error("the SMTP password reached the log")
	}
	if left := queryString(t, db, "SELECT count(*) FROM mail_outbox WHERE kind = 'reauth'"); left != "0" {
		t.Errorf("%s messages left in the outbox after sending", left)
	}
	wireOwnerLinkMail(t, w, sink, owner, first, db)
}

type refreshSeen struct {
	maxLeased, maxInFlight int
	starts                 []time.Time
}
