package sandbox

import (
	"net/url"
	"strings"
	"testing"
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
