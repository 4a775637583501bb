package handlers

import (
	"database/sql"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/refresh"
)

func TestReauthBanner(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	k.addUser("member@example.com", 1, "member")
	m := k.browser()
	m.login("member@example.com")

	if parse(t, b.get("/settings/accounts")).Find("[data-testid=reauth-banner]").Length() != 0 {
		t.Fatal("banner shown while every account works")
	}
	if _, err := k.st.MarkMetaDeauthorized(t.Context(), []string{"facebook", "instagram"}, "10229000000001", "The app was removed."); err != nil {
		t.Fatal(err)
	}
	// Every page of the workspace shows it, grouped by the sign-in.
	for _, page := range []string{"/settings/accounts", "/settings/members", "/settings/api-keys"} {
		doc := parse(t, b.get(page))
		groups := doc.Find("[data-testid=banner-group]")
		if groups.Length() != 1 {
			t.Fatalf("%s: %d banner groups, want 1", page, groups.Length())
		}
		text := strings.Join(strings.Fields(groups.Text()), " ")
		if text != "Dana Whitfield's Facebook sign-in stopped working: Harbor Coffee Roasters (Facebook), Luma Yoga Studio (Facebook). Sign in again" {
			t.Fatalf("%s: banner says %q", page, text)
		}
		if groups.Find("[data-testid=banner-reconnect]").Length() != 1 {
			t.Fatalf("%s: no Reconnect for the owner", page)
		}
		if doc.Find("[data-testid=banner-reconnect]").Length() != 1 {
			t.Fatalf("%s: %d actions in the banner, want one", page, doc.Find("[data-testid=banner-reconnect]").Length())
		}
	}
	// htmx polls /banner for the same fragment.
	frag := parse(t, b.get("/banner", "HX-Request", "true"))
	if frag.Find("#banner [data-testid=banner-group]").Length() != 1 {
		t.Fatal("/banner fragment lacks the group")
	}
	// A member sees the warning without the button.
	doc := parse(t, m.get("/settings/accounts"))
	if doc.Find("[data-testid=banner-group]").Length() != 1 || doc.Find("[data-testid=banner-reconnect]").Length() != 0 ||
		!strings.Contains(doc.Find("[data-testid=banner-group]").Text(), "Ask an owner or admin to sign in again.") {
		t.Fatal("member banner wrong")
	}

	// One reconnect through the banner fixes both.
	accts, _ := k.st.NeedingReauth(t.Context(), 1)
	sb.consent("dana")
	res := b.authorize("facebook", url.Values{"account": {accts[0].ID}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reconnect: %d", res.StatusCode)
	}
	if got := parse(t, b.get("/settings/accounts")).Find("[data-testid=reauth-banner]").Length(); got != 0 {
		t.Fatal("banner still shown after reconnecting")
	}
	if left, _ := k.st.NeedingReauth(t.Context(), 1); len(left) != 0 {
		t.Fatalf("%d accounts still need re-auth", len(left))
	}
}

// A Meta sign-in cannot renew itself: the page flags it ahead of its end.
func TestExpiringSoonIsFlagged(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor)
	accts, _ := k.st.Accounts(t.Context(), 1)
	tests := []struct {
		in         time.Duration
		wantStatus string
	}{
		{30 * 24 * time.Hour, "Active"},
		{3 * 24 * time.Hour, "Expiring soon"},
	}
	for _, tc := range tests {
		end := k.clock.Now().Add(tc.in).UTC().Format(time.RFC3339)
		if err := setMetadata(k, accts[0].ID, "user_token_expires_at", end); err != nil {
			t.Fatal(err)
		}
		doc := parse(t, b.get("/settings/accounts"))
		if got := doc.Find("[data-testid=status]").Text(); got != tc.wantStatus {
			t.Fatalf("sign-in ending in %s: status %q, want %q", tc.in, got, tc.wantStatus)
		}
		if tc.wantStatus == "Expiring soon" && !strings.Contains(doc.Find("[data-testid=problem]").Text(), "Reconnect before then") {
			t.Fatal("no advice to reconnect")
		}
	}
}

func setMetadata(k *kit, id, key, value string) error {
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec("UPDATE social_accounts SET metadata = json_set(metadata, '$.'||?, ?) WHERE id = ?", key, value, id)
	return err
}

// Check now answers htmx with the refreshed details in place, and a plain
// form with a redirect to them.
func TestCheckNow(t *testing.T) {
	withChecker := func(d *Deps) {
		d.Checker = refresh.New(refresh.Options{Store: d.Store, Providers: d.Providers, Now: d.Now, Rate: 1000})
	}
	k, sb := newFlowKit(t, withChecker)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	before, _ := k.st.Tokens(t.Context(), id)

	tok := b.csrf("/settings/accounts/" + id)
	res := b.post("/settings/accounts/"+id+"/check", url.Values{}, "HX-Request", "true", "HX-Target", "main", "X-CSRF-Token", tok)
	if res.StatusCode != http.StatusOK || res.Header.Get("HX-Trigger") != "accountsChanged" {
		t.Fatalf("htmx check: %d %q", res.StatusCode, res.Header.Get("HX-Trigger"))
	}
	doc := parse(t, res)
	if doc.Find(".sidebar").Length() != 0 || doc.Find("[data-testid=details]").Length() != 1 {
		t.Fatal("htmx check did not answer with the details fragment")
	}
	// <main> is replaced whole: the message area comes in it, not out of band.
	if doc.Find("#flash[hx-swap-oob]").Length() != 0 || doc.Find("#flash").Length() != 1 {
		t.Fatal("the message area is not part of the new <main>")
	}
	if got := doc.Find("[data-testid=flash]").Text(); !strings.Contains(got, "tokens refreshed") {
		t.Fatalf("flash = %q", got)
	}
	if got := doc.Find("[data-testid=last-outcome]").Text(); got != "Tokens refreshed" {
		t.Fatalf("last outcome = %q", got)
	}
	after, _ := k.st.Tokens(t.Context(), id)
	if after.Refresh.Equal(before.Refresh) {
		t.Fatal("the refresh token did not rotate")
	}
	res = b.form("/settings/accounts/"+id, "/settings/accounts/"+id+"/check", url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts/"+id {
		t.Fatalf("plain check: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// The banner polls every minute; a poll between an action's redirect and
// the page it leads to must not eat the action's message.
func TestBannerPollKeepsPendingMessage(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor)
	id := k.accounts(t)[0].ID
	if res := b.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disconnect: %d", res.StatusCode)
	}
	if res := b.get("/banner", "HX-Request", "true"); res.StatusCode != http.StatusOK {
		t.Fatalf("banner: %d", res.StatusCode)
	}
	msg := parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Text()
	if !strings.Contains(msg, "was disconnected") {
		t.Fatalf("flash after a banner poll = %q", msg)
	}
}
