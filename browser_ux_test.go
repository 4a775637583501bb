package main

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser tests of issue 13 (UX round 2): the plan's room before the
// platform, the banner, focus, pending states and long lists, each with
// and without JavaScript where it applies. shot() audits every state with
// axe-core, in light and dark, at 1280 and 390 px.

func checkedCount(t *testing.T, ctx context.Context) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[name=account]:checked").length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// toChooseStep goes from Social Accounts through Facebook's dialog to the
// choose step. The persona's radio has focus and Enter is pressed: Enter
// on the sandbox's consent page chooses Continue, not Cancel.
func toChooseStep(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-account]`),
		chromedp.WaitVisible(`[data-testid=connect-facebook]`),
		chromedp.Click(`[data-testid=connect-facebook]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Focus(`input[name=sb_persona][value=dana]`),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(`[data-testid=choose]`),
	)
}

// Item 1 without JavaScript: with room for one account, one Page comes
// ticked and the count says "1 of 1 selected"; two more ticked are refused
// on submit with a message, the selection kept. With the plan full the
// chooser offers no platform.
func TestBrowserPlanRoomWithoutJavaScript(t *testing.T) {
	ts := startServer(t, "OMNISOCIAL_PLAN_LIMITS", "free=1,pro=10,business=50")
	ctx := newBrowser(t)
	disableJS(t, ctx)
	signUpInBrowser(t, ctx, ts.URL)
	toChooseStep(t, ctx)
	if n := checkedCount(t, ctx); n != 1 {
		t.Fatalf("%d Pages ticked with room for one", n)
	}
	if got := text(t, ctx, `[data-testid=selected-count]`); got != "1 of 1 selected: the plan has no more room" {
		t.Fatalf("count = %q", got)
	}
	shot(t, ctx, "choose-room-1-nojs")
	do(t, ctx,
		chromedp.Click(`input[name=account][value="104000000000102"]`),
		chromedp.Click(`input[name=account][value="104000000000103"]`),
		chromedp.Click(`[data-testid=confirm]`),
		chromedp.WaitVisible(`[data-testid=form-error]`),
	)
	if got := text(t, ctx, `[data-testid=form-error]`); got != "You selected 3 new accounts, but your free plan has room for 1 more. Untick 2, or disconnect an account or change plan first." {
		t.Fatalf("error = %q", got)
	}
	if n := checkedCount(t, ctx); n != 3 {
		t.Fatalf("the selection was not kept: %d ticked", n)
	}
	shot(t, ctx, "choose-over-room-nojs")
	do(t, ctx,
		chromedp.Click(`input[name=account][value="104000000000101"]`),
		chromedp.Click(`input[name=account][value="104000000000102"]`),
		chromedp.Click(`[data-testid=confirm]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
	planFull(t, ctx, ts, "Luma Yoga Studio")
}

// planFull checks the chooser once the plan is full.
func planFull(t *testing.T, ctx context.Context, ts *testServer, connected string) {
	t.Helper()
	if got := text(t, ctx, `[data-testid=account-name]`); got != connected {
		t.Fatalf("connected %q, want %q", got, connected)
	}
	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/accounts/connect"), chromedp.WaitVisible(`[data-testid=plan-full]`))
	if got := text(t, ctx, `[data-testid=plan-full] h2`); got != "Your plan is full: disconnect an account or change plan" {
		t.Fatalf("plan full = %q", got)
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid^=connect-]").length`)); n != 0 {
		t.Fatalf("%d platform buttons with the plan full", n)
	}
	shot(t, ctx, "chooser-plan-full")
}

