package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"omnisocial/vault"
)

// Notices reads what the three reads it stands for read, in their orders,
// for owners and members, with and without anything to tell.
func TestNotices(t *testing.T) {
	ctx := context.Background()
	var now time.Time
	s := mustOpen(t, withNow(testOptions(t, filepath.Join(t.TempDir(), "n.db"), testBox(t, testKey)), func() time.Time { return now }))
	now = t0
	u, ws, err := s.SignUp(ctx, User{Email: "owner@example.com", PasswordHash: "h"}, "N", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T)
		dana    [3]int // invitations, alerts, paused webhooks an owner dana sees
	}{
		{"nothing to tell", func(t *testing.T) {}, [3]int{0, 0, 0}},
		{"invitations, one expired", func(t *testing.T) {
			for _, e := range []string{"dana@example.com", "lee@example.com"} {
				if _, _, err := s.CreateInvitation(ctx, ws.ID, u.ID, e, RoleMember); err != nil {
					t.Fatal(err)
				}
			}
			now = now.Add(6 * 24 * time.Hour)
			if _, _, err := s.CreateInvitation(ctx, ws.ID, u.ID, " Dana@example.com", RoleAdmin); err != nil {
				t.Fatal(err)
			}
			now = now.Add(2 * 24 * time.Hour) // past the first ones' week
		}, [3]int{1, 0, 0}},
		{"alerts and paused webhooks, in order", func(t *testing.T) {
			for i, key := range []string{"b", "a", "c"} {
				now = now.Add(time.Duration(i%2) * time.Second)
				if err := s.SetAlert(ctx, key, "Alert "+key); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 3 {
				id, err := s.CreateWebhook(ctx, ws.ID, u.ID, fmt.Sprintf("https://hooks.example/%d", i), []string{"account.needs_reauth"}, vault.NewToken("whsec"))
				if err != nil {
					t.Fatal(err)
				}
				if i != 1 {
					exec(t, s, "UPDATE webhooks SET paused_at = ?, paused_reason = ? WHERE id = ?", now.Unix(), fmt.Sprint("down ", i), id)
				}
			}
		}, [3]int{1, 3, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.prepare(t)
			for _, manager := range []bool{true, false} {
				for _, email := range []string{"dana@example.com", "nobody@example.com"} {
					got, err := s.Notices(ctx, email, ws.ID, manager)
					if err != nil {
						t.Fatal(err)
					}
					invs, _ := s.InvitationsFor(ctx, email)
					want := Notices{Invitations: len(invs)}
					if manager {
						alerts, _ := s.Alerts(ctx)
						for _, a := range alerts {
							want.Alerts = append(want.Alerts, Alert{Key: a.Key, Message: a.Message})
						}
						paused, _ := s.PausedWebhooks(ctx, ws.ID)
						for _, h := range paused {
							want.Paused = append(want.Paused, Webhook{ID: h.ID, URL: h.URL, PausedReason: h.PausedReason})
						}
					}
					if email == "dana@example.com" && manager {
						if n := [3]int{got.Invitations, len(got.Alerts), len(got.Paused)}; n != tc.dana {
							t.Errorf("dana sees %v, want %v", n, tc.dana)
						}
					}
					if fmt.Sprint(got) != fmt.Sprint(want) {
						t.Errorf("%s, manager %v:\n got %+v\nwant %+v", email, manager, got, want)
					}
				}
			}
		})
	}
}
