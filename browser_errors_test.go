package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"omnisocial/handlers/apitest"
	"omnisocial/store"
	"omnisocial/vault"
)

// Errors of htmx requests reach the person in words (issue 10, defect 3):
// in the message area, never hidden behind a dialog.

// seenFlash waits for the message area to say want, and checks a person can
// see it: the message is the topmost thing at its own centre (no modal
// dialog or backdrop covers it).
func seenFlash(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`(want) => {
		const el = document.querySelector("#flash [data-testid=flash]");
		if (!el || el.textContent.trim().split(/\s+/).join(" ") !== want) return false;
		const r = el.getBoundingClientRect();
		const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return !!top && !!top.closest("#flash");
	}`, chromedp.WithPollingArgs(want), chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		now, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#flash") || {}).innerText || ""`))
		dialogs, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("dialog[open]").length`))
		t.Fatalf("message area never showed %q where it can be seen: it says %q, %d dialog(s) open (%v)", want, now, dialogs, err)
	}
}

// noDialogOpen fails the test when a modal dialog is still open.
func noDialogOpen(t *testing.T, ctx context.Context) {
	t.Helper()
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("dialog[open]").length`)); err != nil || n != 0 {
		t.Fatalf("%d dialog(s) still open (%v)", n, err)
	}
}

func accountRows(t *testing.T, ctx context.Context) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=account]").length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// openDisconnectDialog opens the confirmation for the first account and
// returns that account's id.
func openDisconnectDialog(t *testing.T, ctx context.Context) string {
	t.Helper()
	id, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("[data-testid=account]").id.replace("account-", "")`))
	if err != nil || id == "" {
		t.Fatalf("first account's id: %q %v", id, err)
	}
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	do(t, ctx,
		chromedp.Click(`[data-testid=account]:first-child [data-testid=disconnect]`),
		chromedp.WaitVisible(`dialog[data-testid=confirm-disconnect] [data-testid=confirm-disconnect-button]`),
	)
	return id
}

// An account removed elsewhere while its disconnect dialog is open: the
// confirmation answers 404. The dialog closes, the message says why, and
// the list reloads without the account.
func TestBrowserErrorAccountGoneWhileDialogOpen(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	connectTwoPages(t, ctx)
	id := openDisconnectDialog(t, ctx)

	// Another tab, a script or a colleague disconnects it: here the JSON
	// API with this browser's session, from a client of its own.
	deleteThroughAPI(t, ctx, ts.URL, id)

	do(t, ctx, chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`))
	seenFlash(t, ctx, "That is no longer here: it may have been removed in another tab or by someone else.")
	noDialogOpen(t, ctx)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll("[data-testid=account]").length === 1`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the list did not reload without the removed account: %d rows", accountRows(t, ctx))
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#account-`+id+`").length`)); n != 0 {
		t.Fatal("the removed account is still listed")
	}
	shot(t, ctx, "error-404-account-gone")
	if loc := location(t, ctx); !strings.HasSuffix(loc, "/settings/accounts") {
		t.Fatalf("navigated away: %s", loc)
	}
}

// deleteThroughAPI disconnects an account with DELETE /api/v1/accounts/{id},
// using the browser's session cookie in a separate HTTP client (which reads
// the session's CSRF token from a page first, as any cookie-authenticated
// client must).
func deleteThroughAPI(t *testing.T, ctx context.Context, base, id string) {
	t.Helper()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(base)
	for _, c := range cookies.Cookies {
		if c.Name == "omnisocial" {
			jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		}
	}
	client := &http.Client{Jar: jar, Transport: apitest.Transport(t, nil)}
	res, err := client.Get(base + "/settings/accounts")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// The session's token, as its pages carry it.
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the accounts page")
	}
	token := string(m[1])
	req, _ := http.NewRequest(http.MethodDelete, base+"/api/v1/accounts/"+id, nil)
	req.Header.Set("X-CSRF-Token", token)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("API disconnect: %d", res.StatusCode)
	}
}

// newBrowserOnPlainHTTPName is newBrowser with the name omnisocial.test
// resolving to the loopback address. A page from http://omnisocial.test is
// not a potentially trustworthy origin, so Chromium sends no Sec-Fetch-Site
// and the server's CSRF check falls back to the token, as it does for a
// plain-HTTP install on a LAN name or a browser without Fetch Metadata. (On
// localhost or https, a same-origin request passes by that header alone,
// so a stale token cannot be produced there.)
func newBrowserOnPlainHTTPName(t *testing.T) context.Context {
	return newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP omnisocial.test 127.0.0.1"))
}