// Item 1 with JavaScript: the live count and the boxes that cannot be
// ticked once the room is used.
func TestBrowserPlanRoomLiveCount(t *testing.T) {
	ts := startServer(t, "OMNISOCIAL_PLAN_LIMITS", "free=1,pro=10,business=50")
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	toChooseStep(t, ctx)
	if n := checkedCount(t, ctx); n != 1 {
		t.Fatalf("%d Pages ticked with room for one", n)
	}
	disabled := func() int {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("input[name=account]:disabled").length`))
		return n
	}
	if n := disabled(); n != 3 {
		t.Fatalf("%d Pages cannot be ticked, want the 3 left", n)
	}
	if got := text(t, ctx, `[data-testid=selected-count]`); got != "1 of 1 selected: the plan has no more room" {
		t.Fatalf("count = %q", got)
	}
	shot(t, ctx, "choose-room-1")
	do(t, ctx, chromedp.Click(`input[name=account][value="104000000000101"]`))
	if got := text(t, ctx, `[data-testid=selected-count]`); got != "0 of 1 selected" {
		t.Fatalf("count after unticking = %q", got)
	}
	if n := disabled(); n != 0 {
		t.Fatalf("%d Pages still cannot be ticked with room free", n)
	}
	do(t, ctx,
		chromedp.Click(`input[name=account][value="104000000000103"]`),
		chromedp.Click(`[data-testid=confirm]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
	planFull(t, ctx, ts, "Luma Yoga Studio")
}

// Item 2: the banner is one sentence per sign-in, naming each account's
// platform, with one action; Sign in again fixes every account of it.
func TestBrowserBannerOneSentence(t *testing.T) {
	for _, js := range []bool{true, false} {
		name := map[bool]string{true: "js", false: "nojs"}[js]
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "banner.db")
			ts := startServer(t, "OMNISOCIAL_DB", db)
			ctx := newBrowser(t)
			if !js {
				disableJS(t, ctx)
			}
			signUpInBrowser(t, ctx, ts.URL)
			connectTwoPages(t, ctx)
			// Facebook tells OmniSocial the sign-in is gone (as a refresh
			// that met 190/460 would).
			st := openStore(t, db)
			if _, err := st.MarkMetaDeauthorized(context.Background(), []string{"facebook", "instagram"}, "10229000000001", "Facebook says the password was changed."); err != nil {
				t.Fatal(err)
			}
			st.Close()
			do(t, ctx, chromedp.Navigate(ts.URL+"/settings/api-keys"), chromedp.WaitVisible(`[data-testid=reauth-banner]`))
			shot(t, ctx, "banner-meta-"+name)
			want := "Dana Whitfield's Facebook sign-in stopped working: Harbor Coffee Roasters (Facebook), Luma Yoga Studio (Facebook). Sign in again"
			if got := text(t, ctx, `[data-testid=reauth-banner]`); got != want {
				t.Fatalf("banner = %q", got)
			}
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=reauth-banner] button, [data-testid=reauth-banner] a").length`)); n != 1 {
				t.Fatalf("%d actions in the banner", n)
			}
			do(t, ctx, chromedp.Navigate(ts.URL+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=account]`))
			shot(t, ctx, "accounts-needs-reauth-"+name)
			// The card's fix leads; Reconnect is not also in its menu.
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=account]:first-child [data-testid=reconnect]").length`)); n != 1 {
				t.Fatalf("%d Reconnect buttons on a card that needs re-auth", n)
			}
			do(t, ctx,
				chromedp.Click(`[data-testid=banner-reconnect]`),
				chromedp.WaitVisible(`[data-testid=consent-form]`),
				chromedp.Click(`[data-testid=allow]`),
				chromedp.WaitVisible(`[data-testid=flash]`),
			)
			if got := text(t, ctx, `[data-testid=flash]`); got != "Reconnected Harbor Coffee Roasters and Luma Yoga Studio." {
				t.Fatalf("flash = %q", got)
			}
			if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=reauth-banner]").length`)); n != 0 {
				t.Fatal("banner still shown after signing in again")
			}
		})
	}
}

// Item 7: every htmx action shows a pending state: the button disabled,
// aria-busy and a spinner, while the answer is on its way. The network is
// slowed so the state can be seen.
func TestBrowserPendingStates(t *testing.T) {
	db := filepath.Join(t.TempDir(), "pending.db")
	ts := startServer(t, "OMNISOCIAL_DB", db)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	pending := pendingChecker(t, ctx)
	do(t, ctx, chromedp.Click(`[data-testid=connect-account]`), chromedp.WaitVisible(`[data-testid=connect-facebook]`))
	pending("connect", `[data-testid=connect-facebook]`, `[data-testid=connect-facebook]`)
	do(t, ctx, chromedp.WaitVisible(`[data-testid=consent-form]`), chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=choose]`), chromedp.Click(`input[name=account][value="104000000000102"]`))
	pending("confirm", `[data-testid=confirm]`, `[data-testid=confirm]`, "/settings/accounts")
	do(t, ctx, chromedp.WaitVisible(`[data-testid=account]`))

	openMenu(t, ctx, `[data-testid=account]:first-child`)
	pending("disconnect", `[data-testid=account]:first-child [data-testid=disconnect]`, `[data-testid=account]:first-child [data-testid=disconnect]`)
	do(t, ctx, chromedp.WaitVisible(`dialog [data-testid=confirm-disconnect-button]`))
	pending("confirm disconnect", `dialog [data-testid=confirm-disconnect-button]`, `dialog [data-testid=confirm-disconnect-button]`)
	do(t, ctx, chromedp.WaitNotPresent(`dialog`))

	openMenu(t, ctx, `[data-testid=account]:first-child`)
	pending("reconnect", `[data-testid=account]:first-child [data-testid=reconnect]`, `[data-testid=account]:first-child [data-testid=reconnect]`)
	do(t, ctx, chromedp.WaitVisible(`[data-testid=consent-form]`))

	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/accounts"), chromedp.WaitVisible(`[data-testid=account-name]`),
		chromedp.Click(`[data-testid=account-name]`), chromedp.WaitVisible(`[data-testid=check-now]`))
	pending("check now", `[data-testid=check-now]`, `[data-testid=check-now]`)
	// The answer replaces <main>: its message area stays, with the outcome.
	do(t, ctx, chromedp.WaitVisible(`#flash [data-testid=flash]`))
	if got := text(t, ctx, `#flash [data-testid=flash]`); got != "Luma Yoga Studio is working." {
		t.Fatalf("flash after Check now = %q", got)
	}
	shot(t, ctx, "details-checked")
}

