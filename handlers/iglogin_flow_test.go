package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"omnisocial/store"
)

// Instagram with Instagram's own login (PLATFORMS.md §2.2), through the
// sandbox: one account per sign-in, connected at once; a personal account
// refused; a cancel; a declined permission.
func TestConnectInstagramLogin(t *testing.T) {
	tests := []struct {
		name, persona string
		decline       []string
		cancel        bool
		wantFlash     string
		wantStatus    store.Status // "" when nothing is stored
	}{
		{"a creator without a Page", "nova", nil, false, "Connected Nova Reyes", store.StatusActive},
		{"a declined permission", "nova", []string{"instagram_business_content_publish"}, false, "Connected Nova Reyes", store.StatusLimited},
		{"a personal account", "pia", nil, false, "professional accounts", ""},
		{"cancelled at Instagram", "nova", nil, true, "You cancelled", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, sb := newFlowKit(t)
			b := k.browser()
			b.signup("nova@example.com", "Nova")
			sb.control("POST", "autoconsent", map[string]any{"enabled": true, "persona": tc.persona, "decline": tc.decline, "deny": tc.cancel})
			res := b.authorize("instagram_login", nil)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
				t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
			}
			if msg := parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Text(); !strings.Contains(msg, tc.wantFlash) {
				t.Fatalf("flash = %q, want %q", msg, tc.wantFlash)
			}
			accts, _ := k.st.Accounts(t.Context(), 1)
			if tc.wantStatus == "" {
				if len(accts) != 0 {
					t.Fatalf("%d accounts stored", len(accts))
				}
				return
			}
			if len(accts) != 1 || accts[0].Platform != "instagram" || accts[0].Login != "instagram_login" || accts[0].Status != tc.wantStatus {
				t.Fatalf("accounts = %+v", accts)
			}
		})
	}
}

// One Instagram account is one row whichever way connected it: through
// dana's Facebook Page, then with its own login, it is renewed in place,
// the history says so, and Reconnect now goes to Instagram login.
func TestInstagramBothWaysIsOneAccount(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	res := b.authorize("instagram", nil)
	b.choose(res.Header.Get("Location"), "17841400000000101")
	first, _ := k.st.Accounts(t.Context(), 1)
	if len(first) != 1 || first[0].Login != "instagram" || !sb.signedIn("dana") {
		t.Fatalf("through the Page: %+v", first)
	}
	sb.consent("harbor")
	if res := b.authorize("instagram_login", nil); res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("with Instagram login: %s", res.Header.Get("Location"))
	}
	if msg := parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Text(); !strings.Contains(msg, "Renewed") {
		t.Fatalf("flash = %q", msg)
	}
	after, _ := k.st.Accounts(t.Context(), 1)
	if len(after) != 1 || after[0].ID != first[0].ID || after[0].Login != "instagram_login" {
		t.Fatalf("after the second way: %+v", after)
	}
	events, _ := k.st.Events(t.Context(), 1, after[0].ID, 3)
	said := ""
	for _, e := range events {
		if e.Kind == "reconnected" {
			said = e.Detail
			break
		}
	}
	if !strings.Contains(said, "now kept by its Instagram login instead of Facebook's") {
		t.Fatalf("history = %+v", events)
	}
	tok, _ := k.st.Tokens(t.Context(), after[0].ID)
	if !tok.User.IsZero() {
		t.Fatal("the Facebook user token outlived the switch")
	}
	// No account uses dana's Facebook sign-in any more: it was revoked.
	if sb.signedIn("dana") {
		t.Fatal("the Facebook sign-in the account left is still authorized")
	}
	form := parse(t, b.get("/settings/accounts/"+after[0].ID)).Find("[data-testid=reconnect]").Closest("form")
	if got := form.AttrOr("action", ""); got != "/connect/instagram_login" {
		t.Fatalf("Reconnect posts to %q", got)
	}
	if res := b.form("/settings/accounts/"+after[0].ID+"/disconnect", "/settings/accounts/"+after[0].ID+"/disconnect", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disconnect: %d", res.StatusCode)
	}
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 0 {
		t.Fatalf("%d accounts after disconnecting", n)
	}
}

// Without a Facebook Page, the guide's first way out is Instagram login.
func TestInstagramGuideOffersInstagramLogin(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("lee@example.com", "Lee")
	sb.consent("lee")
	doc := parse(t, b.get(b.authorize("instagram", nil).Header.Get("Location")))
	direct := doc.Find("[data-testid=use-instagram-login]").Closest("form")
	if direct.Length() != 1 || direct.AttrOr("action", "") != "/connect/instagram_login" {
		t.Fatalf("the guide offers no Instagram login: %q", squash(doc.Find("[data-testid=instagram-guide]").Text()))
	}
	if doc.Find("[data-testid=instagram-guide] form").First().AttrOr("action", "") != "/connect/instagram_login" {
		t.Fatal("Instagram login is not the first way out")
	}
}
