package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

const igAllScopes = "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_comments"

func igAuthorizeURL(scope, state string, extra ...string) string {
	q := url.Values{"client_id": {DevInstagramAppID}, "redirect_uri": {testRedirect}, "state": {state},
		"scope": {scope}, "response_type": {"code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/sandbox/www.instagram.com/oauth/authorize?" + q.Encode()
}

// igCode runs the authorize window with auto-consent and returns the code,
// checking the redirect carries the state and ends in the literal "#_".
func (e *env) igCode(persona string, decline ...string) string {
	e.t.Helper()
	e.control("autoconsent", map[string]any{"enabled": true, "persona": persona, "decline": decline})
	r := e.get(igAuthorizeURL(igAllScopes, "igs"))
	q := location(e.t, r)
	if q.Get("code") == "" || q.Get("state") != "igs" {
		e.t.Fatalf("no code/state in redirect: %s", r.Header.Get("Location"))
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "#_") {
		e.t.Errorf("redirect %s does not end in #_", loc)
	}
	return q.Get("code")
}

func igCodeForm(code string) url.Values {
	return url.Values{"client_id": {DevInstagramAppID}, "client_secret": {DevInstagramAppSecret},
		"grant_type": {"authorization_code"}, "redirect_uri": {testRedirect}, "code": {code}}
}

func (e *env) igExchange(form url.Values) resp {
	e.t.Helper()
	return e.postForm("/sandbox/api.instagram.com/oauth/access_token", form)
}

// igShort connects a persona and returns its short-lived token (data[] shape).
func (e *env) igShort(persona string) string {
	e.t.Helper()
	r := e.igExchange(igCodeForm(e.igCode(persona)))
	if r.Status != 200 {
		e.t.Fatalf("code exchange: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)["data"].([]any)[0].(map[string]any)["access_token"].(string)
}

func (e *env) igGet(path string, params ...string) resp {
	e.t.Helper()
	q := url.Values{}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return e.get("/sandbox/graph.instagram.com/" + path + "?" + q.Encode())
}

func (e *env) igLongResp(short string) resp {
	e.t.Helper()
	return e.igGet("access_token", "grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", short)
}

func (e *env) igLong(short string) string {
	e.t.Helper()
	r := e.igLongResp(short)
	if r.Status != 200 {
		e.t.Fatalf("ig_exchange_token: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)["access_token"].(string)
}

func (e *env) igRefresh(long string) resp {
	e.t.Helper()
	return e.igGet("refresh_access_token", "grant_type", "ig_refresh_token", "access_token", long)
}

func (e *env) igMe(token, fields string) resp {
	e.t.Helper()
	return e.igGet("v26.0/me", "fields", fields, "access_token", token)
}

// igOAuthError checks api.instagram.com's error shape and returns the message.
func igOAuthError(t *testing.T, r resp, status int) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if m["error_type"] == nil || num(t, m["code"]) != int64(status) {
		t.Errorf("not the Instagram error shape: %s", r.Body)
	}
	msg, _ := m["error_message"].(string)
	if msg == "" {
		t.Errorf("no error_message: %s", r.Body)
	}
	return msg
}

func TestIGAuthorizeValidation(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		change func(url.Values)
		status int
		want   string
	}{
		{"ok shows the window", func(url.Values) {}, 200, "Nova Reyes"},
		{"space-separated scopes", func(q url.Values) { q.Set("scope", "instagram_business_basic instagram_business_content_publish") }, 200, "Publish posts"},
		{"missing client_id", func(q url.Values) { q.Del("client_id") }, 400, "client_id"},
		{"the Facebook app id", func(q url.Values) { q.Set("client_id", DevMetaAppID) }, 400, "Invalid platform app"},
		{"missing redirect", func(q url.Values) { q.Del("redirect_uri") }, 400, "Invalid redirect_uri"},
		{"relative redirect", func(q url.Values) { q.Set("redirect_uri", "/cb") }, 400, "Invalid redirect_uri"},
		{"fragment redirect", func(q url.Values) { q.Set("redirect_uri", testRedirect+"#_") }, 400, "Invalid redirect_uri"},
		{"no response_type", func(q url.Values) { q.Del("response_type") }, 400, "response_type"},
		{"token response_type", func(q url.Values) { q.Set("response_type", "token") }, 400, "response_type"},
		{"missing scope", func(q url.Values) { q.Del("scope") }, 400, "must include instagram_business_basic"},
		{"without the basic scope", func(q url.Values) { q.Set("scope", "instagram_business_content_publish") }, 400, "must include instagram_business_basic"},
		{"old business_ scope", func(q url.Values) { q.Set("scope", "business_basic,business_content_publish") }, 400, "deprecated on January 27, 2025"},
		{"Facebook-login scope", func(q url.Values) { q.Set("scope", "instagram_business_basic,instagram_basic") }, 400, "Invalid Scopes: instagram_basic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(igAuthorizeURL(igAllScopes, "s"))
			q := u.Query()
			tt.change(q)
			r := e.get(u.Path + "?" + q.Encode())
			if r.Status != tt.status || !strings.Contains(string(r.Body), tt.want) {
				t.Fatalf("got %d, want %d containing %q: %.400s", r.Status, tt.status, tt.want, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("content type %q", ct)
			}
			if !strings.Contains(string(r.Body), `class="instagram"`) || strings.Contains(string(r.Body), "<script") {
				t.Errorf("not an Instagram page without script: %.300s", r.Body)
			}
		})
	}
}

// TestIGConsentForm drives the window as a person would: the persona radio,
// the locked required permission, an unticked one, and Cancel.
func TestIGConsentForm(t *testing.T) {
	e := newEnv(t)
	page := string(e.get(igAuthorizeURL(igAllScopes, "f1")).Body)
	for _, want := range []string{`name="sb_persona" value="nova" checked`, `value="harbor"`, `value="pia"`,
		"Personal account", "Creator account", "linked to the Facebook Page Harbor Coffee Roasters",
		`value="instagram_business_basic" checked disabled`, `<input type="hidden" name="sb_scope" value="instagram_business_basic">`,
		`value="instagram_business_content_publish" checked>`} {
		if !strings.Contains(page, want) {
			t.Errorf("window lacks %q", want)
		}
	}
	u, _ := url.Parse(igAuthorizeURL(igAllScopes, "f1"))
	form := u.Query()
	form.Set("sb_action", "allow")
	form.Set("sb_persona", "harbor")
	form["sb_scope"] = []string{"instagram_business_basic", "instagram_business_manage_comments"} // publish unticked
	r := e.postForm(u.Path, form)
	q := location(t, r)
	if q.Get("state") != "f1" || !strings.HasSuffix(r.Header.Get("Location"), "#_") {
		t.Fatalf("redirect %s", r.Header.Get("Location"))
	}
	d := e.igExchange(igCodeForm(q.Get("code"))).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["permissions"] != "instagram_business_basic,instagram_business_manage_comments" || d["user_id"] != "10200000000000101" {
		t.Errorf("declined permission or persona lost: %v", d)
	}

	// Even unticked, the required permission is granted.
	form["sb_scope"] = nil
	q = location(t, e.postForm(u.Path, form))
	d = e.igExchange(igCodeForm(q.Get("code"))).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["permissions"] != "instagram_business_basic" {
		t.Errorf("permissions %v", d["permissions"])
	}

	form.Set("sb_action", "cancel")
	r = e.postForm(u.Path, form)
	q = location(t, r)
	if q.Get("error") != "access_denied" || q.Get("error_reason") != "user_denied" ||
		q.Get("error_description") != "The user denied your request." || q.Get("state") != "f1" || q.Get("code") != "" {
		t.Errorf("cancel: %s", r.Header.Get("Location"))
	}
	if !strings.HasSuffix(r.Header.Get("Location"), "#_") {
		t.Errorf("cancel without #_: %s", r.Header.Get("Location"))
	}

	form.Set("sb_action", "allow")
	form.Set("sb_persona", "dana") // a Facebook persona is not an Instagram account
	if r := e.postForm(u.Path, form); r.Status != 400 {
		t.Errorf("foreign persona: %d", r.Status)
	}
}

// TestIGHappyPath: authorize → code → short-lived → long-lived → /me →
// refresh after 24 h, all listed by the control API.
func TestIGHappyPath(t *testing.T) {
	e := newEnv(t)
	code := e.igCode("nova")
	if !strings.HasPrefix(code, "AQ") {
		t.Errorf("code %.6s", code)
	}
	r := e.igExchange(igCodeForm(code))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	data, ok := m["data"].([]any)
	if !ok || len(data) != 1 || len(m) != 1 {
		t.Fatalf("not the documented data[] shape: %s", r.Body)
	}
	d := data[0].(map[string]any)
	short, _ := d["access_token"].(string)
	if !strings.HasPrefix(short, "IGAA") || d["user_id"] != "10200000000000601" || d["permissions"] != igAllScopes {
		t.Errorf("short-lived answer %v", d)
	}
	for _, k := range []string{"expires_in", "refresh_token", "token_type"} {
		if _, ok := d[k]; ok {
			t.Errorf("undocumented %s", k)
		}
	}
	if me := e.igMe(short, "user_id,username").JSON(t); me["user_id"] != "17841400000000601" || me["username"] != "nova.makes" {
		t.Errorf("/me with the short-lived token: %v", me)
	}

	lr := e.igLongResp(short)
	lm := lr.JSON(t)
	long, _ := lm["access_token"].(string)
	if lr.Status != 200 || !strings.HasPrefix(long, "IGAA") || long == short || lm["token_type"] != "bearer" || num(t, lm["expires_in"]) != 5183944 {
		t.Fatalf("long-lived: %d %s", lr.Status, lr.Body)
	}
	if _, ok := lm["refresh_token"]; ok {
		t.Errorf("Instagram has no refresh_token")
	}
	me := e.igMe(long, "user_id,username,name,profile_picture_url,account_type,followers_count,media_count")
	mm := me.JSON(t)
	if me.Status != 200 || mm["user_id"] != "17841400000000601" || mm["name"] != "Nova Reyes" || mm["account_type"] != "MEDIA_CREATOR" ||
		num(t, mm["followers_count"]) != 6420 || num(t, mm["media_count"]) != 173 || !strings.HasPrefix(mm["profile_picture_url"].(string), "data:image/svg+xml") {
		t.Errorf("/me %s", me.Body)
	}

	e.clock.Advance(24 * time.Hour)
	rr := e.igRefresh(long)
	rm := rr.JSON(t)
	fresh, _ := rm["access_token"].(string)
	if rr.Status != 200 || fresh == "" || fresh == long || rm["token_type"] != "bearer" || num(t, rm["expires_in"]) != 5183944 {
		t.Fatalf("refresh: %d %s", rr.Status, rr.Body)
	}
	if e.igMe(fresh, "user_id").Status != 200 {
		t.Errorf("refreshed token does not work")
	}

	// Every value handed out is listed, with its platform and status.
	want := map[string]string{code: "used", short: "expired", long: "valid", fresh: "valid"}
	for _, tk := range e.tokens() {
		if st, ok := want[tk["token"].(string)]; ok {
			if tk["platform"] != "instagram" || tk["status"] != st || tk["persona"] != "nova" {
				t.Errorf("token row %v, want status %s", tk, st)
			}
			delete(want, tk["token"].(string))
		}
	}
	if len(want) != 0 {
		t.Errorf("not listed: %d", len(want))
	}
	exp := e.tokenInfo(fresh)["expires_at"].(string)
	if wantExp := e.clock.Now().Add(igLongLife).UTC().Format(time.RFC3339); exp != wantExp {
		t.Errorf("refreshed expiry %s, want %s", exp, wantExp)
	}
}

func TestIGTokenShapes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		shape string
		check func(t *testing.T, raw []byte, m map[string]any)
	}{
		{"data", func(t *testing.T, raw []byte, m map[string]any) {
			d := m["data"].([]any)[0].(map[string]any)
			if _, ok := m["access_token"]; ok || d["user_id"] != "10200000000000601" || d["permissions"] != igAllScopes {
				t.Errorf("data shape %s", raw)
			}
		}},
		{"flat", func(t *testing.T, raw []byte, m map[string]any) {
			if _, ok := m["data"]; ok {
				t.Errorf("flat shape has data: %s", raw)
			}
			if tok, _ := m["access_token"].(string); !strings.HasPrefix(tok, "IGAA") {
				t.Errorf("access_token %v", m["access_token"])
			}
			// user_id is a JSON number, written exactly (a float64 would round it).
			if n, ok := m["user_id"].(json.Number); !ok || n.String() != "10200000000000601" {
				t.Errorf("user_id %v (%T)", m["user_id"], m["user_id"])
			}
			if !bytes.Contains(raw, []byte(`"user_id":10200000000000601`)) {
				t.Errorf("user_id not written as an integer: %s", raw)
			}
			perms, _ := m["permissions"].([]any)
			if len(perms) != 3 || perms[0] != "instagram_business_basic" {
				t.Errorf("permissions %v", m["permissions"])
			}
		}},
	} {
		t.Run(tt.shape, func(t *testing.T) {
			e.control("instagram", map[string]any{"token_shape": tt.shape})
			r := e.igExchange(igCodeForm(e.igCode("nova")))
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			tt.check(t, r.Body, r.JSON(t))
		})
	}
	for _, bad := range []map[string]any{{"token_shape": "array"}, {}, {"shape": "flat"}} {
		if r := e.controlRaw("POST", "instagram", bad); r.Status != 400 {
			t.Errorf("%v: %d", bad, r.Status)
		}
	}
	// The setting shows, and a reset brings the documented shape back.
	if s := e.get("/sandbox/control/settings").JSON(t)["settings"].(map[string]any); s["instagram_token_shape"] != "flat" {
		t.Errorf("settings %v", s)
	}
	e.control("reset", nil)
	if s := e.get("/sandbox/control/settings").JSON(t)["settings"].(map[string]any); s["instagram_token_shape"] != "data" {
		t.Errorf("after reset %v", s["instagram_token_shape"])
	}
}

func TestIGCodeExchangeErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		change func(f url.Values)
		want   string
	}{
		{"missing client_id", func(f url.Values) { f.Del("client_id") }, "client_id"},
		{"the Facebook app id", func(f url.Values) { f.Set("client_id", DevMetaAppID) }, "Invalid platform app"},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", DevMetaAppSecret) }, "client secret"},
		{"grant_type missing", func(f url.Values) { f.Del("grant_type") }, "grant_type"},
		{"missing redirect_uri", func(f url.Values) { f.Del("redirect_uri") }, "redirect_uri"},
		{"wrong redirect_uri", func(f url.Values) { f.Set("redirect_uri", testRedirect+"/other") }, "redirect_uri is identical"},
		{"trailing slash differs", func(f url.Values) { f.Set("redirect_uri", testRedirect+"/") }, "redirect_uri is identical"},
		{"code with #_", func(f url.Values) { f.Set("code", f.Get("code")+"#_") }, "Matching code was not found"},
		{"unknown code", func(f url.Values) { f.Set("code", "AQnope") }, "Matching code was not found"},
	}
	code := e.igCode("nova")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := igCodeForm(code)
			tt.change(f)
			if msg := igOAuthError(t, e.igExchange(f), 400); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want %q", msg, tt.want)
			}
		})
	}
	// None of those consumed the code; now it works once, then never again.
	if r := e.igExchange(igCodeForm(code)); r.Status != 200 {
		t.Fatalf("code consumed by a failed attempt: %d %s", r.Status, r.Body)
	}
	if msg := igOAuthError(t, e.igExchange(igCodeForm(code)), 400); msg != "Matching code was not found or was already used" {
		t.Errorf("reuse: %q", msg)
	}
	// The query string does not count: the fields belong in the body.
	q := igCodeForm(e.igCode("nova")).Encode()
	if r := e.postForm("/sandbox/api.instagram.com/oauth/access_token?"+q, url.Values{}); r.Status != 400 {
		t.Errorf("query-string fields accepted: %d", r.Status)
	}
	if r := e.get("/sandbox/api.instagram.com/oauth/access_token?" + q); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.Status)
	}
	// Ten minutes later a code is dead.
	late := e.igCode("nova")
	e.clock.Advance(10 * time.Minute)
	if msg := igOAuthError(t, e.igExchange(igCodeForm(late)), 400); !strings.Contains(msg, "expired") {
		t.Errorf("expired code: %q", msg)
	}
}

