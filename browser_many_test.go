package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"omnisocial/store"
	"omnisocial/vault"
)

// seedMany stores n accounts for the first workspace, directly.
func seedMany(t *testing.T, db string, n int) {
	t.Helper()
	st := openStore(t, db)
	defer st.Close()
	ctx := context.Background()
	if err := st.SetPlanLimit(ctx, "free", 250); err != nil {
		t.Fatal(err)
	}
	names := []string{"Harbor", "Luma", "Pine", "Northwind", "Cedar", "Fjord", "Atlas", "Bloom", "River", "Moreau"}
	for _, platform := range []string{"facebook", "instagram", "tiktok"} {
		var found []store.Discovered
		for i := 1; i <= n; i++ {
			if []string{"facebook", "instagram", "tiktok"}[i%3] != platform {
				continue
			}
			found = append(found, store.Discovered{PlatformUserID: fmt.Sprint("p", i), Username: fmt.Sprintf("%s%03d", strings.ToLower(names[i%10]), i),
				DisplayName: fmt.Sprintf("%s %03d", names[i%10], i), Tokens: store.Tokens{Access: vault.NewToken(fmt.Sprint("tok", i))},
				Metadata: map[string]any{"category": "Brand"}, Status: store.StatusActive, NextCheckAt: time.Now().Add(24 * time.Hour)})
		}
		if _, err := st.Connect(ctx, store.Connect{WorkspaceID: 1, UserID: 1, Platform: platform, Accounts: found}); err != nil {
			t.Fatal(err)
		}
	}
}

// Item 10: 200 accounts. A search box and filters narrow the list on the
// server; with JavaScript the list changes in place as the person types,
// without it the form loads the page anew; the list comes in pages.
func TestBrowserManyAccounts(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := map[bool]string{true: "js", false: "nojs"}[js]
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "many.db")
			ts := startServer(t, "OMNISOCIAL_DB", db)
			ctx := newBrowser(t)
			if !js {
				disableJS(t, ctx)
			}
			signUpInBrowser(t, ctx, ts.URL)
			seedMany(t, db, 200)
			manyFirstPage(t, ctx, ts.URL, name)
			manySearch(t, ctx, js, name)
			manyFilterTikTok(t, ctx, ts.URL, js)
			manyNextPage(t, ctx, js, name)
			if js {
				phoneMenu(t, ctx)
			}
		})
	}
}

// manyFirstPage opens Social Accounts: the first 20 of the 200.
func manyFirstPage(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(base+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=filters]`))
	if n := accountRows(t, ctx); n != 20 {
		t.Fatalf("%d accounts on the first page", n)
	}
	if got := text(t, ctx, `[data-testid=list-summary]`); got != "Showing 1–20 of 200 accounts" {
		t.Fatalf("summary = %q", got)
	}
	shot(t, ctx, "accounts-many-"+name)
}

// manySearch types "harbor 1" in the search box (and, without JavaScript,
// submits): ten accounts match, in place with JavaScript, and the address
// says what was searched either way.
func manySearch(t *testing.T, ctx context.Context, js bool, name string) {
	t.Helper()
	// A marker that a page load would wipe.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__same = true`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.SendKeys(`[data-testid=filter-q]`, "harbor 1"))
	if !js {
		do(t, ctx, chromedp.Click(`[data-testid=filter-submit]`))
		waitLoad(t, ctx, "?q=harbor+1")
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("[data-testid=account]").length === 10`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("search for harbor 1: %d accounts listed", accountRows(t, ctx))
	}
	if got := text(t, ctx, `[data-testid=list-summary]`); got != "10 of 200 accounts match · showing 1–10" {
		t.Fatalf("summary = %q", got)
	}
	same, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__same === true`))
	if same != js {
		t.Fatalf("page kept across the search: %v, want %v", same, js)
	}
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/settings/accounts?q=harbor+1") {
		t.Fatalf("address = %s", loc)
	}
	shot(t, ctx, "accounts-search-"+name)
}

// manyFilterTikTok picks TikTok in the platform select: 67 accounts, all
// TikTok.
func manyFilterTikTok(t *testing.T, ctx context.Context, base string, js bool) {
	t.Helper()
	do(t, ctx, chromedp.Navigate(base+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=filters]`),
		chromedp.SetValue(`[data-testid=filter-platform]`, "tiktok"))
	if js {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("[data-testid=filter-platform]").dispatchEvent(new Event("change", {bubbles: true}))`)); err != nil {
			t.Fatal(err)
		}
	} else {
		do(t, ctx, chromedp.Click(`[data-testid=filter-submit]`))
		waitLoad(t, ctx, "platform=tiktok")
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("[data-testid=list-summary]") || {}).textContent?.includes("67 of 200")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("TikTok filter: %q", text(t, ctx, `[data-testid=list-summary]`))
	}
	platforms, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("[data-testid=account]")].map(e => e.dataset.platform).filter((v, i, a) => a.indexOf(v) === i).join()`))
	if platforms != "tiktok" {
		t.Fatalf("platforms listed under the TikTok filter: %s", platforms)
	}
}

// manyNextPage presses Next under the TikTok filter: accounts 21–40, with
// the page and the filter in the address.
func manyNextPage(t *testing.T, ctx context.Context, js bool, name string) {
	t.Helper()
	// In place with JavaScript, once htmx has settled the list it swapped
	// in, so the new link is live.
	if js {
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!document.querySelector(".htmx-settling, .htmx-swapping, .htmx-request")`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	do(t, ctx, chromedp.Click(`[data-testid=pager-next]`))
	if !js {
		waitLoad(t, ctx, "page=2&platform=tiktok")
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("[data-testid=list-summary]") || {}).textContent?.includes("showing 21–40")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("page 2: %q", text(t, ctx, `[data-testid=list-summary]`))
	}
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/settings/accounts?page=2&platform=tiktok") {
		t.Fatalf("address = %s", loc)
	}
	shot(t, ctx, "accounts-page-2-"+name)
}

// phoneMenu: in the phone layout the navigation folds into a Menu button
// that opens and closes it.
func phoneMenu(t *testing.T, ctx context.Context) {
	t.Helper()
	setWidth(t, ctx, 390)
	vis := func() bool {
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector(".nav-panel").offsetParent`))
		return v
	}
	if vis() {
		t.Fatal("the navigation is open at 390 px before the Menu button is pressed")
	}
	do(t, ctx, chromedp.Click(`[data-testid=nav-toggle]`))
	if !vis() {
		t.Fatal("the Menu button did not open the navigation")
	}
	save(t, ctx, "nav-open-390")
	do(t, ctx, chromedp.Click(`[data-testid=nav-toggle]`))
	setWidth(t, ctx, 0)
}

// waitLoad waits for a page load after a plain form or link, until the
// address ends with suffix and the document is complete.
func waitLoad(t *testing.T, ctx context.Context, suffix string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + document.readyState`))
		if err == nil && strings.HasSuffix(state, suffix+" complete") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no page at …%s: at %s", suffix, location(t, ctx))
}
