package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

func TestReconnect(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, northwind)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	before, _ := k.st.Tokens(t.Context(), id)

	t.Run("same account", func(t *testing.T) {
		sb.control("POST", "revoke", map[string]any{"persona": "dana"})
		res := b.authorize("facebook", url.Values{"account": {id}})
		if res.Header.Get("Location") != "/settings/accounts" {
			t.Fatalf("reconnect: %s", res.Header.Get("Location"))
		}
		after, _ := k.st.Tokens(t.Context(), id)
		if after.Access.Equal(before.Access) {
			t.Fatal("tokens not renewed")
		}
		if n, _ := k.st.CountAccounts(t.Context(), 1); n != 2 {
			t.Fatalf("%d accounts after reconnect, want 2", n)
		}
		events, _ := k.st.Events(t.Context(), 1, id, 10)
		if len(events) == 0 || events[0].Kind != "reconnected" {
			t.Fatalf("events = %+v", events)
		}
	})
	t.Run("different account", func(t *testing.T) {
		current, _ := k.st.Tokens(t.Context(), id)
		sb.consent("lee")
		res := b.authorize("facebook", url.Values{"account": {id}})
		if res.Header.Get("Location") != "/settings/accounts/"+id {
			t.Fatalf("reconnect as someone else: %s", res.Header.Get("Location"))
		}
		msg := parse(t, b.get("/settings/accounts/"+id)).Find("[data-testid=flash]").Text()
		if !strings.Contains(msg, "Lee Park") || !strings.Contains(msg, "Nothing was changed") {
			t.Fatalf("flash = %q", msg)
		}
		after, _ := k.st.Tokens(t.Context(), id)
		if !after.Access.Equal(current.Access) {
			t.Fatal("a different account's tokens replaced the stored ones")
		}
		if names := k.accountNames(b); len(names) != 2 {
			t.Fatalf("accounts = %v", names)
		}
	})
}

func TestDisconnect(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID
	tok, _ := k.st.Tokens(t.Context(), id)

	// Without JavaScript: a confirmation page, then a POST.
	doc := parse(t, b.get("/settings/accounts/"+id+"/disconnect"))
	if doc.Find("[data-testid=confirm-disconnect]").Length() != 1 {
		t.Fatal("no confirmation page")
	}
	if n, _ := k.st.CountAccounts(t.Context(), 1); n != 1 {
		t.Fatal("showing the confirmation disconnected")
	}
	// With htmx: the dialog fragment, then DELETE.
	res := b.get("/settings/accounts/"+id+"/disconnect", "HX-Request", "true")
	if frag := parse(t, res); frag.Find("dialog[data-testid=confirm-disconnect]").Length() != 1 || frag.Find("html body main").Length() != 0 {
		t.Fatal("htmx confirmation is not a bare dialog")
	}
	tokCSRF := b.csrf("/settings/accounts")
	req, _ := http.NewRequest(http.MethodDelete, k.srv.URL+"/settings/accounts/"+id, nil)
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", tokCSRF)
	res = b.do(req)
	if res.StatusCode != http.StatusOK || res.Header.Get("HX-Trigger") != "accountsChanged" {
		t.Fatalf("htmx disconnect: %d %q", res.StatusCode, res.Header.Get("HX-Trigger"))
	}
	frag := parse(t, res)
	if got := strings.Join(strings.Fields(frag.Find("#usage").Text()), " "); got != "0 of 3 accounts used" {
		t.Fatalf("usage update = %q", got)
	}
	if _, err := k.st.Tokens(t.Context(), id); err == nil {
		t.Fatal("tokens still stored")
	}
	// The platform is asked to revoke in the background.
	waitFor(t, func() bool {
		for _, line := range strings.Split(string(sb.control("GET", "tokens", nil)), "},") {
			if strings.Contains(line, tok.Access.Reveal()) {
				return strings.Contains(line, `"valid":false`)
			}
		}
		return false
	})
	// A second disconnect is a 404, like any account that does not exist.
	if res := b.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("second disconnect: %d", res.StatusCode)
	}
}