// The references' curl example posts multipart/form-data (-F).
func TestIGCodeExchangeMultipart(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range igCodeForm(e.igCode("harbor")) {
		_ = mw.WriteField(k, v[0])
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/sandbox/api.instagram.com/oauth/access_token", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := e.do(req)
	if r.Status != 200 || r.JSON(t)["data"].([]any)[0].(map[string]any)["user_id"] != "10200000000000101" {
		t.Errorf("multipart: %d %s", r.Status, r.Body)
	}
}

func TestIGExchangeErrors(t *testing.T) {
	e := newEnv(t)
	short := e.igShort("nova")
	long := e.igLong(short)
	metaTok := e.metaUserToken("dana", fbScopes)
	tests := []struct {
		name      string
		path      string
		params    []string
		code, sub int64
	}{
		{"wrong secret", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", "nope", "access_token", short}, 1, 0},
		{"wrong grant_type", "access_token", []string{"grant_type", "fb_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", short}, 100, 0},
		{"no token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret}, 104, 0},
		{"already long-lived", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", long}, 100, 0},
		{"unknown token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", "IGAAnope"}, 190, 0},
		{"a Facebook token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", metaTok}, 190, 0},
		{"versioned exchange", "v26.0/access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", short}, 100, 33},
		{"versioned refresh", "v26.0/refresh_access_token", []string{"grant_type", "ig_refresh_token", "access_token", long}, 100, 33},
		{"refresh a short-lived token", "refresh_access_token", []string{"grant_type", "ig_refresh_token", "access_token", short}, 100, 0},
		{"refresh with the wrong grant_type", "refresh_access_token", []string{"grant_type", "ig_exchange_token", "access_token", long}, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.igGet(tt.path, tt.params...)
			if code, sub := graphError(t, r); code != tt.code || sub != tt.sub || r.Status != 400 {
				t.Errorf("got %d %d/%d, want 400 %d/%d: %s", r.Status, code, sub, tt.code, tt.sub, r.Body)
			}
		})
	}
	// The short-lived token dies after its hour; exchanging it then is 190/463.
	e.clock.Advance(time.Hour)
	if code, sub := graphError(t, e.igLongResp(short)); code != 190 || sub != 463 {
		t.Errorf("expired short-lived: %d/%d", code, sub)
	}
	if r := e.postForm("/sandbox/graph.instagram.com/refresh_access_token", url.Values{"grant_type": {"ig_refresh_token"}, "access_token": {long}}); r.Status != 400 ||
		!strings.Contains(string(r.Body), "method type: post") {
		t.Errorf("POST refresh: %d %s", r.Status, r.Body)
	}
}

