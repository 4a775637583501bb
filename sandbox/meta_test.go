package sandbox

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMetaDialogValidation(t *testing.T) {
	e := newEnv(t)
	base := url.Values{"client_id": {DevMetaAppID}, "redirect_uri": {testRedirect}, "scope": {fbScopes}, "state": {"s"}}
	tests := []struct {
		name   string
		change func(url.Values)
		status int
		want   string
	}{
		{"ok shows consent", func(url.Values) {}, 200, "Continue"},
		{"any version", func(url.Values) {}, 200, "Dana Whitfield"},
		{"missing client_id", func(q url.Values) { q.Del("client_id") }, 400, "app_id"},
		{"wrong client_id", func(q url.Values) { q.Set("client_id", "999") }, 400, "Invalid App ID"},
		{"missing redirect", func(q url.Values) { q.Del("redirect_uri") }, 400, "redirect_uri"},
		{"relative redirect", func(q url.Values) { q.Set("redirect_uri", "/cb") }, 400, "URL Blocked"},
		{"fragment redirect", func(q url.Values) { q.Set("redirect_uri", testRedirect+"#x") }, 400, "URL Blocked"},
		{"space separated scopes", func(q url.Values) { q.Set("scope", "pages_show_list pages_manage_posts") }, 400, "Invalid Scopes"},
		{"token response_type", func(q url.Values) { q.Set("response_type", "token") }, 400, "response_type"},
		{"bad pkce method", func(q url.Values) { q.Set("code_challenge", "abc"); q.Set("code_challenge_method", "plain") }, 400, "S256"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = slices.Clone(v)
			}
			tt.change(q)
			ver := "v26.0"
			if i == 1 {
				ver = "v22.0"
			}
			r := e.get("/sandbox/www.facebook.com/" + ver + "/dialog/oauth?" + q.Encode())
			if r.Status != tt.status || !strings.Contains(string(r.Body), tt.want) {
				t.Fatalf("got %d, want %d containing %q: %.300s", r.Status, tt.status, tt.want, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("content type %q", ct)
			}
			if strings.Contains(string(r.Body), "<script") {
				t.Errorf("page has a script")
			}
		})
	}
}

func TestMetaDialogVersions(t *testing.T) {
	e := newEnv(t)
	q := "?" + url.Values{"client_id": {DevMetaAppID}, "redirect_uri": {testRedirect}, "scope": {fbScopes}}.Encode()
	for path, want := range map[string]int{
		"/sandbox/www.facebook.com/v25.0/dialog/oauth":  200,
		"/sandbox/www.facebook.com/dialog/oauth":        200,
		"/sandbox/www.facebook.com/latest/dialog/oauth": 404,
	} {
		if r := e.get(path + q); r.Status != want {
			t.Errorf("%s: %d want %d", path, r.Status, want)
		}
	}
}

func TestMetaDialogDeny(t *testing.T) {
	e := newEnv(t)
	e.control("autoconsent", map[string]any{"enabled": true, "deny": true})
	r := e.get(fbAuthorizeURL(fbScopes, "xyz"))
	q := location(t, r)
	want := url.Values{"error": {"access_denied"}, "error_code": {"200"}, "error_description": {"Permissions error"},
		"error_reason": {"user_denied"}, "state": {"xyz"}}
	for k, v := range want {
		if q.Get(k) != v[0] {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v[0])
		}
	}
	if q.Get("code") != "" {
		t.Errorf("code on denial")
	}
	if !strings.Contains(r.Header.Get("Location"), "error_description=Permissions+error") {
		t.Errorf("Location %s", r.Header.Get("Location"))
	}
}

