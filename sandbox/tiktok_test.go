package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestTikTokAuthorizeValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		q      url.Values
		status int
		want   string // in the page body, or the error= of the redirect
	}{
		{"client_id only is refused", url.Values{"client_id": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic"}, "response_type": {"code"}}, 400, "client_key"},
		{"wrong client_key", url.Values{"client_key": {"nope"}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic"}, "response_type": {"code"}}, 400, "client_key"},
		{"bad redirect", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {"cb"}, "scope": {"user.info.basic"}, "response_type": {"code"}}, 400, "redirect_uri"},
		{"unknown scope", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic,user.email"}, "response_type": {"code"}, "state": {"s"}}, 302, "invalid_scope"},
		{"space separated scopes", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic video.list"}, "response_type": {"code"}}, 302, "invalid_scope"},
		{"no response_type", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic"}}, 302, "unsupported_response_type"},
		{"plain pkce", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {"user.info.basic"}, "response_type": {"code"}, "code_challenge": {"x"}, "code_challenge_method": {"plain"}}, 302, "invalid_request"},
		{"ok shows consent", url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "scope": {ttScopes}, "response_type": {"code"}}, 200, "Bloom Botanics"},
		{"both client_key and client_id", url.Values{"client_key": {DevTikTokClientKey}, "client_id": {""}, "redirect_uri": {testRedirect}, "scope": {ttScopes}, "response_type": {"code"}}, 200, "Allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get("/sandbox/www.tiktok.com/v2/auth/authorize/?" + tt.q.Encode())
			if r.Status != tt.status {
				t.Fatalf("status %d want %d: %.300s", r.Status, tt.status, r.Body)
			}
			if r.Status == 302 {
				q := location(t, r)
				if q.Get("error") != tt.want || q.Get("error_description") == "" || q.Get("code") != "" {
					t.Errorf("redirect %v", q)
				}
				return
			}
			if !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("body lacks %q", tt.want)
			}
		})
	}
	// The path keeps its trailing slash: without it there is no dialog.
	if r := e.get("/sandbox/www.tiktok.com/v2/auth/authorize?client_key=" + DevTikTokClientKey); r.Status == 200 {
		t.Errorf("no trailing slash: %d", r.Status)
	}
}

func TestTikTokCallbackAndDeny(t *testing.T) {
	e := newEnv(t)
	q := e.ttCode("bloom", []string{"video.publish", "user.info.basic"})
	if got := q.Get("scopes"); got != "user.info.basic,user.info.profile,user.info.stats,video.list,video.upload" {
		t.Errorf("scopes = %q (user.info.basic cannot be declined)", got)
	}
	if c := q.Get("code"); !strings.ContainsAny(c, "*") || !strings.Contains(c, "!") {
		t.Errorf("code %q lacks * and !", c)
	}
	e.control("autoconsent", map[string]any{"enabled": true, "deny": true})
	d := location(t, e.get(ttAuthorizeURL(ttScopes)))
	if d.Get("error") != "access_denied" || d.Get("error_description") == "" || d.Get("state") != "tts" {
		t.Errorf("deny %v", d)
	}
}

func TestTikTokExchange(t *testing.T) {
	e := newEnv(t)
	m := e.ttConnect("bloom")
	if at, _ := m["access_token"].(string); !strings.HasPrefix(at, "act.") {
		t.Errorf("access_token %v", m["access_token"])
	}
	if rt, _ := m["refresh_token"].(string); !strings.HasPrefix(rt, "rft.") {
		t.Errorf("refresh_token %v", m["refresh_token"])
	}
	if n := num(t, m["expires_in"]); n != 7200 {
		t.Errorf("expires_in %d", n)
	}
	if n := num(t, m["refresh_expires_in"]); n != 180*86400 {
		t.Errorf("refresh_expires_in %d", n)
	}
	if m["open_id"] != "b1003a7e-0c5d-4f3b-9e2a-6b1000000001" || m["token_type"] != "Bearer" || m["scope"] != ttScopes {
		t.Errorf("response %v", m)
	}
	if _, ok := m["error"]; ok {
		t.Errorf("error key on success")
	}
}

func TestTikTokExchangeErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		form    func(code string) url.Values
		advance time.Duration
		status  int
		want    string
	}{
		{"redirect mismatch", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {testRedirect + "/"}}
		}, 0, 400, "invalid_grant"},
		{"expired code", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {testRedirect}}
		}, 11 * time.Minute, 400, "invalid_grant"},
		{"unknown code", func(string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {"zzz"}, "redirect_uri": {testRedirect}}
		}, 0, 400, "invalid_grant"},
		{"client_id instead of client_key", func(c string) url.Values {
			return url.Values{"client_id": {DevTikTokClientKey}, "grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {testRedirect}}
		}, 0, 401, "invalid_client"},
		{"wrong secret", func(c string) url.Values {
			return url.Values{"client_secret": {"x"}, "grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {testRedirect}}
		}, 0, 401, "invalid_client"},
		{"missing redirect_uri", func(c string) url.Values {
			return url.Values{"grant_type": {"authorization_code"}, "code": {c}}
		}, 0, 400, "invalid_request"},
		{"no grant_type", func(c string) url.Values { return url.Values{"code": {c}} }, 0, 400, "invalid_request"},
		{"client_credentials", func(string) url.Values { return url.Values{"grant_type": {"client_credentials"}} }, 0, 400, "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := e.ttCode("bloom", nil).Get("code")
			e.clock.Advance(tt.advance)
			r := e.ttToken(tt.form(code))
			if r.Status != tt.status {
				t.Errorf("status %d want %d", r.Status, tt.status)
			}
			if got := ttOAuthError(t, r); got != tt.want {
				t.Errorf("error %q want %q: %s", got, tt.want, r.Body)
			}
		})
	}
	t.Run("single use", func(t *testing.T) {
		code := e.ttCode("bloom", nil).Get("code")
		f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
		if r := e.ttToken(f); r.Status != 200 {
			t.Fatalf("first: %s", r.Body)
		}
		if got := ttOAuthError(t, e.ttToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}})); got != "invalid_grant" {
			t.Errorf("reuse: %s", got)
		}
	})
	t.Run("json body refused", func(t *testing.T) {
		req, _ := http.NewRequest("POST", e.srv.URL+"/sandbox/open.tiktokapis.com/v2/oauth/token/",
			strings.NewReader(`{"client_key":"`+DevTikTokClientKey+`","grant_type":"authorization_code"}`))
		req.Header.Set("Content-Type", "application/json")
		if got := ttOAuthError(t, e.do(req)); got != "invalid_request" {
			t.Errorf("JSON body: %s", got)
		}
	})
}

