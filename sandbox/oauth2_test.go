package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// These tests drive the sandbox the way the production adapters will: with a
// golang.org/x/oauth2 Config whose endpoints point at it.

func (e *env) fbConfig(scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: DevMetaAppID, ClientSecret: DevMetaAppSecret, RedirectURL: testRedirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:   e.srv.URL + "/sandbox/www.facebook.com/v26.0/dialog/oauth",
			TokenURL:  e.srv.URL + "/sandbox/graph.facebook.com/v26.0/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams, // never auto-detect with single-use codes
		},
	}
}

func (e *env) ctx() context.Context {
	return context.WithValue(context.Background(), oauth2.HTTPClient, e.srv.Client())
}

func (e *env) getAbs(u string) resp {
	e.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return e.do(req)
}

func getJSON(t *testing.T, c *http.Client, u string, v any) int {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", u, err, b)
	}
	return res.StatusCode
}

func TestOAuth2Facebook(t *testing.T) {
	e := newEnv(t)
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "dana"})
	cfg := e.fbConfig()
	authURL := cfg.AuthCodeURL("fb-state", oauth2.SetAuthURLParam("scope", fbScopes))
	q := location(t, e.getAbs(authURL))
	if q.Get("state") != "fb-state" {
		t.Fatalf("state %q", q.Get("state"))
	}
	tok, err := cfg.Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "EAA") || tok.Type() != "Bearer" || tok.Expiry.IsZero() || tok.RefreshToken != "" {
		t.Errorf("token %+v", tok)
	}
	client := cfg.Client(e.ctx(), tok)
	var raw struct {
		Data []map[string]any `json:"data"`
	}
	if st := getJSON(t, client, e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/accounts?fields=id,name,access_token", &raw); st != 200 {
		t.Fatalf("accounts %d", st)
	}
	if len(raw.Data) != 4 {
		t.Fatalf("pages %v", raw.Data)
	}
	pageTok := raw.Data[0]["access_token"].(string)
	var me map[string]any
	getJSON(t, oauth2.NewClient(e.ctx(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: pageTok})),
		e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me?fields=id,name", &me)
	if me["id"] != raw.Data[0]["id"] {
		t.Errorf("page token /me = %v", me)
	}

	// x/oauth2 cannot read Graph's error object: ErrorCode stays empty and the
	// adapter must parse the body, which carries 100/36009.
	_, err = cfg.Exchange(e.ctx(), q.Get("code"))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("reuse: %v", err)
	}
	if re.Response.StatusCode != 400 || !bytes.Contains(re.Body, []byte(`"error_subcode":36009`)) {
		t.Errorf("reuse: %d %s", re.Response.StatusCode, re.Body)
	}
}

func TestOAuth2InstagramThroughFacebook(t *testing.T) {
	e := newEnv(t)
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "dana"})
	cfg := e.fbConfig()
	q := location(t, e.getAbs(cfg.AuthCodeURL("ig", oauth2.SetAuthURLParam("scope", igScopes))))
	tok, err := cfg.Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	client := cfg.Client(e.ctx(), tok)
	var accts struct {
		Data []struct {
			ID string `json:"id"`
			IG *struct {
				ID        string `json:"id"`
				Username  string `json:"username"`
				Followers int    `json:"followers_count"`
			} `json:"instagram_business_account"`
		} `json:"data"`
	}
	getJSON(t, client, e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/accounts?fields="+
		url.QueryEscape("id,name,access_token,instagram_business_account{id,username,name,profile_picture_url,followers_count}"), &accts)
	var igIDs []string
	for _, p := range accts.Data {
		if p.IG != nil {
			igIDs = append(igIDs, p.IG.ID)
		}
	}
	if len(igIDs) != 2 {
		t.Fatalf("IG accounts %v", igIDs)
	}
	var ig map[string]any
	if st := getJSON(t, client, e.srv.URL+"/sandbox/graph.facebook.com/v26.0/"+igIDs[0]+
		"?fields=id,username,name,profile_picture_url,followers_count,follows_count,media_count", &ig); st != 200 {
		t.Fatalf("ig user %d %v", st, ig)
	}
	if ig["username"] != "harborcoffee" || ig["media_count"] != float64(318) {
		t.Errorf("ig %v", ig)
	}
	var perms struct {
		Data []struct{ Permission, Status string } `json:"data"`
	}
	getJSON(t, client, e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/permissions", &perms)
	granted := map[string]bool{}
	for _, p := range perms.Data {
		granted[p.Permission] = p.Status == "granted"
	}
	for _, sc := range strings.Split(igScopes, ",") {
		if !granted[sc] {
			t.Errorf("%s not granted", sc)
		}
	}
}