func TestMetaCodeExchange(t *testing.T) {
	e := newEnv(t)
	code := e.metaCode("dana", fbScopes, nil, nil)
	if !strings.HasPrefix(code, "AQ") {
		t.Errorf("code %q", code[:4])
	}
	// POST form with x/oauth2's grant_type works as well as the documented GET.
	r := e.postForm("/sandbox/graph.facebook.com/v26.0/oauth/access_token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {code}})
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	if tok, _ := m["access_token"].(string); !strings.HasPrefix(tok, "EAA") {
		t.Errorf("access_token %v", m["access_token"])
	}
	if m["token_type"] != "bearer" {
		t.Errorf("token_type %v", m["token_type"])
	}
	if n := num(t, m["expires_in"]); n != 3600 {
		t.Errorf("expires_in %d", n)
	}
	if _, ok := m["refresh_token"]; ok {
		t.Errorf("Facebook has no refresh_token")
	}

	// Reusing it is 100/36009.
	if c, s := graphError(t, e.metaExchange(code)); c != 100 || s != 36009 {
		t.Errorf("reuse: %d/%d", c, s)
	}
}

func TestMetaCodeExchangeErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		form      func(code string) url.Values
		advance   time.Duration
		code, sub int64
	}{
		{"redirect mismatch", func(c string) url.Values {
			return url.Values{"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect + "/"}, "code": {c}}
		}, 0, 100, 36008},
		{"expired code", func(c string) url.Values {
			return url.Values{"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {c}}
		}, 11 * time.Minute, 100, 36007},
		{"wrong secret", func(c string) url.Values {
			return url.Values{"client_id": {DevMetaAppID}, "client_secret": {"nope"}, "redirect_uri": {testRedirect}, "code": {c}}
		}, 0, 1, 0},
		{"wrong client_id", func(c string) url.Values {
			return url.Values{"client_id": {"123"}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {c}}
		}, 0, 101, 0},
		{"missing client_id", func(c string) url.Values {
			return url.Values{"client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {c}}
		}, 0, 101, 0},
		{"unknown code", func(string) url.Values {
			return url.Values{"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {"AQbogus"}}
		}, 0, 100, 0},
		{"unsupported grant", func(c string) url.Values {
			return url.Values{"grant_type": {"password"}, "client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}}
		}, 0, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := e.metaCode("dana", fbScopes, nil, nil)
			e.clock.Advance(tt.advance)
			r := e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + tt.form(code).Encode())
			if r.Status != 400 {
				t.Errorf("status %d", r.Status)
			}
			if c, s := graphError(t, r); c != tt.code || s != tt.sub {
				t.Errorf("got %d/%d, want %d/%d: %s", c, s, tt.code, tt.sub, r.Body)
			}
		})
	}
	// A mismatched redirect does not burn the code.
	code := e.metaCode("dana", fbScopes, nil, nil)
	e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + url.Values{"client_id": {DevMetaAppID},
		"client_secret": {DevMetaAppSecret}, "redirect_uri": {"https://evil.example/"}, "code": {code}}.Encode())
	if r := e.metaExchange(code); r.Status != 200 {
		t.Errorf("code burnt by mismatch: %s", r.Body)
	}
}

func TestMetaPKCE(t *testing.T) {
	e := newEnv(t)
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	challenge := "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	code := e.metaCode("dana", fbScopes, nil, nil, "code_challenge", challenge, "code_challenge_method", "S256")
	base := url.Values{"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {code}}
	bad := e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + base.Encode() + "&code_verifier=wrong")
	if c, _ := graphError(t, bad); c != 100 {
		t.Errorf("bad verifier: %d", c)
	}
	base.Set("code_verifier", verifier)
	if r := e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + base.Encode()); r.Status != 200 {
		t.Errorf("good verifier: %s", r.Body)
	}
}

// metaAppToken is the sandbox app's own token, app id|app secret.
const metaAppToken = DevMetaAppID + "|" + DevMetaAppSecret

// fbExchangePath is the request that trades a user token for a long-lived one.
func fbExchangePath(short string) string {
	return "/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + url.Values{"grant_type": {"fb_exchange_token"},
		"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "fb_exchange_token": {short}}.Encode()
}

// debugToken asks debug_token about input with the app token and returns
// its data.
func (e *env) debugToken(t *testing.T, input string) map[string]any {
	t.Helper()
	r := e.graphGet("debug_token", metaAppToken, "input_token", input)
	if r.Status != 200 {
		t.Fatalf("debug_token %d %s", r.Status, r.Body)
	}
	return r.JSON(t)["data"].(map[string]any)
}

func TestMetaLongLivedAndDebugToken(t *testing.T) {
	e := newEnv(t)
	short := e.metaUserToken("dana", fbScopes+",instagram_basic")
	long := e.metaLongToken(short)
	if long == short || !strings.HasPrefix(long, "EAA") {
		t.Fatalf("long-lived token must be a new EAA token")
	}
	r := e.get(fbExchangePath(short))
	if n := num(t, r.JSON(t)["expires_in"]); n != 5183944 {
		t.Errorf("long expires_in %d", n)
	}
	now := e.clock.Now()
	checkDebugLongLived(t, e, long, now)
	checkDebugIDsAsNumbers(t, e, long)
	checkMetaPageTokens(t, e, short, long, now)
	checkDebugBadInputs(t, e, long)
	checkMetaExpired(t, e, short)
}