// TestTikTokPKCE: TikTok documents the challenge as hex(SHA-256(verifier)).
// The sandbox is strict: by default only hex passes; the control API
// switches it to RFC 7636 base64url, and then only that passes.
func TestTikTokPKCE(t *testing.T) {
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const (
		b64 = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
		hx  = "13d31e961a1ad8ec2f16b10c4c982e0876a878ad6df144566ee1894acb70f9c3"
	)
	for _, tt := range []struct {
		name, mode, challenge string
		ok                    bool
	}{
		{"default hex accepts hex", "", hx, true},
		{"default hex refuses base64url", "", b64, false},
		{"s256 accepts base64url", "s256", b64, true},
		{"s256 refuses hex", "s256", hx, false},
		{"hex set again accepts hex", "hex", hx, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.mode != "" {
				if r := e.control("tiktok", map[string]any{"pkce": tt.mode}); r.Status != 200 {
					t.Fatalf("control: %s", r.Body)
				}
			}
			code := e.ttCode("river", nil, "code_challenge", tt.challenge, "code_challenge_method", "S256").Get("code")
			f := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
			if got := ttOAuthError(t, e.ttToken(f)); got != "invalid_request" {
				t.Errorf("missing verifier: %s", got)
			}
			f.Set("code_verifier", "wrong")
			if got := ttOAuthError(t, e.ttToken(f)); got != "invalid_grant" {
				t.Errorf("wrong verifier: %s", got)
			}
			f.Set("code_verifier", verifier)
			r := e.ttToken(f)
			if tt.ok && r.Status != 200 {
				t.Errorf("right verifier: %s", r.Body)
			}
			if !tt.ok && ttOAuthError(t, r) != "invalid_grant" {
				t.Errorf("challenge in the wrong encoding accepted: %s", r.Body)
			}
		})
	}
	t.Run("control refuses an unknown encoding", func(t *testing.T) {
		if r := newEnv(t).controlRaw("POST", "tiktok", map[string]any{"pkce": "plain"}); r.Status != 400 {
			t.Errorf("status %d", r.Status)
		}
	})
}

