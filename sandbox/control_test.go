package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestControlRevoke(t *testing.T) {
	e := newEnv(t)
	fb := e.metaUserToken("dana", fbScopes)
	fb2 := e.metaUserToken("dana", fbScopes)
	tt := e.ttConnect("bloom")

	// One token.
	e.control("revoke", map[string]any{"token": fb})
	if c, s := graphError(t, e.graphGet("me", fb)); c != 190 || s != 458 {
		t.Errorf("revoked fb token: %d/%d", c, s)
	}
	if r := e.graphGet("me", fb2); r.Status != 200 {
		t.Errorf("sibling token died: %s", r.Body)
	}
	e.control("revoke", map[string]any{"token": tt["refresh_token"]})
	if ttOAuthError(t, e.ttRefresh(tt["refresh_token"].(string))) != "invalid_grant" {
		t.Errorf("revoked refresh token accepted")
	}

	// A whole persona.
	e.control("revoke", map[string]any{"persona": "bloom"})
	if r := e.userInfo(tt["access_token"].(string), "open_id"); r.Status != 401 || v2Error(t, r) != "access_token_invalid" {
		t.Errorf("persona revoke, tiktok: %s", r.Body)
	}
	e.control("revoke", map[string]any{"persona": "dana"})
	if c, s := graphError(t, e.graphGet("me", fb2)); c != 190 || s != 458 {
		t.Errorf("persona revoke, fb: %d/%d", c, s)
	}
	for _, info := range e.tokens() {
		if (info["persona"] == "dana" || info["persona"] == "bloom") && info["valid"] == true {
			t.Errorf("still valid after persona revoke: %v %v", info["kind"], info["persona"])
		}
	}
	for _, bad := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"token": "EAAnothing"}, 404},
		{map[string]any{"persona": "nobody"}, 404},
		{map[string]any{}, 400},
	} {
		if r := e.controlRaw("POST", "revoke", bad.body); r.Status != bad.status || r.JSON(t)["error"] == nil {
			t.Errorf("%v: %d %s", bad.body, r.Status, r.Body)
		}
	}
}

func TestControlExpire(t *testing.T) {
	e := newEnv(t)
	fb := e.metaLongToken(e.metaUserToken("dana", fbScopes))
	page := e.graphGet("104000000000101", fb, "fields", "access_token").JSON(t)["access_token"].(string)
	lee := e.metaUserToken("lee", fbScopes)
	tt := e.ttConnect("bloom")

	// One token alone: the others of the same persona live on.
	fb2 := e.metaLongToken(e.metaUserToken("dana", fbScopes))
	e.control("expire", map[string]any{"token": fb2})
	if c, s := graphError(t, e.graphGet("me", fb2)); c != 190 || s != 463 {
		t.Errorf("expired token: %d/%d", c, s)
	}
	if r := e.graphGet("me", fb); r.Status != 200 {
		t.Errorf("expiring one token expired another of the persona")
	}
	if r := e.controlRaw("POST", "expire", map[string]any{"token": "EAAnope"}); r.Status != 404 {
		t.Errorf("unknown token: %d", r.Status)
	}

	e.control("expire", map[string]any{"persona": "dana"})
	for name, tok := range map[string]string{"user": fb, "page": page} {
		if c, s := graphError(t, e.graphGet("me", tok)); c != 190 || s != 463 {
			t.Errorf("%s: %d/%d", name, c, s)
		}
	}
	if r := e.graphGet("me", lee); r.Status != 200 {
		t.Errorf("other persona expired too")
	}
	if r := e.userInfo(tt["access_token"].(string), "open_id"); r.Status != 200 {
		t.Errorf("tiktok expired by a dana-only expire")
	}

	e.control("expire", nil) // everyone
	if r := e.userInfo(tt["access_token"].(string), "open_id"); r.Status != 401 {
		t.Errorf("tiktok not expired")
	}
	// Refresh tokens survive, so the product can refresh.
	if r := e.ttRefresh(tt["refresh_token"].(string)); r.Status != 200 {
		t.Errorf("refresh after expire: %s", r.Body)
	}
	if info := e.tokenInfo(tt["access_token"].(string)); info["valid"] != false || info["status"] != "expired" {
		t.Errorf("listing %v", info)
	}
}