// checkDebugLongLived: debug_token on a long-lived user token tells its
// owner, its two expiries and its scopes, granular to the Instagram ids.
func checkDebugLongLived(t *testing.T, e *env, long string, now time.Time) {
	t.Helper()
	d := e.debugToken(t, long)
	if d["type"] != "USER" || d["is_valid"] != true || d["app_id"] != DevMetaAppID || d["user_id"] != "10229000000001" {
		t.Errorf("debug long: %v", d)
	}
	if got := num(t, d["expires_at"]); got != now.Add(5183944*time.Second).Unix() {
		t.Errorf("expires_at %d", got)
	}
	if got := num(t, d["data_access_expires_at"]); got != now.Add(90*24*time.Hour).Unix() {
		t.Errorf("data_access_expires_at %d", got)
	}
	scopes := d["scopes"].([]any)
	if !slices.Contains(scopes, any("pages_manage_posts")) || !slices.Contains(scopes, any("instagram_basic")) {
		t.Errorf("scopes %v", scopes)
	}
	var sawIG bool
	for _, g := range d["granular_scopes"].([]any) {
		gs := g.(map[string]any)
		if gs["scope"] == "instagram_basic" {
			ids := gs["target_ids"].([]any)
			sawIG = len(ids) == 2 && ids[0] == "17841400000000101"
		}
	}
	if !sawIG {
		t.Errorf("granular_scopes %v", d["granular_scopes"])
	}
}

// checkDebugIDsAsNumbers: older documents write the ids as numbers; the
// control API switches.
func checkDebugIDsAsNumbers(t *testing.T, e *env, long string) {
	t.Helper()
	e.control("meta", map[string]any{"debug_token_ids": "number"})
	raw := string(e.graphGet("debug_token", metaAppToken, "input_token", long).Body)
	if !strings.Contains(raw, `"app_id":`+DevMetaAppID+`,`) || !strings.Contains(raw, `"user_id":10229000000001`) {
		t.Errorf("ids as numbers: %s", raw)
	}
	e.control("meta", map[string]any{"debug_token_ids": "string"})
}

// checkMetaPageTokens: Page tokens never expire from a long-lived user
// token, 1 h from a short-lived one.
func checkMetaPageTokens(t *testing.T, e *env, short, long string, now time.Time) {
	t.Helper()
	pageTok := func(user string) string {
		r := e.graphGet("104000000000101", user, "fields", "access_token")
		tok, _ := r.JSON(t)["access_token"].(string)
		if tok == "" {
			t.Fatalf("no page token: %s", r.Body)
		}
		return tok
	}
	pl := e.debugToken(t, pageTok(long))
	if pl["type"] != "PAGE" || num(t, pl["expires_at"]) != 0 || pl["profile_id"] != "104000000000101" {
		t.Errorf("page from long: %v", pl)
	}
	ps := e.debugToken(t, pageTok(short))
	if num(t, ps["expires_at"]) != now.Add(time.Hour).Unix() {
		t.Errorf("page from short: %v", ps)
	}
	if first, again := pageTok(long), pageTok(long); first != again {
		t.Errorf("page token not stable across calls")
	}
}

// checkDebugBadInputs: invalid input, app token input, bad app secret,
// missing input.
func checkDebugBadInputs(t *testing.T, e *env, long string) {
	t.Helper()
	if bad := e.debugToken(t, "EAAnonsense"); bad["is_valid"] != false || bad["error"] == nil {
		t.Errorf("bogus input: %v", bad)
	}
	if app := e.debugToken(t, metaAppToken); app["type"] != "APP" || app["is_valid"] != true {
		t.Errorf("app input: %v", app)
	}
	if c, _ := graphError(t, e.graphGet("debug_token", DevMetaAppID+"|wrong", "input_token", long)); c != 190 {
		t.Errorf("wrong app token: %d", c)
	}
	if c, _ := graphError(t, e.graphGet("debug_token", metaAppToken)); c != 100 {
		t.Errorf("missing input_token: %d", c)
	}
}

// checkMetaExpired: two hours on, the short-lived token is expired:
// is_valid false with a 463 error inside data, and 190/463 everywhere else.
func checkMetaExpired(t *testing.T, e *env, short string) {
	t.Helper()
	e.clock.Advance(2 * time.Hour)
	ex := e.debugToken(t, short)
	eo, _ := ex["error"].(map[string]any)
	if ex["is_valid"] != false || eo == nil || num(t, eo["subcode"]) != 463 || num(t, eo["code"]) != 190 {
		t.Errorf("expired debug: %v", ex)
	}
	if c, s := graphError(t, e.graphGet("me", short)); c != 190 || s != 463 {
		t.Errorf("expired /me: %d/%d", c, s)
	}
	if c, s := graphError(t, e.get(fbExchangePath(short))); c != 190 || s != 463 {
		t.Errorf("exchanging an expired token: %d/%d", c, s)
	}
}
