package handlers

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// The plan's room is told before the platform: the choose step ticks no
// more new accounts than the plan has room for and counts them; a form
// sent with too many comes back with a message and the selection kept.
func TestChooseTicksOnlyTheRoom(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	if err := k.st.SetPlanLimit(t.Context(), "free", 1); err != nil {
		t.Fatal(err)
	}
	sb.consent("dana")
	grant := b.authorize("facebook", nil).Header.Get("Location")
	doc := parse(t, b.get(grant))
	if n := doc.Find("[data-testid=choice]").Length(); n != 4 {
		t.Fatalf("%d choices, want the 4 Pages", n)
	}
	if n := doc.Find("input[name=account]:checked").Length(); n != 1 {
		t.Fatalf("%d Pages ticked with room for one", n)
	}
	if got := squash(doc.Find("[data-testid=selected-count]").Text()); !strings.HasPrefix(got, "1 of 1 selected") {
		t.Fatalf("count = %q", got)
	}
	if got := squash(doc.Find("[data-testid=room]").Text()); got != "Your free plan has room for 1 more account." {
		t.Fatalf("room = %q", got)
	}

	// Without JavaScript nothing stops three ticks: the answer says why
	// not, keeps them, and connects nothing.
	tok := b.csrf(grant)
	res := b.post(grant, url.Values{"_csrf": {tok}, "account": {harbor, luma, pine}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("three of one: %d", res.StatusCode)
	}
	doc = parse(t, res)
	want := "You selected 3 new accounts, but your free plan has room for 1 more. Untick 2, or disconnect an account or change plan first."
	if got := squash(doc.Find("[data-testid=form-error]").Text()); got != want {
		t.Fatalf("error = %q", got)
	}
	var ticked []string
	doc.Find("input[name=account]:checked").Each(func(_ int, s *goquerySel) { v, _ := s.Attr("value"); ticked = append(ticked, v) })
	if strings.Join(ticked, ",") != strings.Join([]string{harbor, luma, pine}, ",") {
		t.Fatalf("selection kept = %v", ticked)
	}
	if n := len(k.accounts(t)); n != 0 {
		t.Fatalf("%d accounts connected by a refused choice", n)
	}
	// One is fine.
	if res := b.post(grant, url.Values{"_csrf": {tok}, "account": {luma}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("one of one: %d", res.StatusCode)
	}
}

// With the plan full the chooser offers no platform, says why, and a
// start is refused before the platform; reconnecting still works.
func TestPlanFullChooser(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma, northwind)

	doc := parse(t, b.get("/settings/accounts/connect"))
	if got := squash(doc.Find("[data-testid=plan-full] h2").Text()); got != "Your plan is full: disconnect an account or change plan" {
		t.Fatalf("plan-full = %q", got)
	}
	if n := doc.Find("[data-testid^=connect-]").Length(); n != 0 {
		t.Fatalf("%d Continue buttons with the plan full", n)
	}
	for _, p := range []string{"facebook", "instagram", "tiktok"} {
		if doc.Find("[data-testid=full-"+p+"]").Length() != 1 {
			t.Fatalf("%s: no plan-full note in place of its button", p)
		}
	}
	tok := b.csrf("/settings/accounts")
	res := b.post("/connect/tiktok", url.Values{"_csrf": {tok}})
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("a new connection with the plan full: %d", res.StatusCode)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "Your plan is full: disconnect an account or change plan.") {
		t.Fatal("the refusal does not say why")
	}
	// Reconnecting an account already here goes to the platform.
	sb.consent("dana")
	if res := b.authorize("facebook", url.Values{"account": {k.accounts(t)[0].ID}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("reconnect with the plan full: %d", res.StatusCode)
	}

	// The choose step of a sign-in with the plan full ticks only what is
	// connected and does not let new Pages be ticked.
	if err := k.st.SetPlanLimit(t.Context(), "free", 4); err != nil {
		t.Fatal(err)
	}
	sb.consent("dana")
	start := b.form("/settings/accounts/connect", "/connect/facebook", url.Values{})
	if err := k.st.SetPlanLimit(t.Context(), "free", 3); err != nil {
		t.Fatal(err)
	}
	grant := b.followPlatform(start.Header.Get("Location")).Header.Get("Location")
	doc = parse(t, b.get(grant))
	if n := doc.Find("input[name=account]:checked").Length(); n != 3 {
		t.Fatalf("%d ticked, want the 3 connected", n)
	}
	if n := doc.Find("input[name=account][disabled]").Length(); n != 1 {
		t.Fatalf("%d new Pages offered with no room, want 1 shown disabled", n)
	}
	if doc.Find("[data-testid=selected-count]").Length() != 0 {
		t.Fatal("a count of nothing to choose")
	}
}

// The banner: one sentence per sign-in naming each account's platform,
// one action.
func TestBannerNamesEachPlatform(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor)
	sb.consent("dana")
	b.choose(b.authorize("instagram", nil).Header.Get("Location"), "17841400000000101")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	if _, err := k.st.MarkMetaDeauthorized(t.Context(), []string{"facebook", "instagram"}, "10229000000001", "The app was removed."); err != nil {
		t.Fatal(err)
	}
	doc := parse(t, b.get("/settings/members"))
	groups := doc.Find("[data-testid=banner-group]")
	if groups.Length() != 1 {
		t.Fatalf("%d groups", groups.Length())
	}
	want := "Dana Whitfield's Facebook sign-in stopped working: Harbor Coffee Roasters (Facebook), @harborcoffee (Instagram). Sign in again"
	if got := squash(groups.Text()); got != want {
		t.Fatalf("banner = %q", got)
	}
}

