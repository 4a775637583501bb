package main

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/handlers/apitest"
	"omnisocial/internal/testrig"
	"omnisocial/sandbox"
)

// Wiring tests: each environment variable is set on the real server
// (serve(), as `omnisocial serve` runs it) and its effect is observed from
// outside: an address, a cookie, a header, a page, a log line, a call that
// reaches a platform. A package test that builds handlers.Deps by hand
// passes while serve forgets to pass a setting (STYLE.md pitfall 17).

// wiringCase observes the effect of the variables it names.
type wiringCase struct {
	name string
	vars []string
	run  func(t *testing.T)
}

var wiringCases = []wiringCase{
	{"address", []string{"OMNISOCIAL_ADDR"}, wireAddr},
	{"database file", []string{"OMNISOCIAL_DB"}, wireDB},
	{"base URL", []string{"OMNISOCIAL_BASE_URL"}, wireBaseURL},
	{"development mode", []string{"OMNISOCIAL_DEV"}, wireDev},
	{"sandbox", []string{"OMNISOCIAL_SANDBOX"}, wireSandbox},
	{"sandbox control token", []string{"OMNISOCIAL_SANDBOX_CONTROL_TOKEN"}, wireSandboxControlToken},
	{"trusted proxies", []string{"OMNISOCIAL_TRUSTED_PROXIES"}, wireProxies},
	{"encryption keys", []string{"OMNISOCIAL_ENCRYPTION_KEY", "OMNISOCIAL_ENCRYPTION_KEY_OLD"}, wireKeys},
	{"session secret", []string{"OMNISOCIAL_SESSION_SECRET"}, wireSessionSecret},
	{"session idle", []string{"OMNISOCIAL_SESSION_IDLE"}, wireSessionIdle},
	{"session max", []string{"OMNISOCIAL_SESSION_MAX"}, wireSessionMax},
	{"sign-up", []string{"OMNISOCIAL_SIGNUP"}, wireSignup},
	{"plan limits", []string{"OMNISOCIAL_PLAN_LIMITS"}, wirePlanLimits},
	{"facebook app", []string{"OMNISOCIAL_FACEBOOK_APP_ID", "OMNISOCIAL_FACEBOOK_APP_SECRET", "OMNISOCIAL_FACEBOOK_GRAPH_VERSION",
		"OMNISOCIAL_FACEBOOK_DIALOG_URL", "OMNISOCIAL_FACEBOOK_GRAPH_URL"}, wireFacebook},
	{"tiktok app", []string{"OMNISOCIAL_TIKTOK_CLIENT_KEY", "OMNISOCIAL_TIKTOK_CLIENT_SECRET",
		"OMNISOCIAL_TIKTOK_AUTH_URL", "OMNISOCIAL_TIKTOK_API_URL"}, wireTikTok},
	{"tiktok pkce", []string{"OMNISOCIAL_TIKTOK_PKCE"}, wireTikTokPKCE},
	{"refresh queue", []string{"OMNISOCIAL_REFRESH_INTERVAL", "OMNISOCIAL_REFRESH_BATCH", "OMNISOCIAL_REFRESH_WORKERS",
		"OMNISOCIAL_REFRESH_RATE", "OMNISOCIAL_LOG_LEVEL", "OMNISOCIAL_TIKTOK_API_URL"}, wireRefresh},
	{"expiry warning", []string{"OMNISOCIAL_EXPIRY_WARNING"}, wireExpiryWarning},
	{"history days", []string{"OMNISOCIAL_HISTORY_DAYS"}, wireHistoryDays},
	{"logs", []string{"OMNISOCIAL_LOG_LEVEL", "OMNISOCIAL_LOG_FORMAT"}, wireLogs},
	{"API rate limit", []string{"OMNISOCIAL_API_RATE", "OMNISOCIAL_API_BURST"}, wireAPIRate},
	{"webhook pause", []string{"OMNISOCIAL_WEBHOOK_PAUSE_AFTER", "OMNISOCIAL_DEV"}, wireWebhookPause},
	{"metrics", []string{"OMNISOCIAL_METRICS_TOKEN", "OMNISOCIAL_REFRESH_INTERVAL"}, wireMetrics},
	{"e-mail alerts", []string{"OMNISOCIAL_SMTP_URL", "OMNISOCIAL_MAIL_FROM"}, wireMail},
	{"e-mail digest", []string{"OMNISOCIAL_SMTP_URL", "OMNISOCIAL_MAIL_FROM", "OMNISOCIAL_EXPIRY_WARNING"}, wireMailDigest},
	{"garbage collector", []string{"GOGC", "GOMEMLIMIT"}, wireGC},
}

// TestWiringCoversEverySetting fails when a variable in config.go's
// settings, or in the README's configuration table, has no wiring case.
func TestWiringCoversEverySetting(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range wiringCases {
		for _, v := range c.vars {
			covered[v] = true
		}
	}
	known := map[string]bool{}
	for _, s := range settings {
		known[s.name] = true
		if !covered[s.name] {
			t.Errorf("%s (config.go) has no case in wiringCases: add one that sets it on the real server and observes its effect", s.name)
		}
	}
	for _, name := range readmeVariables(t) {
		known[name] = true
		if !covered[name] {
			t.Errorf("%s (README configuration table) has no case in wiringCases", name)
		}
	}
	for v := range covered {
		if !known[v] {
			t.Errorf("wiringCases names %s, which is neither in settings nor in the README", v)
		}
	}
}

// readmeVariables lists the variables of the README's configuration table.
// A row may name a second variable by its suffix: `OMNISOCIAL_FACEBOOK_APP_ID`, `_APP_SECRET`.
func readmeVariables(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal("README has no Configuration section")
	}
	table, _, _ = strings.Cut(table, "\n## ")
	var names []string
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.Contains(cells[1], "`") {
			continue
		}
		var first string
		for i, part := range strings.Split(cells[1], "`") {
			if i%2 == 0 || strings.TrimSpace(part) == "" {
				continue
			}
			name := part
			if strings.HasPrefix(part, "_") && first != "" {
				seg, _, _ := strings.Cut(part[1:], "_")
				k := strings.LastIndex(first, "_"+seg)
				if k < 0 {
					t.Fatalf("README: cannot expand %s after %s", part, first)
				}
				name = first[:k] + part
			}
			if first == "" {
				first = name
			}
			names = append(names, name)
		}
	}
	if len(names) < 10 {
		t.Fatalf("README configuration table: only %v", names)
	}
	return names
}