func TestPlanLimitUnderConcurrentConfirmation(t *testing.T) {
	k, sb := newFlowKit(t)
	a := k.browser()
	a.signup("dana@example.com", "Harbor") // free: 3 accounts
	k.addUser("sam@example.com", 1, "admin")
	b := k.browser()
	b.login("sam@example.com")
	sb.consent("dana")
	grantA := a.authorize("facebook", nil).Header.Get("Location")
	grantB := b.authorize("facebook", nil).Header.Get("Location")

	var wg sync.WaitGroup
	answers, errs := make([]string, 2), make([]error, 2)
	for i, x := range []struct {
		b     *browser
		grant string
		ids   []string
	}{{a, grantA, []string{harbor, northwind}}, {b, grantB, []string{luma, pine}}} {
		tok := x.b.csrf(x.grant)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// No t.Fatal off the test's goroutine: errors are checked below.
			answers[i], errs[i] = x.b.confirm(x.grant, url.Values{"_csrf": {tok}, "account": x.ids})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Never more than the plan allows. Whoever did not fit is told why:
	// by the choose step, before anything is connected, when the other
	// confirmation had already finished; by the store's atomic check (one
	// of the two Pages connected) when both ran at once.
	n, _ := k.st.CountAccounts(t.Context(), 1)
	switch n {
	case 3:
		flashes := parse(t, a.get("/settings/accounts")).Find("[data-testid=flash]").Text() +
			parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Text()
		if !strings.Contains(flashes, "the plan allows 3 accounts") {
			t.Fatalf("the person whose account did not fit is not told why: %q", flashes)
		}
	case 2:
		if !strings.Contains(answers[0]+answers[1], "has room for 1 more") {
			t.Fatalf("the person whose accounts did not fit is not told why: %q", answers)
		}
	default:
		t.Fatalf("%d accounts on a 3-account plan after two concurrent confirmations of 2 each", n)
	}
}

// confirm posts the choose form and returns the form's error, if it came
// back with one. It reports failures instead of ending the test, so it may
// run on another goroutine.
func (b *browser) confirm(path string, form url.Values) (string, error) {
	req, err := http.NewRequest(http.MethodPost, b.k.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		return "", nil
	}
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		return "", err
	}
	return doc.Find("[data-testid=form-error]").Text(), nil
}

func TestAPI(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID

	doc := parse(t, b.form("/settings/api-keys", "/settings/api-keys", url.Values{"name": {"publisher"}, "access": {"read_write"}}))
	key := doc.Find("[data-testid=new-key-value]").Text()
	if !strings.HasPrefix(key, "osk_") {
		t.Fatalf("no key shown: %q", key)
	}
	if parse(t, b.get("/settings/api-keys")).Find("[data-testid=new-key-value]").Length() != 0 {
		t.Fatal("the key is shown a second time")
	}
	api := func(method, path, auth string) *http.Response {
		req, _ := http.NewRequest(method, k.srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	tests := []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no key", "GET", "/api/v1/accounts", "", http.StatusUnauthorized},
		{"bad key", "GET", "/api/v1/accounts", "Bearer osk_nope", http.StatusUnauthorized},
		{"not bearer", "GET", "/api/v1/accounts", "Basic abc", http.StatusUnauthorized},
		{"list", "GET", "/api/v1/accounts", "Bearer " + key, http.StatusOK},
		{"one", "GET", "/api/v1/accounts/" + id, "Bearer " + key, http.StatusOK},
		{"unknown id", "GET", "/api/v1/accounts/nope", "Bearer " + key, http.StatusNotFound},
		{"malformed id", "GET", "/api/v1/accounts/%00%ff", "Bearer " + key, http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := api(tc.method, tc.path, tc.auth)
			if res.StatusCode != tc.want {
				t.Fatalf("%d, want %d", res.StatusCode, tc.want)
			}
			var body map[string]any
			if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if tc.want >= 400 {
				if msg, _ := body["error"].(string); len(msg) < 10 {
					t.Fatalf("error not in words: %v", body)
				}
			}
			if tc.name == "list" {
				list := body["accounts"].([]any)
				if len(list) != 1 || list[0].(map[string]any)["display_name"] != "Bloom Botanics" || body["max"].(float64) != 3 {
					t.Fatalf("list = %v", body)
				}
			}
		})
	}
	// The session works too; a DELETE through it needs CSRF like any form.
	if res := b.get("/api/v1/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("session GET: %d", res.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, k.srv.URL+"/api/v1/accounts/"+id, nil)
	if res := b.do(req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("session DELETE without CSRF: %d", res.StatusCode)
	}
	if res := api("DELETE", "/api/v1/accounts/"+id, "Bearer "+key); res.StatusCode != http.StatusNoContent {
		t.Fatalf("key DELETE: %d", res.StatusCode)
	}
	if res := api("GET", "/api/v1/accounts/"+id, "Bearer "+key); res.StatusCode != http.StatusNotFound {
		t.Fatalf("after DELETE: %d", res.StatusCode)
	}
}
