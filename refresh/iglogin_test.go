package refresh

import (
	"context"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

// An Instagram Login account has no refresh token: the queue checks it
// daily, swaps its token once it is within a month of its end (the
// sandbox refuses one under a day old), and hands it to its owner once the
// token has ended or Instagram refuses it.
func TestInstagramLoginQueue(t *testing.T) {
	tests := []struct {
		name        string
		after       time.Duration
		breakIt     func(e *env)
		wantRenewed bool
		wantStatus  store.Status
	}{
		{"a day later: checked, not swapped", 25 * time.Hour, nil, false, store.StatusActive},
		{"a month before its end: swapped for 60 days more", 31 * 24 * time.Hour, nil, true, store.StatusActive},
		{"past its end: the person must sign in again", 61 * 24 * time.Hour, nil, false, store.StatusNeedsReauth},
		{"removed at Instagram", time.Hour, func(e *env) { e.control("POST", "revoke", map[string]any{"persona": "nova"}) }, false, store.StatusNeedsReauth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvClock(t, true)
			id := e.connect(providers.IGLogin, "nova")[0]
			before := e.tokens(id)
			e.clock.Add(tc.after)
			if tc.breakIt != nil {
				tc.breakIt(e)
			}
			e.dueNow(id)
			e.run(e.refresher(nil))
			q, after := e.state(id), e.tokens(id)
			if q.Status != tc.wantStatus {
				t.Fatalf("status %s (%s), want %s", q.Status, q.LastError, tc.wantStatus)
			}
			if renewed := !after.Access.Equal(before.Access); renewed != tc.wantRenewed {
				t.Fatalf("token swapped = %v, want %v", renewed, tc.wantRenewed)
			}
			if tc.wantRenewed {
				if left := after.Expiry.Sub(e.clock.Now()); left < 59*24*time.Hour {
					t.Fatalf("the new token lives %v", left)
				}
			}
			if tc.wantStatus == store.StatusActive {
				if _, err := e.refresher(nil).AccessToken(context.Background(), id); err != nil {
					t.Fatalf("AccessToken: %v", err)
				}
			}
		})
	}
}
