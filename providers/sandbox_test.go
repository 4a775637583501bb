package providers

// Integration tests against the sandbox (omnisocial/sandbox), through its
// public HTTP API only: the adapters and the sandbox are two independent
// readings of PLATFORMS.md.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/sandbox"
	"omnisocial/vault"
)

type sbEnv struct {
	t   *testing.T
	srv *httptest.Server
	cfg Apps
}

func newSandbox(t *testing.T) *sbEnv {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	base := srv.URL + "/sandbox/"
	hc := &http.Client{Timeout: 5 * time.Second}
	return &sbEnv{t: t, srv: srv, cfg: Apps{
		Meta: MetaConfig{HTTPClient: hc, AppID: sandbox.DevMetaAppID, AppSecret: vault.NewToken(sandbox.DevMetaAppSecret),
			DialogBase: base + "www.facebook.com", GraphBase: base + "graph.facebook.com"},
		TikTok: TikTokConfig{HTTPClient: hc, ClientKey: sandbox.DevTikTokClientKey, ClientSecret: vault.NewToken(sandbox.DevTikTokClientSecret),
			AuthBase: base + "www.tiktok.com", APIBase: base + "open.tiktokapis.com"},
		Instagram: InstagramLoginConfig{HTTPClient: hc, AppID: sandbox.DevInstagramAppID, AppSecret: vault.NewToken(sandbox.DevInstagramAppSecret),
			AuthBase: base + "www.instagram.com", APIBase: base + "api.instagram.com", GraphBase: base + "graph.instagram.com"},
	}}
}

func (e *sbEnv) adapter(p Platform) Provider {
	return New(p, e.cfg, "https://app.example/oauth/"+string(p)+"/callback")
}

// control posts to the sandbox control API.
func (e *sbEnv) control(path string, body any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(e.srv.URL+"/sandbox/control/"+path, "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(res.Body)
		e.t.Fatalf("control %s: %s %s", path, res.Status, msg)
	}
}

type sbToken struct {
	Platform, Kind, Token, Persona string
	Valid                          bool
}

