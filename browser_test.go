package main

import (
	"context"
	_ "embed"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// newBrowser starts headless Debian Chromium. Without a browser the test is
// skipped on a developer machine, but fails where OMNISOCIAL_REQUIRE_BROWSER
// is set (CI installs Chromium and sets it).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("OMNISOCIAL_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found, and OMNISOCIAL_REQUIRE_BROWSER is set")
		}
		t.Skip("no Chromium on this machine; .ci/run installs it")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	// Every shot runs axe three times (light, dark, 390 px): a long journey
	// on a loaded machine needs minutes, not seconds.
	ctx, cancelC := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	// Record Content-Security-Policy violations on every page, so a test
	// fails when htmx or our markup needs something the policy forbids.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.__csp = []; document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI));`,
	}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// shot checks the page broke no Content-Security-Policy rule, and saves a
// screenshot under OMNISOCIAL_SCREENSHOTS, when set, for a person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(window.__csp || []).join("; ")`))
	if err != nil {
		t.Fatal(err)
	}
	if violations != "" {
		t.Fatalf("%s: Content-Security-Policy violations: %s", name, violations)
	}
	// Every state a test reaches is audited three times, as people see it:
	// 1280 px light, 1280 px dark, 390 px (a phone).
	audit(t, ctx, name)
	save(t, ctx, name)
	setColorScheme(t, ctx, "dark")
	audit(t, ctx, name+" (dark)")
	save(t, ctx, name+"-dark")
	setColorScheme(t, ctx, "")
	setWidth(t, ctx, 390)
	audit(t, ctx, name+" (390 px)")
	// Nothing may scroll sideways on a phone.
	if w, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); err != nil || w > 390 {
		t.Errorf("%s: the page is %d px wide at 390 px (%v)", name, w, err)
	}
	save(t, ctx, name+"-390")
	setWidth(t, ctx, 0)
}

// save writes a full-page screenshot under OMNISOCIAL_SCREENSHOTS, when set.
func save(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("OMNISOCIAL_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// setColorScheme emulates prefers-color-scheme ("" restores the default).
func setColorScheme(t *testing.T, ctx context.Context, scheme string) {
	t.Helper()
	p := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		p.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, p); err != nil {
		t.Fatal(err)
	}
}

// setWidth emulates a viewport of that many CSS pixels (0 restores 1280).
func setWidth(t *testing.T, ctx context.Context, width int64) {
	t.Helper()
	var err error
	if width == 0 {
		_, err = chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	} else {
		_, err = chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: 844, DeviceScaleFactor: 1, Mobile: true})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// noJS remembers the browsers whose page scripts are off.
var noJS sync.Map

// disableJS turns the page's scripts off, as for a person without JavaScript.
func disableJS(t *testing.T, ctx context.Context) {
	t.Helper()
	setScripts(t, ctx, false)
	noJS.Store(ctx, true)
}

func jsOff(ctx context.Context) bool { _, ok := noJS.Load(ctx); return ok }

func setScripts(t *testing.T, ctx context.Context, on bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on}); err != nil {
		t.Fatal(err)
	}
}

//go:embed testdata/axe.min.js
var axeSource string

// audit runs axe-core (testdata/axe.min.js, see testdata/README.md) over the
// page as it is now, failing the test on any WCAG 2.2 A/AA violation. The
// script goes in through DevTools' Runtime.evaluate, which the page's
// Content-Security-Policy does not govern; it runs in pages whose own
// scripts are disabled too.
func audit(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	// Let a CSS transition (a fading message, an opening dialog) finish, so
	// colours are measured as they settle.
	time.Sleep(250 * time.Millisecond)
	if jsOff(ctx) {
		// axe-core waits on timers, which do not run while the page's
		// scripts are off: allow them for the audit alone (the page's own
		// scripts, skipped when it loaded, stay unrun).
		setScripts(t, ctx, true)
		defer setScripts(t, ctx, false)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe === "object" || (function(){`+axeSource+`; return true})()`)); err != nil {
		t.Fatalf("%s: injecting axe-core: %v", name, err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]},
		resultTypes: ["violations"]
	}).then(r => r.violations.map(v => v.impact + " " + v.id + ": " + v.help + " [" +
		v.nodes.slice(0, 4).map(n => n.target.join(" ") + (n.failureSummary ? " (" + n.failureSummary.split("\n").slice(1).join(" ").trim() + ")" : "")).join("; ") + "]").join("\n"))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: running axe-core: %v", name, err)
	}
	if found != "" {
		t.Errorf("%s: axe-core found:\n%s", name, found)
	}
}

// do runs browser steps, failing the test on the first error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	for _, step := range steps {
		// A node chromedp found can be gone by the time it scrolls to it
		// (the document was replaced under a loaded machine). That fails
		// before any input is sent, so the step is safe to take again.
		var err error
		for range 3 {
			if err = chromedp.Do(ctx, step); err == nil || !strings.Contains(err.Error(), "node with given id") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// text is the visible text of the first match, spaces folded.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.Join(strings.Fields(s), " ")
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

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

// openMenu opens the More menu of the card sel.
func openMenu(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	do(t, ctx,
		chromedp.Click(sel+` [data-testid=more-button]`),
		chromedp.WaitVisible(sel+` [data-testid=more] .menu-panel`),
	)
}

// focused names the element that has focus: its data-testid, or its tag.
func focused(t *testing.T, ctx context.Context) string {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(e => e ? (e.getAttribute("data-testid") || e.tagName.toLowerCase()) : "")(document.activeElement)`))
	if err != nil {
		t.Fatal(err)
	}
	return got
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
	// Disconnect the first, confirming in the dialog. It opens on "Keep
	// it", so Enter keeps the account.
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

	// Reconnect the other, a secondary action of a healthy card.
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
	do(t, ctx,
		chromedp.Click(`[data-testid=connect-account]`),
		chromedp.WaitVisible(`[data-testid=connect-tiktok]`),
		chromedp.Click(`[data-testid=connect-tiktok]`),
		chromedp.WaitVisible(`[data-testid=consent-form]`),
		chromedp.Click(`[data-testid=allow]`),
		chromedp.WaitVisible(`[data-testid=account]`),
	)
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