func TestWiring(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real server a few dozen times")
	}
	for _, c := range wiringCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

// OMNISOCIAL_ADDR: the server listens there, and a taken address is
// refused naming the variable.
func wireAddr(t *testing.T) {
	addr := wiringAddr(t)
	// The base URL names another port: the address alone decides.
	w := boot(t, "OMNISOCIAL_ADDR", addr, "OMNISOCIAL_BASE_URL", "http://localhost:1")
	if w.Addr != addr {
		t.Fatalf("listening on %s, want %s", w.Addr, addr)
	}
	if res := httpGet(t, "http://"+addr+"/healthz"); res.StatusCode != http.StatusOK {
		t.Fatalf("healthz at %s: %d", addr, res.StatusCode)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := tryBoot(t, "OMNISOCIAL_ADDR", taken.Addr().String()); err == nil || !strings.Contains(err.Error(), "OMNISOCIAL_ADDR") {
		t.Fatalf("an address in use: err = %v, want one naming OMNISOCIAL_ADDR", err)
	}
}

// OMNISOCIAL_DB: the file (and its folders) appear at that path, the
// sandbox keeps its state beside it, and the next start finds the user.
func wireDB(t *testing.T) {
	db := filepath.Join(t.TempDir(), "nested", "folder", "app.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true")
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("no database at OMNISOCIAL_DB: %v", err)
	}
	newVisitor(t, w.URL).signup("dana@example.com", "Harbor")
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(db), "sandbox.json")); err != nil {
		t.Fatalf("sandbox state not beside the database: %v", err)
	}
	w = boot(t, "OMNISOCIAL_DB", db)
	res, _ := newVisitor(t, w.URL).do("POST", "/login", url.Values{"email": {"dana@example.com"}, "password": {"correct horse battery"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("log-in after restart on the same file: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// OMNISOCIAL_BASE_URL: https turns on HSTS, Secure __Host- cookies; OAuth
// redirect URIs are built from it.
func wireBaseURL(t *testing.T) {
	tests := []struct {
		base                  string
		hsts                  bool
		session               string
		secure                bool
		wantRedirectURIPrefix string
	}{
		{"", false, "omnisocial", false, ""},
		{"https://social.example.com", true, "__Host-omnisocial", true, "https://social.example.com/oauth/tiktok/callback"},
	}
	for _, tc := range tests {
		t.Run(cmp.Or(tc.base, "default"), func(t *testing.T) {
			t.Parallel()
			kv := []string{"OMNISOCIAL_SANDBOX", "true"}
			if tc.base != "" {
				kv = append(kv, "OMNISOCIAL_BASE_URL", tc.base)
			}
			w := boot(t, kv...)
			// The log-in form starts a pre-session, which holds its CSRF token.
			res := httpGet(t, w.URL+"/login")
			if got := res.Header.Get("Strict-Transport-Security") != ""; got != tc.hsts {
				t.Errorf("HSTS sent = %v, want %v", got, tc.hsts)
			}
			if c := setCookie(res, tc.session); c == nil || c.Secure != tc.secure || !c.HttpOnly {
				t.Errorf("pre-session cookie %s: %+v (all: %v), want Secure=%v", tc.session, c, res.Header["Set-Cookie"], tc.secure)
			}
			v := newVisitor(t, w.URL)
			res = v.signup("dana@example.com", "Harbor")
			if c := setCookie(res, tc.session); c == nil || c.Secure != tc.secure || !c.HttpOnly {
				t.Errorf("session cookie %s: %+v (all: %v), want Secure=%v", tc.session, c, res.Header["Set-Cookie"], tc.secure)
			}
			res, _ = v.do("POST", "/connect/tiktok", url.Values{})
			loc, err := url.Parse(res.Header.Get("Location"))
			if res.StatusCode != http.StatusSeeOther || err != nil {
				t.Fatalf("connect: %d %q", res.StatusCode, res.Header.Get("Location"))
			}
			want := cmp.Or(tc.wantRedirectURIPrefix, w.URL+"/oauth/tiktok/callback")
			if got := loc.Query().Get("redirect_uri"); got != want {
				t.Errorf("redirect_uri = %q, want %q", got, want)
			}
		})
	}
}

// OMNISOCIAL_DEV: without keys, secrets are generated into a 0600 file
// beside the database, and the platforms talk to the mounted sandbox.
func wireDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	w := boot(t, "OMNISOCIAL_DEV", "true", "OMNISOCIAL_DB", filepath.Join(dir, "omnisocial.db"),
		"OMNISOCIAL_ENCRYPTION_KEY", "", "OMNISOCIAL_SESSION_SECRET", "", "OMNISOCIAL_SANDBOX_CONTROL_TOKEN", "")
	info, err := os.Stat(filepath.Join(dir, "dev-secrets.env"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("dev-secrets.env beside the database: %v %v", err, info)
	}
	if !strings.Contains(w.logs.String(), "DEVELOPMENT MODE") {
		t.Errorf("no development-mode warning in the log:\n%s", w.logs)
	}
	if res := httpGet(t, w.URL+"/sandbox/control/personas"); res.StatusCode != http.StatusOK {
		t.Errorf("/sandbox/ in development mode: %d", res.StatusCode)
	}
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": true, "instagram": true, "tiktok": true})
}

// OMNISOCIAL_SANDBOX: /sandbox/ answers, and platforms without credentials
// are offered through it; without it, 404 and "not configured".
func wireSandbox(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_SANDBOX", fmt.Sprint(on))
			// Without the sandbox the path is not found (a 303 to log in
			// while logged out, as for any unknown path).
			res, _ := newVisitor(t, w.URL).do("GET", "/sandbox/control/personas", nil, "Authorization", "Bearer "+testControlToken)
			if got := res.StatusCode == http.StatusOK && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json"); got != on {
				t.Errorf("/sandbox/control/personas: %d %s, want the sandbox to answer: %v", res.StatusCode, res.Header.Get("Content-Type"), on)
			}
			if got := strings.Contains(w.logs.String(), "the platform sandbox is mounted"); got != on {
				t.Errorf("start-up log names the sandbox: %v, want %v", got, on)
			}
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": on, "instagram": on, "tiktok": on})
		})
	}
}

