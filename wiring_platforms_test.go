package main

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"omnisocial/sandbox"
)

// OMNISOCIAL_SIGNUP=closed: the first person signs up, the second cannot.
func wireSignup(t *testing.T) {
	for _, tc := range []struct {
		mode string
		want int
	}{{"open", http.StatusSeeOther}, {"closed", http.StatusForbidden}} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_SIGNUP", tc.mode)
			newVisitor(t, w.URL).signup("first@example.com", "First")
			res, _ := newVisitor(t, w.URL).do("POST", "/signup", url.Values{"name": {"S"}, "email": {"second@example.com"},
				"password": {"correct horse battery"}, "workspace": {"Second"}})
			if res.StatusCode != tc.want {
				t.Fatalf("second sign-up: %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
}

// OMNISOCIAL_PLAN_LIMITS: the accounts page counts against the limit.
func wirePlanLimits(t *testing.T) {
	for _, tc := range []struct{ limits, want string }{
		{"", "0 of 3 accounts used"},
		{"free=1,pro=2,business=4", "0 of 1 accounts used"},
	} {
		t.Run(cmp.Or(tc.limits, "default"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_PLAN_LIMITS", tc.limits)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			if got := squash(v.page("/settings/accounts").Find("[data-testid=usage]").Text()); got != tc.want {
				t.Fatalf("usage %q, want %q", got, tc.want)
			}
		})
	}
}

// The Meta app: with an id and secret Facebook is offered; the log-in
// dialog is at DIALOG_URL with GRAPH_VERSION; the code is exchanged (with
// the secret) at GRAPH_URL with GRAPH_VERSION. TikTok, without
// credentials or sandbox, shows as not configured.
func wireFacebook(t *testing.T) {
	p := startPlatform(t, 0)
	dialog, graph := p.URL+"/sandbox/www.facebook.com", p.URL+"/sandbox/graph.facebook.com"
	w := boot(t, "OMNISOCIAL_FACEBOOK_APP_ID", sandbox.DevMetaAppID, "OMNISOCIAL_FACEBOOK_APP_SECRET", sandbox.DevMetaAppSecret,
		"OMNISOCIAL_FACEBOOK_GRAPH_VERSION", "v23.0", "OMNISOCIAL_FACEBOOK_DIALOG_URL", dialog, "OMNISOCIAL_FACEBOOK_GRAPH_URL", graph)
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": true, "instagram": true, "tiktok": false})

	p.control("autoconsent", `{"enabled":true,"persona":"dana"}`)
	res, _ := v.do("POST", "/connect/facebook", url.Values{})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, dialog+"/v23.0/dialog/oauth?") {
		t.Fatalf("connect: %d %q, want a redirect to %s/v23.0/dialog/oauth", res.StatusCode, loc, dialog)
	}
	if u, _ := url.Parse(loc); u.Query().Get("client_id") != sandbox.DevMetaAppID {
		t.Errorf("client_id = %q, want OMNISOCIAL_FACEBOOK_APP_ID", u.Query().Get("client_id"))
	}
	res = v.follow(loc)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/settings/accounts/choose/") {
		t.Fatalf("callback: %d %q (the code exchange with the app secret failed?)\n%s", res.StatusCode, res.Header.Get("Location"), w.logs)
	}
	graphCalls := p.requests("/sandbox/graph.facebook.com/")
	if !slices.ContainsFunc(graphCalls, func(s string) bool {
		return strings.Contains(s, "/sandbox/graph.facebook.com/v23.0/oauth/access_token")
	}) {
		t.Errorf("no code exchange at OMNISOCIAL_FACEBOOK_GRAPH_URL/v23.0: %v", graphCalls)
	}
	for _, c := range graphCalls {
		if !strings.Contains(c, "/v23.0/") {
			t.Errorf("a Graph call not on OMNISOCIAL_FACEBOOK_GRAPH_VERSION: %s", c)
		}
	}
}

// The TikTok app: with a key and secret TikTok is offered; authorization
// is at AUTH_URL; the code is exchanged (with the secret) at API_URL.
// Facebook, without credentials or sandbox, shows as not configured.
func wireTikTok(t *testing.T) {
	p := startPlatform(t, 0)
	auth, api := p.URL+"/sandbox/www.tiktok.com", p.URL+"/sandbox/open.tiktokapis.com"
	w := boot(t, "OMNISOCIAL_TIKTOK_CLIENT_KEY", sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET", sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL", auth, "OMNISOCIAL_TIKTOK_API_URL", api)
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	assertConfigured(t, v.page("/settings/accounts/connect"), map[string]bool{"facebook": false, "instagram": false, "tiktok": true})

	p.control("autoconsent", `{"enabled":true,"persona":"bloom"}`)
	res, _ := v.do("POST", "/connect/tiktok", url.Values{})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, auth+"/v2/auth/authorize/?") {
		t.Fatalf("connect: %d %q, want a redirect to %s", res.StatusCode, loc, auth)
	}
	if u, _ := url.Parse(loc); u.Query().Get("client_key") != sandbox.DevTikTokClientKey {
		t.Errorf("client_key = %q, want OMNISOCIAL_TIKTOK_CLIENT_KEY", u.Query().Get("client_key"))
	}
	res = v.follow(loc)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("callback: %d %q (the code exchange with the client secret failed?)\n%s", res.StatusCode, res.Header.Get("Location"), w.logs)
	}
	if calls := p.requests("/sandbox/open.tiktokapis.com/"); !slices.Contains(calls, "POST /sandbox/open.tiktokapis.com/v2/oauth/token/ authorization_code") {
		t.Errorf("no code exchange at OMNISOCIAL_TIKTOK_API_URL: %v", calls)
	}
	if got := squash(v.page("/settings/accounts").Find("[data-testid=account-name]").Text()); got == "" {
		t.Error("no account listed after connecting")
	}
}

// OMNISOCIAL_TRUSTED_PROXIES: behind a trusted proxy each client address
// has its own log-in budget; otherwise the header is ignored and the
// proxy's address is spent.
func wireProxies(t *testing.T) {
	tests := []struct {
		proxies  string
		wantNext int
	}{
		{"", http.StatusTooManyRequests},
		{"127.0.0.0/8", http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(cmp.Or(tc.proxies, "none"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_TRUSTED_PROXIES", tc.proxies)
			v := newVisitor(t, w.URL)
			try := func(i int, ip string) int {
				res, _ := v.do("POST", "/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"wrong password"}},
					"X-Forwarded-For", ip)
				return res.StatusCode
			}
			for i := range 5 {
				if got := try(i, "203.0.113.1"); got != http.StatusUnprocessableEntity {
					t.Fatalf("bad log-in %d: %d", i+1, got)
				}
			}
			if got := try(5, "203.0.113.1"); got != http.StatusTooManyRequests {
				t.Fatalf("sixth bad log-in from one client: %d, want 429", got)
			}
			if got := try(6, "203.0.113.2"); got != tc.wantNext {
				t.Fatalf("a log-in from another client: %d, want %d", got, tc.wantNext)
			}
			if tc.proxies != "" && !strings.Contains(w.logs.String(), "client=203.0.113.2") {
				t.Errorf("the log does not name the client behind the proxy:\n%s", w.logs)
			}
		})
	}
}
