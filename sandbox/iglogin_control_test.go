package sandbox

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// igFaultCase is a fault on one Instagram endpoint and what it answers.
type igFaultCase struct {
	name, endpoint, kind string
	extra                map[string]any
	call                 func() resp
	status               int
	check                func(t *testing.T, r resp)
}

func TestIGFaults(t *testing.T) {
	e := newEnv(t)
	long := e.igLong(e.igShort("nova"))
	e.clock.Advance(25 * time.Hour)
	tests := igFaultCases(e, long)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := map[string]any{"endpoint": tt.endpoint, "kind": tt.kind}
			for k, v := range tt.extra {
				body[k] = v
			}
			e.control("faults", body)
			r := tt.call()
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			tt.check(t, r)
			// A fault changes no state: the next call works.
			if r := e.igMe(long, "user_id"); r.Status != 200 {
				t.Errorf("after the fault: %s", r.Body)
			}
		})
	}
	igFaultsLeaveNoTrace(t, e, long)
}

func igFaultCases(e *env, long string) []igFaultCase {
	return []igFaultCase{
		{"authorize 5xx", "instagram.authorize", "5xx", nil, func() resp { return e.get(igAuthorizeURL(igAllScopes, "x")) }, 500,
			func(t *testing.T, r resp) {
				if !strings.Contains(string(r.Body), `class="instagram"`) {
					t.Errorf("not an Instagram page")
				}
			}},
		{"authorize 429", "instagram.authorize", "429", map[string]any{"retry_after": 7}, func() resp { return e.get(igAuthorizeURL(igAllScopes, "x")) }, 429,
			func(t *testing.T, r resp) {
				if r.Header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			}},
		{"token 5xx", "instagram.token", "5xx", nil, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 500,
			func(t *testing.T, r resp) { igOAuthError(t, r, 500) }},
		{"token rate limit", "instagram.token", "rate_limit", map[string]any{"retry_after": 30}, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 429,
			func(t *testing.T, r resp) {
				igOAuthError(t, r, 429)
				if r.Header.Get("Retry-After") != "30" {
					t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
				}
			}},
		{"token invalid_grant", "instagram.token", "invalid_grant", nil, func() resp { return e.igExchange(igCodeForm(e.igCode("nova"))) }, 400,
			func(t *testing.T, r resp) {
				if msg := igOAuthError(t, r, 400); msg != "Matching code was not found or was already used" {
					t.Errorf("message %q", msg)
				}
			}},
		{"exchange 5xx", "instagram.exchange", "5xx", nil, func() resp { return e.igLongResp("x") }, 500,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 2 || r.JSON(t)["error"].(map[string]any)["is_transient"] != true {
					t.Errorf("code %d", c)
				}
			}},
		{"refresh rate_limit", "instagram.refresh", "rate_limit", nil, func() resp { return e.igRefresh(long) }, 400,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 17 || !strings.Contains(r.Header.Get("X-App-Usage"), `"call_count":100`) {
					t.Errorf("code %d, X-App-Usage %q", c, r.Header.Get("X-App-Usage"))
				}
			}},
		{"refresh invalid_grant", "instagram.refresh", "invalid_grant", nil, func() resp { return e.igRefresh(long) }, 400,
			func(t *testing.T, r resp) {
				if c, s := graphError(t, r); c != 190 || s != 460 {
					t.Errorf("%d/%d", c, s)
				}
			}},
		{"me 429", "instagram.me", "429", nil, func() resp { return e.igMe(long, "user_id") }, 400,
			func(t *testing.T, r resp) {
				if c, _ := graphError(t, r); c != 4 {
					t.Errorf("code %d", c)
				}
			}},
		{"me graph_error", "instagram.me", "graph_error", map[string]any{"code": 190, "subcode": 467}, func() resp { return e.igMe(long, "user_id") }, 400,
			func(t *testing.T, r resp) {
				if c, s := graphError(t, r); c != 190 || s != 467 {
					t.Errorf("%d/%d", c, s)
				}
			}},
		{"wildcard", "*", "5xx", nil, func() resp { return e.igMe(long, "user_id") }, 500, func(t *testing.T, r resp) { graphError(t, r) }},
	}
}

// igFaultsLeaveNoTrace: after the faults the token still refreshes, they
// are counted, a Graph error is refused where Instagram sends none, and a
// timeout hangs until the client gives up.
func igFaultsLeaveNoTrace(t *testing.T, e *env, long string) {
	// Faults cover the refresh path's state too: the token still refreshes.
	if r := e.igRefresh(long); r.Status != 200 {
		t.Errorf("refresh after faults: %s", r.Body)
	}
	if r := e.controlRaw("POST", "faults", map[string]any{"endpoint": "instagram.token", "kind": "graph_error", "code": 2}); r.Status != 400 {
		t.Errorf("graph_error on api.instagram.com accepted: %d", r.Status)
	}
	stats := e.get("/sandbox/control/stats").JSON(t)
	for _, k := range []string{"instagram.authorize", "instagram.token", "instagram.exchange", "instagram.refresh", "instagram.me", "fault.instagram.me.graph_error"} {
		if stats[k] == nil || num(t, stats[k]) < 1 {
			t.Errorf("stats %s = %v", k, stats[k])
		}
	}

	// timeout: the request hangs until the client gives up.
	e.control("faults", map[string]any{"endpoint": "instagram.refresh", "kind": "timeout"})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/sandbox/graph.instagram.com/refresh_access_token?grant_type=ig_refresh_token&access_token="+long, nil)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout fault: err = %v", err)
	}
}

func TestIGAutoConsentDefaults(t *testing.T) {
	e := newEnv(t)
	// A Facebook persona in auto-consent: Instagram uses its first persona.
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "dana"})
	q := location(t, e.get(igAuthorizeURL(igAllScopes, "d")))
	d := e.igExchange(igCodeForm(q.Get("code"))).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["user_id"] != "10200000000000601" {
		t.Errorf("default persona %v", d["user_id"])
	}
	// A declined permission, and the required one that cannot be declined.
	code := e.igCode("harbor", "instagram_business_content_publish", "instagram_business_basic")
	d = e.igExchange(igCodeForm(code)).JSON(t)["data"].([]any)[0].(map[string]any)
	if d["permissions"] != "instagram_business_basic,instagram_business_manage_comments" {
		t.Errorf("permissions %v", d["permissions"])
	}
	e.control("autoconsent", map[string]any{"enabled": true, "deny": true})
	q = location(t, e.get(igAuthorizeURL(igAllScopes, "d")))
	if q.Get("error") != "access_denied" || q.Get("error_reason") != "user_denied" {
		t.Errorf("deny %v", q)
	}
	// The persona keys of Instagram are valid for the persona-taking controls.
	for _, path := range []string{"revoke", "expire"} {
		if r := e.controlRaw("POST", path, map[string]any{"persona": "pia"}); r.Status != 200 {
			t.Errorf("%s pia: %d %s", path, r.Status, r.Body)
		}
	}
}

// A state file written before Instagram Login gets the documented shape.
func TestIGStateDefaults(t *testing.T) {
	path := t.TempDir() + "/state.json"
	if err := writeFileAtomic(path, []byte(`{"version":1,"settings":{"scale":1,"mode":"current"}}`)); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(path)
	if err != nil || st.Settings.InstagramTokenShape != "data" {
		t.Errorf("loaded %v %v", st.Settings.InstagramTokenShape, err)
	}
}
