package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/vault"
)

func TestSandboxRevoked(t *testing.T) {
	tests := []struct {
		p       Platform
		persona string
		byApp   bool // revoke through the adapter rather than the control API
		reason  string
	}{
		{Facebook, "dana", false, "removed"},
		{Instagram, "dana", false, "removed"},
		{TikTok, "bloom", false, "TikTok rejected"},
		{Facebook, "lee", true, "removed"},
		{TikTok, "river", true, "TikTok rejected"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.p, tc.persona), func(t *testing.T) {
			e := newSandbox(t)
			a, g := e.connect(tc.p, tc.persona)
			creds := g.Accounts[0].Credentials
			if tc.byApp {
				if err := a.Revoke(t.Context(), creds); err != nil {
					t.Fatalf("Revoke: %v", err)
				}
			} else {
				e.control("revoke", map[string]any{"persona": tc.persona})
			}
			_, err := a.Check(t.Context(), creds)
			er, ok := errors.AsType[*Error](err)
			if !ok || er.Kind != Permanent || !strings.Contains(er.Reason, tc.reason) {
				t.Fatalf("Check after revoke: %v, want Permanent with %q", err, tc.reason)
			}
			e.assertNoSandboxToken("error", fmt.Sprintf("%v %+v %#v", err, err, err))
		})
	}
}

// faultCase is one fault the sandbox injects at an endpoint and the error
// Check (or Exchange) must make of it.
type faultCase struct {
	p           Platform
	endpoint    string
	kind        string
	exchange    bool
	want        Kind
	retry       time.Duration // exact when > 0; -1: any positive
	wantChecked bool
}

func TestSandboxFaults(t *testing.T) {
	tests := []faultCase{
		{p: Facebook, endpoint: "meta.debug_token", kind: "429", want: Transient, retry: -1},
		{p: Facebook, endpoint: "meta.node", kind: "rate_limit", want: Transient, retry: -1},
		{p: Instagram, endpoint: "meta.node", kind: "5xx", want: Transient},
		{p: Facebook, endpoint: "meta.debug_token", kind: "timeout", want: Transient},
		{p: Facebook, endpoint: "meta.debug_token", kind: "invalid_grant", want: Permanent},
		{p: Facebook, endpoint: "meta.token", kind: "5xx", exchange: true, want: Transient},
		{p: Instagram, endpoint: "meta.accounts", kind: "rate_limit", exchange: true, want: Transient, retry: -1},
		{p: Facebook, endpoint: "meta.permissions", kind: "timeout", exchange: true, want: Transient},
		{p: TikTok, endpoint: "tiktok.token", kind: "429", want: Transient, retry: 30 * time.Second},
		{p: TikTok, endpoint: "tiktok.token", kind: "rate_limit", want: Transient, retry: 30 * time.Second},
		{p: TikTok, endpoint: "tiktok.token", kind: "5xx", want: Transient},
		{p: TikTok, endpoint: "tiktok.token", kind: "timeout", want: Transient},
		{p: TikTok, endpoint: "tiktok.token", kind: "invalid_grant", want: Permanent},
		{p: TikTok, endpoint: "tiktok.userinfo", kind: "5xx", want: Transient, wantChecked: true},
		{p: TikTok, endpoint: "tiktok.userinfo", kind: "rate_limit", want: Transient, retry: 30 * time.Second, wantChecked: true},
		{p: TikTok, endpoint: "tiktok.token", kind: "5xx", exchange: true, want: Transient},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s/%s", tc.p, tc.endpoint, tc.kind)
		if tc.exchange {
			name += "/exchange"
		}
		t.Run(name, tc.run)
	}
}