func TestControlLifetimes(t *testing.T) {
	e := newEnv(t)
	e.control("lifetimes", map[string]any{"scale": 0.01})
	m := e.ttConnect("bloom")
	if num(t, m["expires_in"]) != 72 || num(t, m["refresh_expires_in"]) != 155520 {
		t.Errorf("scaled tiktok %v", m)
	}
	code := e.metaCode("dana", fbScopes, nil, nil)
	if n := num(t, e.metaExchange(code).JSON(t)["expires_in"]); n != 36 {
		t.Errorf("scaled fb %d", n)
	}
	e.clock.Advance(73 * time.Second)
	if r := e.userInfo(m["access_token"].(string), "open_id"); r.Status != 401 {
		t.Errorf("scaled token still valid after its life")
	}
	for _, bad := range []float64{0, -1, 5000} {
		if r := e.controlRaw("POST", "lifetimes", map[string]any{"scale": bad}); r.Status != 400 {
			t.Errorf("scale %v accepted", bad)
		}
	}
}

func TestControlReset(t *testing.T) {
	e := newEnv(t)
	at := e.ttConnect("bloom")["access_token"].(string)
	e.control("tiktok", map[string]any{"mode": "classic"})
	e.control("faults", map[string]any{"endpoint": "*", "kind": "5xx", "fraction": 1})
	e.control("reset", nil)
	if len(e.tokens()) != 0 {
		t.Errorf("tokens survive reset")
	}
	if r := e.userInfo(at, "open_id"); r.Status != 401 {
		t.Errorf("token valid after reset: %d", r.Status)
	}
	var s struct{ Settings settings }
	json.Unmarshal(e.get("/sandbox/control/settings").Body, &s)
	if s.Settings.Mode != "current" || !s.Settings.Rotation || s.Settings.Scale != 1 || s.Settings.AutoConsent.Enabled {
		t.Errorf("settings after reset %+v", s.Settings)
	}
	// Auto-consent is off again, so the dialog shows the form.
	if r := e.get(ttAuthorizeURL(ttScopes)); r.Status != 200 {
		t.Errorf("consent page after reset: %d", r.Status)
	}
}

func TestTokenListing(t *testing.T) {
	e := newEnv(t)
	fbCode := e.metaCode("dana", fbScopes, nil, nil)
	fb := e.metaExchange(fbCode).JSON(t)["access_token"].(string)
	page := e.graphGet("104000000000103", fb, "fields", "access_token").JSON(t)["access_token"].(string)
	ttCode := e.ttCode("bloom", nil).Get("code")
	m := e.ttToken(url.Values{"grant_type": {"authorization_code"}, "code": {ttCode}, "redirect_uri": {testRedirect}}).JSON(t)
	rt1 := m["refresh_token"].(string)
	m2 := e.ttRefresh(rt1).JSON(t)
	unused := e.metaCode("lee", fbScopes, nil, nil)

	want := map[string]struct {
		platform, kind, persona string
		valid                   bool
		expires                 bool
	}{
		fbCode:                       {"facebook", "code", "dana", false, true},
		fb:                           {"facebook", "access", "dana", true, true},
		page:                         {"facebook", "page", "dana", true, true},
		ttCode:                       {"tiktok", "code", "bloom", false, true},
		m["access_token"].(string):   {"tiktok", "access", "bloom", true, true},
		rt1:                          {"tiktok", "refresh", "bloom", false, true},
		m2["access_token"].(string):  {"tiktok", "access", "bloom", true, true},
		m2["refresh_token"].(string): {"tiktok", "refresh", "bloom", true, true},
		unused:                       {"facebook", "code", "lee", true, true},
	}
	list := e.tokens()
	if len(list) != len(want) {
		t.Errorf("listed %d, want %d", len(list), len(want))
	}
	for _, info := range list {
		w, ok := want[info["token"].(string)]
		if !ok {
			t.Errorf("unexpected token %v", info["kind"])
			continue
		}
		if info["platform"] != w.platform || info["kind"] != w.kind || info["persona"] != w.persona || info["valid"] != w.valid {
			t.Errorf("%s: %v", w.kind, info)
		}
		exp, has := info["expires_at"]
		if !has {
			t.Errorf("no expires_at key")
		}
		if s, ok := exp.(string); ok {
			if _, err := time.Parse(time.RFC3339, s); err != nil {
				t.Errorf("expires_at %q", s)
			}
		}
	}
	// A never-expiring Page token lists expires_at: null.
	long := e.metaLongToken(fb)
	pl := e.graphGet("104000000000101", long, "fields", "access_token").JSON(t)["access_token"].(string)
	if info := e.tokenInfo(pl); info["expires_at"] != nil || info["kind"] != "page" {
		t.Errorf("long page token listing %v", info)
	}
}