func (e *env) tiktokConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: "", ClientSecret: DevTikTokClientSecret, RedirectURL: testRedirect,
		Endpoint: oauth2.Endpoint{
			TokenURL:  e.srv.URL + "/sandbox/open.tiktokapis.com/v2/oauth/token/",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// tiktokAuthURL is built by hand: Login Kit wants client_key and comma scopes.
func (e *env) tiktokAuthURL(state string, extra ...string) string {
	q := url.Values{"client_key": {DevTikTokClientKey}, "scope": {ttScopes}, "response_type": {"code"},
		"redirect_uri": {testRedirect}, "state": {state}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return e.srv.URL + "/sandbox/www.tiktok.com/v2/auth/authorize/?" + q.Encode()
}

// clientKeyTransport adds client_key to token requests, which TokenSource's
// refresh does not send on its own.
type clientKeyTransport struct{ key string }

func (c clientKeyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	form.Set("client_key", c.key)
	body := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(body))
	r2.ContentLength = int64(len(body))
	return http.DefaultTransport.RoundTrip(r2)
}

func TestOAuth2TikTok(t *testing.T) {
	e := newEnv(t)
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "bloom"})
	verifier := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier)) // TikTok's documented challenge: hex, not base64url
	q := location(t, e.getAbs(e.tiktokAuthURL("tt-state", "code_challenge", hex.EncodeToString(sum[:]), "code_challenge_method", "S256")))
	if q.Get("state") != "tt-state" || q.Get("scopes") != ttScopes {
		t.Fatalf("callback %v", q)
	}
	cfg := e.tiktokConfig()
	tok, err := cfg.Exchange(e.ctx(), q.Get("code"), oauth2.SetAuthURLParam("client_key", DevTikTokClientKey), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "act.") || !strings.HasPrefix(tok.RefreshToken, "rft.") || tok.Type() != "Bearer" {
		t.Errorf("token %+v", tok)
	}
	if tok.Extra("open_id") != "b1003a7e-0c5d-4f3b-9e2a-6b1000000001" || tok.Extra("refresh_expires_in") != float64(180*86400) {
		t.Errorf("extras open_id=%v refresh_expires_in=%v", tok.Extra("open_id"), tok.Extra("refresh_expires_in"))
	}
	var info struct {
		Data  struct{ User map[string]any } `json:"data"`
		Error struct{ Code string }         `json:"error"`
	}
	getJSON(t, cfg.Client(e.ctx(), tok), e.srv.URL+"/sandbox/open.tiktokapis.com/v2/user/info/?fields=open_id,display_name,username", &info)
	if info.Error.Code != "ok" || info.Data.User["username"] != "bloombotanics" {
		t.Errorf("user info %+v", info)
	}

	// TokenSource alone refreshes without client_key: TikTok refuses it.
	expired := *tok
	expired.Expiry = expired.Expiry.Add(-3 * time.Hour)
	_, err = cfg.TokenSource(e.ctx(), &expired).Token()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("refresh without client_key: %v", err)
	}
	// With a transport that adds client_key it works, and the refresh token rotates.
	shim := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: clientKeyTransport{DevTikTokClientKey}})
	fresh, err := cfg.TokenSource(shim, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh did not rotate")
	}
	_, err = cfg.TokenSource(shim, &expired).Token() // the old refresh token again
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("rotated-away refresh token: %v", err)
	}
}

// ---- the HTML consent form, driven like a browser ----------------------------

type htmlForm struct {
	action string
	fields []formField
}

type formField struct {
	typ, name, value  string
	checked, disabled bool
}

func parseForm(t *testing.T, body []byte) htmlForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var f htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			has := map[string]bool{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
				has[a.Key] = true
			}
			switch n.Data {
			case "form":
				f.action = attr["action"]
			case "input", "button":
				typ := attr["type"]
				if n.Data == "button" {
					typ = "submit"
				}
				f.fields = append(f.fields, formField{typ, attr["name"], attr["value"], has["checked"], has["disabled"]})
			case "script":
				t.Errorf("consent page contains a script")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if f.action == "" {
		t.Fatalf("no form in page")
	}
	return f
}

// submit builds what a browser would send: hidden fields, the checked
// boxes after toggles, the chosen radio and the clicked button.
func (f htmlForm) submit(persona string, untick map[string]bool, button string) url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		switch {
		case fl.disabled:
		case fl.typ == "hidden":
			v.Add(fl.name, fl.value)
		case fl.typ == "radio" && (persona == "" && fl.checked || fl.value == persona):
			v.Set(fl.name, fl.value)
		case fl.typ == "checkbox" && fl.checked && !untick[fl.value]:
			v.Add(fl.name, fl.value)
		case fl.typ == "submit" && fl.value == button:
			v.Set(fl.name, fl.value)
		}
	}
	return v
}