// TestIGRefreshAge: a long-lived token refreshes only from 24 h of age, and
// then lives 60 days from the refresh; an expired one never refreshes.
func TestIGRefreshAge(t *testing.T) {
	tests := []struct {
		name      string
		age       time.Duration
		ok        bool
		code, sub int64
	}{
		{"fresh", 0, false, 100, 0},
		{"23h59m", 24*time.Hour - time.Minute, false, 100, 0},
		{"24h", 24 * time.Hour, true, 0, 0},
		{"59 days", 59 * 24 * time.Hour, true, 0, 0},
		{"at expiry", igLongLife, false, 190, 463},
		{"61 days", 61 * 24 * time.Hour, false, 190, 463},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			long := e.igLong(e.igShort("nova"))
			e.clock.Advance(tt.age)
			r := e.igRefresh(long)
			if !tt.ok {
				if code, sub := graphError(t, r); code != tt.code || sub != tt.sub {
					t.Errorf("got %d/%d, want %d/%d: %s", code, sub, tt.code, tt.sub, r.Body)
				}
				if tt.code == 100 && !strings.Contains(string(r.Body), "at least 24 hours old") {
					t.Errorf("message %s", r.Body)
				}
				return
			}
			m := r.JSON(t)
			fresh := m["access_token"].(string)
			if r.Status != 200 || num(t, m["expires_in"]) != 5183944 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			want := e.clock.Now().Add(igLongLife).UTC().Format(time.RFC3339)
			if got := e.tokenInfo(fresh)["expires_at"]; got != want {
				t.Errorf("new expiry %v, want %s (60 days from the refresh)", got, want)
			}
			// The new token is itself under 24 h old: refreshing it at once is refused.
			if code, _ := graphError(t, e.igRefresh(fresh)); code != 100 {
				t.Errorf("immediate re-refresh: %d", code)
			}
			// It outlives the original token.
			e.clock.Advance(igLongLife - tt.age + time.Hour)
			if code, _ := graphError(t, e.igMe(long, "user_id")); code != 190 {
				t.Errorf("old token still alive past its expiry")
			}
			if r := e.igMe(fresh, "user_id"); r.Status != 200 {
				t.Errorf("refreshed token dead too early: %s", r.Body)
			}
		})
	}
}