// Details: one Connection health sentence, then only the rows that apply.
func TestDetailsConnectionHealth(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor)
	id := k.accounts(t)[0].ID

	doc := parse(t, b.get("/settings/accounts/"+id))
	health := squash(doc.Find("[data-testid=health]").Text())
	if !strings.HasPrefix(health, "Working until ") || !strings.Contains(health, "when Facebook asks you to sign in again") {
		t.Fatalf("health = %q", health)
	}
	page := squash(doc.Find("[data-testid=details]").Text())
	for _, bad := range []string{"Does not expire", "Sign-in valid", "Data access until", "Paused", "true"} {
		if strings.Contains(page, bad) {
			t.Fatalf("details still say %q: %s", bad, page)
		}
	}
	if n := doc.Find("[data-testid=token-expiry]").Length(); n != 1 {
		t.Fatalf("%d expiry rows", n)
	}

	if _, err := k.st.MarkMetaDeauthorized(t.Context(), []string{"facebook", "instagram"}, "10229000000001", "The app was removed at Facebook"); err != nil {
		t.Fatal(err)
	}
	doc = parse(t, b.get("/settings/accounts/"+id))
	health = squash(doc.Find("[data-testid=health]").Text())
	if !strings.HasPrefix(health, "Stopped working") || !strings.Contains(health, "The app was removed at Facebook.") || !strings.Contains(health, "Reconnect") {
		t.Fatalf("needs re-auth health = %q", health)
	}
	page = squash(doc.Find("[data-testid=details]").Text())
	if strings.Contains(page, "retrying") || doc.Find("[data-testid=next-check]").Length() != 0 {
		t.Fatalf("a dead account still talks of retries or checks: %s", page)
	}
	if got := squash(doc.Find("[data-testid=problem]").Text()); got != "" {
		t.Fatalf("a problem line beside the health summary: %q", got)
	}
}