func TestConsentFormFacebook(t *testing.T) {
	e := newEnv(t)
	cfg := e.fbConfig()
	page := e.getAbs(cfg.AuthCodeURL("form-st", oauth2.SetAuthURLParam("scope", fbScopes)))
	if page.Status != 200 {
		t.Fatalf("consent page %d", page.Status)
	}
	for _, want := range []string{"Dana Whitfield", "Harbor Coffee Roasters", "Pine &amp; Pixel Design", "Create and manage content on your Page",
		`href="/sandbox/static/consent.css"`, `src="data:image/svg`, "Continue", "Cancel"} {
		if !bytes.Contains(page.Body, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if css := e.get("/sandbox/static/consent.css"); css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet %d", css.Status)
	}
	form := parseForm(t, page.Body)
	// Untick one Page and one permission, then Continue.
	vals := form.submit("dana", map[string]bool{"104000000000102": true, "pages_messaging": true}, "allow")
	r := e.postForm(form.action, vals)
	q := location(t, r)
	if q.Get("state") != "form-st" {
		t.Fatalf("redirect %v", q)
	}
	if !strings.HasSuffix(r.Header.Get("Location"), "#_=_") {
		t.Errorf("Facebook appends #_=_: %s", r.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	var accts struct{ Data []map[string]any }
	getJSON(t, cfg.Client(e.ctx(), tok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/accounts", &accts)
	if len(accts.Data) != 3 {
		t.Errorf("pages after unticking one: %d", len(accts.Data))
	}
	for _, p := range accts.Data {
		if p["id"] == "104000000000102" {
			t.Errorf("unticked Page returned")
		}
	}
	var perms struct{ Data []map[string]string }
	getJSON(t, cfg.Client(e.ctx(), tok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/permissions", &perms)
	status := map[string]string{}
	for _, p := range perms.Data {
		status[p["permission"]] = p["status"]
	}
	if status["pages_messaging"] != "declined" || status["pages_manage_posts"] != "granted" {
		t.Errorf("permissions %v", status)
	}

	// Another persona, and Cancel.
	form = parseForm(t, e.getAbs(cfg.AuthCodeURL("c", oauth2.SetAuthURLParam("scope", fbScopes))).Body)
	lee := location(t, e.postForm(form.action, form.submit("lee", nil, "allow")))
	ltok, err := cfg.Exchange(e.ctx(), lee.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	getJSON(t, cfg.Client(e.ctx(), ltok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me", &me)
	if me["name"] != "Lee Park" {
		t.Errorf("persona picker: %v", me)
	}
	cancel := location(t, e.postForm(form.action, form.submit("", nil, "cancel")))
	if cancel.Get("error") != "access_denied" || cancel.Get("error_reason") != "user_denied" || cancel.Get("state") != "c" {
		t.Errorf("cancel %v", cancel)
	}
}

func TestConsentFormTikTok(t *testing.T) {
	e := newEnv(t)
	page := e.getAbs(e.tiktokAuthURL("tf"))
	if page.Status != 200 || !bytes.Contains(page.Body, []byte("River Tan")) || !bytes.Contains(page.Body, []byte("Allow")) {
		t.Fatalf("consent page %d", page.Status)
	}
	form := parseForm(t, page.Body)
	// user.info.basic is locked; untick video.publish; pick river.
	q := location(t, e.postForm(form.action, form.submit("river", map[string]bool{"video.publish": true, "user.info.basic": true}, "allow")))
	if q.Get("scopes") != "user.info.basic,user.info.profile,user.info.stats,video.list,video.upload" {
		t.Errorf("scopes %q", q.Get("scopes"))
	}
	tok, err := e.tiktokConfig().Exchange(e.ctx(), q.Get("code"), oauth2.SetAuthURLParam("client_key", DevTikTokClientKey))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("open_id") != "7e5a0c2d-4b1f-4d8e-a6c3-6b1000000002" || tok.Extra("scope") != q.Get("scopes") {
		t.Errorf("token extras %v %v", tok.Extra("open_id"), tok.Extra("scope"))
	}
	cancel := location(t, e.postForm(form.action, form.submit("", nil, "cancel")))
	if cancel.Get("error") != "access_denied" || cancel.Get("state") != "tf" {
		t.Errorf("cancel %v", cancel)
	}
}