// The lifetime scale applies to the 24-hour rule too.
func TestIGRefreshScaled(t *testing.T) {
	e := newEnv(t)
	e.control("lifetimes", map[string]any{"scale": 0.01})
	long := e.igLong(e.igShort("nova"))
	if code, _ := graphError(t, e.igRefresh(long)); code != 100 {
		t.Errorf("fresh scaled token refreshed")
	}
	e.clock.Advance(15 * time.Minute) // 1 % of 24 h is 14.4 min; the token lives 14.4 h
	if r := e.igRefresh(long); r.Status != 200 || num(t, r.JSON(t)["expires_in"]) != 51839 {
		t.Errorf("scaled refresh: %d %s", r.Status, r.Body)
	}
}

func TestIGRevoke(t *testing.T) {
	e := newEnv(t)
	fb := e.metaLongToken(e.metaUserToken("dana", igScopes)) // dana's Facebook login, which reaches the same account
	short := e.igShort("harbor")
	long := e.igLong(short)
	e.clock.Advance(25 * time.Hour)
	if r := e.igMe(long, "user_id"); r.Status != 200 {
		t.Fatalf("before revoke: %s", r.Body)
	}
	if r := e.control("revoke", map[string]any{"persona": "harbor"}); num(t, r.JSON(t)["revoked"]) != 1 {
		t.Errorf("revoke answer %s", r.Body)
	}
	for name, r := range map[string]resp{
		"me":       e.igMe(long, "user_id"),
		"refresh":  e.igRefresh(long),
		"exchange": e.igLongResp(short),
	} {
		code, sub := graphError(t, r)
		if code != 190 || sub != 458 || !strings.Contains(string(r.Body), DevInstagramAppID) {
			t.Errorf("%s after revoke: %d/%d %s", name, code, sub, r.Body)
		}
	}
	if st := e.tokenInfo(long)["status"]; st != "revoked" {
		t.Errorf("listed as %v", st)
	}
	// The Facebook authorization of the same person is a different one.
	if r := e.graphGet("me", fb); r.Status != 200 {
		t.Errorf("Facebook token died with the Instagram login: %s", r.Body)
	}
	// A new login starts a new authorization that works.
	if r := e.igMe(e.igShort("harbor"), "user_id"); r.Status != 200 {
		t.Errorf("reconnect: %s", r.Body)
	}
	// One token only, and expire.
	other := e.igShort("nova")
	e.control("revoke", map[string]any{"token": other})
	if code, _ := graphError(t, e.igMe(other, "id")); code != 190 {
		t.Errorf("single revoke: %d", code)
	}
	nova := e.igShort("nova")
	e.control("expire", map[string]any{"persona": "nova"})
	if code, sub := graphError(t, e.igMe(nova, "id")); code != 190 || sub != 463 {
		t.Errorf("expire: %d/%d", code, sub)
	}
}

