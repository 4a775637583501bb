package main

import (
	"context"
	_ "embed"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// noJS remembers the browsers whose page scripts are off.
var noJS sync.Map

//go:embed testdata/axe.min.js
var axeSource string

func TestBrowserSignupLandOnAccountsLogout(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	do(t, ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(`[data-testid=login-submit]`), // not logged in: the log-in page
		chromedp.Navigate(ts.URL+"/signup"),
		chromedp.WaitVisible(`input[name=name]`),
	)
	shot(t, ctx, "signup")
	do(t, ctx,
		chromedp.SendKeys(`input[name=name]`, "Dana Whitfield"),
		chromedp.SendKeys(`input[name=email]`, "dana@example.com"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=workspace]`, "Harbor Coffee"),
		chromedp.Click(`[data-testid=signup-submit]`),
		chromedp.WaitVisible(`[data-testid=usage]`),
	)
	shot(t, ctx, "accounts-empty")
	if got := text(t, ctx, `[data-testid=usage]`); got != "0 of 3 accounts used" {
		t.Fatalf("usage = %q", got)
	}
	if h, loc := text(t, ctx, "h1"), location(t, ctx); h != "Social Accounts" || !strings.HasSuffix(loc, "/settings/accounts") {
		t.Fatalf("landed on %q (%s)", h, loc)
	}
	do(t, ctx,
		chromedp.Click(`[data-testid=logout]`),
		chromedp.WaitVisible(`[data-testid=login-submit]`),
	)
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/login") {
		t.Fatalf("after log-out at %s", loc)
	}
	// The session is over on the server: the accounts page sends us back.
	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=login-submit]`))
	if strings.Contains(ts.logs.String(), "level=ERROR") {
		t.Fatalf("server logged errors:\n%s", ts.logs.String())
	}
}

// signUpInBrowser creates the first user and lands on Social Accounts.
func signUpInBrowser(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.WaitVisible(`input[name=name]`),
		chromedp.SendKeys(`input[name=name]`, "Dana Whitfield"),
		chromedp.SendKeys(`input[name=email]`, "dana@example.com"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.SendKeys(`input[name=workspace]`, "Harbor Coffee"),
		chromedp.Click(`[data-testid=signup-submit]`),
		chromedp.WaitVisible(`[data-testid=usage]`),
	)
}

// connectTwoPages goes through the chooser, the sandbox's Facebook dialog
// and the choose step, keeping Harbor Coffee Roasters and Luma Yoga Studio.
func connectTwoPages(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-account]`),
		chromedp.WaitVisible(`[data-testid=connect-facebook]`),
	)
	shot(t, ctx, "chooser")
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-facebook]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
	)
	shot(t, ctx, "sandbox-consent")
	do(t, ctx,
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=choose]`),
	)
	shot(t, ctx, "choose")
	// The plan has room for three: three of the four Pages come ticked.
	// Untick the one not wanted of those.
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[name=account]:checked").length`)); n != 3 {
		t.Fatalf("%d Pages ticked on a plan with room for 3", n)
	}
	do(t, ctx,
		chromedp.Click(`input[name=account][value="104000000000102"]`),
		chromedp.Click(`[data-testid=confirm]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
	if got := text(t, ctx, `[data-testid=usage]`); got != "2 of 3 accounts used" {
		t.Fatalf("usage = %q", got)
	}
}

func TestBrowserConnectDisconnectReconnect(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	connectTwoPages(t, ctx)
	shot(t, ctx, "accounts-two")

	// The More menu opens without leaving the page.
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	shot(t, ctx, "accounts-more-menu")
	keepInDialog(t, ctx)
	disconnectFirstInDialog(t, ctx)
	reconnectLuma(t, ctx)
	// Disconnecting the last account brings back the empty state in place.
	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=more-button]`))
	openMenu(t, ctx, `[data-testid=account]`)
	do(t, ctx,
		chromedp.Click(`[data-testid=disconnect]`),
		chromedp.WaitVisible(`dialog [data-testid=confirm-disconnect-button]`),
		chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`),
		chromedp.WaitVisible(`[data-testid=accounts-empty]`),
	)
	if got := text(t, ctx, `[data-testid=usage]`); got != "0 of 3 accounts used" {
		t.Fatalf("usage after the last disconnect = %q", got)
	}
	if strings.Contains(ts.logs.String(), "level=ERROR") {
		t.Fatalf("server logged errors:\n%s", ts.logs.String())
	}
}

// keepInDialog opens the disconnect dialog of the first account, its More
// menu open. It opens on "Keep it", so Enter keeps the account.
func keepInDialog(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(`[data-testid=account]:first-child [data-testid=disconnect]`),
		chromedp.WaitVisible(`dialog[data-testid=confirm-disconnect]`),
	)
	if got := focused(t, ctx); got != "keep-it" {
		t.Fatalf("the dialog opened with focus on %q, want Keep it", got)
	}
	shot(t, ctx, "disconnect-dialog")
	do(t, ctx, chromedp.KeyEvent("\r"), chromedp.WaitNotPresent(`dialog[open]`))
	if n := accountRows(t, ctx); n != 2 {
		t.Fatalf("Enter in the dialog removed an account: %d left", n)
	}
}

// disconnectFirstInDialog disconnects the first account, confirming in the
// dialog: the list shrinks in place and focus moves to the message.
func disconnectFirstInDialog(t *testing.T, ctx context.Context) {
	t.Helper()
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	do(t, ctx,
		chromedp.Click(`[data-testid=account]:first-child [data-testid=disconnect]`),
		chromedp.WaitVisible(`dialog[data-testid=confirm-disconnect]`),
		chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`),
		chromedp.WaitNotPresent(`dialog[data-testid=confirm-disconnect]`),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('[data-testid=account]').length === 1`)); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, `[data-testid=usage]`); got != "1 of 3 accounts used" {
		t.Fatalf("usage after disconnect = %q", got)
	}
	if got := text(t, ctx, `[data-testid=flash]`); !strings.Contains(got, "was disconnected") {
		t.Fatalf("flash = %q", got)
	}
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/settings/accounts") {
		t.Fatalf("disconnect navigated away: %s", loc)
	}
	// Focus is on the message that says what happened, not on <body>.
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.activeElement && document.activeElement.matches("#flash .flash")`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("after the disconnect focus is on %q, want the message", focused(t, ctx))
	}
}