// OMNISOCIAL_TRUSTED_PROXIES: behind a trusted proxy each client address
// has its own log-in budget; otherwise the header is ignored and the
// proxy's address is spent.
func wireProxies(t *testing.T) {
	tests := []struct {
		proxies  string
		wantNext int
	}{
		{"", http.StatusTooManyRequests},
		{"127.0.0.0/8", http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(cmp.Or(tc.proxies, "none"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_TRUSTED_PROXIES", tc.proxies)
			v := newVisitor(t, w.URL)
			try := func(i int, ip string) int {
				res, _ := v.do("POST", "/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"wrong password"}},
					"X-Forwarded-For", ip)
				return res.StatusCode
			}
			for i := range 5 {
				if got := try(i, "203.0.113.1"); got != http.StatusUnprocessableEntity {
					t.Fatalf("bad log-in %d: %d", i+1, got)
				}
			}
			if got := try(5, "203.0.113.1"); got != http.StatusTooManyRequests {
				t.Fatalf("sixth bad log-in from one client: %d, want 429", got)
			}
			if got := try(6, "203.0.113.2"); got != tc.wantNext {
				t.Fatalf("a log-in from another client: %d, want %d", got, tc.wantNext)
			}
			if tc.proxies != "" && !strings.Contains(w.logs.String(), "client=203.0.113.2") {
				t.Errorf("the log does not name the client behind the proxy:\n%s", w.logs)
			}
		})
	}
}

// OMNISOCIAL_ENCRYPTION_KEY seals tokens: another key is refused at start.
// OMNISOCIAL_ENCRYPTION_KEY_OLD opens what the old key sealed: the server
// starts and a check of the account uses its token.
func wireKeys(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true")
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	if res := v.connect("tiktok", w.URL, "bloom"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("connect: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}

	newKey := "5a4b3c2d1e0f5a4b3c2d1e0f5a4b3c2d1e0f5a4b3c2d1e0f5a4b3c2d1e0f5a4b"
	if _, err := tryBoot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", newKey); err == nil || !strings.Contains(err.Error(), "OMNISOCIAL_ENCRYPTION_KEY") {
		t.Fatalf("another key alone: err = %v, want a refusal naming OMNISOCIAL_ENCRYPTION_KEY", err)
	}
	w = boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_ENCRYPTION_KEY", newKey, "OMNISOCIAL_ENCRYPTION_KEY_OLD", testKey)
	v.base = w.URL
	id := queryString(t, db, "SELECT id FROM social_accounts")
	res, _ := v.do("POST", "/settings/accounts/"+id+"/check", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("check now: %d", res.StatusCode)
	}
	flash := v.page(res.Header.Get("Location")).Find("[data-testid=flash]")
	if !flash.HasClass("flash-success") {
		t.Fatalf("check of a token sealed under the old key: %q (class %q)\n%s", flash.Text(), flash.AttrOr("class", ""), w.logs)
	}
}

// OMNISOCIAL_SESSION_SECRET signs the session cookie: a server with another
// secret does not accept it, one with the same secret does.
func wireSessionSecret(t *testing.T) {
	db := filepath.Join(t.TempDir(), "secret.db")
	w := boot(t, "OMNISOCIAL_DB", db)
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	w.stop()
	for _, step := range []struct {
		secret string
		want   int
	}{
		{"0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0", http.StatusSeeOther},
		{testSecret, http.StatusOK},
	} {
		w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SESSION_SECRET", step.secret)
		v.base = w.URL
		if res, _ := v.do("GET", "/settings/accounts", nil); res.StatusCode != step.want {
			t.Errorf("session cookie under secret %s…: %d, want %d", step.secret[:4], res.StatusCode, step.want)
		}
		w.stop()
	}
}

// OMNISOCIAL_SESSION_IDLE: silence longer than the limit logs out.
func wireSessionIdle(t *testing.T) {
	w := boot(t, "OMNISOCIAL_SESSION_IDLE", "2s")
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	if res, _ := v.do("GET", "/settings/accounts", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("right after sign-up: %d", res.StatusCode)
	}
	time.Sleep(3 * time.Second)
	if res, _ := v.do("GET", "/settings/accounts", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("after 3 s of silence with a 2 s limit: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// OMNISOCIAL_SESSION_MAX: the session ends that long after log-in, however
// active (the idle limit stays at its default hour).
func wireSessionMax(t *testing.T) {
	w := boot(t, "OMNISOCIAL_SESSION_MAX", "2s")
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	if res, _ := v.do("GET", "/settings/accounts", nil); res.StatusCode != http.StatusOK {
		t.Fatalf("right after sign-up: %d", res.StatusCode)
	}
	for range 6 {
		time.Sleep(500 * time.Millisecond)
		v.do("GET", "/settings/accounts", nil)
	}
	if res, _ := v.do("GET", "/settings/accounts", nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("3 s of activity after log-in with a 2 s maximum: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// OMNISOCIAL_SIGNUP=closed: the first person signs up, the second cannot.
func wireSignup(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want int
	}{{"open", http.StatusSeeOther}, {"closed", http.StatusForbidden}} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_SIGNUP", tc.mode)
			newVisitor(t, w.URL).signup("first@example.com", "First")
			res, _ := newVisitor(t, w.URL).do("POST", "/signup", url.Values{"name": {"S"}, "email": {"second@example.com"},
				"password": {"correct horse battery"}, "workspace": {"Second"}})
			if res.StatusCode != tc.want {
				t.Fatalf("second sign-up: %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

// OMNISOCIAL_PLAN_LIMITS: the accounts page counts against the limit.
func wirePlanLimits(t *testing.T) {
	for _, tc := range []struct{ limits, want string }{
		{"", "0 of 3 accounts used"},
		{"free=1,pro=2,business=4", "0 of 1 accounts used"},
	} {
		t.Run(cmp.Or(tc.limits, "default"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_PLAN_LIMITS", tc.limits)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			if got := squash(v.page("/settings/accounts").Find("[data-testid=usage]").Text()); got != tc.want {
				t.Fatalf("usage %q, want %q", got, tc.want)
			}
		})
	}
}

// The Meta app: with an id and secret Facebook is offered; the log-in
// dialog is at DIALOG_URL with GRAPH_VERSION; the code is exchanged (with
// the secret) at GRAPH_URL with GRAPH_VERSION. TikTok, without
// credentials or sandbox, shows as not configured.
func wireFacebook(t *testing.T) {
	p := startPlatform(t, 0)
	dialog, graph := p.URL+"/sandbox/www.facebook.com", p.URL+"/sandbox/graph.facebook.com"
	w := boot(t, "OMNISOCIAL_FACEBOOK_APP_ID", sandbox.DevMetaAppID, "OMNISOCIAL_FACEBOOK_APP_SECRET", sandbox.DevMetaAppSecret,
		"OMNISOCIAL_FACEBOOK_GRAPH_VERSION", "v23.0", "OMNISOCIAL_FACEBOOK_DIALOG_URL", dialog, "OMNISOCIAL_FACEBOOK_GRAPH_URL", graph)
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": true, "instagram": true, "tiktok": false})

	p.control("autoconsent", `{"enabled":true,"persona":"dana"}`)
	res, _ := v.do("POST", "/connect/facebook", url.Values{})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, dialog+"/v23.0/dialog/oauth?") {
		t.Fatalf("connect: %d %q, want a redirect to %s/v23.0/dialog/oauth", res.StatusCode, loc, dialog)
	}
	if u, _ := url.Parse(loc); u.Query().Get("client_id") != sandbox.DevMetaAppID {
		t.Errorf("client_id = %q, want OMNISOCIAL_FACEBOOK_APP_ID", u.Query().Get("client_id"))
	}
	res = v.follow(loc)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/settings/accounts/choose/") {
		t.Fatalf("callback: %d %q (the code exchange with the app secret failed?)\n%s", res.StatusCode, res.Header.Get("Location"), w.logs)
	}
	graphCalls := p.requests("/sandbox/graph.facebook.com/")
	if !slices.ContainsFunc(graphCalls, func(s string) bool {
		return strings.Contains(s, "/sandbox/graph.facebook.com/v23.0/oauth/access_token")
	}) {
		t.Errorf("no code exchange at OMNISOCIAL_FACEBOOK_GRAPH_URL/v23.0: %v", graphCalls)
	}
	for _, c := range graphCalls {
		if !strings.Contains(c, "/v23.0/") {
			t.Errorf("a Graph call not on OMNISOCIAL_FACEBOOK_GRAPH_VERSION: %s", c)
		}
	}
}

// The TikTok app: with a key and secret TikTok is offered; authorization
// is at AUTH_URL; the code is exchanged (with the secret) at API_URL.
// Facebook, without credentials or sandbox, shows as not configured.
func wireTikTok(t *testing.T) {
	p := startPlatform(t, 0)
	auth, api := p.URL+"/sandbox/www.tiktok.com", p.URL+"/sandbox/open.tiktokapis.com"
	w := boot(t, "OMNISOCIAL_TIKTOK_CLIENT_KEY", sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET", sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL", auth, "OMNISOCIAL_TIKTOK_API_URL", api)
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": false, "instagram": false, "tiktok": true})

	p.control("autoconsent", `{"enabled":true,"persona":"bloom"}`)
	res, _ := v.do("POST", "/connect/tiktok", url.Values{})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, auth+"/v2/auth/authorize/?") {
		t.Fatalf("connect: %d %q, want a redirect to %s", res.StatusCode, loc, auth)
	}
	if u, _ := url.Parse(loc); u.Query().Get("client_key") != sandbox.DevTikTokClientKey {
		t.Errorf("client_key = %q, want OMNISOCIAL_TIKTOK_CLIENT_KEY", u.Query().Get("client_key"))
	}
	res = v.follow(loc)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("callback: %d %q (the code exchange with the client secret failed?)\n%s", res.StatusCode, res.Header.Get("Location"), w.logs)
	}
	if calls := p.requests("/sandbox/open.tiktokapis.com/"); !slices.Contains(calls, "POST /sandbox/open.tiktokapis.com/v2/oauth/token/ authorization_code") {
		t.Errorf("no code exchange at OMNISOCIAL_TIKTOK_API_URL: %v", calls)
	}
	if got := squash(v.page("/settings/accounts").Find("[data-testid=account-name]").Text()); got == "" {
		t.Error("no account listed after connecting")
	}
}

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

// The same SMTP server carries a reconnect link to the login's owner, who
// has no account here: the link in the mail renews the accounts.
func wireOwnerLinkMail(t *testing.T, w *wired, sink *smtpSink, owner *visitor, account, db string) {
	res, body := owner.do("POST", "/settings/links", url.Values{"account": {account}, "email": {"client@example.com"}})
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Sent to client@example.com")) {
		t.Fatalf("create link: %d %.300s", res.StatusCode, body)
	}
	var mail *sunkMail
	for deadline := time.Now().Add(10 * time.Second); mail == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range sink.messages() {
			if slices.Equal(m.To, []string{"client@example.com"}) {
				mail = &m
			}
		}
	}
	if mail == nil {
		t.Fatalf("no link mail; logs:\n%s", w.logs)
	}
	_, link, _ := strings.Cut(string(mail.Data), w.URL+"/link/")
	link, _, _ = strings.Cut(link, "\r\n")
	if !strings.Contains(string(mail.Data), "Subject: Harbor asks you to sign in to Facebook") || len(link) < 40 {
		t.Fatalf("link mail:\n%s", mail.Data)
	}
	client := newVisitor(t, w.URL)
	client.page("/link/" + link)
	res, body = client.do("POST", "/link/"+link, url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("continue: %d %.300s", res.StatusCode, body)
	}
	if res = client.follow(res.Header.Get("Location")); res.Header.Get("Location") != "/link/done" {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if got := queryString(t, db, "SELECT status FROM social_accounts WHERE id = '"+account+"'"); got != "active" {
		t.Fatalf("after the owner's sign-in the account is %s", got)
	}
}

// The daily digest: accounts whose access ends within
// OMNISOCIAL_EXPIRY_WARNING are listed in one message to the owners at the
// day's run (at start, then daily); a restart the same day sends no second.
func wireMailDigest(t *testing.T) {
	sink := startSMTPSink(t)
	db := filepath.Join(t.TempDir(), "digest.db")
	start := func() *wired {
		return boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_EXPIRY_WARNING", "96h",
			"OMNISOCIAL_SMTP_URL", "smtp://user:pass@"+sink.Addr, "OMNISOCIAL_MAIL_FROM", "alerts@example.com")
	}
	w := start()
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	res := v.connect("facebook", w.URL, "dana")
	if res, _ = v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("choose: %d", res.StatusCode)
	}
	end := time.Now().Add(72 * time.Hour).UTC()
	if _, err := openRaw(t, db).Exec("UPDATE social_accounts SET metadata = json_set(metadata, '$.user_token_expires_at', ?)", end.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	w = start()
	deadline := time.Now().Add(20 * time.Second)
	for len(sink.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no digest; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	body := string(sink.messages()[0].Data)
	name := queryString(t, db, "SELECT display_name FROM social_accounts")
	for _, want := range []string{"1 account(s) expire soon", "  - " + name + " on Facebook: ends " + end.Format("2006-01-02 15:04 UTC"), w.URL + "/settings/accounts"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	w = start()
	time.Sleep(6 * time.Second)
	if n := len(sink.messages()); n != 1 {
		t.Errorf("%d digests after a restart the same day, want 1", n)
	}
	if sent := queryString(t, db, "SELECT count(*) FROM mail_outbox WHERE kind = 'digest' AND state = 'sent'"); sent != "1" {
		t.Errorf("%s digests kept as sent; logs:\n%s", sent, w.logs)
	}
}

type refreshSeen struct {
	maxLeased, maxInFlight int
	starts                 []time.Time
}

// OMNISOCIAL_EXPIRY_WARNING: a Meta sign-in ending in 3 days is flagged
// only when the warning window is longer than that.
func wireExpiryWarning(t *testing.T) {
	for _, tc := range []struct{ warning, want string }{{"96h", "Expiring soon"}, {"48h", "Active"}} {
		t.Run(tc.warning, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "expiry.db")
			w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_EXPIRY_WARNING", tc.warning)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			res := v.connect("facebook", w.URL, "dana")
			if res, _ = v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("choose: %d", res.StatusCode)
			}
			end := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
			if _, err := openRaw(t, db).Exec("UPDATE social_accounts SET metadata = json_set(metadata, '$.user_token_expires_at', ?)", end); err != nil {
				t.Fatal(err)
			}
			if got := squash(v.page("/settings/accounts").Find("[data-testid=status]").Text()); got != tc.want {
				t.Fatalf("sign-in ending in 3 days, warning %s: status %q, want %q", tc.warning, got, tc.want)
			}
		})
	}
}

// OMNISOCIAL_HISTORY_DAYS: the details page says how long routine checks
// are kept.
func wireHistoryDays(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_HISTORY_DAYS", "9")
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	v.connect("tiktok", w.URL, "bloom")
	id := queryString(t, db, "SELECT id FROM social_accounts")
	got := squash(v.page("/settings/accounts/" + id).Find("[data-testid=history-horizon]").Text())
	if !strings.Contains(got, "Routine checks are kept for 9 days") {
		t.Fatalf("history horizon %q, want it to say 9 days", got)
	}
}

// OMNISOCIAL_LOG_FORMAT and OMNISOCIAL_LOG_LEVEL: the shape and the levels
// of the log lines (debug is observed in the refresh case).
func wireLogs(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, logs string)
	}{
		{"text, info", nil, func(t *testing.T, logs string) {
			for _, want := range []string{"level=INFO msg=listening", "level=INFO msg=request method=GET path=/login"} {
				if !strings.Contains(logs, want) {
					t.Errorf("no %q in\n%s", want, logs)
				}
			}
		}},
		{"json", []string{"OMNISOCIAL_LOG_FORMAT", "json"}, func(t *testing.T, logs string) {
			msgs := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
				var rec struct{ Level, Msg string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not a JSON line: %q", line)
				}
				msgs[rec.Level+" "+rec.Msg] = true
			}
			if !msgs["INFO listening"] || !msgs["INFO request"] {
				t.Errorf("JSON log lacks listening/request: %v", msgs)
			}
		}},
		{"warn", []string{"OMNISOCIAL_LOG_LEVEL", "warn", "OMNISOCIAL_SANDBOX", "true"}, func(t *testing.T, logs string) {
			if !strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=INFO") {
				t.Errorf("at warn: want WARN lines and no INFO line\n%s", logs)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := boot(t, tc.env...)
			httpGet(t, w.URL+"/login")
			w.stop()
			tc.check(t, w.logs.String())
		})
	}
}

