package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

// makeLink creates an owner link from the form at page and returns its
// path, read from the page that shows it once.
func (b *browser) makeLink(page string, form url.Values) string {
	b.k.t.Helper()
	res := b.form(page, "/settings/links", form)
	if res.StatusCode != http.StatusOK {
		b.k.t.Fatalf("create link: %d", res.StatusCode)
	}
	raw := strings.TrimSpace(parse(b.k.t, res).Find("[data-testid=new-link-value]").Text())
	u, err := url.Parse(raw)
	if err != nil || !strings.HasPrefix(u.Path, "/link/") {
		b.k.t.Fatalf("link shown = %q", raw)
	}
	return u.Path
}

// useLink is the owner's visit: open the link, continue to the platform,
// come back, and read the message the visit ends with.
func (b *browser) useLink(path string) (status int, msg string) {
	b.k.t.Helper()
	res := b.form(path, path, url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		return res.StatusCode, parse(b.k.t, res).Find("main").Text()
	}
	res = b.followPlatform(res.Header.Get("Location"))
	for res.StatusCode == http.StatusSeeOther && res.Header.Get("Location") != "/link/done" {
		// a new connection's choose step: take everything offered
		page := res.Header.Get("Location")
		form := url.Values{}
		parse(b.k.t, b.get(page)).Find("input[name=account]").Each(func(_ int, s *goquerySel) { form.Add("account", s.AttrOr("value", "")) })
		res = b.form(page, page, form)
	}
	if res.Header.Get("Location") != "/link/done" {
		b.k.t.Fatalf("link visit ended at %d %s\n%s", res.StatusCode, res.Header.Get("Location"), b.k.logs)
	}
	return http.StatusOK, parse(b.k.t, b.get("/link/done")).Find("[data-testid=flash]").Text()
}

func TestOwnerLinkReconnect(t *testing.T) {
	k, sb := newFlowKit(t)
	agency := k.browser()
	agency.signup("agency@example.com", "Harbor")
	sb.consent("dana")
	agency.choose(agency.authorize("facebook", nil).Header.Get("Location"), harbor, northwind)
	ctx := t.Context()
	accts, _ := k.st.Accounts(ctx, 1)
	id := accts[0].ID
	if _, err := k.st.MarkMetaDeauthorized(ctx, providers.SignInPlatforms(providers.Facebook), accts[0].GrantSubject, "Dana removed the app."); err != nil {
		t.Fatal(err)
	}
	before, _ := k.st.Tokens(ctx, id)

	details := parse(t, agency.get("/settings/accounts/"+id))
	if details.Find("[data-testid=ask-owner]").Length() != 1 {
		t.Fatal("a needs-re-auth account offers no link for its login's owner")
	}
	link := agency.makeLink("/settings/accounts/"+id, url.Values{"account": {id}})

	owner := k.browser() // no OmniSocial account, no session
	landing := parse(t, owner.get(link))
	names := landing.Find("[data-testid=link-accounts] li").Map(func(_ int, s *goquerySel) string { return s.Text() })
	if len(names) != 2 || !strings.Contains(landing.Find("h1").Text(), "Harbor") {
		t.Fatalf("landing: %q, accounts %v", landing.Find("h1").Text(), names)
	}

	t.Run("a different sign-in is refused and changes nothing", func(t *testing.T) {
		sb.consent("lee")
		_, msg := owner.useLink(link)
		if !strings.Contains(msg, "Lee Park") || !strings.Contains(msg, "Nothing was changed") {
			t.Fatalf("message = %q", msg)
		}
		a, _ := k.st.Account(ctx, 1, id)
		now, _ := k.st.Tokens(ctx, id)
		if a.Status != store.StatusNeedsReauth || !now.Access.Equal(before.Access) {
			t.Fatalf("status %s, tokens changed %v", a.Status, !now.Access.Equal(before.Access))
		}
		events, _ := k.st.Events(ctx, 1, id, 5)
		if events[0].Kind != "link_refused" || !strings.Contains(events[0].Detail, "Lee Park") {
			t.Fatalf("history = %+v", events[0])
		}
	})
	t.Run("the named sign-in renews every account of it, once", func(t *testing.T) {
		sb.consent("dana")
		_, msg := owner.useLink(link)
		if !strings.Contains(msg, "connected again for Harbor") {
			t.Fatalf("message = %q", msg)
		}
		for _, a := range accts {
			got, _ := k.st.Account(ctx, 1, a.ID)
			events, _ := k.st.Events(ctx, 1, a.ID, 1)
			if got.Status != store.StatusActive || events[0].Kind != "reconnected" || !strings.Contains(events[0].Detail, "login owner's link") {
				t.Fatalf("%s: %s, history %+v", a.DisplayName, got.Status, events[0])
			}
		}
		if now, _ := k.st.Tokens(ctx, id); now.Access.Equal(before.Access) {
			t.Fatal("tokens not renewed")
		}
		if res := owner.get(link); res.StatusCode != http.StatusNotFound {
			t.Fatalf("a used link answered %d", res.StatusCode)
		}
		if strings.Contains(k.logs.String(), strings.TrimPrefix(link, "/link/")) {
			t.Error("the link's token reached the log")
		}
		state := parse(t, agency.get("/settings/links")).Find("[data-testid=link-state]").First().Text()
		if !strings.Contains(state, "Used") || !strings.Contains(state, "Dana") {
			t.Fatalf("list says %q", state)
		}
	})
}

