package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestFaultsMeta(t *testing.T) {
	e := newEnv(t)
	user := e.metaUserToken("dana", fbScopes)
	page := e.graphGet("104000000000101", user, "fields", "access_token").JSON(t)["access_token"].(string)
	tests := []struct {
		name, endpoint, kind string
		call                 func() resp
		status               int
		code, sub            int64
		header               string // a header the answer must carry
	}{
		{"5xx", "meta.me", "5xx", func() resp { return e.graphGet("me", user) }, 500, 2, 0, ""},
		{"429 app", "meta.accounts", "429", func() resp { return e.graphGet("me/accounts", user) }, 400, 4, 0, "X-App-Usage"},
		{"429 page", "meta.node", "429", func() resp { return e.graphGet("104000000000101", page) }, 400, 32, 0, "X-Business-Use-Case-Usage"},
		{"rate_limit user", "meta.me", "rate_limit", func() resp { return e.graphGet("me", user) }, 400, 17, 0, "X-App-Usage"},
		{"rate_limit page", "meta.me", "rate_limit", func() resp { return e.graphGet("me", page) }, 400, 32, 0, "X-Business-Use-Case-Usage"},
		{"invalid_grant api", "meta.permissions", "invalid_grant", func() resp { return e.graphGet("me/permissions", user) }, 400, 190, 460, ""},
		{"invalid_grant code", "meta.token", "invalid_grant", func() resp { return e.metaExchange("AQx") }, 400, 100, 36007, ""},
		{"5xx debug_token", "meta.debug_token", "5xx", func() resp {
			return e.graphGet("debug_token", DevMetaAppID+"|"+DevMetaAppSecret, "input_token", user)
		}, 500, 2, 0, ""},
		{"wildcard", "*", "5xx", func() resp { return e.graphGet("me", user) }, 500, 2, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.control("faults", map[string]any{"endpoint": tt.endpoint, "kind": tt.kind, "count": 1, "retry_after": 300})
			r := tt.call()
			if r.Status != tt.status {
				t.Errorf("status %d want %d", r.Status, tt.status)
			}
			if c, s := graphError(t, r); c != tt.code || s != tt.sub {
				t.Errorf("got %d/%d want %d/%d", c, s, tt.code, tt.sub)
			}
			if tt.header != "" && r.Header.Get(tt.header) == "" {
				t.Errorf("no %s header", tt.header)
			}
			if tt.header == "X-Business-Use-Case-Usage" {
				var buc map[string][]map[string]any
				if err := json.Unmarshal([]byte(r.Header.Get(tt.header)), &buc); err != nil {
					t.Fatal(err)
				}
				if got := buc["104000000000101"][0]["estimated_time_to_regain_access"]; got != float64(5) {
					t.Errorf("estimated_time_to_regain_access %v (minutes)", got)
				}
			}
			if tt.code != 190 && tt.code != 100 {
				if m := r.JSON(t)["error"].(map[string]any); m["is_transient"] != true {
					t.Errorf("is_transient %v", m["is_transient"])
				}
			}
			// count 1: the next call is normal again.
			if again := tt.call(); again.Status >= 500 || strings.Contains(string(again.Body), `"code":`+jsonInt(tt.code)+`,`) && tt.code != 100 {
				t.Errorf("fault did not clear: %s", again.Body)
			}
		})
	}
	// Dialog faults are HTML pages.
	e.control("autoconsent", map[string]any{"enabled": false})
	e.control("faults", map[string]any{"endpoint": "meta.dialog", "kind": "429", "retry_after": 9})
	r := e.get(fbAuthorizeURL(fbScopes, "s"))
	if r.Status != 429 || r.Header.Get("Retry-After") != "9" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Errorf("dialog 429: %d %v", r.Status, r.Header)
	}
	e.control("faults", map[string]any{"endpoint": "meta.dialog", "kind": "5xx"})
	if r := e.get(fbAuthorizeURL(fbScopes, "s")); r.Status != 500 {
		t.Errorf("dialog 5xx: %d", r.Status)
	}
}