// GOGC and GOMEMLIMIT are read by the Go runtime itself; tuneGC (called by
// main) sets 300 and 512 MiB only when they are unset, and leaves the
// runtime's reading of them alone when set.
// API keys' rate limit: RateLimit-Limit is the burst, RateLimit-Policy's
// window is burst/rate seconds; the request past the burst is refused with
// 429 and Retry-After.
func wireAPIRate(t *testing.T) {
	for _, tc := range []struct {
		rate, burst, limit, policy string
		refused                    bool // the third request at once
	}{
		{"", "", "50", "50;w=5", false},
		{"1", "2", "2", "2;w=2", true},
	} {
		t.Run(cmp.Or(tc.burst, "default"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_API_RATE", tc.rate, "OMNISOCIAL_API_BURST", tc.burst)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			_, body := v.do("POST", "/settings/api-keys", url.Values{"name": {"svc"}, "access": {"read"}})
			doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
			key := doc.Find("[data-testid=new-key-value]").Text()
			var last *http.Response
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, w.URL+"/api/v1/accounts", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := (&http.Client{Transport: apitest.Transport(t, nil)}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				last = res
			}
			if got := last.Header.Get("RateLimit-Limit"); got != tc.limit {
				t.Errorf("RateLimit-Limit %q, want %q", got, tc.limit)
			}
			if got := last.Header.Get("RateLimit-Policy"); got != tc.policy {
				t.Errorf("RateLimit-Policy %q, want %q", got, tc.policy)
			}
			if refused := last.StatusCode == http.StatusTooManyRequests && last.Header.Get("Retry-After") != ""; refused != tc.refused {
				t.Errorf("third request: %d Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
			}
		})
	}
}

// Webhooks in development mode reach a receiver on this machine over http
// (outside it, only public https endpoints are accepted). An endpoint whose
// deliveries failed for OMNISOCIAL_WEBHOOK_PAUSE_AFTER is paused and the
// owner sees it in the banner; by default (72h) two failures a second
// apart pause nothing.
func wireWebhookPause(t *testing.T) {
	for _, tc := range []struct {
		after  string
		paused bool
	}{{"", false}, {"1s", true}} {
		t.Run(cmp.Or(tc.after, "default"), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			got := 0
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got++
				mu.Unlock()
				w.WriteHeader(http.StatusInternalServerError)
			}))
			defer rcv.Close()
			count := func() int { mu.Lock(); defer mu.Unlock(); return got }
			dir := t.TempDir()
			w := boot(t, "OMNISOCIAL_DEV", "true", "OMNISOCIAL_DB", filepath.Join(dir, "omnisocial.db"), "OMNISOCIAL_WEBHOOK_PAUSE_AFTER", tc.after)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			if res, body := v.do("POST", "/settings/webhooks", url.Values{"url": {rcv.URL + "/in"}, "event": {"account.connected"}}); res.StatusCode != http.StatusOK {
				t.Fatalf("webhook: %d %.300s", res.StatusCode, body)
			}
			wait := func(n int) {
				for i := 0; count() < n; i++ {
					if i > 500 {
						t.Fatalf("the receiver got %d requests, want %d\n%s", count(), n, w.logs)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if res := v.connect("tiktok", w.URL, "bloom"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("connect: %d", res.StatusCode)
			}
			wait(1)
			time.Sleep(1100 * time.Millisecond)
			res := v.connect("facebook", w.URL, "dana")
			if res, _ := v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("choose: %d", res.StatusCode)
			}
			wait(2)
			var alert string
			for range 100 {
				if alert = v.page("/settings/accounts").Find("[data-testid=system-alert]").Text(); alert != "" || !tc.paused {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if paused := strings.Contains(alert, "paused"); paused != tc.paused {
				t.Fatalf("banner %q, want paused=%v", alert, tc.paused)
			}
		})
	}
}

func wireGC(t *testing.T) {
	pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(limit) })

	tuneGC(env())
	if got := debug.SetGCPercent(77); got != 300 {
		t.Errorf("GOGC unset: GC percent %d, want 300", got)
	}
	if got := debug.SetMemoryLimit(123 << 20); got != 512<<20 {
		t.Errorf("GOMEMLIMIT unset: memory limit %d, want 512 MiB", got)
	}
	// As if the runtime had read GOGC=77 and GOMEMLIMIT=123MiB at start.
	tuneGC(env("GOGC", "77", "GOMEMLIMIT", "123MiB"))
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("GOGC=77: tuneGC changed the GC percent to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 123<<20 {
		t.Errorf("GOMEMLIMIT=123MiB: tuneGC changed the memory limit to %d", got)
	}
}

