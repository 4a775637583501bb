package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// An agency's TikTok account stops working; the login is the client's. The
// agency makes a link; the client, in a browser that has never seen
// OmniSocial, signs in first with the wrong TikTok account (refused,
// nothing changes), then with the right one; the link then works no more.
func TestBrowserOwnerLinkReconnects(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ownerlink.db")
	ts := startServer(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_REFRESH_INTERVAL", "1s")
	agency := newBrowser(t)
	signUpInBrowser(t, agency, ts.URL)
	tiktokNeedsReauth(t, agency, ts.URL, db)
	link := makeOwnerLink(t, agency, ts.URL)

	owner := newBrowser(t) // a browser of its own: no cookie, no session
	do(t, owner, chromedp.Navigate(link), chromedp.WaitVisible(`[data-testid=link-landing]`))
	shot(t, owner, "owner-link-landing")
	if got := text(t, owner, `[data-testid=link-accounts]`); got != "Bloom Botanics" {
		t.Fatalf("landing lists %q", got)
	}
	signIn := func(persona string) string {
		do(t, owner,
			chromedp.Navigate(link),
			chromedp.Click(`[data-testid=link-continue]`),
			chromedp.WaitVisible(`[data-testid=consent-form]`),
			chromedp.Click(`input[name=sb_persona][value=`+persona+`]`),
			chromedp.Click(`[data-testid=allow]`),
			chromedp.WaitVisible(`[data-testid=link-done]`),
		)
		return text(t, owner, `[data-testid=flash]`)
	}
	if msg := signIn("river"); !strings.Contains(msg, "Nothing was changed") {
		t.Fatalf("another sign-in: %q", msg)
	}
	shot(t, owner, "owner-link-refused")
	var status string
	rawDB(t, db).QueryRow("SELECT status FROM social_accounts").Scan(&status)
	if status != "needs_reauth" {
		t.Fatalf("a refused sign-in left the account %s", status)
	}
	if msg := signIn("bloom"); !strings.Contains(msg, "Bloom Botanics is connected again") {
		t.Fatalf("the named sign-in: %q", msg)
	}
	shot(t, owner, "owner-link-done")
	rawDB(t, db).QueryRow("SELECT status FROM social_accounts").Scan(&status)
	if status != "active" {
		t.Fatalf("after the owner's sign-in the account is %s", status)
	}
	do(t, owner, chromedp.Navigate(link), chromedp.WaitVisible(`h1`))
	if got := text(t, owner, `main`); !strings.Contains(got, "does not work any more") {
		t.Fatalf("a used link shows %q", got)
	}
	do(t, agency, chromedp.Navigate(ts.URL+"/settings/links"), chromedp.WaitVisible(`[data-testid=links]`))
	shot(t, agency, "owner-links")
	if got := text(t, agency, `[data-testid=link-state]`); !strings.Contains(got, "Used") {
		t.Fatalf("the list says %q", got)
	}
}

// tiktokNeedsReauth connects Bloom Botanics, revokes it at the sandbox and
// waits for the refresh job to find out.
func tiktokNeedsReauth(t *testing.T, agency context.Context, base, db string) {
	t.Helper()
	connectTikTokInBrowser(t, agency)
	sandboxControl(t, base, "revoke", `{"persona":"bloom"}`)
	if _, err := rawDB(t, db).Exec("UPDATE social_accounts SET next_check_at = 0"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		var status string
		if err := rawDB(t, db).QueryRow("SELECT status FROM social_accounts").Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status == "needs_reauth" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("account still %s 30 s after the revocation", status)
		}
	}
}

// makeOwnerLink asks for a link from the account's details page and reads
// it off the page that shows it once.
func makeOwnerLink(t *testing.T, agency context.Context, base string) string {
	t.Helper()
	do(t, agency,
		chromedp.Navigate(base+"/settings/accounts"),
		chromedp.Click(`[data-testid=details-link]`),
		chromedp.WaitVisible(`[data-testid=ask-owner]`),
		chromedp.Click(`[data-testid=ask-owner]`),
		chromedp.WaitVisible(`[data-testid=link-form]`),
	)
	shot(t, agency, "owner-link-form")
	do(t, agency, chromedp.Click(`[data-testid=create-link]`), chromedp.WaitVisible(`[data-testid=new-link-value]`))
	shot(t, agency, "owner-link-created")
	link := strings.TrimSpace(text(t, agency, `[data-testid=new-link-value]`))
	if !strings.HasPrefix(link, base+"/link/") {
		t.Fatalf("link = %q", link)
	}
	return link
}