// reconnectLuma reconnects the remaining account, a secondary action of a
// healthy card, and opens its details.
func reconnectLuma(t *testing.T, ctx context.Context) {
	t.Helper()
	openMenu(t, ctx, `[data-testid=account]`)
	do(t, ctx,
		chromedp.Click(`[data-testid=account] [data-testid=reconnect]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=flash]`),
	)
	shot(t, ctx, "reconnected")
	if got := text(t, ctx, `[data-testid=flash]`); !strings.Contains(got, "Reconnected Luma Yoga Studio") {
		t.Fatalf("flash after reconnect = %q", got)
	}
	if got := text(t, ctx, `[data-testid=account-name]`); got != "Luma Yoga Studio" {
		t.Fatalf("remaining account = %q", got)
	}
	do(t, ctx, chromedp.Click(`[data-testid=account-name]`), chromedp.WaitVisible(`[data-testid=details]`))
	shot(t, ctx, "details")
	if got := text(t, ctx, `[data-testid=scopes]`); !strings.Contains(got, "Publish posts to your Pages") {
		t.Fatalf("details scopes = %q", got)
	}
}

func TestBrowserConnectWithoutJavaScript(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	disableJS(t, ctx)
	signUpInBrowser(t, ctx, ts.URL)
	connectTwoPages(t, ctx)
	// Disconnect without JavaScript: the More menu opens all the same, and
	// the link leads to a confirmation page.
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	shot(t, ctx, "accounts-more-menu-nojs")
	do(t, ctx,
		chromedp.Click(`[data-testid=account]:first-child [data-testid=disconnect]`),
		chromedp.WaitVisible(`[data-testid=confirm-disconnect-button]`),
	)
	shot(t, ctx, "disconnect-page-nojs")
	do(t, ctx,
		chromedp.Click(`[data-testid=confirm-disconnect-button]`),
		chromedp.WaitVisible(`[data-testid=flash]`),
	)
	if got := text(t, ctx, `[data-testid=usage]`); got != "1 of 3 accounts used" {
		t.Fatalf("usage after disconnect without JavaScript = %q", got)
	}
}

// sandboxControl calls the sandbox's control API on the test server.
func sandboxControl(t *testing.T, base, path, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/sandbox/control/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sandbox %s: %d", path, res.StatusCode)
	}
}

func TestBrowserRevokedAccountShowsBannerUntilReconnected(t *testing.T) {
	db := filepath.Join(t.TempDir(), "revoked.db")
	ts := startServer(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_REFRESH_INTERVAL", "1s")
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	connectTikTokInBrowser(t, ctx)
	// The person revokes OmniSocial at TikTok; the job's next refresh is
	// refused, and every page shows the banner.
	sandboxControl(t, ts.URL, "revoke", `{"persona":"bloom"}`)
	// Bring the account's next check forward instead of waiting the hour
	// and a half a TikTok token lives: the job runs every second.
	if _, err := rawDB(t, db).Exec("UPDATE social_accounts SET next_check_at = 0"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		do(t, ctx, chromedp.Navigate(ts.URL+"/settings/members"), chromedp.WaitVisible(`h1`))
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=reauth-banner]").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner 30 s after the revocation; log:\n%s", ts.logs.String())
		}
		time.Sleep(time.Second)
	}
	shot(t, ctx, "banner")
	if got := text(t, ctx, `[data-testid=banner-group]`); got != "Bloom Botanics (TikTok) stopped working. Sign in again" {
		t.Fatalf("banner = %q", got)
	}
	do(t, ctx,
		chromedp.Click(`[data-testid=banner-reconnect]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=flash]`),
	)
	if got := text(t, ctx, `[data-testid=flash]`); !strings.Contains(got, "Reconnected Bloom Botanics") {
		t.Fatalf("flash = %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=reauth-banner]").length`)); n != 0 {
		t.Fatal("banner still shown after reconnecting")
	}
	shot(t, ctx, "banner-gone")
}

func TestBrowserInstagramNotLinkedGuide(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-account]`),
		chromedp.WaitVisible(`[data-testid=connect-instagram]`),
		chromedp.Click(`[data-testid=connect-instagram]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Click(`input[name=sb_persona][value=lee]`),
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=instagram-guide]`),
	)
	shot(t, ctx, "instagram-guide")
	if got := text(t, ctx, `[data-testid=unlinked]`); got != "Lee Park Photography" {
		t.Fatalf("Pages named in the guide: %q", got)
	}
	do(t, ctx, chromedp.Click(`[data-testid=try-again]`), chromedp.WaitVisible(`[data-testid=consent-form]`))
}

// connectTikTokInBrowser connects the sandbox's default TikTok account from
// the accounts page.
func connectTikTokInBrowser(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-account]`),
		chromedp.WaitVisible(`[data-testid=connect-tiktok]`),
		chromedp.Click(`[data-testid=connect-tiktok]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
}