// Subcommands. TestCommands and TestRotateKeyCommand (main_test.go) cover
// the ones listed here; commandCases covers the rest, through run().
var commandsTestedElsewhere = map[string]string{
	"keygen": "TestCommands", "user add": "TestCommands", "plan set": "TestCommands", "rotate-key": "TestRotateKeyCommand",
}

var commandCases = map[string]func(t *testing.T){
	"serve":   cmdServe,
	"sandbox": cmdSandbox,
	"version": cmdVersion,
	"help":    cmdHelp,
	"doctor":  cmdDoctor,
}

// doctor: against a running server's database it prints every line good,
// with the callback URLs built from OMNISOCIAL_BASE_URL; with the wrong key,
// unconfigured platforms, an http public base URL or a refresh job that
// never ran it prints those lines FAIL with the fix and exits with an error.
func cmdDoctor(t *testing.T) {
	w := boot(t, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_REFRESH_INTERVAL", "1s")
	base := "http://" + w.Addr
	if err := os.Chmod(filepath.Dir(w.DB), 0o700); err != nil {
		t.Fatal(err)
	}
	doctor := func(kv ...string) (string, error) {
		m := map[string]string{"OMNISOCIAL_DB": w.DB, "OMNISOCIAL_ENCRYPTION_KEY": testKey, "OMNISOCIAL_SESSION_SECRET": testSecret,
			"OMNISOCIAL_BASE_URL": base, "OMNISOCIAL_SANDBOX": "true", "OMNISOCIAL_REFRESH_INTERVAL": "1s",
			"OMNISOCIAL_SMTP_URL": "smtp://user:pass@127.0.0.1:2525", "OMNISOCIAL_MAIL_FROM": "alerts@example.com"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		var out bytes.Buffer
		err := run(context.Background(), []string{"omnisocial", "doctor"}, func(k string) string { return m[k] }, nil, &out, io.Discard)
		return out.String(), err
	}
	var out string
	var err error
	for range 100 { // the refresh job runs at start
		if out, err = doctor(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("doctor against a good install: %v\n%s", err, out)
	}
	for _, want := range []string{base + "/oauth/facebook/callback", base + "/oauth/instagram/callback", base + "/oauth/tiktok/callback",
		"[ok  ] The encryption key opens the database", "[ok  ] Database is writable", "[ok  ] Refresh job ran in the last interval",
		"[ok  ] Database files are the owner's alone", "[ok  ] E-mail alerts: SMTP configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"wrong key", []string{"OMNISOCIAL_ENCRYPTION_KEY", testSecret, "OMNISOCIAL_SESSION_SECRET", testKey},
			[]string{"[FAIL] The encryption key does not open the database", "fix: set OMNISOCIAL_ENCRYPTION_KEY"}},
		{"fresh public install", []string{"OMNISOCIAL_DB", filepath.Join(t.TempDir(), "fresh.db"), "OMNISOCIAL_SANDBOX", "",
			"OMNISOCIAL_BASE_URL", "http://social.example.com:8080", "OMNISOCIAL_SMTP_URL", ""},
			[]string{"[FAIL] TikTok: not configured", "fix: set OMNISOCIAL_TIKTOK_CLIENT_KEY and OMNISOCIAL_TIKTOK_CLIENT_SECRET",
				"[FAIL] Facebook: not configured", "http://social.example.com:8080/oauth/tiktok/callback",
				"[FAIL] Base URL is not https", "[FAIL] Refresh job has never run", "[FAIL] Database folder is readable by others",
				"[FAIL] E-mail alerts: SMTP not configured"}},
		{"development mode, secrets from its file", []string{"OMNISOCIAL_DB", filepath.Join(t.TempDir(), "dev.db"), "OMNISOCIAL_DEV", "true",
			"OMNISOCIAL_ENCRYPTION_KEY", "", "OMNISOCIAL_SESSION_SECRET", "", "OMNISOCIAL_SMTP_URL", ""},
			[]string{"[ok  ] The encryption key opens the database", "[ok  ] Facebook: configured: talking to the built-in sandbox",
				"[FAIL] Refresh job has never run"}},
	} {
		out, err := doctor(tc.env...)
		if err == nil {
			t.Errorf("%s: doctor exited well:\n%s", tc.name, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, want, out)
			}
		}
	}
}

// TestCommandsInUsage fails when the usage text lists a command without a case.
func TestCommandsInUsage(t *testing.T) {
	_, list, ok := strings.Cut(usage, "\ncommands:\n")
	if !ok {
		t.Fatal("usage has no commands: section")
	}
	list, _, _ = strings.Cut(list, "\n\n")
	n := 0
	for _, line := range strings.Split(list, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if name == "" {
			continue
		}
		n++
		if commandCases[name] == nil && commandsTestedElsewhere[name] == "" {
			t.Errorf("command %q has no case: add one to commandCases in wiring_test.go", name)
		}
	}
	if n < 5 {
		t.Fatalf("read only %d commands from the usage text", n)
	}
}

func TestCommandWiring(t *testing.T) {
	for name, fn := range commandCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

// serve, named or as the default: the server answers at OMNISOCIAL_ADDR
// and stops cleanly when the context ends.
func cmdServe(t *testing.T) {
	for _, args := range [][]string{{"omnisocial", "serve"}, {"omnisocial"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			addr := wiringAddr(t)
			logs := &testrig.SyncBuffer{}
			getenv := env("OMNISOCIAL_DB", filepath.Join(t.TempDir(), "serve.db"), "OMNISOCIAL_ENCRYPTION_KEY", testKey,
				"OMNISOCIAL_SESSION_SECRET", testSecret, "OMNISOCIAL_ADDR", addr, "OMNISOCIAL_BASE_URL", "http://"+addr)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, getenv, nil, io.Discard, logs) }()
			waitUp(t, "http://"+addr+"/healthz", done)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "msg=listening") || !strings.Contains(logs.String(), "msg=stopped") {
				t.Fatalf("log:\n%s", logs)
			}
		})
	}
}

