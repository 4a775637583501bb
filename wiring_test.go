package main

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	{"instagram app", []string{"OMNISOCIAL_INSTAGRAM_APP_ID", "OMNISOCIAL_INSTAGRAM_APP_SECRET",
		"OMNISOCIAL_INSTAGRAM_AUTH_URL", "OMNISOCIAL_INSTAGRAM_API_URL", "OMNISOCIAL_INSTAGRAM_GRAPH_URL"}, wireInstagram},
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
