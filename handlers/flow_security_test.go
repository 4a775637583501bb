package handlers

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCallbackStateAttacks(t *testing.T) {
	k, sb := newFlowKit(t)
	victim := k.browser()
	victim.signup("dana@example.com", "Harbor")
	attacker := k.browser()
	attacker.signup("eve@example.com", "Evil")
	sb.consent("dana")

	// A real callback URL for the victim's flow, not yet visited.
	start := victim.form("/settings/accounts/connect", "/connect/facebook", url.Values{})
	res := victim.getAbs(start.Header.Get("Location"))
	callback, _ := url.Parse(res.Header.Get("Location"))
	q := callback.Query()
	with := func(path string, mod func(url.Values)) string {
		v := url.Values{}
		for key, vals := range q {
			v[key] = vals
		}
		mod(v)
		return path + "?" + v.Encode()
	}
	tests := []struct {
		name string
		b    *browser
		path string
	}{
		{"missing state", victim, with("/oauth/facebook/callback", func(v url.Values) { v.Del("state") })},
		{"wrong state", victim, with("/oauth/facebook/callback", func(v url.Values) { v.Set("state", "forged") })},
		{"oversized state", victim, with("/oauth/facebook/callback", func(v url.Values) { v.Set("state", strings.Repeat("a", 5000)) })},
		{"other session", attacker, with("/oauth/facebook/callback", func(url.Values) {})},
		{"mix-up: wrong platform", victim, with("/oauth/tiktok/callback", func(url.Values) {})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.b.get(tc.path)
			if res.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", res.StatusCode)
			}
			for _, ws := range []int64{1, 2} {
				if n, _ := k.st.CountAccounts(t.Context(), ws); n != 0 {
					t.Fatal("an attack stored an account")
				}
			}
		})
	}
	// Code injection: the attacker completes an authorization of their own
	// at the platform and lures the victim to its callback URL. The state
	// belongs to the attacker's session, so the victim's browser is refused
	// and the attacker's accounts never land in the victim's workspace.
	sb.consent("lee")
	evil := attacker.form("/settings/accounts/connect", "/connect/facebook", url.Values{})
	evilCallback := attacker.getAbs(evil.Header.Get("Location")).Header.Get("Location")
	if res := victim.getAbs(evilCallback); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("victim visiting the attacker's callback: %d, want 400", res.StatusCode)
	}
	sb.consent("dana")

	// The mix-up attempt consumed the victim's flow: replaying the genuine
	// callback now fails too. Start afresh, use it once, then replay it.
	start = victim.form("/settings/accounts/connect", "/connect/facebook", url.Values{})
	res = victim.getAbs(start.Header.Get("Location"))
	cb := res.Header.Get("Location")
	if first := victim.getAbs(cb); first.StatusCode != http.StatusSeeOther {
		t.Fatalf("genuine callback: %d", first.StatusCode)
	}
	if replay := victim.getAbs(cb); replay.StatusCode != http.StatusBadRequest {
		t.Fatalf("replayed callback: %d, want 400", replay.StatusCode)
	}
}

func TestCrossWorkspaceIsNotFound(t *testing.T) {
	k, sb := newFlowKit(t)
	owner := k.browser()
	owner.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	owner.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	sb.consent("dana")
	grant := owner.authorize("facebook", nil).Header.Get("Location")

	other := k.browser()
	other.signup("eve@example.com", "Evil")
	for _, tc := range []struct{ method, path string }{
		{"GET", "/settings/accounts/" + id},
		{"GET", "/settings/accounts/" + id + "/disconnect"},
		{"POST", "/settings/accounts/" + id + "/disconnect"},
		{"DELETE", "/settings/accounts/" + id},
		{"GET", grant},
		{"POST", grant},
		{"GET", "/api/v1/accounts/" + id},
		{"DELETE", "/api/v1/accounts/" + id},
	} {
		for _, target := range []string{tc.path, strings.Replace(tc.path, id, "doesnotexist", 1)} {
			req, _ := http.NewRequest(tc.method, k.srv.URL+target, strings.NewReader(url.Values{"account": {harbor}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-CSRF-Token", other.csrf("/settings/accounts"))
			res := other.do(req)
			if res.StatusCode != http.StatusNotFound {
				t.Errorf("%s %s: %d, want 404", tc.method, target, res.StatusCode)
			}
		}
	}
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 1 {
		t.Fatal("another workspace changed this one's accounts")
	}
	// A member of the workspace sees the account but cannot disconnect it.
	k.addUser("member@example.com", 1, "member")
	m := k.browser()
	m.login("member@example.com")
	if res := m.get("/settings/accounts/" + id); res.StatusCode != http.StatusOK {
		t.Fatalf("member viewing details: %d", res.StatusCode)
	}
	if res := m.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("member disconnecting: %d, want 403", res.StatusCode)
	}
	if res := m.form("/settings/accounts", "/connect/facebook", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("member connecting: %d, want 403", res.StatusCode)
	}
}

// TestNoTokenLeaks runs a whole session, keeps every response, the log and
// the database files, and looks for every token and code the sandbox issued.
func TestNoTokenLeaks(t *testing.T) {
	k, sb := newFlowKit(t)
	var seen bytes.Buffer
	b := k.browser()
	b.c.Transport = recorder{w: &seen, host: strings.TrimPrefix(k.srv.URL, "http://")}
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana", "pages_messaging")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, northwind)
	sb.consent("dana")
	b.choose(b.authorize("instagram", nil).Header.Get("Location"), "17841400000000101")
	// The free plan is full now; more places let TikTok's and Instagram
	// Login's tokens in too.
	if err := k.st.SetPlanLimit(t.Context(), "free", 5); err != nil {
		t.Fatal(err)
	}
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	sb.consent("nova")
	b.authorize("instagram_login", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	if len(accts) != 5 {
		t.Fatalf("%d accounts connected, want 5 (Instagram Login's among them)", len(accts))
	}
	for _, a := range accts {
		b.get("/settings/accounts/" + a.ID)
	}
	b.get("/settings/accounts")
	key := parse(t, b.form("/settings/api-keys", "/settings/api-keys", url.Values{"name": {"x"}})).Find("[data-testid=new-key-value]").Text()
	req, _ := http.NewRequest("GET", k.srv.URL+"/api/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	b.do(req)
	b.form("/settings/accounts", "/settings/accounts/"+accts[0].ID+"/disconnect", url.Values{})

	k.st.Checkpoint(t.Context())
	haystacks := map[string][]byte{"responses": seen.Bytes(), "log": []byte(k.logs.String())}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(dbPath(k)), "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		haystacks[filepath.Base(f)] = b
	}
	tokens := sb.tokens()
	if len(tokens) < 10 {
		t.Fatalf("only %d tokens issued: the session did not run", len(tokens))
	}
	for _, tok := range tokens {
		for name, hay := range haystacks {
			if bytes.Contains(hay, []byte(tok)) {
				t.Errorf("a token issued by the sandbox appears in %s", name)
			}
		}
	}
}

// recorder keeps every response's headers and body from OmniSocial (the
// platform's own redirect legitimately carries the code to the browser).
type recorder struct {
	w    *bytes.Buffer
	host string
}

func (r recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || req.URL.Host != r.host {
		return res, err
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	res.Header.Write(r.w)
	r.w.Write(body)
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}
