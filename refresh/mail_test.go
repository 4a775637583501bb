package refresh

import (
	"context"
	"strings"
	"testing"
	"time"

	"omnisocial/providers"
)

// The e-mail alert for a sign-in that stopped working is owed in the same
// transaction that marks its accounts needs re-auth: one pending message
// per workspace and sign-in, however many of its accounts fell, and none
// for a transient failure.
func TestNeedsReauthOwesOneMail(t *testing.T) {
	tests := []struct {
		name     string
		platform providers.Platform
		persona  string
		break_   func(e *env)
		want     int
		keyWant  string
	}{
		{"tiktok revoked", providers.TikTok, "bloom", func(e *env) { e.control("POST", "revoke", map[string]any{"persona": "bloom"}) }, 1, "account:"},
		{"facebook app removed: every account of the sign-in, one message", providers.Facebook, "dana",
			func(e *env) { e.control("POST", "revoke", map[string]any{"persona": "dana"}) }, 1, "meta:"},
		{"transient failure: no message", providers.TikTok, "bloom",
			func(e *env) { e.fault(map[string]any{"endpoint": "tiktok.token", "kind": "5xx", "count": 10}) }, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ids := e.connect(tc.platform, tc.persona)
			if tc.keyWant == "meta:" && len(ids) < 2 {
				t.Fatalf("persona %s has %d accounts; the grouping needs several", tc.persona, len(ids))
			}
			e.dueNow(ids...)
			tc.break_(e)
			e.run(e.refresher(nil))
			// A second run finds nothing new to tell.
			e.clock.Add(time.Hour)
			e.dueNow(ids...)
			e.run(e.refresher(nil))
			owed, err := e.st.DueMail(context.Background(), e.clock.Now().Add(24*time.Hour), 100)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want > 0 {
				for _, id := range ids {
					if q := e.state(id); q.Status != "needs_reauth" {
						t.Fatalf("account %s of the dead sign-in: %s", id, q.Status)
					}
				}
			}
			if len(owed) != tc.want {
				t.Fatalf("%d messages owed, want %d (accounts %v)", len(owed), tc.want, ids)
			}
			for _, m := range owed {
				if m.WorkspaceID != e.ws || m.Kind != "reauth" || !strings.HasPrefix(m.Key, tc.keyWant) {
					t.Errorf("owed %+v", m)
				}
			}
		})
	}
}
