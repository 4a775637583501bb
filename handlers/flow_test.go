package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"omnisocial/internal/testrig"
	"omnisocial/providers"
	"omnisocial/refresh"
	"omnisocial/sandbox"
	"omnisocial/vault"
)

// withSandbox gives the kit a real sandbox on its own server and adapters
// pointed at it, with redirect URIs on the kit's server.
func withSandbox(t *testing.T) (kitOption, *sandboxCtl) {
	srv := testrig.Sandbox(t)
	ctl := &sandboxCtl{t: t, url: srv.URL}
	return func(d *Deps) {
		d.Providers = map[providers.Platform]providers.Provider{}
		d.MetaAppSecret = vault.NewToken(sandbox.DevMetaAppSecret)
		ctl.deps = d
	}, ctl
}

type sandboxCtl struct {
	t    *testing.T
	url  string
	deps *Deps
}

// wire creates the adapters once the kit's server URL is known.
func (s *sandboxCtl) wire(k *kit) {
	for p, prov := range providers.All(testrig.SandboxApps(s.url, nil), k.srv.URL) {
		k.deps.Providers[p] = prov
	}
}

func (s *sandboxCtl) control(method, path string, body any) []byte {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url+"/sandbox/control/"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		s.t.Fatalf("sandbox %s %s: %d %s", method, path, res.StatusCode, out)
	}
	return out
}

func (s *sandboxCtl) consent(persona string, decline ...string) {
	s.control("POST", "autoconsent", map[string]any{"enabled": true, "persona": persona, "decline": decline})
}

// tokens lists every token and code the sandbox ever issued.
func (s *sandboxCtl) tokens() []string {
	var list []struct{ Token string }
	if err := json.Unmarshal(s.control("GET", "tokens", nil), &list); err != nil {
		s.t.Fatal(err)
	}
	var out []string
	for _, t := range list {
		out = append(out, t.Token)
	}
	return out
}

func newFlowKit(t *testing.T, opts ...kitOption) (*kit, *sandboxCtl) {
	opt, sb := withSandbox(t)
	// The revocation outbox, drained at once as serve's job would be.
	outbox := func(d *Deps) {
		r := refresh.New(refresh.Options{Store: d.Store, Providers: d.Providers, Now: d.Now, Rate: 1000})
		d.RevokeSoon = func() {
			if _, err := r.DrainRevocations(context.Background()); err != nil {
				t.Errorf("revocations: %v", err)
			}
		}
	}
	k := newKit(t, append([]kitOption{opt, outbox}, opts...)...)
	sb.wire(k)
	return k, sb
}

// authorize starts a connection (or reconnect) and follows the platform's
// answer back to the callback, returning the callback's response.
func (b *browser) authorize(platform string, form url.Values) *http.Response {
	b.k.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	res := b.form("/settings/accounts/connect", "/connect/"+platform, form)
	if res.StatusCode != http.StatusSeeOther {
		body, _ := io.ReadAll(res.Body)
		b.k.t.Fatalf("connect start: %d %s", res.StatusCode, body)
	}
	return b.followPlatform(res.Header.Get("Location"))
}

// followPlatform visits the platform's authorize URL (auto-consenting) and
// returns the callback's response.
func (b *browser) followPlatform(authURL string) *http.Response {
	b.k.t.Helper()
	res := b.getAbs(authURL)
	if res.StatusCode != http.StatusFound {
		body, _ := io.ReadAll(res.Body)
		b.k.t.Fatalf("platform answered %d: %s", res.StatusCode, body)
	}
	cb := res.Header.Get("Location")
	if !strings.HasPrefix(cb, b.k.srv.URL+"/oauth/") {
		b.k.t.Fatalf("platform redirected to %s", cb)
	}
	return b.getAbs(cb)
}