func TestPersonasEndpoint(t *testing.T) {
	e := newEnv(t)
	var ps []map[string]any
	if err := json.Unmarshal(e.get("/sandbox/control/personas").Body, &ps); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]map[string]any{}
	for _, p := range ps {
		byKey[p["key"].(string)] = p
	}
	for _, k := range []string{"dana", "sam", "lee", "bloom", "river"} {
		if byKey[k] == nil {
			t.Errorf("persona %s missing", k)
		}
	}
	pages := byKey["dana"]["pages"].([]any)
	linked := 0
	for _, p := range pages {
		if p.(map[string]any)["instagram_business_account"] != nil {
			linked++
		}
	}
	if len(pages) != 4 || linked != 2 || len(byKey["sam"]["pages"].([]any)) != 0 || len(byKey["lee"]["pages"].([]any)) != 1 {
		t.Errorf("pages: dana %d (%d linked)", len(pages), linked)
	}
	if byKey["bloom"]["username"] != "bloombotanics" || byKey["bloom"]["business"] != true {
		t.Errorf("bloom %v", byKey["bloom"])
	}
}

func TestAutoConsentValidation(t *testing.T) {
	e := newEnv(t)
	for _, bad := range []map[string]any{
		{"enabled": true, "persona": "zed"},
		{"enabled": true, "persona": "dana", "pages": []string{"104000000000301"}},
		{"enabled": true, "persona": "dana", "colour": "blue"},
	} {
		if r := e.controlRaw("POST", "autoconsent", bad); r.Status != 400 || r.JSON(t)["error"] == nil {
			t.Errorf("%v: %d", bad, r.Status)
		}
	}
	// A TikTok persona still lets the Meta dialog auto-consent (as dana).
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "river"})
	code := location(t, e.get(fbAuthorizeURL(fbScopes, "s"))).Get("code")
	tok := e.metaExchange(code).JSON(t)["access_token"].(string)
	if e.graphGet("me", tok).JSON(t)["name"] != "Dana Whitfield" {
		t.Errorf("default Meta persona")
	}
}