// run connects (or authorizes) through the sandbox, injects the fault,
// checks the *Error, and that a transient fault leaves the account
// checkable.
func (c faultCase) run(t *testing.T) {
	e := newSandbox(t)
	e.cfg.Meta.HTTPClient.Timeout = 500 * time.Millisecond // the timeout fault outlasts it
	persona := map[Platform]string{Facebook: "dana", Instagram: "dana", IGLogin: "nova", TikTok: "bloom"}[c.p]
	fault := map[string]any{"endpoint": c.endpoint, "kind": c.kind, "count": 1, "retry_after": 30}
	var err error
	var ck *Checked
	var creds Credentials
	a := e.adapter(c.p)
	if c.exchange {
		verifier := oauth2.GenerateVerifier()
		q := e.authorize(a, map[string]any{"persona": persona}, verifier)
		e.control("faults", fault)
		_, err = a.Exchange(t.Context(), q.Get("code"), verifier)
	} else {
		var g *Grant
		a, g = e.connect(c.p, persona)
		creds = g.Accounts[0].Credentials
		e.control("faults", fault)
		ck, err = a.Check(t.Context(), creds)
	}
	er, ok := errors.AsType[*Error](err)
	if !ok || er.Kind != c.want {
		t.Fatalf("err = %v, want %s", err, c.want)
	}
	if c.retry > 0 && er.RetryAfter != c.retry || c.retry < 0 && er.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v, want %v", er.RetryAfter, c.retry)
	}
	if c.kind == "timeout" && er.Code != "timeout" {
		t.Errorf("code %q, want timeout", er.Code)
	}
	e.assertNoSandboxToken("error", fmt.Sprintf("%v %+v %#v", err, err, err))
	if (ck != nil) != c.wantChecked {
		t.Fatalf("checked returned = %v, want %v", ck != nil, c.wantChecked)
	}
	if c.exchange || c.want == Permanent {
		return
	}
	// The account survives a transient fault: the next check passes,
	// with the rotated credentials if the failed one returned them.
	if ck != nil {
		creds = ck.Credentials
	}
	if _, err := a.Check(t.Context(), creds); err != nil {
		t.Errorf("Check after the fault: %v", err)
	}
}

func TestSandboxWrongAppSecret(t *testing.T) {
	for _, p := range Platforms() {
		t.Run(string(p), func(t *testing.T) {
			e := newSandbox(t)
			e.cfg.Meta.AppSecret = vault.NewToken("not-the-secret")
			e.cfg.TikTok.ClientSecret = vault.NewToken("not-the-secret")
			e.cfg.Instagram.AppSecret = vault.NewToken("not-the-secret")
			a := e.adapter(p)
			verifier := oauth2.GenerateVerifier()
			q := e.authorize(a, map[string]any{"persona": map[Platform]string{Facebook: "dana", Instagram: "dana", IGLogin: "nova", TikTok: "bloom"}[p]}, verifier)
			_, err := a.Exchange(t.Context(), q.Get("code"), verifier)
			if !IsMisconfigured(err) {
				t.Errorf("err = %v, want Misconfigured", err)
			}
			if strings.Contains(fmt.Sprint(err), "not-the-secret") {
				t.Error("error leaks the secret")
			}
		})
	}
}

// TestSandboxRevokeSuccessForms: every documented success answer of a
// revocation is success (PLATFORMS.md §8): TikTok's empty body (the
// sandbox's default) and {}; Graph's bare true (the default) and
// {"success":true}. The revocation outbox counts any other answer as a
// failure to retry, or as "already revoked" when Permanent.
func TestSandboxRevokeSuccessForms(t *testing.T) {
	tests := []struct {
		p       Platform
		persona string
		control string // "" = the sandbox's strict default form
		form    string
	}{
		{TikTok, "bloom", "", "empty"},
		{TikTok, "bloom", "tiktok", "object"},
		{Facebook, "dana", "", "true"},
		{Instagram, "dana", "meta", "object"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s", tc.p, tc.form), func(t *testing.T) {
			e := newSandbox(t)
			if tc.control != "" {
				e.control(tc.control, map[string]any{"revoke_body": tc.form})
			}
			a, g := e.connect(tc.p, tc.persona)
			creds := g.Accounts[0].Credentials
			if err := a.Revoke(t.Context(), creds); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			// It really was revoked, and revoking again finds it dead.
			if _, err := a.Check(t.Context(), creds); !IsPermanent(err) {
				t.Errorf("Check after revoke: %v", err)
			}
			if err := a.Revoke(t.Context(), creds); err != nil && !IsPermanent(err) {
				t.Errorf("second Revoke: %v (want nil or Permanent)", err)
			}
		})
	}
}

