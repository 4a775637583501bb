package providers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"omnisocial/vault"
)

// Secrets used by the fixtures; no error text or log line may contain one.
const (
	appSecret    = "app-secret-0123456789"
	clientSecret = "tt-client-secret-0123"
	userToken    = "EAAB-user-token-secret"
	shortToken   = "EAAB-short-token-secret"
	pageToken    = "EAAB-page-token-secret"
	accessTok    = "act.access-token-secret"
	refreshTok   = "rft.refresh-token-secret"
	newAccess    = "act.new-access-secret"
	newRefresh   = "rft.new-refresh-secret"
	authCode     = "code-secret-0123"
)

var allSecrets = []string{appSecret, clientSecret, userToken, shortToken, pageToken, accessTok, refreshTok,
	newAccess, newRefresh, authCode}

// canned is one fixed answer.
type canned struct {
	status int
	header map[string]string
	body   string
	delay  time.Duration
}

// fakeServer answers "METHOD /path" from routes, 404 otherwise, and counts hits.
func fakeServer(t *testing.T, routes map[string]canned) (*httptest.Server, map[string]int) {
	t.Helper()
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Method + " " + r.URL.Path
		hits[key]++
		c, ok := routes[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"message":"no route","code":803}}`)
			return
		}
		if c.delay > 0 {
			select {
			case <-time.After(c.delay):
			case <-r.Context().Done():
				return
			}
		}
		for k, v := range c.header {
			w.Header().Set(k, v)
		}
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(cmpInt(c.status, 200))
		fmt.Fprint(w, c.body)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// testRedirect is the callback every test adapter names.
const testRedirect = "https://app.example/oauth/x/callback"

// testConfig points every base at srv. Both apps share one HTTP client.
func testConfig(base string) Apps {
	hc := &http.Client{Timeout: 2 * time.Second}
	return Apps{
		Meta: MetaConfig{HTTPClient: hc, AppID: "1234", AppSecret: vault.NewToken(appSecret), GraphBase: base, DialogBase: base},
		TikTok: TikTokConfig{HTTPClient: hc, ClientKey: "ttkey", ClientSecret: vault.NewToken(clientSecret),
			AuthBase: base, APIBase: base},
	}
}

// assertClean fails if s holds a secret or a query string.
func assertClean(t *testing.T, what, s string) {
	t.Helper()
	for _, sec := range allSecrets {
		if strings.Contains(s, sec) {
			t.Errorf("%s leaks %q: %s", what, sec, s)
		}
	}
	if strings.Contains(s, "?") || strings.Contains(s, "access_token=") {
		t.Errorf("%s holds a query string: %s", what, s)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
