package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const testRedirect = "https://app.example/oauth/callback"

// clock is a settable time source for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	sb    *Sandbox
	srv   *httptest.Server
	clock *clock
	hc    *http.Client // does not follow redirects
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, Options{})
}

func newEnvWith(t *testing.T, o Options) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	if o.Now == nil {
		o.Now = c.Now
	}
	sb, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{t: t, sb: sb, srv: srv, clock: c, hc: hc}
}

type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map (numbers stay json.Number so the
// tests can check that a field is a JSON number and not a string).
func (r resp) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

func (e *env) do(req *http.Request) resp {
	e.t.Helper()
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (e *env) get(path string, hdr ...string) resp {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return e.do(req)
}

func (e *env) method(m, path string) resp {
	e.t.Helper()
	req, _ := http.NewRequest(m, e.srv.URL+path, nil)
	return e.do(req)
}

func (e *env) postForm(path string, form url.Values) resp {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// control POSTs a JSON body to the control API and fails the test on 4xx/5xx.
func (e *env) control(path string, body any) resp {
	e.t.Helper()
	r := e.controlRaw("POST", path, body)
	if r.Status != 200 {
		e.t.Fatalf("control %s: %d %s", path, r.Status, r.Body)
	}
	return r
}

func (e *env) controlRaw(method, path string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/sandbox/control/"+path, rd)
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

func (e *env) tokens() []map[string]any {
	e.t.Helper()
	r := e.get("/sandbox/control/tokens")
	var out []map[string]any
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatalf("tokens: %v %s", err, r.Body)
	}
	return out
}

func (e *env) tokenInfo(value string) map[string]any {
	e.t.Helper()
	for _, t := range e.tokens() {
		if t["token"] == value {
			return t
		}
	}
	e.t.Fatalf("token not listed")
	return nil
}

// ---- Meta ------------------------------------------------------------------------

const fbScopes = "pages_show_list,pages_manage_posts,pages_read_engagement,pages_messaging"
const igScopes = "instagram_basic,instagram_content_publish,instagram_manage_comments,pages_show_list,pages_read_engagement"

func fbAuthorizeURL(scope, state string, extra ...string) string {
	q := url.Values{"client_id": {DevMetaAppID}, "redirect_uri": {testRedirect}, "state": {state},
		"scope": {scope}, "response_type": {"code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/sandbox/www.facebook.com/v26.0/dialog/oauth?" + q.Encode()
}

// location parses a redirect's Location and returns its query.
func location(t *testing.T, r resp) url.Values {
	t.Helper()
	if r.Status != http.StatusFound {
		t.Fatalf("want 302, got %d: %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// metaCode runs the dialog with auto-consent and returns the code.
func (e *env) metaCode(persona, scope string, decline []string, pages []string, extra ...string) string {
	e.t.Helper()
	e.control("autoconsent", map[string]any{"enabled": true, "persona": persona, "decline": decline, "pages": pages})
	q := location(e.t, e.get(fbAuthorizeURL(scope, "st8", extra...)))
	if q.Get("code") == "" || q.Get("state") != "st8" {
		e.t.Fatalf("no code/state in redirect: %v", q)
	}
	return q.Get("code")
}

func (e *env) metaExchange(code string) resp {
	e.t.Helper()
	return e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + url.Values{
		"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "redirect_uri": {testRedirect}, "code": {code}}.Encode())
}

// metaUserToken connects a persona and returns a short-lived user token.
func (e *env) metaUserToken(persona, scope string, decline ...string) string {
	e.t.Helper()
	r := e.metaExchange(e.metaCode(persona, scope, decline, nil))
	if r.Status != 200 {
		e.t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)["access_token"].(string)
}

func (e *env) metaLongToken(short string) string {
	e.t.Helper()
	r := e.get("/sandbox/graph.facebook.com/v26.0/oauth/access_token?" + url.Values{"grant_type": {"fb_exchange_token"},
		"client_id": {DevMetaAppID}, "client_secret": {DevMetaAppSecret}, "fb_exchange_token": {short}}.Encode())
	if r.Status != 200 {
		e.t.Fatalf("fb_exchange_token: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)["access_token"].(string)
}

func (e *env) graphGet(path, token string, params ...string) resp {
	e.t.Helper()
	q := url.Values{}
	if token != "" {
		q.Set("access_token", token)
	}
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return e.get("/sandbox/graph.facebook.com/v26.0/" + path + "?" + q.Encode())
}

// graphError checks the Graph error object and returns code and subcode.
func graphError(t *testing.T, r resp) (code, sub int64) {
	t.Helper()
	m := r.JSON(t)
	eo, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", r.Body)
	}
	if eo["type"] != "OAuthException" {
		t.Errorf("type = %v", eo["type"])
	}
	if s, _ := eo["message"].(string); s == "" {
		t.Errorf("empty message")
	}
	if s, _ := eo["fbtrace_id"].(string); s == "" {
		t.Errorf("no fbtrace_id")
	}
	code, _ = eo["code"].(json.Number).Int64()
	if n, ok := eo["error_subcode"].(json.Number); ok {
		sub, _ = n.Int64()
	}
	return code, sub
}

// ---- TikTok ----------------------------------------------------------------------

const ttScopes = "user.info.basic,user.info.profile,user.info.stats,video.list,video.upload,video.publish"

func ttAuthorizeURL(scope string, extra ...string) string {
	q := url.Values{"client_key": {DevTikTokClientKey}, "redirect_uri": {testRedirect}, "state": {"tts"},
		"scope": {scope}, "response_type": {"code"}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return "/sandbox/www.tiktok.com/v2/auth/authorize/?" + q.Encode()
}

func (e *env) ttCode(persona string, decline []string, extra ...string) url.Values {
	e.t.Helper()
	e.control("autoconsent", map[string]any{"enabled": true, "persona": persona, "decline": decline})
	q := location(e.t, e.get(ttAuthorizeURL(ttScopes, extra...)))
	if q.Get("code") == "" || q.Get("state") != "tts" {
		e.t.Fatalf("no code/state: %v", q)
	}
	return q
}

func (e *env) ttToken(form url.Values) resp {
	e.t.Helper()
	if form.Get("client_key") == "" && form.Get("client_id") == "" {
		form.Set("client_key", DevTikTokClientKey)
	}
	if form.Get("client_secret") == "" {
		form.Set("client_secret", DevTikTokClientSecret)
	}
	return e.postForm("/sandbox/open.tiktokapis.com/v2/oauth/token/", form)
}

// ttConnect returns the token response of a full connect as persona.
func (e *env) ttConnect(persona string) map[string]any {
	e.t.Helper()
	code := e.ttCode(persona, nil).Get("code")
	r := e.ttToken(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}})
	if r.Status != 200 {
		e.t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	return r.JSON(e.t)
}

func (e *env) ttRefresh(rt string) resp {
	e.t.Helper()
	return e.ttToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func (e *env) userInfo(at, fields string) resp {
	e.t.Helper()
	return e.get("/sandbox/open.tiktokapis.com/v2/user/info/?fields="+url.QueryEscape(fields), "Authorization", "Bearer "+at)
}

// ttOAuthError checks TikTok's flat OAuth error and returns its code.
func ttOAuthError(t *testing.T, r resp) string {
	t.Helper()
	m := r.JSON(t)
	code, _ := m["error"].(string)
	if code == "" {
		t.Fatalf("no error string: %s", r.Body)
	}
	if _, ok := m["error_description"].(string); !ok {
		t.Errorf("no error_description: %s", r.Body)
	}
	if s, _ := m["log_id"].(string); s == "" {
		t.Errorf("no log_id: %s", r.Body)
	}
	return code
}

// v2Error returns error.code of a v2 envelope after checking its shape.
func v2Error(t *testing.T, r resp) string {
	t.Helper()
	m := r.JSON(t)
	if _, ok := m["data"].(map[string]any); !ok {
		t.Errorf("no data object: %s", r.Body)
	}
	eo, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object: %s", r.Body)
	}
	if _, ok := eo["message"].(string); !ok {
		t.Errorf("no message")
	}
	if s, _ := eo["log_id"].(string); s == "" {
		t.Errorf("no log_id")
	}
	return eo["code"].(string)
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}