func (b *browser) getAbs(u string) *http.Response {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// choose ticks the given Page ids (by platform user id) and confirms.
func (b *browser) choose(grantPath string, ids ...string) *http.Response {
	form := url.Values{"account": ids}
	return b.form(grantPath, grantPath, form)
}

func (k *kit) accountNames(b *browser) []string {
	k.t.Helper()
	doc := parse(k.t, b.get("/settings/accounts"))
	return doc.Find("[data-testid=account-name]").Map(func(_ int, s *goquerySel) string { return s.Text() })
}

const (
	harbor    = "104000000000101"
	northwind = "104000000000102"
	luma      = "104000000000103"
	pine      = "104000000000104"
)

func TestConnectFacebookChoosingTwoPages(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")

	res := b.authorize("facebook", nil)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/settings/accounts/choose/") {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	grant := res.Header.Get("Location")
	doc := parse(t, b.get(grant))
	if n := doc.Find("[data-testid=choice]").Length(); n != 4 {
		t.Fatalf("%d Pages offered, want 4", n)
	}
	if got := strings.Join(strings.Fields(doc.Find("[data-testid=room]").Text()), " "); !strings.Contains(got, "3 more accounts") {
		t.Fatalf("room = %q", got)
	}
	if doc.Find("img.avatar").Length() != 4 {
		t.Fatal("Pages are offered without avatars")
	}
	res = b.choose(grant, harbor, luma)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", res.StatusCode)
	}
	doc = parse(t, b.get("/settings/accounts"))
	names := doc.Find("[data-testid=account-name]").Map(func(_ int, s *goquerySel) string { return s.Text() })
	if strings.Join(names, ",") != "Harbor Coffee Roasters,Luma Yoga Studio" {
		t.Fatalf("accounts = %v", names)
	}
	if got := strings.Join(strings.Fields(doc.Find("[data-testid=usage]").Text()), " "); got != "2 of 3 accounts used" {
		t.Fatalf("usage = %q", got)
	}
	if got := doc.Find("[data-testid=status]").First().Text(); got != "Active" {
		t.Fatalf("status = %q", got)
	}
	// The grant is single use.
	if res := b.get(grant); res.StatusCode != http.StatusNotFound {
		t.Fatalf("grant after use: %d", res.StatusCode)
	}
	// Connecting again marks the two as already connected and renews them
	// in place: no duplicates.
	res = b.authorize("facebook", nil)
	grant = res.Header.Get("Location")
	doc = parse(t, b.get(grant))
	if n := doc.Find("[data-testid=already-connected]").Length(); n != 2 {
		t.Fatalf("%d marked already connected, want 2", n)
	}
	b.choose(grant, harbor, luma)
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 2 {
		t.Fatalf("%d accounts after reconnecting the same two, want 2", n)
	}
}

func TestConnectInstagram(t *testing.T) {
	tests := []struct {
		persona      string
		wantChoices  int
		wantUnlinked []string
		wantGuide    bool
	}{
		{"dana", 2, []string{"Northwind Cycling Club", "Pine & Pixel Design"}, false},
		{"lee", 0, []string{"Lee Park Photography"}, true},
		{"sam", 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.persona, func(t *testing.T) {
			k, sb := newFlowKit(t)
			b := k.browser()
			b.signup("dana@example.com", "Harbor")
			sb.consent(tc.persona)
			res := b.authorize("instagram", nil)
			doc := parse(t, b.get(res.Header.Get("Location")))
			if n := doc.Find("[data-testid=choice]").Length(); n != tc.wantChoices {
				t.Fatalf("%d Instagram accounts offered, want %d", n, tc.wantChoices)
			}
			if got := doc.Find("[data-testid=instagram-guide]").Length() == 1; got != tc.wantGuide {
				t.Fatalf("guide shown = %v", got)
			}
			text := doc.Text()
			for _, name := range tc.wantUnlinked {
				if !strings.Contains(text, name) {
					t.Fatalf("the Page %q without Instagram is not named", name)
				}
			}
			if tc.wantGuide && doc.Find("[data-testid=try-again]").Length() != 1 {
				t.Fatal("no Try again")
			}
			if n, _ := k.st.CountAccounts(t.Context(), 1); n != 0 {
				t.Fatal("accounts stored before the person confirmed")
			}
		})
	}
}