func TestSignedRequest(t *testing.T) {
	e := newEnv(t)
	sr := e.control("signed_request", map[string]any{"persona": "dana"}).JSON(t)["signed_request"].(string)
	sig, payload, ok := strings.Cut(sr, ".")
	if !ok || strings.Contains(sr, "=") {
		t.Fatalf("shape %q", sr)
	}
	mac := hmac.New(sha256.New, []byte(DevMetaAppSecret))
	mac.Write([]byte(payload))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != sig {
		t.Errorf("bad signature")
	}
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	var p map[string]any
	json.Unmarshal(b, &p)
	if p["algorithm"] != "HMAC-SHA256" || p["user_id"] != "10229000000001" {
		t.Errorf("payload %v", p)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	c := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	sb, err := New(Options{StatePath: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sb: sb, srv: newServer(t, sb), clock: c, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	fb := e.metaLongToken(e.metaUserToken("dana", igScopes))
	page := e.graphGet("104000000000101", fb, "fields", "access_token").JSON(t)["access_token"].(string)
	tt := e.ttConnect("bloom")
	e.control("tiktok", map[string]any{"mode": "classic"})
	e.control("revoke", map[string]any{"persona": "lee"})
	before := len(e.tokens())
	e.srv.Close()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}

	sb2, err := New(Options{StatePath: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e2 := &env{t: t, sb: sb2, srv: newServer(t, sb2), clock: c, hc: e.hc}
	t.Cleanup(func() { sb2.Close() })
	if r := e2.graphGet("me/accounts", fb, "fields", "id,instagram_business_account"); r.Status != 200 || len(r.JSON(t)["data"].([]any)) != 4 {
		t.Errorf("fb after restart: %s", r.Body)
	}
	if r := e2.graphGet("me", page); r.Status != 200 {
		t.Errorf("page token after restart: %s", r.Body)
	}
	if r := e2.userInfo(tt["access_token"].(string), "display_name"); r.Status != 200 {
		t.Errorf("tiktok after restart: %s", r.Body)
	}
	m := e2.ttRefresh(tt["refresh_token"].(string)).JSON(t)
	if m["refresh_token"] != tt["refresh_token"] {
		t.Errorf("classic setting lost across restart")
	}
	if got := len(e2.tokens()); got != before+1 { // +1: the classic refresh minted an access token
		t.Errorf("listing after restart: %d tokens, want %d", got, before+1)
	}

	// The background writer flushes without Close.
	e2.control("lifetimes", map[string]any{"scale": 0.5})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), `"scale":0.5`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("state not flushed in the background")
}

func TestCorruptStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := New(Options{StatePath: path}); err == nil {
		t.Errorf("corrupt state accepted")
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// TestConcurrentRefreshes exercises the lock under -race: many refresh chains
// at once, and a concurrent refresh with an already-rotated token must lose.
func TestConcurrentRefreshes(t *testing.T) {
	e := newEnv(t)
	var rts []string
	for range 8 {
		rts = append(rts, e.ttConnect("bloom")["refresh_token"].(string))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for _, rt := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				r := e.ttRefresh(rt)
				if r.Status != 200 {
					errs <- string(r.Body)
					return
				}
				var m map[string]any
				json.Unmarshal(r.Body, &m)
				rt = m["refresh_token"].(string)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	// Two refreshes racing with one token: exactly one wins.
	rt := e.ttConnect("river")["refresh_token"].(string)
	results := make(chan int, 2)
	for range 2 {
		go func() { results <- e.ttRefresh(rt).Status }()
	}
	a, b := <-results, <-results
	if a+b != 600 {
		t.Errorf("racing refreshes: %d and %d", a, b)
	}
}

// The control API's guard: JSON only on POST and DELETE and never
// cross-site, in every mode; a bearer when locked; absent when off.
func TestControlGuard(t *testing.T) {
	call := func(e *env, method, path, ct, bearer string, hdr ...string) int {
		req, _ := http.NewRequest(method, e.srv.URL+"/sandbox/control/"+path, strings.NewReader(`{"enabled":true,"persona":"dana"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	const tok = "a-control-token-of-some-length-0123456789"
	open, locked, off := newEnv(t), newEnvWith(t, Options{ControlToken: tok}), newEnvWith(t, Options{ControlOff: true})
	tests := []struct {
		name                 string
		e                    *env
		method, path, ct, by string
		hdr                  []string
		want                 int
	}{
		{"open: text/plain POST", open, "POST", "autoconsent", "text/plain", "", nil, 415},
		{"open: form POST", open, "POST", "autoconsent", "application/x-www-form-urlencoded", "", nil, 415},
		{"open: no content type", open, "POST", "autoconsent", "", "", nil, 415},
		{"open: cross-site JSON", open, "POST", "autoconsent", "application/json", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"open: cross-site GET tokens", open, "GET", "tokens", "", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"open: JSON", open, "GET", "settings", "", "", nil, 200},
		{"locked: no bearer", locked, "GET", "tokens", "", "", nil, 401},
		{"locked: wrong bearer", locked, "GET", "tokens", "", "nope", nil, 401},
		{"locked: text/plain with bearer", locked, "POST", "autoconsent", "text/plain", tok, nil, 415},
		{"locked: bearer", locked, "GET", "tokens", "", tok, nil, 200},
		{"off: GET", off, "GET", "tokens", "", "", nil, 404},
		{"off: POST with a bearer", off, "POST", "signed_request", "application/json", tok, nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := call(tc.e, tc.method, tc.path, tc.ct, tc.by, tc.hdr...); got != tc.want {
				t.Fatalf("%d, want %d", got, tc.want)
			}
		})
	}
	for _, e := range []*env{open, locked} {
		if e.sb.st.Settings.AutoConsent.Enabled {
			t.Fatal("a refused call turned autoconsent on")
		}
	}
	// The platform endpoints are not behind the guard.
	if r := off.get("/sandbox/static/consent.css"); r.Status != 200 {
		t.Fatalf("consent.css with the control API off: %d", r.Status)
	}
}