func TestOwnerLinkNewConnection(t *testing.T) {
	k, sb := newFlowKit(t)
	agency := k.browser()
	agency.signup("agency@example.com", "Harbor")
	if parse(t, agency.get("/settings/accounts/connect")).Find("[data-testid=ask-owner-facebook]").Length() != 1 {
		t.Fatal("the chooser offers no link for a login's owner")
	}
	link := agency.makeLink("/settings/links/new?platform=facebook", url.Values{"platform": {"facebook"}})
	sb.consent("dana")
	owner := k.browser()
	landing := parse(t, owner.get(link)).Find("[data-testid=link-ask]").Text()
	if !strings.Contains(landing, "connect your Facebook accounts") {
		t.Fatalf("landing = %q", landing)
	}
	_, msg := owner.useLink(link)
	if !strings.Contains(msg, "Connected") {
		t.Fatalf("message = %q", msg)
	}
	accts, _ := k.st.Accounts(t.Context(), 1)
	if len(accts) == 0 {
		t.Fatal("nothing connected")
	}
	for _, a := range accts {
		if a.UserID != 1 { // in the name of the person who made the link
			t.Fatalf("%s connected by user %d", a.DisplayName, a.UserID)
		}
	}
	if res := owner.get(link); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a used link answered %d", res.StatusCode)
	}
}

func TestOwnerLinkRefusals(t *testing.T) {
	k, sb := newFlowKit(t)
	agency := k.browser()
	agency.signup("agency@example.com", "Harbor")
	sb.consent("dana")
	k.addUser("member@example.com", 1, "member")
	member := k.browser()
	member.login("member@example.com")

	cases := []struct {
		name string
		run  func(t *testing.T, link string) int // the status the owner's visit ends with
	}{
		{"revoked", func(t *testing.T, link string) int {
			l, _ := k.st.OwnerLinks(t.Context(), 1)
			if res := agency.form("/settings/links", "/settings/links/"+l[0].ID+"/revoke", url.Values{}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("revoke: %d", res.StatusCode)
			}
			return k.browser().get(link).StatusCode
		}},
		{"another browser brings the state back", func(t *testing.T, link string) int {
			owner := k.browser()
			res := owner.form(link, link, url.Values{})
			cb := k.browser().getAbs(owner.getAbs(res.Header.Get("Location")).Header.Get("Location"))
			if cb.Header.Get("Location") != "/login" {
				t.Fatalf("state from another browser led to %s", cb.Header.Get("Location"))
			}
			return k.browser().get(link).StatusCode // still unused
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			link := agency.makeLink("/settings/links/new?platform=facebook", url.Values{"platform": {"facebook"}})
			want := http.StatusNotFound
			if tc.name == "another browser brings the state back" {
				want = http.StatusOK
			}
			if got := tc.run(t, link); got != want {
				t.Fatalf("link answered %d, want %d", got, want)
			}
			if n, _ := k.st.CountAccounts(t.Context(), 1); n != 0 {
				t.Fatalf("%d accounts connected", n)
			}
		})
	}
	t.Run("members cannot make links", func(t *testing.T) {
		res := member.post("/settings/links", url.Values{"platform": {"facebook"}, "_csrf": {member.csrf("/settings/accounts")}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("member: %d", res.StatusCode)
		}
	})
	t.Run("a bad address changes nothing", func(t *testing.T) {
		before, _ := k.st.OwnerLinks(t.Context(), 1)
		res := agency.form("/settings/links/new?platform=facebook", "/settings/links", url.Values{"platform": {"facebook"}, "email": {"not an address"}})
		if res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("bad address: %d", res.StatusCode)
		}
		if after, _ := k.st.OwnerLinks(t.Context(), 1); len(after) != len(before) {
			t.Fatal("a link was made anyway")
		}
	})
	t.Run("expired", func(t *testing.T) {
		link := agency.makeLink("/settings/links/new?platform=facebook", url.Values{"platform": {"facebook"}})
		k.clock.Add(store.OwnerLinkTTL + time.Minute)
		if res := k.browser().get(link); res.StatusCode != http.StatusNotFound {
			t.Fatalf("an expired link answered %d", res.StatusCode)
		}
	})
}
