package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/handlers/apitest"
)

// OMNISOCIAL_LOG_FORMAT and OMNISOCIAL_LOG_LEVEL: the shape and the levels
// of the log lines (debug is observed in the refresh case).
func wireLogs(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(t *testing.T, logs string)
	}{
		{"text, info", nil, func(t *testing.T, logs string) {
			for _, want := range []string{"level=INFO msg=listening", "level=INFO msg=request method=GET path=/login"} {
				if !strings.Contains(logs, want) {
					t.Errorf("no %q in\n%s", want, logs)
				}
			}
		}},
		{"json", []string{"OMNISOCIAL_LOG_FORMAT", "json"}, func(t *testing.T, logs string) {
			msgs := map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
				var rec struct{ Level, Msg string }
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not a JSON line: %q", line)
				}
				msgs[rec.Level+" "+rec.Msg] = true
			}
			if !msgs["INFO listening"] || !msgs["INFO request"] {
				t.Errorf("JSON log lacks listening/request: %v", msgs)
			}
		}},
		{"warn", []string{"OMNISOCIAL_LOG_LEVEL", "warn", "OMNISOCIAL_SANDBOX", "true"}, func(t *testing.T, logs string) {
			if !strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=INFO") {
				t.Errorf("at warn: want WARN lines and no INFO line\n%s", logs)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := boot(t, tc.env...)
			httpGet(t, w.URL+"/login")
			w.stop()
			tc.check(t, w.logs.String())
		})
	}
}

// GOGC and GOMEMLIMIT are read by the Go runtime itself; tuneGC (called by
// main) sets 200 and 512 MiB only when they are unset, and leaves the
// runtime's reading of them alone when set.
// API keys' rate limit: RateLimit-Limit is the burst, RateLimit-Policy's
// window is burst/rate seconds; the request past the burst is refused with
// 429 and Retry-After.
func wireAPIRate(t *testing.T) {
	for _, tc := range []struct {
		rate, burst, limit, policy string
		refused                    bool // the third request at once
	}{
		{"", "", "50", "50;w=5", false},
		{"1", "2", "2", "2;w=2", true},
	} {
		t.Run(cmp.Or(tc.burst, "default"), func(t *testing.T) {
			t.Parallel()
			w := boot(t, "OMNISOCIAL_API_RATE", tc.rate, "OMNISOCIAL_API_BURST", tc.burst)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			_, body := v.do("POST", "/settings/api-keys", url.Values{"name": {"svc"}, "access": {"read"}})
			doc, _ := goquery.NewDocumentFromReader(bytes.NewReader(body))
			key := doc.Find("[data-testid=new-key-value]").Text()
			var last *http.Response
			for range 3 {
				req, _ := http.NewRequest(http.MethodGet, w.URL+"/api/v1/accounts", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				res, err := (&http.Client{Transport: apitest.Transport(t, nil)}).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				last = res
			}
			if got := last.Header.Get("RateLimit-Limit"); got != tc.limit {
				t.Errorf("RateLimit-Limit %q, want %q", got, tc.limit)
			}
			if got := last.Header.Get("RateLimit-Policy"); got != tc.policy {
				t.Errorf("RateLimit-Policy %q, want %q", got, tc.policy)
			}
			if refused := last.StatusCode == http.StatusTooManyRequests && last.Header.Get("Retry-After") != ""; refused != tc.refused {
				t.Errorf("third request: %d Retry-After %q", last.StatusCode, last.Header.Get("Retry-After"))
			}
		})
	}
}

// Webhooks in development mode reach a receiver on this machine over http
// (outside it, only public https endpoints are accepted). An endpoint whose
// deliveries failed for OMNISOCIAL_WEBHOOK_PAUSE_AFTER is paused and the
// owner sees it in the banner; by default (72h) two failures a second
// apart pause nothing.
func wireWebhookPause(t *testing.T) {
	for _, tc := range []struct {
		after  string
		paused bool
	}{{"", false}, {"1s", true}} {
		t.Run(cmp.Or(tc.after, "default"), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			got := 0
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got++
				mu.Unlock()
				w.WriteHeader(http.StatusInternalServerError)
			}))
			defer rcv.Close()
			count := func() int { mu.Lock(); defer mu.Unlock(); return got }
			dir := t.TempDir()
			w := boot(t, "OMNISOCIAL_DEV", "true", "OMNISOCIAL_DB", filepath.Join(dir, "omnisocial.db"), "OMNISOCIAL_WEBHOOK_PAUSE_AFTER", tc.after)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			if res, body := v.do("POST", "/settings/webhooks", url.Values{"url": {rcv.URL + "/in"}, "event": {"account.connected"}}); res.StatusCode != http.StatusOK {
				t.Fatalf("webhook: %d %.300s", res.StatusCode, body)
			}
			wait := func(n int) {
				for i := 0; count() < n; i++ {
					if i > 500 {
						t.Fatalf("the receiver got %d requests, want %d\n%s", count(), n, w.logs)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			if res := v.connect("tiktok", w.URL, "bloom"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("connect: %d", res.StatusCode)
			}
			wait(1)
			time.Sleep(1100 * time.Millisecond)
			res := v.connect("facebook", w.URL, "dana")
			if res, _ := v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("choose: %d", res.StatusCode)
			}
			wait(2)
			var alert string
			for range 100 {
				if alert = v.page("/settings/accounts").Find("[data-testid=system-alert]").Text(); alert != "" || !tc.paused {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if paused := strings.Contains(alert, "paused"); paused != tc.paused {
				t.Fatalf("banner %q, want paused=%v", alert, tc.paused)
			}
		})
	}
}

func wireGC(t *testing.T) {
	pct, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(pct); debug.SetMemoryLimit(limit) })

	tuneGC(env())
	if got := debug.SetGCPercent(77); got != 200 {
		t.Errorf("GOGC unset: GC percent %d, want 200", got)
	}
	if got := debug.SetMemoryLimit(123 << 20); got != 512<<20 {
		t.Errorf("GOMEMLIMIT unset: memory limit %d, want 512 MiB", got)
	}
	// As if the runtime had read GOGC=77 and GOMEMLIMIT=123MiB at start.
	tuneGC(env("GOGC", "77", "GOMEMLIMIT", "123MiB"))
	if got := debug.SetGCPercent(100); got != 77 {
		t.Errorf("GOGC=77: tuneGC changed the GC percent to %d", got)
	}
	if got := debug.SetMemoryLimit(math.MaxInt64); got != 123<<20 {
		t.Errorf("GOMEMLIMIT=123MiB: tuneGC changed the memory limit to %d", got)
	}
}

