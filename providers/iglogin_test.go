package providers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"omnisocial/sandbox"
	"omnisocial/vault"
)

type igClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *igClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *igClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// newIGSandbox is a sandbox and an Instagram Login adapter sharing a clock.
func newIGSandbox(t *testing.T) (*sbEnv, *InstagramLogin, *igClock) {
	t.Helper()
	clk := &igClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}
	sb, err := sandbox.New(sandbox.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	base := srv.URL + "/sandbox/"
	e := &sbEnv{t: t, srv: srv, cfg: Apps{Instagram: InstagramLoginConfig{HTTPClient: &http.Client{Timeout: 5 * time.Second},
		AppID: sandbox.DevInstagramAppID, AppSecret: vault.NewToken(sandbox.DevInstagramAppSecret),
		AuthBase: base + "www.instagram.com", APIBase: base + "api.instagram.com", GraphBase: base + "graph.instagram.com"}}}
	a := e.adapter(IGLogin).(*InstagramLogin)
	a.now = clk.Now
	return e, a, clk
}

func (e *sbEnv) igConnect(a *InstagramLogin, persona string, decline ...string) (*Grant, error) {
	e.t.Helper()
	q := e.authorize(a, map[string]any{"persona": persona, "decline": decline}, "")
	if err := CallbackError(IGLogin, q); err != nil {
		return nil, err
	}
	return a.Exchange(e.t.Context(), q.Get("code"), "")
}

func TestInstagramLoginConnects(t *testing.T) {
	for _, tc := range []struct {
		name, persona, shape string
		wantID, wantType     string
		decline              []string
	}{
		{"creator, documented data[] answer", "nova", "data", "17841400000000601", "MEDIA_CREATOR", nil},
		{"creator, flat answer", "nova", "flat", "17841400000000601", "MEDIA_CREATOR", nil},
		{"business account also on dana's Page", "harbor", "data", "17841400000000101", "BUSINESS", nil},
		{"a declined permission", "nova", "data", "17841400000000601", "MEDIA_CREATOR", []string{"instagram_business_content_publish"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, a, clk := newIGSandbox(t)
			e.control("instagram", map[string]any{"token_shape": tc.shape})
			g, err := e.igConnect(a, tc.persona, tc.decline...)
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Accounts) != 1 {
				t.Fatalf("%d accounts", len(g.Accounts))
			}
			acc := g.Accounts[0]
			// The professional account id: the one the Facebook Page path
			// knows, so one account is one row whichever way it came.
			if acc.PlatformUserID != tc.wantID || g.Subject != tc.wantID || acc.Metadata["account_type"] != tc.wantType {
				t.Fatalf("account %s (%v), subject %s", acc.PlatformUserID, acc.Metadata["account_type"], g.Subject)
			}
			if got := acc.Credentials.Expiry.Sub(clk.Now()); got < 59*24*time.Hour {
				t.Fatalf("token lives %v: not the long-lived one", got)
			}
			if len(g.Declined) != len(tc.decline) || (len(tc.decline) > 0 && g.Declined[0] != tc.decline[0]) {
				t.Fatalf("declined %v, want %v", g.Declined, tc.decline)
			}
			e.assertNoSandboxToken("the grant's printed form", fmt.Sprintf("%v %+v %#v", g, g, g))
		})
	}
}

func TestInstagramLoginRefusals(t *testing.T) {
	t.Run("a personal account", func(t *testing.T) {
		e, a, _ := newIGSandbox(t)
		_, err := e.igConnect(a, "pia")
		if err == nil || IsDenied(err) {
			t.Fatalf("personal account: %v (must not read as a cancel)", err)
		}
	})
	t.Run("the person cancels", func(t *testing.T) {
		e, a, _ := newIGSandbox(t)
		e.control("autoconsent", map[string]any{"enabled": true, "persona": "nova", "deny": true})
		q := e.authorize(a, map[string]any{"persona": "nova", "deny": true}, "")
		if err := CallbackError(IGLogin, q); !IsDenied(err) {
			t.Fatalf("cancel: %v", err)
		}
	})
	t.Run("a code used twice", func(t *testing.T) {
		e, a, _ := newIGSandbox(t)
		q := e.authorize(a, map[string]any{"persona": "nova"}, "")
		if _, err := a.Exchange(t.Context(), q.Get("code"), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Exchange(t.Context(), q.Get("code"), ""); !IsPermanent(err) {
			t.Fatalf("second exchange: %v", err)
		}
	})
	t.Run("a wrong app secret", func(t *testing.T) {
		e, a, _ := newIGSandbox(t)
		q := e.authorize(a, map[string]any{"persona": "nova"}, "")
		a.c.AppSecret = vault.NewToken("not-the-secret")
		if _, err := a.Exchange(t.Context(), q.Get("code"), ""); !IsMisconfigured(err) {
			t.Fatalf("wrong secret: %v", err)
		}
	})
}

// The token refreshes itself once a day old and within a month of its
// end; the sandbox refuses a younger one, so a refresh before then would
// fail the check.
func TestInstagramLoginCheckRefreshes(t *testing.T) {
	e, a, clk := newIGSandbox(t)
	g, err := e.igConnect(a, "nova")
	if err != nil {
		t.Fatal(err)
	}
	c := g.Accounts[0].Credentials
	steps := []struct {
		after   time.Duration
		renewed bool
	}{
		{time.Hour, false},           // young: only the profile is read
		{29 * 24 * time.Hour, false}, // a month left: not yet
		{3 * 24 * time.Hour, true},   // within a month of the end: swapped
		{time.Hour, false},           // the new token is young again
	}
	for i, s := range steps {
		clk.Add(s.after)
		got, err := a.Check(t.Context(), c)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if renewed := !got.Credentials.AccessToken.Equal(c.AccessToken); renewed != s.renewed {
			t.Fatalf("step %d: renewed = %v, want %v", i, renewed, s.renewed)
		}
		if got.Username != "nova.makes" {
			t.Fatalf("step %d: profile %q", i, got.Username)
		}
		c = got.Credentials
	}
	if left := c.Expiry.Sub(clk.Now()); left < 59*24*time.Hour {
		t.Fatalf("after the refresh the token lives %v more", left)
	}
}

func TestInstagramLoginCheckFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(e *sbEnv, clk *igClock)
		want    func(error) bool
	}{
		{"expired: the person must sign in again", func(_ *sbEnv, clk *igClock) { clk.Add(61 * 24 * time.Hour) }, IsPermanent},
		{"revoked at Instagram", func(e *sbEnv, _ *igClock) { e.control("revoke", map[string]any{"persona": "nova"}) }, IsPermanent},
		{"Instagram down", func(e *sbEnv, _ *igClock) {
			e.control("faults", map[string]any{"endpoint": "instagram.me", "kind": "5xx", "count": 1})
		}, IsTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, a, clk := newIGSandbox(t)
			g, err := e.igConnect(a, "nova")
			if err != nil {
				t.Fatal(err)
			}
			tc.breakIt(e, clk)
			if _, err := a.Check(t.Context(), g.Accounts[0].Credentials); !tc.want(err) {
				t.Fatalf("check: %v (%v)", err, KindOf(err))
			}
		})
	}
}