// seedAccounts connects n TikTok-like accounts directly in the store,
// named "Account 001"… with every fifth on Instagram.
func seedAccounts(t *testing.T, k *kit, n int) {
	t.Helper()
	if err := k.st.SetPlanLimit(t.Context(), "free", 1000); err != nil {
		t.Fatal(err)
	}
	for _, platform := range []string{"tiktok", "instagram"} {
		var found []store.Discovered
		for i := 1; i <= n; i++ {
			if (i%5 == 0) != (platform == "instagram") {
				continue
			}
			found = append(found, store.Discovered{PlatformUserID: fmt.Sprint("p", i), Username: fmt.Sprintf("acct%03d", i),
				DisplayName: fmt.Sprintf("Account %03d", i), Tokens: store.Tokens{Access: vault.NewToken(fmt.Sprint("tok", i))},
				Status: store.StatusActive, NextCheckAt: k.clock.Now().Add(time.Hour)})
		}
		if _, err := k.st.Connect(t.Context(), store.Connect{WorkspaceID: 1, UserID: 1, Platform: platform, Accounts: found}); err != nil {
			t.Fatal(err)
		}
	}
}

// Over twenty accounts the list has a search, filters and pages, all on
// the server: plain links and a GET form, and a fragment for htmx.
func TestManyAccountsSearchFilterPages(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	seedAccounts(t, k, 45)
	pagesOfTwentyWithASearchForm(t, b)
	searchByNameThenHandle(t, b)
	filterByPlatformAndStatus(t, k, b)
	htmxGetsTheListAloneWithItsAddress(t, b)
	twentyOrFewerHaveNoSearchNorPages(t)
}

// listedNames is the names in an account list, in order.
func listedNames(doc *goquerySel) []string {
	return doc.Find("[data-testid=account-name]").Map(func(_ int, s *goquerySel) string { return s.Text() })
}

func pagesOfTwentyWithASearchForm(t *testing.T, b *browser) {
	t.Helper()
	doc := parse(t, b.get("/settings/accounts"))
	if doc.Find("form[data-testid=filters][method=get]").Length() != 1 {
		t.Fatal("no search form over twenty accounts")
	}
	if got := len(listedNames(doc.Selection)); got != 20 {
		t.Fatalf("page 1 shows %d accounts", got)
	}
	if got := squash(doc.Find("[data-testid=list-summary]").Text()); got != "Showing 1–20 of 45 accounts" {
		t.Fatalf("summary = %q", got)
	}
	if got := squash(doc.Find("[data-testid=usage]").Text()); got != "45 of 1,000 accounts used" {
		t.Fatalf("usage = %q", got)
	}
	next, _ := doc.Find("[data-testid=pager-next]").Attr("href")
	if next != "/settings/accounts?page=2" {
		t.Fatalf("next = %q", next)
	}
	doc = parse(t, b.get("/settings/accounts?page=3"))
	if got := len(listedNames(doc.Selection)); got != 5 || doc.Find("[data-testid=pager-next]").Length() != 0 {
		t.Fatalf("page 3 shows %d accounts", got)
	}
}

// searchByNameThenHandle searches by name, then by handle, case folded.
func searchByNameThenHandle(t *testing.T, b *browser) {
	t.Helper()
	doc := parse(t, b.get("/settings/accounts?q=account+04"))
	if got := strings.Join(listedNames(doc.Selection), ","); got != "Account 040,Account 045,Account 041,Account 042,Account 043,Account 044" { // by platform, then name
		t.Fatalf("search found %s", got)
	}
	if v, _ := doc.Find("[data-testid=filter-q]").Attr("value"); v != "account 04" {
		t.Fatalf("the search box forgot its words: %q", v)
	}
	doc = parse(t, b.get("/settings/accounts?q=ACCT007"))
	if got := strings.Join(listedNames(doc.Selection), ","); got != "Account 007" {
		t.Fatalf("handle search found %s", got)
	}
}

