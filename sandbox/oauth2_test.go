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

type formField struct {
	typ, name, value  string
	checked, disabled bool
}
