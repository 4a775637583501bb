package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/setupcheck"
	"omnisocial/store"
	"omnisocial/views"
)

// The setup check: a base URL that is not how the page was reached (the
// wrong host or port) is shown red with the fix; one that matches is
// green; callback URLs are built from the base URL; owners only.
func TestSetupPage(t *testing.T) {
	tests := []struct {
		name    string
		base    func(srv string) string
		role    string
		status  int
		wantBad bool
	}{
		{"base URL with the wrong port", func(string) string { return "http://127.0.0.1:1" }, "owner", http.StatusOK, true},
		{"base URL with the wrong host", func(string) string { return "https://omnisocial.example" }, "owner", http.StatusOK, true},
		{"base URL as reached", func(srv string) string { return srv }, "owner", http.StatusOK, false},
		{"an admin may not look", func(srv string) string { return srv }, "admin", http.StatusForbidden, false},
		{"a member may not look", func(srv string) string { return srv }, "member", http.StatusForbidden, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var base *url.URL
			k := newKit(t, func(d *Deps) {
				d.SetupCheck = func(ctx context.Context, reached string) []views.SetupLine {
					in := setupcheck.Input{BaseURL: base, Reached: reached, Store: d.Store, DBPath: "", RefreshEvery: 30 * time.Second, Now: time.Now(),
						Platforms: []setupcheck.Platform{{Name: "TikTok", Slug: "tiktok", Vars: []string{"OMNISOCIAL_TIKTOK_CLIENT_KEY"}}}}
					var out []views.SetupLine
					for _, l := range setupcheck.Run(ctx, in) {
						out = append(out, views.SetupLine{OK: l.OK, Title: l.Title, Detail: l.Detail, Fix: l.Fix, Copy: l.Copy})
					}
					return out
				}
			})
			base, _ = url.Parse(tc.base(k.srv.URL))
			b := k.browser()
			if tc.role == "owner" {
				b.signup("owner@example.com", "Harbor")
			} else {
				_, ws := owned(t, k)
				k.addUser("other@example.com", ws, store.Role(tc.role))
				b.login("other@example.com")
			}
			res := b.get("/settings/setup")
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status != http.StatusOK {
				return
			}
			doc := parse(t, res)
			var match *goquerySel
			doc.Find(`[data-testid=setup-line]`).Each(func(_ int, s *goquerySel) {
				if strings.Contains(s.Find(".setup-title").Text(), "Base URL") && strings.Contains(s.Find(".setup-title").Text(), "reached") {
					match = s
				}
			})
			if match == nil {
				t.Fatalf("no base URL line:\n%s", doc.Text())
			}
			bad := match.AttrOr("data-ok", "") == "false" && match.HasClass("bad")
			if bad != tc.wantBad {
				t.Fatalf("base URL line red = %v, want %v: %s", bad, tc.wantBad, squash(match.Text()))
			}
			if tc.wantBad && !strings.Contains(match.Find("[data-testid=setup-fix]").Text(), "set OMNISOCIAL_BASE_URL to "+k.srv.URL) {
				t.Errorf("no fix naming the address reached: %s", squash(match.Text()))
			}
			if got := doc.Find(`[data-testid=setup-copy]`).Text(); got != base.String()+"/oauth/tiktok/callback" {
				t.Errorf("callback URL %q", got)
			}
			tiktok := doc.Find(`[data-testid=setup-line][data-ok=false]:contains("TikTok: not configured")`)
			if tiktok.Length() != 1 || !strings.Contains(tiktok.Text(), "OMNISOCIAL_TIKTOK_CLIENT_KEY") {
				t.Errorf("unconfigured platform not red with what to set: %q", squash(tiktok.Text()))
			}
		})
	}
}
