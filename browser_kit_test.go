package main

import (
	"context"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