// The daily digest: accounts whose access ends within
// OMNISOCIAL_EXPIRY_WARNING are listed in one message to the owners at the
// day's run (at start, then daily); a restart the same day sends no second.
func wireMailDigest(t *testing.T) {
	sink := startSMTPSink(t)
	db := filepath.Join(t.TempDir(), "digest.db")
	start := func() *wired {
		return boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_EXPIRY_WARNING", "96h",
			"OMNISOCIAL_SMTP_URL", "smtp://user:pass@"+sink.Addr, "OMNISOCIAL_MAIL_FROM", "alerts@example.com")
	}
	w := start()
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	res := v.connect("facebook", w.URL, "dana")
	if res, _ = v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("choose: %d", res.StatusCode)
	}
	end := time.Now().Add(72 * time.Hour).UTC()
	if _, err := openRaw(t, db).Exec("UPDATE social_accounts SET metadata = json_set(metadata, '$.user_token_expires_at', ?)", end.Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	w = start()
	deadline := time.Now().Add(20 * time.Second)
	for len(sink.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no digest; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	body := string(sink.messages()[0].Data)
	name := queryString(t, db, "SELECT display_name FROM social_accounts")
	for _, want := range []string{"1 account(s) expire soon", "  - " + name + " on Facebook: ends " + end.Format("2006-01-02 15:04 UTC"), w.URL + "/settings/accounts"} {
		if !strings.Contains(body, want) {
			t.Errorf("digest lacks %q:\n%s", want, body)
		}
	}
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	w = start()
	time.Sleep(6 * time.Second)
	if n := len(sink.messages()); n != 1 {
		t.Errorf("%d digests after a restart the same day, want 1", n)
	}
	if sent := queryString(t, db, "SELECT count(*) FROM mail_outbox WHERE kind = 'digest' AND state = 'sent'"); sent != "1" {
		t.Errorf("%s digests kept as sent; logs:\n%s", sent, w.logs)
	}
}

// OMNISOCIAL_EXPIRY_WARNING: a Meta sign-in ending in 3 days is flagged
// only when the warning window is longer than that.
func wireExpiryWarning(t *testing.T) {
	for _, tc := range []struct{ warning, want string }{{"96h", "Expiring soon"}, {"48h", "Active"}} {
		t.Run(tc.warning, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "expiry.db")
			w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_EXPIRY_WARNING", tc.warning)
			v := newVisitor(t, w.URL)
			v.signup("dana@example.com", "Harbor")
			res := v.connect("facebook", w.URL, "dana")
			if res, _ = v.do("POST", res.Header.Get("Location"), url.Values{"account": {"104000000000101"}}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("choose: %d", res.StatusCode)
			}
			end := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
			if _, err := openRaw(t, db).Exec("UPDATE social_accounts SET metadata = json_set(metadata, '$.user_token_expires_at', ?)", end); err != nil {
				t.Fatal(err)
			}
			if got := squash(v.page("/settings/accounts").Find("[data-testid=status]").Text()); got != tc.want {
				t.Fatalf("sign-in ending in 3 days, warning %s: status %q, want %q", tc.warning, got, tc.want)
			}
		})
	}
}

// OMNISOCIAL_HISTORY_DAYS: the details page says how long routine checks
// are kept.
func wireHistoryDays(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_HISTORY_DAYS", "9")
	v := newVisitor(t, w.URL)
	v.signup("dana@example.com", "Harbor")
	v.connect("tiktok", w.URL, "bloom")
	id := queryString(t, db, "SELECT id FROM social_accounts")
	got := squash(v.page("/settings/accounts/" + id).Find("[data-testid=history-horizon]").Text())
	if !strings.Contains(got, "Routine checks are kept for 9 days") {
		t.Fatalf("history horizon %q, want it to say 9 days", got)
	}
}