func TestTikTokRefreshRotation(t *testing.T) {
	e := newEnv(t)
	m := e.ttConnect("bloom")
	rt1 := m["refresh_token"].(string)
	e.clock.Advance(time.Hour)
	r := e.ttRefresh(rt1)
	if r.Status != 200 {
		t.Fatalf("refresh: %s", r.Body)
	}
	m2 := r.JSON(t)
	rt2 := m2["refresh_token"].(string)
	if rt2 == rt1 || m2["access_token"] == m["access_token"] {
		t.Fatalf("current mode must rotate the refresh token")
	}
	if n := num(t, m2["refresh_expires_in"]); n != 180*86400 {
		t.Errorf("rotated refresh_expires_in %d", n)
	}
	if got := ttOAuthError(t, e.ttRefresh(rt1)); got != "invalid_grant" {
		t.Errorf("old refresh token: %s", got)
	}
	if info := e.tokenInfo(rt1); info["valid"] != false || info["status"] != "rotated" || info["reused"] != float64(1) {
		t.Errorf("listing of rotated token: %v", info)
	}
	if n := e.controlRaw("GET", "stats", nil).JSON(t)["tiktok.refresh_token.reused"]; num(t, n) != 1 {
		t.Errorf("stats count %v reuses of a rotated refresh token, want 1", n)
	}
	if r := e.ttRefresh(rt2); r.Status != 200 {
		t.Errorf("new refresh token: %s", r.Body)
	}
	// The access token from before the refresh keeps working until it expires.
	if r := e.userInfo(m["access_token"].(string), "open_id"); r.Status != 200 {
		t.Errorf("old access token: %s", r.Body)
	}
}

func TestTikTokClassicMode(t *testing.T) {
	e := newEnv(t)
	e.control("tiktok", map[string]any{"mode": "classic"})
	m := e.ttConnect("bloom")
	if num(t, m["expires_in"]) != 86400 || num(t, m["refresh_expires_in"]) != 365*86400 {
		t.Errorf("classic lifetimes %v", m)
	}
	rt := m["refresh_token"].(string)
	e.clock.Advance(10 * 24 * time.Hour)
	m2 := e.ttRefresh(rt).JSON(t)
	if m2["refresh_token"] != rt {
		t.Errorf("classic must not rotate")
	}
	if n := num(t, m2["refresh_expires_in"]); n != 355*86400 {
		t.Errorf("refresh expiry moved: %d", n)
	}
	if r := e.ttRefresh(rt); r.Status != 200 {
		t.Errorf("same token refreshes again: %s", r.Body)
	}
	// Rotation can be switched on separately from the lifetimes.
	e.control("tiktok", map[string]any{"rotation": true})
	m3 := e.ttRefresh(rt).JSON(t)
	if m3["refresh_token"] == rt || num(t, m3["refresh_expires_in"]) != 355*86400 {
		t.Errorf("classic+rotation: %v", m3)
	}
	if ttOAuthError(t, e.ttRefresh(rt)) != "invalid_grant" {
		t.Errorf("old token alive after rotation")
	}
	// Expired refresh token.
	e.clock.Advance(400 * 24 * time.Hour)
	if ttOAuthError(t, e.ttRefresh(m3["refresh_token"].(string))) != "invalid_grant" {
		t.Errorf("expired refresh token accepted")
	}
	if r := e.controlRaw("POST", "tiktok", map[string]any{"mode": "ancient"}); r.Status != 400 {
		t.Errorf("bad mode: %d", r.Status)
	}
}

