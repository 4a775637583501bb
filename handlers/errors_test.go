package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

// An htmx request that fails answers with its message for the message area:
// HX-Retarget #flash, swapped in as the area's content (issue 10, defect 3).
func TestHTMXErrorsAnswerWithAMessage(t *testing.T) {
	k := newKit(t) // no platform configured, no refresh queue
	owner := k.browser()
	owner.signup("dana@example.com", "Harbor")
	res, err := k.st.Connect(t.Context(), store.Connect{WorkspaceID: 1, UserID: 1, Platform: "tiktok",
		Accounts: []store.Discovered{{PlatformUserID: "7300000000000000001", DisplayName: "Bloom Botanics",
			Tokens: store.Tokens{Access: vault.NewToken("act.test")}, Status: "active", NextCheckAt: k.clock.Now().Add(24 * time.Hour)}}})
	if err != nil || len(res.Added) != 1 {
		t.Fatalf("seeding an account: %v %+v", err, res)
	}
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	k.addUser("member@example.com", 1, store.RoleMember)
	member := k.browser()
	member.login("member@example.com")

	tests := []struct {
		name        string
		b           *browser
		method      string
		path        string
		token       string // "" = the page's own token
		wantStatus  int
		wantMessage string
		wantTrigger string
	}{
		{"account gone", owner, http.MethodDelete, "/settings/accounts/no-such-account", "", http.StatusNotFound,
			"That is no longer here: it may have been removed in another tab or by someone else.", "accountsChanged"},
		{"form expired", owner, http.MethodPost, "/settings/accounts/" + id + "/check", "stale", http.StatusForbidden,
			"This form has expired or did not come from OmniSocial. Reload the page and try again.", ""},
		{"not allowed", member, http.MethodDelete, "/settings/accounts/" + id, "", http.StatusForbidden,
			"Only owners and admins of this workspace can do that.", ""},
		{"platform not configured", owner, http.MethodPost, "/connect/tiktok", "", http.StatusConflict,
			"TikTok is not configured on this server. The administrator sets OMNISOCIAL_TIKTOK_CLIENT_KEY and OMNISOCIAL_TIKTOK_CLIENT_SECRET.", ""},
		{"checks not running", owner, http.MethodPost, "/settings/accounts/" + id + "/check", "", http.StatusServiceUnavailable,
			"Checks are not running on this server.", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = tc.b.csrf("/settings/accounts")
			}
			req, _ := http.NewRequest(tc.method, k.srv.URL+tc.path, nil)
			req.Header.Set("HX-Request", "true")
			req.Header.Set("X-CSRF-Token", token)
			res := tc.b.do(req)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			assertFlashAnswer(t, res, tc.wantTrigger, tc.wantMessage)
		})
	}

	// Without htmx (a plain form, no JavaScript) the error page stays.
	res2 := owner.post("/connect/tiktok", url.Values{"_csrf": {owner.csrf("/settings/accounts")}})
	if res2.StatusCode != http.StatusConflict || res2.Header.Get("HX-Retarget") != "" {
		t.Fatalf("plain form: %d, HX-Retarget %q", res2.StatusCode, res2.Header.Get("HX-Retarget"))
	}
	doc := parse(t, res2)
	if doc.Find("html body").Length() != 1 || !strings.Contains(doc.Find("main").Text(), "TikTok is not configured on this server.") {
		t.Fatal("the plain form's error is not a whole page with the message")
	}
}

// The page's htmx configuration swaps the answers above in: htmx takes the
// first responseHandling rule whose code matches (an unanchored regular
// expression), and a rule without swap leaves the page unchanged. 422
// (validation, swapped in place) stays a swap that is not an error.
func TestHTMXConfigSwapsErrorAnswers(t *testing.T) {
	k := newKit(t)
	doc := parse(t, k.browser().get("/login"))
	raw, ok := doc.Find(`meta[name=htmx-config]`).Attr("content")
	if !ok {
		t.Fatal("no htmx-config")
	}
	var cfg struct {
		ResponseHandling []struct {
			Code  string `json:"code"`
			Swap  bool   `json:"swap"`
			Error bool   `json:"error"`
		} `json:"responseHandling"`
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	rule := func(status int) (swap, isError bool) {
		for _, r := range cfg.ResponseHandling {
			if regexp.MustCompile(r.Code).MatchString(strconv.Itoa(status)) {
				return r.Swap, r.Error
			}
		}
		return false, false
	}
	for _, status := range []int{400, 403, 404, 409, 413, 429, 500, 503} {
		if swap, isError := rule(status); !swap || !isError {
			t.Errorf("%d: swap=%v error=%v, want both", status, swap, isError)
		}
	}
	if swap, isError := rule(422); !swap || isError {
		t.Errorf("422: swap=%v error=%v, want a swap that is not an error", swap, isError)
	}
	if swap, _ := rule(204); swap {
		t.Error("204 swaps")
	}
}

// assertFlashAnswer checks an htmx error answer: retargeted into #flash as
// its content, with the given HX-Trigger and exactly one error alert
// saying message.
func assertFlashAnswer(t *testing.T, res *http.Response, trigger, message string) {
	t.Helper()
	if got := res.Header.Get("HX-Retarget") + " " + res.Header.Get("HX-Reswap"); got != "#flash innerHTML" {
		t.Fatalf("HX-Retarget HX-Reswap = %q, want %q", got, "#flash innerHTML")
	}
	if got := res.Header.Get("HX-Trigger"); got != trigger {
		t.Fatalf("HX-Trigger = %q, want %q", got, trigger)
	}
	doc := parse(t, res)
	// The answer is the area's content, not a second area.
	if doc.Find("#flash, [hx-swap-oob], .sidebar").Length() != 0 {
		t.Fatal("the answer carries a message area or page chrome of its own")
	}
	msgs := doc.Find("[data-testid=flash]")
	if msgs.Length() != 1 || !msgs.HasClass("flash-error") || msgs.AttrOr("role", "") != "alert" {
		h, _ := doc.Html()
		t.Fatalf("want one error alert, got:\n%s", h)
	}
	if got := strings.TrimSpace(msgs.Text()); got != message {
		t.Fatalf("message %q, want %q", got, message)
	}
}
