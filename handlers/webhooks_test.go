package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"omnisocial/handlers/apitest"
	"omnisocial/webhook"
)

// receiver is a real HTTP endpoint on loopback that keeps every request it
// got, byte for byte, and answers as its script says.
type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	raw    bytes.Buffer // every request, headers and body
	got    []received
	answer func(n int) (status int, delay time.Duration)
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answer func(n int) (int, time.Duration)) *receiver {
	r := &receiver{answer: answer}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dump, _ := httputil.DumpRequest(req, true)
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.raw.Write(dump)
		r.got = append(r.got, received{req.Header.Clone(), body})
		r.mu.Unlock()
		status, delay := r.answer(n)
		time.Sleep(delay)
		w.WriteHeader(status)
		w.Write([]byte("answer " + http.StatusText(status)))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// withWebhooks lets webhooks reach loopback over http (the development
// switch) and returns the sender that serve's job would run.
func withWebhooks(d *Deps) { d.WebhookAllowHTTP = true }

func (k *kit) sender(timeout time.Duration) *webhook.Sender {
	return webhook.New(webhook.Options{Store: k.st, Guard: &webhook.Guard{AllowPrivate: true}, Now: k.clock.Now,
		Timeout: timeout, Workers: 1, Rand: func() float64 { return 0 }})
}

// addWebhook creates a webhook through Settings › Webhooks and returns its
// id and secret.
func (b *browser) addWebhook(endpoint string, events ...string) (string, string) {
	b.k.t.Helper()
	form := url.Values{"url": {endpoint}, "event": events}
	doc := parse(b.k.t, b.form("/settings/webhooks", "/settings/webhooks", form))
	secret := doc.Find("[data-testid=new-secret-value]").Text()
	href, _ := doc.Find("[data-testid=new-secret] a").Attr("href")
	if !strings.HasPrefix(secret, "whsec_") || href == "" {
		b.k.t.Fatalf("no secret shown: %q", doc.Find("main").Text())
	}
	return strings.TrimPrefix(href, "/settings/webhooks/"), secret
}

type message struct {
	Type string
	Data struct {
		Account struct {
			ID          string
			DisplayName string `json:"display_name"`
			Status      string
		}
	}
}

// TestWebhookDeliveries runs real account events through the outbox to a
// real receiver: signed as the specification says, retried after a 500 and
// a timeout, in order per account, shaped as the description says, listed
// with attempts and answers, resendable, and with no token in any byte.
func TestWebhookDeliveries(t *testing.T) {
	k, sb := newFlowKit(t, withWebhooks)
	const timeout = 300 * time.Millisecond
	// The first message fails twice: a 500, then an answer too late.
	rcv := newReceiver(t, func(n int) (int, time.Duration) {
		switch {
		case n == 0:
			return http.StatusInternalServerError, 0
		case n == 3:
			return http.StatusOK, 3 * timeout
		}
		return http.StatusNoContent, 0
	})
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	hook, secret := b.addWebhook(rcv.srv.URL+"/hooks/omnisocial", "account.connected", "account.disconnected", "account.reconnected")

	connectThreeThenDisconnectHarbor(t, k, b, sb)
	s := k.sender(timeout)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := s.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		k.clock.Add(2 * time.Minute) // past the next backoff
	}
	got := rcv.requests()
	deliveredSignedInOrderAndDescribed(t, k, secret, got)
	first := pageListsAttemptsAndAnswers(t, b, hook)
	resendSendsTheSameMessage(t, b, hook, first, s, rcv, got)
	noTokenReachesTheReceiver(t, rcv, sb)
}

// connectThreeThenDisconnectHarbor connects Harbor and Luma on Facebook
// and Bloom on TikTok, then disconnects Harbor: four account events.
func connectThreeThenDisconnectHarbor(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	t.Helper()
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts := k.accounts(t)
	var harborID string
	for _, a := range accts {
		if a.DisplayName == "Harbor Coffee Roasters" {
			harborID = a.ID
		}
	}
	b.form("/settings/accounts", "/settings/accounts/"+harborID+"/disconnect", url.Values{})
}

