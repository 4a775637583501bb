package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// A creator without a Facebook Page connects with Instagram's own login,
// with JavaScript and without: the chooser names both Instagram ways, the
// sandbox's Instagram window asks, and the account is listed.
func TestBrowserConnectInstagramLogin(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := map[bool]string{true: "js", false: "nojs"}[js]
		t.Run(name, func(t *testing.T) {
			ts := startServer(t)
			ctx := newBrowser(t)
			if !js {
				disableJS(t, ctx)
			}
			signUpInBrowser(t, ctx, ts.URL)
			do(t, ctx,
				chromedp.Click(`[data-testid=connect-account]`),
				chromedp.WaitVisible(`[data-testid=connect-instagram_login]`),
			)
			if got := text(t, ctx, `[data-testid=way-instagram_login]`); got != "With Instagram login: for accounts without a Facebook Page" {
				t.Fatalf("the chooser says %q", got)
			}
			if got := text(t, ctx, `[data-testid=way-instagram]`); got != "Through a Facebook Page: for accounts linked to a Page you manage" {
				t.Fatalf("the chooser says %q", got)
			}
			if js {
				shot(t, ctx, "chooser-instagram-ways")
			}
			do(t, ctx,
				chromedp.Click(`[data-testid=connect-instagram_login]`),
				chromedp.WaitVisible(`[data-testid=consent-form]`),
				chromedp.Click(`input[name=sb_persona][value=nova]`),
				chromedp.Click(`[data-testid=allow]`),
				chromedp.WaitVisible(`[data-testid=account]`),
			)
			if got := text(t, ctx, `[data-testid=account-name]`); got != "Nova Reyes" {
				t.Fatalf("listed %q", got)
			}
			if got := text(t, ctx, `[data-testid=flash]`); got == "" {
				t.Fatal("no message after connecting")
			}
			if js {
				shot(t, ctx, "instagram-login-connected")
			}
		})
	}
}