func TestIGPersonalRefused(t *testing.T) {
	e := newEnv(t)
	check := func(r resp) {
		t.Helper()
		q := location(t, r)
		if q.Get("error") != "access_denied" || q.Get("error_reason") != "not_professional_account" ||
			!strings.Contains(q.Get("error_description"), "professional accounts") || q.Get("state") == "" || q.Get("code") != "" {
			t.Errorf("refusal %s", r.Header.Get("Location"))
		}
	}
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "pia"})
	check(e.get(igAuthorizeURL(igAllScopes, "p1")))
	e.control("autoconsent", map[string]any{"enabled": false})
	u, _ := url.Parse(igAuthorizeURL(igAllScopes, "p2"))
	form := u.Query()
	form.Set("sb_action", "allow")
	form.Set("sb_persona", "pia")
	check(e.postForm(u.Path, form))
	for _, tk := range e.tokens() {
		if tk["persona"] == "pia" {
			t.Errorf("something issued to the personal account: %v", tk)
		}
	}
}

// The Business persona is the account linked to dana's Harbor Coffee Page:
// both paths give the same id, username and name.
func TestIGLinkedBusinessIsDanasPageAccount(t *testing.T) {
	e := newEnv(t)
	fb := e.metaUserToken("dana", igScopes)
	viaPage := e.graphGet("104000000000101", fb, "fields", "instagram_business_account{id,username,name}").JSON(t)["instagram_business_account"].(map[string]any)
	me := e.igMe(e.igLong(e.igShort("harbor")), "user_id,username,name,account_type").JSON(t)
	if me["user_id"] != viaPage["id"] || me["user_id"] != "17841400000000101" || me["username"] != viaPage["username"] ||
		me["name"] != viaPage["name"] || me["account_type"] != "BUSINESS" {
		t.Errorf("Instagram Login %v vs Facebook Page %v", me, viaPage)
	}
	var ps []map[string]any
	_ = json.Unmarshal(e.get("/sandbox/control/personas").Body, &ps)
	seen := map[string]map[string]any{}
	for _, p := range ps {
		if p["platform"] == "instagram" {
			seen[p["key"].(string)] = p
		}
	}
	if len(seen) != 3 || seen["harbor"]["linked_page_id"] != "104000000000101" || seen["pia"]["professional"] != false ||
		seen["nova"]["account_type"] != "MEDIA_CREATOR" || seen["nova"]["user_id"] != "17841400000000601" {
		t.Errorf("personas %v", seen)
	}
}