// deliveredSignedInOrderAndDescribed checks what the receiver got: four
// messages and two retries, signed, shaped as described, in order per
// account.
func deliveredSignedInOrderAndDescribed(t *testing.T, k *kit, secret string, got []received) {
	t.Helper()
	if len(got) != 4+2 {
		t.Fatalf("%d requests, want 4 messages and 2 retries", len(got))
	}
	// The first message failed twice (500, then no answer in time) and
	// held back its account's disconnect until it got through.
	if got[0].header.Get("webhook-id") != got[3].header.Get("webhook-id") || got[3].header.Get("webhook-id") != got[4].header.Get("webhook-id") {
		t.Fatal("a retry carried another webhook-id")
	}
	var order []string
	ids := map[string]bool{}
	for _, r := range got {
		if err := webhook.Verify(secret, r.header, r.body, k.clock.Now(), time.Hour); err != nil {
			t.Fatalf("signature: %v", err)
		}
		if err := apitest.Schema("WebhookMessage", r.body); err != nil {
			t.Errorf("message outside the description: %v\n%s", err, r.body)
		}
		if r.header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.header.Get("webhook-signature"), "v1,") {
			t.Fatalf("headers %v", r.header)
		}
		id := r.header.Get("webhook-id")
		if ids[id] {
			continue
		}
		ids[id] = true
		var m message
		json.Unmarshal(r.body, &m)
		order = append(order, m.Type+" "+m.Data.Account.DisplayName)
	}
	want := "account.connected Harbor Coffee Roasters,account.connected Luma Yoga Studio,account.connected Bloom Botanics,account.disconnected Harbor Coffee Roasters"
	if strings.Join(order, ",") != want {
		t.Fatalf("order %v", order)
	}
	// The API's own view of the account is what the message carries.
	var m struct {
		Data struct{ Account map[string]any }
	}
	json.Unmarshal(got[1].body, &m)
	if m.Data.Account["platform"] != "facebook" && m.Data.Account["platform"] != "tiktok" || m.Data.Account["connected_by"] != "dana@example.com" {
		t.Fatalf("account in message: %v", m.Data.Account)
	}
}

// pageListsAttemptsAndAnswers: the webhook's page lists each message with
// its attempts and answers. It returns the first message's row.
func pageListsAttemptsAndAnswers(t *testing.T, b *browser, hook string) *goquerySel {
	t.Helper()
	doc := parse(t, b.get("/settings/webhooks/"+hook))
	rows := doc.Find("[data-testid=delivery]")
	if rows.Length() != 4 {
		t.Fatalf("%d deliveries listed", rows.Length())
	}
	first := rows.Last()
	attempts := first.Find("[data-testid=attempt]").Map(func(_ int, s *goquerySel) string { return strings.Join(strings.Fields(s.Text()), " ") })
	if len(attempts) != 3 || !strings.Contains(attempts[2], "500 Internal Server Error") || !strings.Contains(attempts[2], "answer Internal Server Error") ||
		!strings.Contains(attempts[1], "no answer within 300ms") || !strings.Contains(attempts[0], "204 No Content") {
		t.Fatalf("attempts %q", attempts)
	}
	if state := strings.TrimSpace(first.Find("[data-testid=delivery-state]").Text()); state != "Delivered" {
		t.Fatalf("state %q", state)
	}
	return first
}

