package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func TestReconnect(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, northwind)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	before, _ := k.st.Tokens(t.Context(), id)

	t.Run("same account", func(t *testing.T) {
		sb.control("POST", "revoke", map[string]any{"persona": "dana"})
		res := b.authorize("facebook", url.Values{"account": {id}})
		if res.Header.Get("Location") != "/settings/accounts" {
			t.Fatalf("reconnect: %s", res.Header.Get("Location"))
		}
		after, _ := k.st.Tokens(t.Context(), id)
		if after.Access.Equal(before.Access) {
			t.Fatal("tokens not renewed")
		}
		if n, _ := k.st.CountAccounts(t.Context(), 1); n != 2 {
			t.Fatalf("%d accounts after reconnect, want 2", n)
		}
		events, _ := k.st.Events(t.Context(), 1, id, 10)
		if len(events) == 0 || events[0].Kind != "reconnected" {
			t.Fatalf("events = %+v", events)
		}
	})
	t.Run("different account", func(t *testing.T) {
		current, _ := k.st.Tokens(t.Context(), id)
		sb.consent("lee")
		res := b.authorize("facebook", url.Values{"account": {id}})
		if res.Header.Get("Location") != "/settings/accounts/"+id {
			t.Fatalf("reconnect as someone else: %s", res.Header.Get("Location"))
		}
		msg := parse(t, b.get("/settings/accounts/"+id)).Find("[data-testid=flash]").Text()
		if !strings.Contains(msg, "Lee Park") || !strings.Contains(msg, "Nothing was changed") {
			t.Fatalf("flash = %q", msg)
		}
		after, _ := k.st.Tokens(t.Context(), id)
		if !after.Access.Equal(current.Access) {
			t.Fatal("a different account's tokens replaced the stored ones")
		}
		if names := k.accountNames(b); len(names) != 2 {
			t.Fatalf("accounts = %v", names)
		}
	})
}

func TestDisconnect(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	tok, _ := k.st.Tokens(t.Context(), id)

	// Without JavaScript: a confirmation page, then a POST.
	doc := parse(t, b.get("/settings/accounts/"+id+"/disconnect"))
	if doc.Find("[data-testid=confirm-disconnect]").Length() != 1 {
		t.Fatal("no confirmation page")
	}
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 1 {
		t.Fatal("showing the confirmation disconnected")
	}
	// With htmx: the dialog fragment, then DELETE.
	res := b.get("/settings/accounts/"+id+"/disconnect", "HX-Request", "true")
	if frag := parse(t, res); frag.Find("dialog[data-testid=confirm-disconnect]").Length() != 1 || frag.Find("html body main").Length() != 0 {
		t.Fatal("htmx confirmation is not a bare dialog")
	}
	tokCSRF := b.csrf("/settings/accounts")
	req, _ := http.NewRequest(http.MethodDelete, k.srv.URL+"/settings/accounts/"+id, nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", tokCSRF)
	res = b.do(req)
	if res.StatusCode != http.StatusOK || res.Header.Get("HX-Trigger") != "accountsChanged" {
		t.Fatalf("htmx disconnect: %d %q", res.StatusCode, res.Header.Get("HX-Trigger"))
	}
	frag := parse(t, res)
	if got := strings.Join(strings.Fields(frag.Find("#usage").Text()), " "); got != "0 of 3 accounts used" {
		t.Fatalf("usage update = %q", got)
	}
	if _, err := k.st.Tokens(t.Context(), id); err == nil {
		t.Fatal("tokens still stored")
	}
	// The platform is asked to revoke in the background.
	waitFor(t, func() bool {
		for _, line := range strings.Split(string(sb.control("GET", "tokens", nil)), "},") {
			if strings.Contains(line, tok.Access.Reveal()) {
				return strings.Contains(line, `"valid":false`)
			}
		}
		return false
	})
	// A second disconnect is a 404, like any account that does not exist.
	if res := b.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second disconnect: %d", res.StatusCode)
	}
}