func TestIGMeFields(t *testing.T) {
	e := newEnv(t)
	tok := e.igShort("nova")
	tests := []struct {
		path, fields string
		want         []string
	}{
		{"v26.0/me", "user_id,username", []string{"user_id", "username"}},
		{"v26.0/me", "", []string{"id"}},
		{"v22.0/me", "account_type", []string{"account_type"}},
		{"me", "name,media_count", []string{"media_count", "name"}},
		{"v26.0/17841400000000601", "id,user_id", []string{"id", "user_id"}},
		{"v26.0/10200000000000601", "followers_count,follows_count,biography,website,profile_picture_url",
			[]string{"biography", "followers_count", "follows_count", "profile_picture_url", "website"}},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.fields, func(t *testing.T) {
			r := e.igGet(tt.path, "fields", tt.fields, "access_token", tok)
			m := r.JSON(t)
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if r.Status != 200 || !slices.Equal(keys, tt.want) {
				t.Errorf("%d keys %v, want %v: %s", r.Status, keys, tt.want, r.Body)
			}
		})
	}
	if m := e.igGet("v26.0/me", "fields", "id,user_id", "access_token", tok).JSON(t); m["id"] != "10200000000000601" || m["user_id"] != "17841400000000601" {
		t.Errorf("ids %v", m)
	}
	for _, bad := range []struct {
		path      string
		params    []string
		code, sub int64
	}{
		{"v26.0/me", []string{"fields", "user_id,email", "access_token", tok}, 100, 0},
		{"v26.0/17841400000000101", []string{"access_token", tok}, 100, 33}, // another account
		{"v26.0/me/media", []string{"access_token", tok}, 100, 33},
		{"v26.0/me", []string{"fields", "user_id"}, 104, 0},
		{"v26.0/me", []string{"access_token", "IGAAnope"}, 190, 0},
		{"latest/me", []string{"access_token", tok}, 100, 33},
	} {
		if code, sub := graphError(t, e.igGet(bad.path, bad.params...)); code != bad.code || sub != bad.sub {
			t.Errorf("%s %v: %d/%d, want %d/%d", bad.path, bad.params, code, sub, bad.code, bad.sub)
		}
	}
	// Authorization: Bearer works as on the other Graph host.
	if r := e.get("/sandbox/graph.instagram.com/v26.0/me?fields=username", "Authorization", "Bearer "+tok); r.JSON(t)["username"] != "nova.makes" {
		t.Errorf("bearer: %s", r.Body)
	}
}