// sandbox: the emulator answers at --addr and keeps its state in --state.
func cmdSandbox(t *testing.T) {
	addr := wiringAddr(t)
	state := filepath.Join(t.TempDir(), "sandbox.json")
	stderr := &testrig.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"omnisocial", "sandbox", "--addr", addr, "--state", state}, env(), nil, io.Discard, stderr)
	}()
	waitUp(t, "http://"+addr+"/sandbox/control/personas", done)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "sandbox listening on http://"+addr+"/sandbox/") {
		t.Errorf("stderr: %q", stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("no state file at --state: %v", err)
	}
}

func cmdVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"omnisocial", "version"}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != version+"\n" {
		t.Fatalf("version printed %q, want %q", out.String(), version+"\n")
	}
}

func cmdHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"omnisocial", arg}, env(), nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out.String()) != strings.TrimSpace(usage) {
			t.Fatalf("%s printed %q", arg, out.String())
		}
	}
}

// wired is the real server started through serve().
type wired struct {
	URL, Addr, DB string
	logs          *testrig.SyncBuffer
	stop          func() error // idempotent; returns what serve returned
}

// boot starts serve() on a free loopback address with a fresh database and
// test keys; kv overrides those (an empty value unsets).
func boot(t *testing.T, kv ...string) *wired {
	t.Helper()
	w, err := tryBoot(t, kv...)
	if err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	return w
}