func filterByPlatformAndStatus(t *testing.T, k *kit, b *browser) {
	t.Helper()
	doc := parse(t, b.get("/settings/accounts?platform=instagram"))
	if got := len(listedNames(doc.Selection)); got != 9 {
		t.Fatalf("%d Instagram accounts, want 9", got)
	}
	if got := squash(doc.Find("[data-testid=filter-platform] option[selected]").Text()); got != "Instagram (9)" {
		t.Fatalf("platform option = %q", got)
	}
	db := rawSQL(t, k)
	if _, err := db.Exec("UPDATE social_accounts SET status = 'needs_reauth', last_error = 'Revoked.' WHERE display_name IN ('Account 003', 'Account 033')"); err != nil {
		t.Fatal(err)
	}
	doc = parse(t, b.get("/settings/accounts?status=needs_reauth"))
	if got := strings.Join(listedNames(doc.Selection), ","); got != "Account 003,Account 033" {
		t.Fatalf("needs re-auth filter found %s", got)
	}
	doc = parse(t, b.get("/settings/accounts?status=needs_reauth&platform=instagram"))
	if doc.Find("[data-testid=accounts-no-match]").Length() != 1 {
		t.Fatal("no empty state for a filter matching nothing")
	}
}

// htmxGetsTheListAloneWithItsAddress: htmx gets the list alone, with the
// address to show.
func htmxGetsTheListAloneWithItsAddress(t *testing.T, b *browser) {
	t.Helper()
	res := b.get("/settings/accounts/list?q=account+04&page=1", "HX-Request", "true")
	if got := res.Header.Get("HX-Replace-Url"); got != "/settings/accounts?q=account+04" {
		t.Fatalf("HX-Replace-Url = %q", got)
	}
	frag := parse(t, res)
	if frag.Find(".sidebar").Length() != 0 || len(listedNames(frag.Selection)) != 6 {
		t.Fatal("the fragment is not the filtered list alone")
	}
	if hx, _ := frag.Find("#accounts").Attr("hx-get"); hx != "/settings/accounts/list?q=account+04" {
		t.Fatalf("the list reloads as %q, losing its search", hx)
	}
}

// twentyOrFewerHaveNoSearchNorPages: twenty or fewer accounts get no
// search and no pages.
func twentyOrFewerHaveNoSearchNorPages(t *testing.T) {
	t.Helper()
	k2 := newKit(t)
	b2 := k2.browser()
	b2.signup("sam@example.com", "Small")
	seedAccounts(t, k2, 20)
	doc := parse(t, b2.get("/settings/accounts"))
	if doc.Find("[data-testid=filters]").Length() != 0 || doc.Find("[data-testid=pager]").Length() != 0 || len(listedNames(doc.Selection)) != 20 {
		t.Fatal("a short list grew a search or pages")
	}
}

// Copy: numbers as people read them, sentences that end, no raw values.
func TestCopyAndNumbers(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana", "pages_messaging", "pages_read_engagement")
	grant := b.authorize("facebook", nil).Header.Get("Location")
	doc := parse(t, b.get(grant))
	if got := squash(doc.Find("[data-testid=choice]").First().Text()); !strings.Contains(got, "12,410 followers") {
		t.Fatalf("choice = %q", got)
	}
	b.choose(grant, harbor)
	doc = parse(t, b.get("/settings/accounts"))
	problem := squash(doc.Find("[data-testid=problem]").Text())
	if !strings.HasPrefix(problem, "Missing permissions: ") || strings.Contains(problem, ";") || !strings.HasSuffix(problem, ". Grant them to use every feature.") {
		t.Fatalf("problem = %q", problem)
	}
	id := k.accounts(t)[0].ID
	doc = parse(t, b.get("/settings/accounts/"+id))
	meta := squash(doc.Find("[data-testid=metadata]").Text())
	if strings.Contains(meta, "Sign-in valid") || !strings.Contains(meta, "12,410") {
		t.Fatalf("metadata = %q", meta)
	}
	if got := squash(doc.Find("[data-testid=events] li").First().Text()); !strings.Contains(got, " by dana@example.com") {
		t.Fatalf("event = %q", got)
	}

	// API key list: "just now by …", with its space.
	b.form("/settings/api-keys", "/settings/api-keys", url.Values{"name": {"Publisher"}})
	doc = parse(t, b.get("/settings/api-keys"))
	if got := squash(doc.Find("[data-testid=keys] td[data-label=Created]").Text()); got != "just now by dana@example.com" {
		t.Fatalf("created = %q", got)
	}
}

func rawSQL(t *testing.T, k *kit) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