func TestTikTokRevoke(t *testing.T) {
	e := newEnv(t)
	m := e.ttConnect("bloom")
	at, rt := m["access_token"].(string), m["refresh_token"].(string)
	r := e.postForm("/sandbox/open.tiktokapis.com/v2/oauth/revoke/", url.Values{"client_key": {DevTikTokClientKey},
		"client_secret": {DevTikTokClientSecret}, "token": {at}})
	if r.Status != 200 || len(r.Body) != 0 { // "returns an empty response body"
		t.Fatalf("revoke: %d %q", r.Status, r.Body)
	}
	ur := e.userInfo(at, "open_id")
	if ur.Status != 401 || v2Error(t, ur) != "access_token_invalid" {
		t.Errorf("after revoke: %d %s", ur.Status, ur.Body)
	}
	if ttOAuthError(t, e.ttRefresh(rt)) != "invalid_grant" {
		t.Errorf("refresh after revoke")
	}
	bad := e.postForm("/sandbox/open.tiktokapis.com/v2/oauth/revoke/", url.Values{"client_key": {DevTikTokClientKey},
		"client_secret": {"wrong"}, "token": {at}})
	if ttOAuthError(t, bad) != "invalid_client" {
		t.Errorf("revoke with wrong secret")
	}
	// The doc's example form, {}, on request.
	e.control("tiktok", map[string]any{"revoke_body": "object"})
	r = e.postForm("/sandbox/open.tiktokapis.com/v2/oauth/revoke/", url.Values{"client_key": {DevTikTokClientKey},
		"client_secret": {DevTikTokClientSecret}, "token": {at}})
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "{}" {
		t.Fatalf("revoke as {}: %d %s", r.Status, r.Body)
	}
	// A fresh connect works again.
	if r := e.userInfo(e.ttConnect("bloom")["access_token"].(string), "open_id"); r.Status != 200 {
		t.Errorf("reconnect: %s", r.Body)
	}
}

func TestTikTokUserInfo(t *testing.T) {
	e := newEnv(t)
	full := e.ttConnect("bloom")["access_token"].(string)
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "river", "decline": []string{"user.info.stats"}})
	code := location(t, e.get(ttAuthorizeURL(ttScopes))).Get("code")
	basic := e.ttToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}).JSON(t)["access_token"].(string)

	tests := []struct {
		name, token, fields string
		status              int
		code                string
		want                map[string]any
	}{
		{"basic fields", full, "open_id,union_id,avatar_url,display_name", 200, "ok",
			map[string]any{"open_id": "b1003a7e-0c5d-4f3b-9e2a-6b1000000001", "display_name": "Bloom Botanics"}},
		{"profile and stats", full, "username,is_verified,follower_count,video_count", 200, "ok",
			map[string]any{"username": "bloombotanics", "is_verified": false}},
		{"other persona", basic, "display_name,username", 200, "ok", map[string]any{"display_name": "River Tan", "username": "rivertan"}},
		{"declined scope", basic, "follower_count", 401, "scope_not_authorized", nil},
		{"unknown field", full, "open_id,shoe_size", 400, "invalid_params", nil},
		{"no fields", full, "", 400, "invalid_params", nil},
		{"bad token", "act.nope", "open_id", 401, "access_token_invalid", nil},
		{"refresh token as access", "", "open_id", 401, "access_token_invalid", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.userInfo(tt.token, tt.fields)
			if r.Status != tt.status {
				t.Fatalf("status %d want %d: %s", r.Status, tt.status, r.Body)
			}
			if got := v2Error(t, r); got != tt.code {
				t.Errorf("code %q want %q", got, tt.code)
			}
			if tt.want == nil {
				return
			}
			user := r.JSON(t)["data"].(map[string]any)["user"].(map[string]any)
			for k, v := range tt.want {
				if user[k] != v {
					t.Errorf("%s = %v want %v", k, user[k], v)
				}
			}
			if strings.Contains(tt.fields, "follower_count") {
				num(t, user["follower_count"])
			}
		})
	}
	// Expired access token ⇒ 401 access_token_invalid.
	e.clock.Advance(3 * time.Hour)
	if r := e.userInfo(full, "open_id"); r.Status != 401 || v2Error(t, r) != "access_token_invalid" {
		t.Errorf("expired: %d %s", r.Status, r.Body)
	}
}