// TestSandboxGraphErrorTable runs every row of the Graph error table
// (PLATFORMS.md §1.7, §5, §8) through the sandbox, as the answer to the
// profile call of a check, and checks the adapter's class.
func TestSandboxGraphErrorTable(t *testing.T) {
	tests := []struct {
		code, sub int
		want      Kind
	}{
		{1, 0, Transient}, {2, 0, Transient},
		{3, 0, Permanent}, // capability or permissions issue: not transient (§8)
		{4, 0, Transient}, {17, 0, Transient}, {32, 0, Transient}, {341, 0, Transient},
		{368, 1390008, Transient}, {613, 0, Transient}, {80001, 0, Transient}, {80002, 0, Transient},
		{10, 0, Permanent}, {200, 0, Permanent}, {230, 0, Permanent}, {299, 0, Permanent},
		{102, 0, Permanent},
		{190, 0, Permanent}, {190, 458, Permanent}, {190, 459, Permanent}, {190, 460, Permanent},
		{190, 463, Permanent}, {190, 464, Permanent}, {190, 467, Permanent}, {190, 492, Permanent},
		{100, 0, Permanent}, {100, 33, Permanent}, {100, 36007, Permanent}, {100, 36009, Permanent},
		{12345, 0, Transient}, // unknown: never condemn an account on it
	}
	e := newSandbox(t)
	a, g := e.connect(Facebook, "lee")
	creds := g.Accounts[0].Credentials
	for _, tc := range tests {
		name := fmt.Sprint(tc.code)
		if tc.sub != 0 {
			name += fmt.Sprintf("/%d", tc.sub)
		}
		t.Run(name, func(t *testing.T) {
			e.control("faults", map[string]any{"endpoint": "meta.node", "kind": "graph_error", "code": tc.code, "subcode": tc.sub})
			_, err := a.Check(t.Context(), creds)
			er, ok := errors.AsType[*Error](err)
			if !ok || er.Kind != tc.want || er.Code != name {
				t.Fatalf("err = %v, want %s with code %s", err, tc.want, name)
			}
			if er.Reason == "" {
				t.Error("no reason in words")
			}
		})
	}
	if _, err := a.Check(t.Context(), creds); err != nil {
		t.Errorf("the faults changed nothing, yet the account fails: %v", err)
	}
}

// TestSandboxDebugTokenIDs: debug_token's app_id and user_id are strings in
// current documents and numbers in older ones (PLATFORMS.md §8). Both must
// connect and check, and both still prove the token is the app's and the
// signed-in person's.
func TestSandboxDebugTokenIDs(t *testing.T) {
	for _, form := range []string{"string", "number"} {
		for _, p := range []Platform{Facebook, Instagram} {
			t.Run(form+"/"+string(p), func(t *testing.T) {
				e := newSandbox(t)
				e.control("meta", map[string]any{"debug_token_ids": form})
				a, g := e.connect(p, "dana")
				if g.Subject != "10229000000001" || len(g.Accounts) == 0 {
					t.Fatalf("grant %+v", g)
				}
				if _, err := a.Check(t.Context(), g.Accounts[0].Credentials); err != nil {
					t.Fatalf("Check: %v", err)
				}
			})
		}
	}
	t.Run("both forms read as the same decimal id", func(t *testing.T) {
		for _, form := range []string{"string", "number"} {
			var d debugInfo
			body := `{"app_id":"999","user_id":"10229000000001"}`
			if form == "number" {
				body = `{"app_id":999,"user_id":10229000000001}`
			}
			if err := json.Unmarshal([]byte(body), &d); err != nil || d.AppID != "999" || d.UserID != "10229000000001" {
				t.Errorf("%s: %+v %v", form, d, err)
			}
		}
	})
}

