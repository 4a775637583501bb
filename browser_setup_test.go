package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// A self-hoster set OMNISOCIAL_BASE_URL with the wrong port: the setup
// check, opened at the address that works, shows that line red with the
// fix, and the callback URLs to register, copyable.
func TestBrowserSetupCheckShowsABrokenBaseURL(t *testing.T) {
	ts := startServer(t, "OMNISOCIAL_BASE_URL", "http://127.0.0.1:1")
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/setup"), chromedp.WaitVisible(`[data-testid=setup-lines]`))
	shot(t, ctx, "setup-check")
	type line struct {
		OK     bool
		Text   string
		Border string
	}
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[[]line](`[...document.querySelectorAll("[data-testid=setup-line]")].map(l => ({
		OK: l.dataset.ok === "true", Text: l.innerText, Border: getComputedStyle(l).borderLeftColor}))`))
	if err != nil {
		t.Fatal(err)
	}
	var base *line
	for i, l := range lines {
		if strings.Contains(l.Text, "Base URL") && strings.Contains(l.Text, "reached") {
			base = &lines[i]
		}
	}
	if base == nil {
		t.Fatalf("no base URL line in %+v", lines)
	}
	// --bad is #b91c1c: red, whatever the theme's exact shade.
	if base.OK || base.Border != "rgb(185, 28, 28)" || !strings.Contains(base.Text, "set OMNISOCIAL_BASE_URL to "+ts.URL) {
		t.Fatalf("base URL line: %+v", *base)
	}
	if got := text(t, ctx, `[data-testid=setup-copy]`); got != "http://127.0.0.1:1/oauth/facebook/callback" {
		t.Fatalf("first callback URL = %q", got)
	}
}
