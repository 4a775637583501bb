package handlers

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSecurityHeaders(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	for _, path := range []string{"/login", "/signup", "/healthz", "/no/such/page", "/settings/accounts", "/static/app.css"} {
		t.Run(path, func(t *testing.T) {
			res := b.get(path)
			h := res.Header
			csp := h.Get("Content-Security-Policy")
			for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("CSP allows inline or eval: %q", csp)
			}
			for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	tok := b.csrf("/login")
	res := b.post("/login", url.Values{"_csrf": {tok}, "email": {strings.Repeat("a", 100<<10)}})
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversize body: %d", res.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	k := newKit(t)
	res := k.browser().get("/healthz")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Header.Get("Content-Type"), "json") {
		t.Fatalf("healthz: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	k.st.Close()
	if res := k.browser().get("/healthz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz with the database closed: %d", res.StatusCode)
	}
}

// There is no return-to parameter to abuse: whatever a link adds, log-in
// and sign-up land on the app's own page.
func TestNoOpenRedirect(t *testing.T) {
	k := newKit(t, func(d *Deps) { d.LoginBurst = 100 })
	b := k.browser()
	b.signup("dana@example.com", "W")
	b.form("/settings/accounts", "/logout", url.Values{})
	for _, target := range []string{"//evil.example", "https://evil.example", "/\\evil.example", "%2F%2Fevil.example"} {
		for _, param := range []string{"next", "return_to", "redirect"} {
			tok := b.csrf("/login?" + param + "=" + url.QueryEscape(target))
			res := b.post("/login?"+param+"="+url.QueryEscape(target), url.Values{"_csrf": {tok}, "email": {"dana@example.com"},
				"password": {"correct horse battery"}, param: {target}})
			if loc := res.Header.Get("Location"); loc != "/settings/accounts" {
				t.Fatalf("log-in with %s=%s redirected to %q", param, target, loc)
			}
			b.form("/settings/accounts", "/logout", url.Values{})
		}
	}
}

// The limiter's client address comes from X-Forwarded-For only when the
// request arrives from a configured proxy; otherwise a client could pick a
// fresh address for every attempt.
func TestClientAddressBehindProxy(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	tests := []struct {
		name        string
		proxies     []*net.IPNet
		wantOtherIP int // status for a new address after one address is spent
	}{
		{"no proxy configured: the header is ignored", nil, http.StatusTooManyRequests},
		{"trusted proxy: each client has its own budget", []*net.IPNet{loopback}, http.StatusUnprocessableEntity},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKit(t, func(d *Deps) { d.LoginBurst, d.LoginInterval, d.Proxies = 2, time.Hour, tc.proxies })
			b := k.browser()
			try := func(email, ip string) int {
				tok := b.csrf("/login")
				return b.post("/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {"wrong password"}}, "X-Forwarded-For", ip).StatusCode
			}
			try("a@example.com", "203.0.113.1")
			try("b@example.com", "203.0.113.1")
			if got := try("c@example.com", "203.0.113.1"); got != http.StatusTooManyRequests {
				t.Fatalf("third attempt from one address: %d", got)
			}
			if got := try("d@example.com", "203.0.113.2"); got != tc.wantOtherIP {
				t.Fatalf("attempt from another address: %d, want %d", got, tc.wantOtherIP)
			}
		})
	}
}