// resendSendsTheSameMessage: a person resends one (the first message's
// row): the same id and body again.
func resendSendsTheSameMessage(t *testing.T, b *browser, hook string, first *goquerySel, s *webhook.Sender, rcv *receiver, got []received) {
	t.Helper()
	resend, _ := first.Find("form").Attr("action")
	if res := b.form("/settings/webhooks/"+hook, resend, url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resend: %d", res.StatusCode)
	}
	s.Drain(context.Background())
	again := rcv.requests()
	if len(again) != len(got)+1 || again[len(again)-1].header.Get("webhook-id") != got[0].header.Get("webhook-id") ||
		!bytes.Equal(again[len(again)-1].body, got[0].body) {
		t.Fatal("the resent message is not the same message")
	}
}

// noTokenReachesTheReceiver: not one byte the receiver got holds a token
// the sandbox issued.
func noTokenReachesTheReceiver(t *testing.T, rcv *receiver, sb *sandboxCtl) {
	t.Helper()
	rcv.mu.Lock()
	raw := rcv.raw.Bytes()
	rcv.mu.Unlock()
	tokens := sb.tokens()
	if len(tokens) < 3 {
		t.Fatal("no tokens issued")
	}
	for _, tok := range tokens {
		if bytes.Contains(raw, []byte(tok)) {
			t.Error("a token issued by the sandbox was sent to the webhook")
		}
	}
}

// An endpoint failing for longer than PauseAfter is paused, its owners see
// it in the banner, and resuming sends what waited.
func TestWebhookPausedAfterFailingThenResumed(t *testing.T) {
	k, sb := newFlowKit(t, withWebhooks)
	var mu sync.Mutex
	down := true
	rcv := newReceiver(t, func(int) (int, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusBadGateway, 0
		}
		return http.StatusOK, 0
	})
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	hook, _ := b.addWebhook(rcv.srv.URL, "account.connected")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	s := webhook.New(webhook.Options{Store: k.st, Guard: &webhook.Guard{AllowPrivate: true}, Now: k.clock.Now,
		PauseAfter: 3 * time.Hour, Rand: func() float64 { return 0 }})
	for range 12 {
		s.Drain(context.Background())
		k.clock.Add(40 * time.Minute)
	}
	b.login("dana@example.com") // hours went by
	doc := parse(t, b.get("/settings/accounts"))
	alert := doc.Find("[data-testid=system-alert]").Text()
	if !strings.Contains(alert, rcv.srv.URL) || !strings.Contains(alert, "paused") || !strings.Contains(alert, "502") {
		t.Fatalf("owners not told: %q", alert)
	}
	n := len(rcv.requests())
	k.clock.Add(3 * time.Hour)
	s.Drain(context.Background())
	if len(rcv.requests()) != n {
		t.Fatal("a paused endpoint was still sent to")
	}
	b.login("dana@example.com")
	if parse(t, b.get("/settings/webhooks/"+hook)).Find("[data-testid=paused]").Length() != 1 {
		t.Fatal("the webhook's page does not say it is paused")
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if res := b.form("/settings/webhooks/"+hook, "/settings/webhooks/"+hook+"/resume", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("resume: %d", res.StatusCode)
	}
	s.Drain(context.Background())
	if len(rcv.requests()) != n+1 {
		t.Fatal("what waited was not sent after resuming")
	}
	if parse(t, b.get("/settings/accounts")).Find("[data-testid=system-alert]").Length() != 0 {
		t.Fatal("the banner stays after resuming")
	}
}