// A form that expired while open (its session's CSRF token was renewed by a
// log-out and log-in in another tab): the confirmation answers 403. The
// dialog closes and the message tells the person to reload the page.
func TestBrowserErrorExpiredFormSaysReload(t *testing.T) {
	db := filepath.Join(t.TempDir(), "expired.db")
	ts := startServer(t, "OMNISOCIAL_DB", db)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	base := "http://omnisocial.test:" + port
	ctx := newBrowserOnPlainHTTPName(t)
	signUpInBrowser(t, ctx, base)

	// The OAuth round trip returns to the configured base URL (another
	// host for the browser's cookies), so the account is stored directly.
	st := openStore(t, db)
	if _, err := st.Connect(context.Background(), store.Connect{WorkspaceID: 1, UserID: 1, Platform: "facebook",
		Accounts: []store.Discovered{{PlatformUserID: "104000000000101", DisplayName: "Harbor Coffee Roasters",
			Tokens: store.Tokens{Access: vault.NewToken("EAAtest")}, Status: "active", NextCheckAt: time.Now().Add(24 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	do(t, ctx, chromedp.Navigate(base+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=account]`))
	openDisconnectDialog(t, ctx)

	// In another tab the person logs out and in again: the session, and
	// with it the CSRF token, is a new one, so this tab's form is stale.
	tab, cancelTab := chromedp.NewContext(ctx)
	do(t, tab,
		chromedp.Navigate(base+"/settings/accounts"),
		chromedp.WaitVisible(`[data-testid=logout]`),
		chromedp.Click(`[data-testid=logout]`),
		chromedp.WaitVisible(`[data-testid=login-submit]`),
		chromedp.SendKeys(`input[name=email]`, "dana@example.com"),
		chromedp.SendKeys(`input[name=password]`, "correct horse battery"),
		chromedp.Click(`[data-testid=login-submit]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
	cancelTab()
	do(t, ctx, chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`))
	seenFlash(t, ctx, "This form has expired or did not come from OmniSocial. Reload the page and try again.")
	noDialogOpen(t, ctx)
	shot(t, ctx, "error-403-expired-form")
	if n := accountRows(t, ctx); n != 1 {
		t.Fatalf("%d accounts listed after a refused disconnect, want 1", n)
	}
	// Reloading, as told, makes the same action work.
	do(t, ctx, chromedp.Navigate(base+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=account]`))
	openDisconnectDialog(t, ctx)
	do(t, ctx,
		chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`),
		chromedp.WaitVisible(`[data-testid=accounts-empty]`),
	)
	seenFlash(t, ctx, "Harbor Coffee Roasters was disconnected and its tokens deleted.")
}

// Reconnect of an account whose platform is no longer configured on this
// server (its credentials were removed after it was connected): 409, and
// the message names what the administrator must set.
func TestBrowserErrorPlatformNotConfigured(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shared.db")
	demo := startServer(t, "OMNISOCIAL_DB", db)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, demo.URL)
	connectTwoPages(t, ctx)

	// The same database served without the sandbox and without Facebook
	// credentials; cookies are per host, so the session carries over.
	prod := startServer(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "false")
	do(t, ctx, chromedp.Navigate(prod.URL+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=account] [data-testid=more-button]`))
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	do(t, ctx, chromedp.Click(`[data-testid=account]:first-child [data-testid=reconnect]`))
	seenFlash(t, ctx, "Facebook is not configured on this server. The administrator sets OMNISOCIAL_FACEBOOK_APP_ID and OMNISOCIAL_FACEBOOK_APP_SECRET.")
	shot(t, ctx, "error-409-not-configured")
	if loc := location(t, ctx); loc != prod.URL+"/settings/accounts" {
		t.Fatalf("navigated to %s", loc)
	}
	if n := accountRows(t, ctx); n != 2 {
		t.Fatalf("%d accounts listed, want 2", n)
	}
}

// The server cannot be reached while the disconnect dialog is open: the
// dialog closes and the message says so; the next request that gets an
// answer clears it.
func TestBrowserErrorServerUnreachable(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	connectTwoPages(t, ctx)
	openDisconnectDialog(t, ctx)

	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	block := func(on bool) {
		t.Helper()
		var p network.SetBlockedURLsParams
		if on {
			p.URLPatterns = []*network.BlockPattern{{URLPattern: "*://*:*/*", Block: true}}
		}
		if _, err := chromedp.Call(ctx, network.SetBlockedURLs, p); err != nil {
			t.Fatal(err)
		}
	}
	block(true)
	do(t, ctx, chromedp.Click(`dialog [data-testid=confirm-disconnect-button]`))
	seenFlash(t, ctx, "OmniSocial could not be reached. Check your connection and try again.")
	noDialogOpen(t, ctx)
	shot(t, ctx, "error-network")
	if n := accountRows(t, ctx); n != 2 {
		t.Fatalf("%d accounts listed, want 2", n)
	}

	block(false)
	openMenu(t, ctx, `[data-testid=account]:first-child`)
	do(t, ctx,
		chromedp.Click(`[data-testid=account]:first-child [data-testid=disconnect]`),
		chromedp.WaitVisible(`dialog[data-testid=confirm-disconnect] [data-testid=confirm-disconnect-button]`),
	)
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#flash [data-testid=flash]").length`)); n != 0 {
		t.Fatal("the network message stayed after the server answered again")
	}
}