func (e *sbEnv) tokens() []sbToken {
	e.t.Helper()
	res, err := http.Get(e.srv.URL + "/sandbox/control/tokens")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out []sbToken
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// assertNoSandboxToken fails if s holds any token the sandbox issued.
func (e *sbEnv) assertNoSandboxToken(what, s string) {
	e.t.Helper()
	for _, tok := range e.tokens() {
		if tok.Token != "" && strings.Contains(s, tok.Token) {
			e.t.Errorf("%s leaks a %s %s token", what, tok.Platform, tok.Kind)
		}
	}
	for _, sec := range []string{sandbox.DevMetaAppSecret, sandbox.DevTikTokClientSecret, sandbox.DevInstagramAppSecret} {
		if strings.Contains(s, sec) {
			e.t.Errorf("%s leaks an app secret", what)
		}
	}
}

// authorize follows the authorize URL under autoconsent and returns the
// redirect's query.
func (e *sbEnv) authorize(a Provider, consent map[string]any, verifier string, rerequest ...string) url.Values {
	e.t.Helper()
	consent["enabled"] = true
	e.control("autoconsent", consent)
	state := oauth2.GenerateVerifier()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(a.AuthCodeURL(AuthRequest{State: state, Verifier: verifier, Rerequest: rerequest}))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode/100 != 3 {
		e.t.Fatalf("authorize: %s, Location %q", res.Status, res.Header.Get("Location"))
	}
	if want := "https://app.example/oauth/" + string(a.Platform()) + "/callback"; loc.Scheme+"://"+loc.Host+loc.Path != want {
		e.t.Errorf("redirected to %s, want %s", loc.Path, want)
	}
	q := loc.Query()
	if q.Get("state") != state {
		e.t.Errorf("state not echoed")
	}
	return q
}

// connect runs the whole flow for persona and returns the grant.
func (e *sbEnv) connect(p Platform, persona string, decline ...string) (Provider, *Grant) {
	e.t.Helper()
	a := e.adapter(p)
	verifier := oauth2.GenerateVerifier()
	q := e.authorize(a, map[string]any{"persona": persona, "decline": decline}, verifier)
	if q.Get("code") == "" {
		e.t.Fatalf("no code in the redirect: %v", q)
	}
	g, err := a.Exchange(e.t.Context(), q.Get("code"), verifier)
	if err != nil {
		e.t.Fatalf("Exchange: %v", err)
	}
	return a, g
}

func TestSandboxFacebookConnect(t *testing.T) {
	e := newSandbox(t)
	a, g := e.connect(Facebook, "dana")
	if g.Subject == "" || g.SubjectName == "" || len(g.Declined) != 0 || g.UserTokenExpiry.Before(time.Now().Add(50*24*time.Hour)) {
		t.Errorf("grant: subject %q %q declined %v user expiry %v", g.Subject, g.SubjectName, g.Declined, g.UserTokenExpiry)
	}
	if len(g.Accounts) != 4 {
		t.Fatalf("found %d Pages, want 4", len(g.Accounts))
	}
	for _, acc := range g.Accounts {
		c := acc.Credentials
		if acc.PlatformUserID == "" || acc.DisplayName == "" || c.AccessToken.IsZero() || c.UserToken.IsZero() ||
			c.AccessToken.Equal(c.UserToken) || c.PlatformUserID != acc.PlatformUserID || !c.Expiry.IsZero() {
			t.Errorf("page %+v", acc)
		}
		if acc.Metadata[MetaFacebookUserID] != g.Subject || acc.Metadata["category"] == nil {
			t.Errorf("page metadata %v", acc.Metadata)
		}
		if !slices.Contains(acc.Scopes, "pages_manage_posts") {
			t.Errorf("page scopes %v", acc.Scopes)
		}
	}
	// Every page token is one the sandbox issued and still accepts.
	valid := map[string]bool{}
	for _, tok := range e.tokens() {
		valid[tok.Token] = tok.Valid
	}
	for _, acc := range g.Accounts {
		if !valid[acc.Credentials.AccessToken.Reveal()] {
			t.Errorf("page %s token unknown to the sandbox or invalid", acc.DisplayName)
		}
	}
	ck, err := a.Check(t.Context(), g.Accounts[0].Credentials)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if ck.DisplayName != g.Accounts[0].DisplayName || !ck.Credentials.AccessToken.Equal(g.Accounts[0].Credentials.AccessToken) ||
		ck.Metadata[MetaUserTokenExpiry] == nil || ck.Credentials.Metadata["fan_count"] == nil || len(ck.Scopes) == 0 {
		t.Errorf("checked %+v", ck)
	}
}

func TestSandboxInstagramConnect(t *testing.T) {
	tests := []struct {
		persona  string
		accounts int
		unlinked int
	}{
		{"dana", 2, 2},
		{"lee", 0, 1},
		{"sam", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.persona, func(t *testing.T) {
			e := newSandbox(t)
			a, g := e.connect(Instagram, tc.persona)
			if len(g.Accounts) != tc.accounts || len(g.Unlinked) != tc.unlinked {
				t.Fatalf("accounts %d unlinked %v, want %d and %d", len(g.Accounts), g.Unlinked, tc.accounts, tc.unlinked)
			}
			for _, name := range g.Unlinked {
				if name == "" {
					t.Error("unlinked Page without a name")
				}
			}
			for _, acc := range g.Accounts {
				if !strings.HasPrefix(acc.PlatformUserID, "1784") || acc.Username == "" || acc.Credentials.AccessToken.IsZero() ||
					acc.Metadata[MetaPageID] == nil || acc.Credentials.Metadata[MetaPageID] != acc.Metadata[MetaPageID] ||
					!slices.Contains(acc.Scopes, "instagram_content_publish") {
					t.Errorf("IG account %+v", acc)
				}
				ck, err := a.Check(t.Context(), acc.Credentials)
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if ck.Username != acc.Username || ck.Metadata["followers_count"] == nil {
					t.Errorf("checked %+v", ck)
				}
			}
			e.assertNoSandboxToken("grant", fmt.Sprintf("%v %+v %#v", g, g, g))
		})
	}
	t.Run("sam has no Pages on Facebook either", func(t *testing.T) {
		_, g := newSandbox(t).connect(Facebook, "sam")
		if len(g.Accounts) != 0 || g.Subject == "" {
			t.Errorf("grant %+v", g)
		}
	})
}

func TestSandboxTikTokRotation(t *testing.T) {
	tests := []struct {
		mode     string
		rotation bool
	}{
		{"current", true},
		{"classic", false},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			e := newSandbox(t)
			e.control("tiktok", map[string]any{"rotation": tc.rotation, "mode": tc.mode})
			a, g := e.connect(TikTok, "bloom")
			if len(g.Accounts) != 1 || len(g.Declined) != 0 || g.Subject != g.Accounts[0].PlatformUserID {
				t.Fatalf("grant %+v", g)
			}
			acc := g.Accounts[0]
			old := acc.Credentials
			if old.RefreshToken.IsZero() || old.AccessToken.IsZero() || acc.DisplayName == "" || acc.Username == "" ||
				acc.Metadata["union_id"] == nil || acc.Metadata["follower_count"] == nil {
				t.Fatalf("account %+v", acc)
			}
			// Lifetimes come from the answers: the modes differ, nothing is hard-coded.
			life := time.Until(old.Expiry)
			if life <= 0 || !old.RefreshExpiry.After(old.Expiry) {
				t.Errorf("expiry %v refresh expiry %v", old.Expiry, old.RefreshExpiry)
			}
			if long := life > 12*time.Hour; long == tc.rotation {
				t.Errorf("%s mode: access token lives %v", tc.mode, life)
			}

			ck, err := a.Check(t.Context(), old)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if ck.DisplayName != acc.DisplayName || len(ck.Scopes) == 0 || ck.Credentials.Expiry.IsZero() ||
				ck.Credentials.AccessToken.Equal(old.AccessToken) {
				t.Errorf("checked %+v", ck)
			}
			if rotated := !ck.Credentials.RefreshToken.Equal(old.RefreshToken); rotated != tc.rotation {
				t.Errorf("refresh token rotated = %v, want %v", rotated, tc.rotation)
			}
			_, err = a.Check(t.Context(), old)
			if tc.rotation != IsPermanent(err) {
				t.Errorf("Check with the old refresh token: %v", err)
			}
			if tc.rotation {
				if e, ok := errors.AsType[*Error](err); !ok || e.Code != "invalid_grant" {
					t.Errorf("old refresh token: %v, want invalid_grant", err)
				}
			}
			if _, err := a.Check(t.Context(), ck.Credentials); err != nil {
				t.Errorf("Check with the new refresh token: %v", err)
			}
		})
	}
}