func TestWebhookForm(t *testing.T) {
	tests := []struct {
		name, url string
		events    []string
		dev       bool
		field     string // "" when accepted
	}{
		{"https", "https://publisher.example.com/hooks", []string{"account.connected"}, false, ""},
		{"http outside development", "http://publisher.example.com/hooks", []string{"account.connected"}, false, "url"},
		{"http in development", "http://127.0.0.1:9/hooks", []string{"account.connected"}, true, ""},
		{"loopback literal", "https://127.0.0.1/hooks", []string{"account.connected"}, false, "url"},
		{"cloud metadata", "https://169.254.169.254/latest", []string{"account.connected"}, false, "url"},
		{"private", "https://10.0.0.1/", []string{"account.connected"}, false, "url"},
		{"localhost", "https://localhost/x", []string{"account.connected"}, false, "url"},
		{"credentials in the URL", "https://u:p@publisher.example.com/", []string{"account.connected"}, false, "url"},
		{"not a URL", "publisher", []string{"account.connected"}, false, "url"},
		{"no events", "https://publisher.example.com/hooks", nil, false, "event"},
		{"an unknown event", "https://publisher.example.com/hooks", []string{"account.deleted"}, false, "event"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKit(t, func(d *Deps) { d.WebhookAllowHTTP = tc.dev })
			b := k.browser()
			b.signup("dana@example.com", "Harbor")
			res := b.form("/settings/webhooks", "/settings/webhooks", url.Values{"url": {tc.url}, "event": tc.events})
			doc := parse(t, res)
			hooks, _ := k.st.Webhooks(t.Context(), 1)
			if tc.field == "" {
				if res.StatusCode != 200 || len(hooks) != 1 || doc.Find("[data-testid=new-secret-value]").Length() != 1 {
					t.Fatalf("%d, %d webhooks", res.StatusCode, len(hooks))
				}
				return
			}
			if res.StatusCode != http.StatusUnprocessableEntity || len(hooks) != 0 || doc.Find("[data-testid="+tc.field+"-error]").Length() != 1 {
				t.Fatalf("%d, %d webhooks, error %q", res.StatusCode, len(hooks), doc.Find("[role=alert]").Text())
			}
		})
	}
}

// Webhooks are for owners and admins; another workspace's are not found;
// every POST needs the CSRF token; htmx gets the page's fragment.
func TestWebhookAccess(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	hook, _ := b.addWebhook("https://publisher.example.com/hooks", "account.connected")
	if res := b.post("/settings/webhooks", url.Values{"url": {"https://x.example.com"}, "event": {"account.connected"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %d", res.StatusCode)
	}
	res := b.post("/settings/webhooks/"+hook+"/delete", url.Values{}, "HX-Request", "true", "X-CSRF-Token", b.csrf("/settings/webhooks"))
	if res.StatusCode != 200 || res.Header.Get("HX-Redirect") != "/settings/webhooks" {
		t.Fatalf("htmx delete: %d %v", res.StatusCode, res.Header)
	}
	hook, _ = b.addWebhook("https://publisher.example.com/hooks", "account.connected")
	frag := b.post("/settings/webhooks", url.Values{"url": {"nope"}, "event": {"account.connected"}}, "HX-Request", "true", "X-CSRF-Token", b.csrf("/settings/webhooks"))
	if body, _ := io.ReadAll(frag.Body); frag.StatusCode != 422 || bytes.Contains(body, []byte("<html")) || !bytes.Contains(body, []byte("url-error")) {
		t.Fatalf("htmx form error: %d", frag.StatusCode)
	}

	k.addUser("member@example.com", 1, "member")
	m := k.browser()
	m.login("member@example.com")
	for _, path := range []string{"/settings/webhooks", "/settings/webhooks/" + hook} {
		if res := m.get(path); res.StatusCode != http.StatusForbidden {
			t.Fatalf("member GET %s: %d", path, res.StatusCode)
		}
	}
	if parse(t, m.get("/settings/accounts")).Find(`a[href="/settings/webhooks"]`).Length() != 0 {
		t.Fatal("members are shown the Webhooks link")
	}
	other := k.browser()
	other.signup("eve@example.com", "Evil")
	for _, path := range []string{"/settings/webhooks/" + hook} {
		if res := other.get(path); res.StatusCode != http.StatusNotFound {
			t.Fatalf("another workspace GET %s: %d", path, res.StatusCode)
		}
	}
	if res := other.form("/settings/webhooks", "/settings/webhooks/"+hook+"/delete", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("another workspace deleting: %d", res.StatusCode)
	}
}