func TestPlanLimitUnderConcurrentConfirmation(t *testing.T) {
	k, sb := newFlowKit(t)
	a := k.browser()
	a.signup("dana@example.com", "Harbor") // free: 3 accounts
	k.addUser("sam@example.com", 1, "admin")
	b := k.browser()
	b.login("sam@example.com")
	sb.consent("dana")
	grantA := a.authorize("facebook", nil).Header.Get("Location")
	grantB := b.authorize("facebook", nil).Header.Get("Location")

	var wg sync.WaitGroup
	answers := make([]string, 2)
	for i, x := range []struct {
		b     *browser
		grant string
		ids   []string
	}{{a, grantA, []string{harbor, northwind}}, {b, grantB, []string{luma, pine}}} {
		tok := x.b.csrf(x.grant)
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := x.b.post(x.grant, url.Values{"_csrf": {tok}, "account": x.ids})
			if res.StatusCode == http.StatusUnprocessableEntity {
				answers[i] = parse(t, res).Find("[data-testid=form-error]").Text()
			}
		}()
	}
	wg.Wait()
	// Never more than the plan allows. Whoever did not fit is told why:
	// by the choose step, before anything is connected, when the other
	// confirmation had already finished; by the store's atomic check (one
	// of the two Pages connected) when both ran at once.
	n, _ := k.st.CountAccounts(t.Context(), 1)
	switch n {
	case 3:
		flashes := parse(t, a.get("/settings/accounts")).Find("[data-testid=flash]").Text() +
			parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Text()
		if !strings.Contains(flashes, "the plan allows 3 accounts") {
			t.Fatalf("the person whose account did not fit is not told why: %q", flashes)
		}
	case 2:
		if !strings.Contains(answers[0]+answers[1], "has room for 1 more") {
			t.Fatalf("the person whose accounts did not fit is not told why: %q", answers)
		}
	default:
		t.Fatalf("%d accounts on a 3-account plan after two concurrent confirmations of 2 each", n)
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

func TestAPI(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID

	doc := parse(t, b.form("/settings/api-keys", "/settings/api-keys", url.Values{"name": {"publisher"}, "access": {"read_write"}}))
	key := doc.Find("[data-testid=new-key-value]").Text()
	if !strings.HasPrefix(key, "osk_") {
		t.Fatalf("no key shown: %q", key)
	}
	if parse(t, b.get("/settings/api-keys")).Find("[data-testid=new-key-value]").Length() != 0 {
		t.Fatal("the key is shown a second time")
	}
	api := func(method, path, auth string) *http.Response {
		req, _ := http.NewRequest(method, k.srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no key", "GET", "/api/v1/accounts", "", http.StatusUnauthorized},
		{"bad key", "GET", "/api/v1/accounts", "Bearer osk_nope", http.StatusUnauthorized},
		{"not bearer", "GET", "/api/v1/accounts", "Basic abc", http.StatusUnauthorized},
		{"list", "GET", "/api/v1/accounts", "Bearer " + key, http.StatusOK},
		{"one", "GET", "/api/v1/accounts/" + id, "Bearer " + key, http.StatusOK},
		{"unknown id", "GET", "/api/v1/accounts/nope", "Bearer " + key, http.StatusNotFound},
		{"malformed id", "GET", "/api/v1/accounts/%00%ff", "Bearer " + key, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := api(tc.method, tc.path, tc.auth)
			if res.StatusCode != tc.want {
				t.Fatalf("%d, want %d", res.StatusCode, tc.want)
			}
			var body map[string]any
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if tc.want >= 400 {
				if msg, _ := body["error"].(string); len(msg) < 10 {
					t.Fatalf("error not in words: %v", body)
				}
			}
			if tc.name == "list" {
				list := body["accounts"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["display_name"] != "Bloom Botanics" || body["max"].(float64) != 3 {
					t.Fatalf("list = %v", body)
				}
			}
		})
	}
	// The session works too; a DELETE through it needs CSRF like any form.
	if res := b.get("/api/v1/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("session GET: %d", res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, k.srv.URL+"/api/v1/accounts/"+id, nil)
	if res := b.do(req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("session DELETE without CSRF: %d", res.StatusCode)
	}
	if res := api("DELETE", "/api/v1/accounts/"+id, "Bearer "+key); res.StatusCode != http.StatusNoContent {
		t.Fatalf("key DELETE: %d", res.StatusCode)
	}
	if res := api("GET", "/api/v1/accounts/"+id, "Bearer "+key); res.StatusCode != http.StatusNotFound {
		t.Fatalf("after DELETE: %d", res.StatusCode)
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
	// The free plan is full now; a fourth place lets TikTok's tokens in too.
	if err := k.st.SetPlanLimit(t.Context(), "free", 4); err != nil {
		t.Fatal(err)
	}
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
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