func TestIGFaults(t *testing.T) {
	e := newEnv(t)
	long := e.igLong(e.igShort("nova"))
	e.clock.Advance(25 * time.Hour)
	tests := []struct {
		name, endpoint, kind string
		extra                map[string]any
		call                 func() resp
		status               int
		check                func(t *testing.T, r resp)
	}{
		{"authorize 5xx", "instagram.authorize", "5xx", nil, func() resp { return e.get(igAuthorizeURL(igAllScopes, "x")) }, 500,
			func(t *testing.T, r resp) {
				if !strings.Contains(string(r.Body), `class="instagram"`) {
					t.Errorf("not an Instagram page")
				}
			}},
		{"authorize 429", "instagram.authorize", "429", map[string]any{"retry_after": 7}, func() resp { return e.get(igAuthorizeURL(igAllScopes, "x")) }, 429,
			func(t *testing.T, r resp) {
				if r.Header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			}},
		{"token 5xx", "instagram.token", "5xx", nil, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 500,
			func(t *testing.T, r resp) { igOAuthError(t, r, 500) }},
		{"token rate limit", "instagram.token", "rate_limit", map[string]any{"retry_after": 30}, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 429,
			func(t *testing.T, r resp) {
				igOAuthError(t, r, 429)
				if r.Header.Get("Retry-After") != "30" {
					t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			}},
		{"token invalid_grant", "instagram.token", "invalid_grant", nil, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 400,
			func(t *testing.T, r resp) {
				if msg := igOAuthError(t, r, 400); msg != "Matching code was not found or was already used" {
					t.Errorf("message %q", msg)
				}
			}},
		{"exchange 5xx", "instagram.exchange", "5xx", nil, func() resp { return e.igLongResp("x") }, 500,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 2 || r.JSON(t)["error"].(map[string]any)["is_transient"] != true {
					t.Errorf("code %d", c)
				}
			}},
		{"refresh rate_limit", "instagram.refresh", "rate_limit", nil, func() resp { return e.igRefresh(long) }, 400,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 17 || !strings.Contains(r.Header.Get("X-App-Usage"), `"call_count":100`) {
					t.Errorf("code %d, X-App-Usage %q", c, r.Header.Get("X-App-Usage"))
				}
			}},
		{"refresh invalid_grant", "instagram.refresh", "invalid_grant", nil, func() resp { return e.igRefresh(long) }, 400,
			func(t *testing.T, r resp) {
				if c, s := graphError(t, r); c != 190 || s != 460 {
					t.Errorf("%d/%d", c, s)
				}
			}},
		{"me 429", "instagram.me", "429", nil, func() resp { return e.igMe(long, "user_id") }, 400,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 4 {
					t.Errorf("code %d", c)
				}
			}},
		{"me graph_error", "instagram.me", "graph_error", map[string]any{"code": 190, "subcode": 467}, func() resp { return e.igMe(long, "user_id") }, 400,
			func(t *testing.T, r resp) {
				if c, s := graphError(t, r); c != 190 || s != 467 {
					t.Errorf("%d/%d", c, s)
				}
			}},
		{"wildcard", "*", "5xx", nil, func() resp { return e.igMe(long, "user_id") }, 500, func(t *testing.T, r resp) { graphError(t, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"endpoint": tt.endpoint, "kind": tt.kind}
			for k, v := range tt.extra {
				body[k] = v
			}
			e.control("faults", body)
			r := tt.call()
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			tt.check(t, r)
			// A fault changes no state: the next call works.
			if r := e.igMe(long, "user_id"); r.Status != 200 {
				t.Errorf("after the fault: %s", r.Body)
			}
		})
	}
	// Faults cover the refresh path's state too: the token still refreshes.
	if r := e.igRefresh(long); r.Status != 200 {
		t.Errorf("refresh after faults: %s", r.Body)
	}
	if r := e.controlRaw("POST", "faults", map[string]any{"endpoint": "instagram.token", "kind": "graph_error", "code": 2}); r.Status != 400 {
		t.Errorf("graph_error on api.instagram.com accepted: %d", r.Status)
	}
	stats := e.get("/sandbox/control/stats").JSON(t)
	for _, k := range []string{"instagram.authorize", "instagram.token", "instagram.exchange", "instagram.refresh", "instagram.me", "fault.instagram.me.graph_error"} {
		if stats[k] == nil || num(t, stats[k]) < 1 {
			t.Errorf("stats %s = %v", k, stats[k])
		}
	}

	// timeout: the request hangs until the client gives up.
	e.control("faults", map[string]any{"endpoint": "instagram.refresh", "kind": "timeout"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/sandbox/graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token="+long, nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout fault: err = %v", err)
	}
}