// TestFaultGraphError: a graph_error fault answers any code of Facebook's
// error table the way Facebook does, and needs a Graph endpoint and a code.
func TestFaultGraphError(t *testing.T) {
	e := newEnv(t)
	user := e.metaUserToken("dana", fbScopes)
	for _, tc := range []struct{ code, sub int64 }{{3, 0}, {190, 492}, {368, 1390008}, {230, 0}} {
		e.control("faults", map[string]any{"endpoint": "meta.me", "kind": "graph_error", "code": tc.code, "subcode": tc.sub})
		r := e.graphGet("me", user)
		if c, s := graphError(t, r); r.Status != 400 || c != tc.code || s != tc.sub {
			t.Errorf("%d/%d: got %d %d/%d", tc.code, tc.sub, r.Status, c, s)
		}
	}
	for _, bad := range []map[string]any{
		{"endpoint": "meta.me", "kind": "graph_error"},
		{"endpoint": "tiktok.token", "kind": "graph_error", "code": 3},
		{"endpoint": "meta.dialog", "kind": "graph_error", "code": 3},
	} {
		if r := e.controlRaw("POST", "faults", bad); r.Status != 400 {
			t.Errorf("%v accepted: %d", bad, r.Status)
		}
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestFaultsTikTok(t *testing.T) {
	e := newEnv(t)
	m := e.ttConnect("bloom")
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	tests := []struct {
		name, endpoint, kind string
		call                 func() resp
		status               int
		code                 string
		v2                   bool
	}{
		{"token 5xx", "tiktok.token", "5xx", func() resp { return e.ttRefresh(rt) }, 500, "server_error", false},
		{"token 429", "tiktok.token", "429", func() resp { return e.ttRefresh(rt) }, 429, "rate_limit_exceeded", false},
		{"token rate_limit", "tiktok.token", "rate_limit", func() resp { return e.ttRefresh(rt) }, 429, "rate_limit_exceeded", false},
		{"token invalid_grant", "tiktok.token", "invalid_grant", func() resp { return e.ttRefresh(rt) }, 400, "invalid_grant", false},
		{"revoke 5xx", "tiktok.revoke", "5xx", func() resp {
			return e.postForm("/sandbox/open.tiktokapis.com/v2/oauth/revoke/", url.Values{"client_key": {DevTikTokClientKey}, "client_secret": {DevTikTokClientSecret}, "token": {"act.x"}})
		}, 500, "server_error", false},
		{"userinfo 5xx", "tiktok.userinfo", "5xx", func() resp { return e.userInfo(at, "open_id") }, 500, "internal_error", true},
		{"userinfo 429", "tiktok.userinfo", "429", func() resp { return e.userInfo(at, "open_id") }, 429, "rate_limit_exceeded", true},
		{"userinfo invalid_grant", "tiktok.userinfo", "invalid_grant", func() resp { return e.userInfo(at, "open_id") }, 401, "access_token_invalid", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.control("faults", map[string]any{"endpoint": tt.endpoint, "kind": tt.kind, "count": 1, "retry_after": 30})
			r := tt.call()
			if r.Status != tt.status {
				t.Errorf("status %d want %d", r.Status, tt.status)
			}
			got := ""
			if tt.v2 {
				got = v2Error(t, r)
			} else {
				got = ttOAuthError(t, r)
			}
			if got != tt.code {
				t.Errorf("code %q want %q", got, tt.code)
			}
			if tt.status == 429 && r.Header.Get("Retry-After") != "30" {
				t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
			}
		})
	}
	// The faults consumed nothing: the refresh token still works once.
	if r := e.ttRefresh(rt); r.Status != 200 {
		t.Errorf("refresh after faults: %s", r.Body)
	}
	e.control("autoconsent", map[string]any{"enabled": false})
	e.control("faults", map[string]any{"endpoint": "tiktok.authorize", "kind": "5xx"})
	if r := e.get(ttAuthorizeURL(ttScopes)); r.Status != 500 {
		t.Errorf("authorize 5xx: %d", r.Status)
	}
}

func TestFaultCountFractionAndClear(t *testing.T) {
	e := newEnv(t)
	at := e.ttConnect("bloom")["access_token"].(string)
	e.control("faults", map[string]any{"endpoint": "tiktok.userinfo", "kind": "5xx", "count": 3})
	var fails int
	for range 5 {
		if e.userInfo(at, "open_id").Status == 500 {
			fails++
		}
	}
	if fails != 3 {
		t.Errorf("count 3 gave %d failures", fails)
	}
	e.control("faults", map[string]any{"endpoint": "tiktok.userinfo", "kind": "5xx", "fraction": 0.5})
	fails = 0
	for range 200 {
		if e.userInfo(at, "open_id").Status == 500 {
			fails++
		}
	}
	if fails < 60 || fails > 140 {
		t.Errorf("fraction 0.5 gave %d/200", fails)
	}
	var list struct{ Faults []fault }
	json.Unmarshal(e.get("/sandbox/control/faults").Body, &list)
	if len(list.Faults) != 1 {
		t.Errorf("fault list %v", list)
	}
	if r := e.controlRaw("DELETE", "faults", nil); r.Status != 200 {
		t.Fatal(r.Status)
	}
	for range 20 {
		if e.userInfo(at, "open_id").Status != 200 {
			t.Fatal("fault survived DELETE")
		}
	}
	for _, bad := range []map[string]any{
		{"endpoint": "meta.nope", "kind": "5xx"},
		{"endpoint": "meta.me", "kind": "explode"},
		{"endpoint": "meta.me", "kind": "5xx", "fraction": 2},
		{"endpoint": "meta.me", "kind": "5xx", "typo": 1},
	} {
		r := e.controlRaw("POST", "faults", bad)
		if r.Status != 400 || r.JSON(t)["error"] == nil {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
}

func TestFaultSlowAndTimeout(t *testing.T) {
	e := newEnv(t)
	at := e.ttConnect("bloom")["access_token"].(string)
	e.control("faults", map[string]any{"endpoint": "tiktok.userinfo", "kind": "slow", "delay_ms": 300})
	start := time.Now()
	if r := e.userInfo(at, "open_id"); r.Status != 200 {
		t.Errorf("slow answered %d", r.Status)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("slow took only %v", d)
	}

	e.control("faults", map[string]any{"endpoint": "tiktok.token", "kind": "timeout"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+"/sandbox/open.tiktokapis.com/v2/oauth/token/",
		strings.NewReader("grant_type=refresh_token"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout fault: err = %v", err)
	}

	// The cap answers 504 when the client never gives up.
	e.sb.mu.Lock()
	e.sb.timeoutCap = 50 * time.Millisecond
	e.sb.mu.Unlock()
	e.control("faults", map[string]any{"endpoint": "meta.me", "kind": "timeout"})
	if r := e.graphGet("me", "x"); r.Status != 504 {
		t.Errorf("capped timeout: %d", r.Status)
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	rt := e.ttConnect("bloom")["refresh_token"].(string)
	e.ttRefresh(rt)
	var st map[string]int
	json.Unmarshal(e.get("/sandbox/control/stats").Body, &st)
	if st["tiktok.token"] != 2 || st["tiktok.token.refresh_token"] != 1 || st["tiktok.token.authorization_code"] != 1 || st["tiktok.authorize"] != 1 {
		t.Errorf("stats %v", st)
	}
	e.controlRaw("DELETE", "stats", nil)
	st = nil
	json.Unmarshal(e.get("/sandbox/control/stats").Body, &st)
	if len(st) != 0 {
		t.Errorf("stats after clear %v", st)
	}
}
