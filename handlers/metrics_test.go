package handlers

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"omnisocial/metrics"
	"omnisocial/vault"
)

// /metrics: off (404) without a token; with one, only the bearer opens it,
// and requests are counted by route pattern, never by the raw URL.
func TestMetricsEndpoint(t *testing.T) {
	const token = "metrics-token-0123456789abcdef0123456789"
	tests := []struct {
		name   string
		on     bool
		header string
		want   int
	}{
		{"off without a token", false, "Bearer " + token, http.StatusNotFound},
		{"no bearer", true, "", http.StatusUnauthorized},
		{"wrong bearer", true, "Bearer " + token + "x", http.StatusUnauthorized},
		{"basic instead of bearer", true, "Basic " + token, http.StatusUnauthorized},
		{"the bearer", true, "Bearer " + token, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKit(t, func(d *Deps) {
				if tc.on {
					d.Metrics, d.MetricsToken = metrics.New(d.Store, time.Minute), vault.NewToken(token)
				}
			})
			b := k.browser()
			b.get("/settings/accounts/acc_secret123")
			res := b.get("/metrics", "Authorization", tc.header)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %.300s", res.StatusCode, tc.want, body)
			}
			if tc.want != http.StatusOK {
				if strings.Contains(string(body), "omnisocial_") {
					t.Fatal("metrics served without the bearer")
				}
				return
			}
			for _, want := range []string{`omnisocial_http_requests_total{code="303",method="GET",route="/settings/accounts/:id"} 1`,
				`omnisocial_accounts{platform="tiktok",status="active"} 0`, "omnisocial_refresh_queue_lag_seconds 0"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("no %q in:\n%s", want, body)
				}
			}
			if strings.Contains(string(body), "acc_secret123") {
				t.Error("a raw URL became a label")
			}
		})
	}
}