func TestIGAutoConsentDefaults(t *testing.T) {
	e := newEnv(t)
	// A Facebook persona in auto-consent: Instagram uses its first persona.
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "dana"})
	q := location(t, e.get(igAuthorizeURL(igAllScopes, "d")))
	d := e.igExchange(igCodeForm(q.Get("code"))).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["user_id"] != "10200000000000601" {
		t.Errorf("default persona %v", d["user_id"])
	}
	// A declined permission, and the required one that cannot be declined.
	code := e.igCode("harbor", "instagram_business_content_publish", "instagram_business_basic")
	d = e.igExchange(igCodeForm(code)).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["permissions"] != "instagram_business_basic,instagram_business_manage_comments" {
		t.Errorf("permissions %v", d["permissions"])
	}
	e.control("autoconsent", map[string]any{"enabled": true, "deny": true})
	q = location(t, e.get(igAuthorizeURL(igAllScopes, "d")))
	if q.Get("error") != "access_denied" || q.Get("error_reason") != "user_denied" {
		t.Errorf("deny %v", q)
	}
	// The persona keys of Instagram are valid for the persona-taking controls.
	for _, path := range []string{"revoke", "expire"} {
		if r := e.controlRaw("POST", path, map[string]any{"persona": "pia"}); r.Status != 200 {
			t.Errorf("%s pia: %d %s", path, r.Status, r.Body)
		}
	}
}

// A state file written before Instagram Login gets the documented shape.
func TestIGStateDefaults(t *testing.T) {
	path := t.TempDir() + "/state.json"
	if err := writeFileAtomic(path, []byte(`{"version":1,"settings":{"scale":1,"mode":"current"}}`)); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(path)
	if err != nil || st.Settings.InstagramTokenShape != "data" {
		t.Errorf("loaded %v %v", st.Settings.InstagramTokenShape, err)
	}
}