// TestSandboxBusinessPortfolioPages: Pages held through a Business
// portfolio are found with business_management through /me/businesses and
// each portfolio's owned_pages and client_pages (PLATFORMS.md §8), merged
// with /me/accounts (a direct role wins), each with its own Page token. A
// portfolio whose lists fail costs only its own Pages, and says so. The
// sandbox pages every list one item at a time, so paging is followed.
func TestSandboxBusinessPortfolioPages(t *testing.T) {
	type want struct {
		name, via string // via: the portfolio's name; "" for a direct role
	}
	tests := []struct {
		p        Platform
		persona  string
		decline  []string
		accounts []want
		unlinked []string
		notes    []string // substrings, one per note
	}{
		{Facebook, "avery", nil,
			[]want{{"Brightline Studio", "Brightline Agency"}, {"Cedar Dental Clinic", "Brightline Agency"}}, nil, nil},
		{Instagram, "avery", nil,
			[]want{{"Brightline Studio", "Brightline Agency"}}, []string{"Cedar Dental Clinic"}, nil},
		{Facebook, "avery", []string{"business_management"}, nil, nil, nil},
		{Facebook, "kai", nil,
			[]want{{"Kai's Bakery", ""}, {"Moreau Wines", ""}}, nil, []string{"Atlas Media Group could not be listed"}},
		{Instagram, "kai", nil,
			[]want{{"Moreau Wines", ""}}, []string{"Kai's Bakery"}, []string{"Atlas Media Group could not be listed"}},
	}
	for _, tc := range tests {
		name := fmt.Sprintf("%s/%s", tc.p, tc.persona)
		if len(tc.decline) > 0 {
			name += "/without business_management"
		}
		t.Run(name, func(t *testing.T) {
			e := newSandbox(t)
			e.control("meta", map[string]any{"page_size": 1})
			a, g := e.connect(tc.p, tc.persona, tc.decline...)
			var got []want
			for _, acc := range g.Accounts {
				via, _ := acc.Metadata[MetaBusinessName].(string)
				got = append(got, want{acc.DisplayName, via})
				if acc.Credentials.AccessToken.IsZero() || acc.Credentials.AccessToken.Equal(acc.Credentials.UserToken) {
					t.Errorf("%s: no Page token of its own", acc.DisplayName)
				}
				if via != "" && acc.Metadata[MetaBusinessID] == nil {
					t.Errorf("%s: portfolio name without its id", acc.DisplayName)
				}
				if !slices.Contains(acc.Scopes, map[Platform]string{Facebook: "pages_manage_posts", Instagram: "instagram_content_publish"}[tc.p]) {
					t.Errorf("%s: scopes %v", acc.DisplayName, acc.Scopes)
				}
				// The Page token works on its own: the account checks.
				if _, err := a.Check(t.Context(), acc.Credentials); err != nil {
					t.Errorf("%s: Check: %v", acc.DisplayName, err)
				}
			}
			if !slices.Equal(got, tc.accounts) {
				t.Errorf("accounts %v, want %v", got, tc.accounts)
			}
			if !slices.Equal(g.Unlinked, tc.unlinked) {
				t.Errorf("unlinked %v, want %v", g.Unlinked, tc.unlinked)
			}
			if len(g.Notes) != len(tc.notes) {
				t.Fatalf("notes %q, want %d", g.Notes, len(tc.notes))
			}
			for i, n := range tc.notes {
				if !strings.Contains(g.Notes[i], n) {
					t.Errorf("note %q lacks %q", g.Notes[i], n)
				}
			}
			if tc.decline == nil && !slices.Contains(g.Scopes, "business_management") {
				t.Errorf("business_management not requested or granted: %v", g.Scopes)
			}
			e.assertNoSandboxToken("notes", strings.Join(g.Notes, " "))
		})
	}
	t.Run("the portfolio listing fails for a while", func(t *testing.T) {
		e := newSandbox(t)
		e.control("faults", map[string]any{"endpoint": "meta.businesses", "kind": "5xx", "count": 1})
		_, g := e.connect(Facebook, "avery")
		if len(g.Accounts) != 0 || len(g.Notes) != 1 || !strings.Contains(g.Notes[0], "temporary problem") {
			t.Errorf("accounts %d notes %q", len(g.Accounts), g.Notes)
		}
	})
}