func tryBoot(t *testing.T, kv ...string) (*wired, error) {
	t.Helper()
	addr := wiringAddr(t)
	m := map[string]string{
		"OMNISOCIAL_DB":             filepath.Join(t.TempDir(), "wiring.db"),
		"OMNISOCIAL_ENCRYPTION_KEY": testKey, "OMNISOCIAL_SESSION_SECRET": testSecret,
		"OMNISOCIAL_ADDR": addr, "OMNISOCIAL_BASE_URL": "http://" + addr,
		"OMNISOCIAL_SANDBOX_CONTROL_TOKEN": testControlToken,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	w := &wired{DB: m["OMNISOCIAL_DB"], logs: &testrig.SyncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, func(k string) string { return m[k] }, w.logs, func(a string) { ready <- a })
	}()
	select {
	case a := <-ready:
		w.Addr, w.URL = a, "http://"+a
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not start in 20 s")
	}
	var once sync.Once
	var stopErr error
	w.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return w, nil
}

func wiringAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUp polls u until it answers 200, failing if run returns first.
func waitUp(t *testing.T, u string, done <-chan error) {
	t.Helper()
	for range 400 {
		select {
		case err := <-done:
			t.Fatalf("returned before answering: %v", err)
		default:
		}
		if res, err := http.Get(u); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never answered", u)
}

// visitor is a person without a browser: cookies kept by name whatever
// their Secure flag (the server is on plain http even when its base URL is
// https), redirects not followed, and Sec-Fetch-Site: same-origin on every
// request to the server, which passes the CSRF check as a browser does.
type visitor struct {
	t       *testing.T
	base    string
	hc      *http.Client
	cookies map[string]string
}

func newVisitor(t *testing.T, base string) *visitor {
	return &visitor{t: t, base: base, cookies: map[string]string{}, hc: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(method, target string, form url.Values, headers ...string) (*http.Response, []byte) {
	v.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = v.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	own := strings.HasPrefix(target, v.base+"/")
	if own {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for name, value := range v.cookies {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := v.hc.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		v.t.Fatal(err)
	}
	if own {
		for _, c := range res.Cookies() {
			if c.MaxAge < 0 || c.Value == "" {
				delete(v.cookies, c.Name)
			} else {
				v.cookies[c.Name] = c.Value
			}
		}
	}
	return res, b
}

// page GETs a page that must answer 200.
func (v *visitor) page(path string) *goquery.Document {
	v.t.Helper()
	res, body := v.do("GET", path, nil)
	if res.StatusCode != http.StatusOK {
		v.t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Location"))
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	return doc
}

func (v *visitor) signup(email, workspace string) *http.Response {
	v.t.Helper()
	res, body := v.do("POST", "/signup", url.Values{"name": {"Dana"}, "email": {email}, "password": {"correct horse battery"}, "workspace": {workspace}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		v.t.Fatalf("sign-up: %d %s\n%.500s", res.StatusCode, res.Header.Get("Location"), body)
	}
	return res
}

// connect starts a connection on platform, consenting as persona at the
// sandbox served from sandboxBase, and returns the callback's answer.
func (v *visitor) connect(platform, sandboxBase, persona string) *http.Response {
	v.t.Helper()
	req, _ := http.NewRequest("POST", sandboxBase+"/sandbox/control/autoconsent", strings.NewReader(`{"enabled":true,"persona":"`+persona+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	res.Body.Close()
	res, body := v.do("POST", "/connect/"+platform, url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("connect %s: %d %.300s", platform, res.StatusCode, body)
	}
	return v.follow(res.Header.Get("Location"))
}

// follow visits a platform's authorize URL (consent is automatic) and then
// the callback it redirects to, returning the callback's answer.
func (v *visitor) follow(authURL string) *http.Response {
	v.t.Helper()
	res, body := v.do("GET", authURL, nil)
	if res.StatusCode != http.StatusFound {
		v.t.Fatalf("platform answered %d: %.300s", res.StatusCode, body)
	}
	cb := res.Header.Get("Location")
	if !strings.HasPrefix(cb, v.base+"/oauth/") {
		v.t.Fatalf("platform redirected to %s", cb)
	}
	res, _ = v.do("GET", cb, nil)
	return res
}

// platform is a sandbox on a server of its own, standing in for the real
// hosts, with a log of the requests it got. Refresh-token grants can be
// made slow, and are counted while in flight.
type platform struct {
	URL string
	t   *testing.T

	mu            sync.Mutex
	seen          []string // "METHOD /path [grant_type]"
	inFlight, max int
	starts        []time.Time
}

func startPlatform(t *testing.T, refreshDelay time.Duration) *platform {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	p := &platform{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := r.Method + " " + r.URL.Path
		refresh := false
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth/token/") {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			q, _ := url.ParseQuery(string(b))
			entry += " " + q.Get("grant_type")
			refresh = q.Get("grant_type") == "refresh_token"
		}
		p.mu.Lock()
		p.seen = append(p.seen, entry)
		if refresh {
			p.inFlight++
			p.max = max(p.max, p.inFlight)
			p.starts = append(p.starts, time.Now())
		}
		p.mu.Unlock()
		if refresh {
			time.Sleep(refreshDelay)
			defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *platform) control(path, body string) {
	p.t.Helper()
	res, err := http.Post(p.URL+"/sandbox/control/"+path, "application/json", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("sandbox control %s: %d", path, res.StatusCode)
	}
}

// requests lists the requests whose path starts with prefix.
func (p *platform) requests(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.seen {
		if _, path, _ := strings.Cut(s, " "); strings.HasPrefix(path, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (p *platform) refreshes() (maxInFlight int, starts []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max, slices.Clone(p.starts)
}

// assertConfigured checks the connect chooser's verdict on each platform.
func assertConfigured(t *testing.T, doc *goquery.Document, want map[string]bool) {
	t.Helper()
	for platform, configured := range want {
		card := doc.Find("[data-testid=platform-" + platform + "]")
		if card.Length() != 1 {
			t.Errorf("no card for %s in the chooser", platform)
			continue
		}
		if got := card.Find("[data-testid=not-configured]").Length() == 0; got != configured {
			t.Errorf("%s configured = %v, want %v", platform, got, configured)
		}
	}
}

func openRaw(t *testing.T, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func queryString(t *testing.T, db, query string) string {
	t.Helper()
	var s string
	if err := openRaw(t, db).QueryRow(query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func httpGet(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func setCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