func TestSandboxDeclined(t *testing.T) {
	tests := []struct {
		p       Platform
		persona string
		decline string
	}{
		{Facebook, "dana", "pages_messaging"},
		{Instagram, "dana", "instagram_manage_comments"},
		{TikTok, "river", "video.publish"},
	}
	for _, tc := range tests {
		t.Run(string(tc.p), func(t *testing.T) {
			e := newSandbox(t)
			a, g := e.connect(tc.p, tc.persona, tc.decline)
			if !slices.Equal(g.Declined, []string{tc.decline}) || slices.Contains(g.Scopes, tc.decline) {
				t.Fatalf("declined %v scopes %v", g.Declined, g.Scopes)
			}
			if len(g.Accounts) == 0 || slices.Contains(g.Accounts[0].Scopes, tc.decline) {
				t.Fatalf("account scopes hold the declined one")
			}
			// "Grant permission" asks again for exactly the missing scope.
			verifier := oauth2.GenerateVerifier()
			q := e.authorize(a, map[string]any{"persona": tc.persona}, verifier, tc.decline)
			g2, err := a.Exchange(t.Context(), q.Get("code"), verifier)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(g2.Scopes, tc.decline) {
				t.Errorf("after rerequest scopes %v lack %s", g2.Scopes, tc.decline)
			}
		})
	}
}

func TestSandboxCancelAndReuse(t *testing.T) {
	e := newSandbox(t)
	for _, p := range Platforms() {
		q := e.authorize(e.adapter(p), map[string]any{"deny": true}, "")
		if err := CallbackError(p, q); !IsDenied(err) || q.Get("code") != "" {
			t.Errorf("%s: cancel gave %v (code %q)", p, err, q.Get("code"))
		}
	}
	// A code is single-use: the second exchange fails for good.
	for _, tc := range []struct {
		p       Platform
		persona string
	}{{Facebook, "lee"}, {TikTok, "bloom"}} {
		a := e.adapter(tc.p)
		verifier := oauth2.GenerateVerifier()
		q := e.authorize(a, map[string]any{"persona": tc.persona}, verifier)
		if _, err := a.Exchange(t.Context(), q.Get("code"), verifier); err != nil {
			t.Fatal(err)
		}
		_, err := a.Exchange(t.Context(), q.Get("code"), verifier)
		if !IsPermanent(err) {
			t.Errorf("%s: reused code gave %v", tc.p, err)
		}
		e.assertNoSandboxToken("error", fmt.Sprintf("%v %+v", err, err))
	}
}