// Item 7 on the settings pages (plain forms), and item 11's Copy button.
func TestBrowserPendingStatesSettings(t *testing.T) {
	ts := startServer(t)
	ctx := newBrowser(t)
	signUpInBrowser(t, ctx, ts.URL)
	pending := pendingChecker(t, ctx)
	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/members"), chromedp.WaitVisible(`[data-testid=invite]`),
		chromedp.SendKeys(`input[name=email]`, "sam@example.com"))
	pending("invite", `[data-testid=invite]`, `[data-testid=invite]`, "/settings/invitations")
	do(t, ctx, chromedp.WaitVisible(`[data-testid=invitation-link]`))

	do(t, ctx, chromedp.Navigate(ts.URL+"/settings/api-keys"), chromedp.WaitVisible(`[data-testid=create-key]`),
		chromedp.SendKeys(`input[name=name]`, "Publisher"))
	pending("create key", `[data-testid=create-key]`, `[data-testid=create-key]`, "/settings/api-keys")
	do(t, ctx, chromedp.WaitVisible(`[data-testid=new-key-value]`))

	// Item 11: the new key has a Copy button.
	do(t, ctx, chromedp.Click(`[data-testid=copy-key]`))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector("[data-testid=copy-key]").textContent === "Copied"`, chromedp.WithPollingTimeout(3*time.Second))); err != nil {
		t.Fatalf("Copy did not say Copied: %q", text(t, ctx, `[data-testid=copy-key]`))
	}
	shot(t, ctx, "api-key-created")
}

// pendingChecker returns pending(what, sel, busy[, next]): it clicks sel
// and, while the answer is slowed, checks that busy is busy (aria-busy),
// disabled and spinning. A plain form (next: the address it leads to) is
// held back by a submit listener after app.js's, looked at, then sent.
func pendingChecker(t *testing.T, ctx context.Context) func(what, sel, busy string, plainNext ...string) {
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	slow := func(on bool) {
		t.Helper()
		latency := 0.0
		if on {
			latency = 900
		}
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Latency: latency, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// pending clicks sel and, while the answer is slowed, checks the button
	// busy is busy, disabled and spinning.
	return func(what, sel, busy string, plainNext ...string) {
		t.Helper()
		plain, next := len(plainNext) > 0, ""
		if plain {
			next = plainNext[0]
		}
		slow(true)
		defer slow(false)
		if plain {
			// A plain form loads the next page at once: hold the first
			// submit back (a listener after app.js's), look, then send the
			// form for real.
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.addEventListener("submit", e => e.preventDefault(), {once: true}), true`)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+fmt.Sprintf("%q", sel)+`).click(), true`)); err != nil {
			t.Fatal(err)
		}
		state, err := chromedp.Run(ctx, chromedp.PollFunction[string](`(sel) => {
			const b = document.querySelector(sel);
			if (!b || b.getAttribute("aria-busy") !== "true") return "";
			const spin = getComputedStyle(b, "::before").animationName;
			return (b.disabled || b.getAttribute("aria-disabled") === "true") + " " + spin;
		}`, chromedp.WithPollingArgs(busy), chromedp.WithPollingTimeout(3*time.Second), chromedp.WithPollingInterval(20*time.Millisecond)))
		if err != nil || state != "true spin" {
			t.Fatalf("%s: no pending state on %s (%q, %v)", what, busy, state, err)
		}
		if plain {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector(`+fmt.Sprintf("%q", busy)+`).form.submit(), true`)); err != nil {
				t.Fatal(err)
			}
			waitLoad(t, ctx, next)
		}
		if what == "check now" {
			save(t, ctx, "pending-check-now")
		}
	}

}
