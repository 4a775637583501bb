package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

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
