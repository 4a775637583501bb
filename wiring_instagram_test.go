package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"omnisocial/sandbox"
)

// The Instagram app (Instagram Login): with an id and secret the chooser
// offers Instagram without a Facebook Page; the login window is at
// AUTH_URL, the code is exchanged (with the secret) at API_URL, and the
// long-lived token and the profile come from GRAPH_URL. The account is an
// Instagram account.
func wireInstagram(t *testing.T) {
	p := startPlatform(t, 0)
	auth, api, graph := p.URL+"/sandbox/www.instagram.com", p.URL+"/sandbox/api.instagram.com", p.URL+"/sandbox/graph.instagram.com"
	w := boot(t, "OMNISOCIAL_INSTAGRAM_APP_ID", sandbox.DevInstagramAppID, "OMNISOCIAL_INSTAGRAM_APP_SECRET", sandbox.DevInstagramAppSecret,
		"OMNISOCIAL_INSTAGRAM_AUTH_URL", auth, "OMNISOCIAL_INSTAGRAM_API_URL", api, "OMNISOCIAL_INSTAGRAM_GRAPH_URL", graph)
	v := newVisitor(t, w.URL)
	v.signup("nova@example.com", "Nova")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"instagram_login": true, "instagram": false, "tiktok": false})

	p.control("autoconsent", `{"enabled":true,"persona":"nova"}`)
	res, _ := v.do("POST", "/connect/instagram_login", url.Values{})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, auth+"/oauth/authorize?") {
		t.Fatalf("connect: %d %q, want a redirect to %s/oauth/authorize", res.StatusCode, loc, auth)
	}
	if u, _ := url.Parse(loc); u.Query().Get("client_id") != sandbox.DevInstagramAppID {
		t.Errorf("client_id = %q, want OMNISOCIAL_INSTAGRAM_APP_ID", u.Query().Get("client_id"))
	}
	res = v.follow(loc)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("callback: %d %q\n%s", res.StatusCode, res.Header.Get("Location"), w.logs)
	}
	if !slices.Contains(p.requests("/sandbox/api.instagram.com/"), "POST /sandbox/api.instagram.com/oauth/access_token") {
		t.Errorf("no code exchange at OMNISOCIAL_INSTAGRAM_API_URL: %v", p.requests("/sandbox/"))
	}
	if !slices.Contains(p.requests("/sandbox/graph.instagram.com/"), "GET /sandbox/graph.instagram.com/access_token") {
		t.Errorf("no long-lived exchange at OMNISOCIAL_INSTAGRAM_GRAPH_URL: %v", p.requests("/sandbox/"))
	}
	doc := v.page("/settings/accounts")
	if got := squash(doc.Find("[data-testid=account-name]").Text()); got != "Nova Reyes" {
		t.Fatalf("accounts listed: %q", got)
	}
	if got := queryString(t, w.DB, "SELECT platform || ' ' || login FROM social_accounts"); got != "instagram instagram_login" {
		t.Errorf("stored as %q, want an Instagram account held by Instagram login", got)
	}
}