func TestConnectTikTokDirectly(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	res := b.authorize("tiktok", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc := parse(t, b.get("/settings/accounts"))
	if got := doc.Find("[data-testid=account-name]").Text(); got != "Bloom Botanics" {
		t.Fatalf("account = %q", got)
	}
	if !strings.Contains(doc.Find("[data-testid=flash]").Text(), "Connected Bloom Botanics") {
		t.Fatalf("flash = %q", doc.Find("[data-testid=flash]").Text())
	}
	accts, _ := k.st.Accounts(t.Context(), 1)
	tok, err := k.st.Tokens(t.Context(), accts[0].ID)
	if err != nil || tok.Refresh.IsZero() || accts[0].RefreshExpiresAt.IsZero() {
		t.Fatalf("TikTok stored without its refresh token: %v", err)
	}
}

func TestDeclinedPermissionThenGrant(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana", "pages_messaging")
	grant := b.authorize("facebook", nil).Header.Get("Location")
	b.choose(grant, harbor)
	doc := parse(t, b.get("/settings/accounts"))
	if got := doc.Find("[data-testid=status]").Text(); got != "Limited" {
		t.Fatalf("status = %q, want Limited", got)
	}
	problem := doc.Find("[data-testid=problem]").Text()
	if !strings.Contains(problem, "send and receive messages as your Pages") {
		t.Fatalf("missing permission not named in words: %q", problem)
	}
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID

	// Grant permission re-asks for exactly the missing scope.
	sb.consent("dana")
	res := b.form("/settings/accounts", "/connect/facebook", url.Values{"account": {id}, "rerequest": {"1"}})
	auth, _ := url.Parse(res.Header.Get("Location"))
	if got := auth.Query().Get("scope"); got != "pages_messaging" || auth.Query().Get("auth_type") != "rerequest" {
		t.Fatalf("re-request asks for scope=%q auth_type=%q", got, auth.Query().Get("auth_type"))
	}
	res = b.followPlatform(res.Header.Get("Location"))
	if res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("after grant: %s", res.Header.Get("Location"))
	}
	doc = parse(t, b.get("/settings/accounts"))
	if got := doc.Find("[data-testid=status]").Text(); got != "Active" {
		t.Fatalf("status after granting = %q", got)
	}
	a, _ := k.st.Account(t.Context(), 1, id)
	if a.ID != id || !strings.Contains(strings.Join(a.Scopes, " "), "pages_messaging") {
		t.Fatalf("scopes not renewed in place: %+v", a.Scopes)
	}
	events, _ := k.st.Events(t.Context(), 1, id, 10)
	if len(events) < 3 || events[0].Kind != "permissions_changed" || events[0].Detail != "Granted: pages_messaging" {
		t.Fatalf("permission change not recorded: %+v", events)
	}
	details := parse(t, b.get("/settings/accounts/"+id)).Find("[data-testid=events]").Text()
	for _, want := range []string{"Permissions changed", "Reconnected", "Connected", "dana@example.com"} {
		if !strings.Contains(details, want) {
			t.Fatalf("history on the details page lacks %q: %s", want, details)
		}
	}
}

func TestCancelAtThePlatform(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.control("POST", "autoconsent", map[string]any{"enabled": true, "deny": true})
	res := b.authorize("facebook", nil)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("cancel: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc := parse(t, b.get("/settings/accounts"))
	if got := doc.Find("[data-testid=flash]").Text(); !strings.Contains(got, "You cancelled connecting Facebook") {
		t.Fatalf("flash = %q", got)
	}
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 0 {
		t.Fatal("a cancelled connection stored an account")
	}
}
