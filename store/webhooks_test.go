package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"omnisocial/vault"
)

// hookStore is a store with a fake clock, one workspace and a webhook
// subscribed to events.
func hookStore(t *testing.T, events ...string) (s *Store, ws int64, hook string, now *time.Time, path string) {
	t.Helper()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	now = &t0
	path = filepath.Join(t.TempDir(), "wh.db")
	s, err := Open(context.Background(), withNow(testOptions(t, path, testBox(t, testKey)), func() time.Time { return *now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	u, w, err := s.SignUp(context.Background(), User{Email: "o@example.com", PasswordHash: "h"}, "W", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) == 0 {
		events = WebhookEvents
	}
	hook, err = s.CreateWebhook(context.Background(), w.ID, u.ID, "https://hooks.example.com/in", events, vault.NewToken("whsec-plaintext-secret-XYZ"))
	if err != nil {
		t.Fatal(err)
	}
	return s, w.ID, hook, now, path
}

func connectTikTok(t *testing.T, s *Store, ws int64, puid string, scopes ...string) string {
	t.Helper()
	if _, err := s.Connect(context.Background(), Connect{WorkspaceID: ws, UserID: 1, Platform: "tiktok", Subject: puid,
		Accounts: []Discovered{{PlatformUserID: puid, DisplayName: "Acct " + puid, Scopes: scopes,
			Tokens: Tokens{Access: vault.NewToken("act.SECRET-" + puid), Refresh: vault.NewToken("rft.SECRET-" + puid)}}}}); err != nil {
		t.Fatal(err)
	}
	var id string
	s.rawQueryRow("SELECT id FROM social_accounts WHERE platform_user_id = ?", puid).Scan(&id)
	return id
}

func pendingEvents(t *testing.T, s *Store, hook string) []string {
	t.Helper()
	rows, err := s.rawQuery("SELECT event FROM webhook_deliveries WHERE webhook_id = ? ORDER BY seq", hook)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		rows.Scan(&e)
		out = append(out, e)
	}
	return out
}

// Every kind of account change writes its message in its own transaction.
func TestWebhookEventsAreQueuedWithTheirCause(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		do   func(t *testing.T, s *Store, ws int64, id string)
		want []string
	}{
		{"connect", func(*testing.T, *Store, int64, string) {}, []string{EventConnected}},
		{"reconnect with other permissions", func(t *testing.T, s *Store, ws int64, id string) {
			connectTikTok(t, s, ws, "p1", "user.info.basic", "video.list")
		}, []string{EventConnected, EventReconnected, EventPermissionsChanged}},
		{"refused for good", func(t *testing.T, s *Store, ws int64, id string) {
			c, err := s.ClaimOne(ctx, s.now(), id, "me", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.RecordFailure(ctx, c, Failure{Permanent: true, Reason: "The token was revoked"}); err != nil {
				t.Fatal(err)
			}
		}, []string{EventConnected, EventNeedsReauth}},
		{"a transient failure is no event", func(t *testing.T, s *Store, ws int64, id string) {
			c, _ := s.ClaimOne(ctx, s.now(), id, "me", time.Minute)
			if err := s.RecordFailure(ctx, c, Failure{Reason: "timeout", NextCheckAt: s.now().Add(time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}, []string{EventConnected}},
		{"limited, then working again", func(t *testing.T, s *Store, ws int64, id string) {
			for _, st := range []Status{StatusLimited, StatusActive} {
				c, _ := s.ClaimOne(ctx, s.now(), id, "me", time.Minute)
				if err := s.RecordSuccess(ctx, c, Result{Tokens: Tokens{Access: vault.NewToken("act.new")}, Status: st,
					NextCheckAt: s.now().Add(time.Hour), Event: "checked"}); err != nil {
					t.Fatal(err)
				}
			}
		}, []string{EventConnected, EventRecovered}},
		{"a routine check is no event", func(t *testing.T, s *Store, ws int64, id string) {
			c, _ := s.ClaimOne(ctx, s.now(), id, "me", time.Minute)
			s.RecordSuccess(ctx, c, Result{Tokens: Tokens{Access: vault.NewToken("act.new")}, NextCheckAt: s.now().Add(time.Hour), Event: "checked"})
		}, []string{EventConnected}},
		{"disconnect", func(t *testing.T, s *Store, ws int64, id string) {
			if _, err := s.DeleteAccount(ctx, ws, id, 1, tiktokOnly); err != nil {
				t.Fatal(err)
			}
		}, []string{EventConnected, EventDisconnected}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, ws, hook, _, _ := hookStore(t)
			id := connectTikTok(t, s, ws, "p1", "user.info.basic")
			tc.do(t, s, ws, id)
			if got := pendingEvents(t, s, hook); !slices.Equal(got, tc.want) {
				t.Fatalf("messages %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWebhookSubscriptionAndAtomicity(t *testing.T) {
	ctx := context.Background()
	s, ws, hook, _, path := hookStore(t, EventDisconnected)
	id := connectTikTok(t, s, ws, "p1")
	if got := pendingEvents(t, s, hook); len(got) != 0 {
		t.Fatalf("an unsubscribed event was queued: %v", got)
	}
	// A message that cannot be written takes its cause down with it.
	s.RenderAccountsWith(func(Account) (json.RawMessage, error) { return nil, errors.New("boom") })
	if _, err := s.DeleteAccount(ctx, ws, id, 1, tiktokOnly); err == nil {
		t.Fatal("disconnect committed without its message")
	}
	if _, err := s.Account(ctx, ws, id); err != nil {
		t.Fatalf("the account went without its message: %v", err)
	}
	s.RenderAccountsWith(func(a Account) (json.RawMessage, error) {
		return json.Marshal(map[string]string{"id": a.ID, "as": "api"})
	})
	if _, err := s.DeleteAccount(ctx, ws, id, 1, tiktokOnly); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueDeliveries(ctx, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due = %v, %v", due, err)
	}
	var m struct {
		Type string
		Data struct{ Account map[string]string }
	}
	if err := json.Unmarshal(due[0].Payload, &m); err != nil || m.Type != EventDisconnected || m.Data.Account["as"] != "api" || m.Data.Account["id"] != id {
		t.Fatalf("payload %s (%v)", due[0].Payload, err)
	}
	if due[0].Secret.Reveal() != "whsec-plaintext-secret-XYZ" || due[0].URL != "https://hooks.example.com/in" {
		t.Fatal("the secret or URL did not come back")
	}
	s.Checkpoint(ctx)
	for _, f := range []string{path, path + "-wal"} {
		raw, _ := os.ReadFile(f)
		for _, secret := range []string{"whsec-plaintext-secret-XYZ", "act.SECRET-p1", "rft.SECRET-p1"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s holds %s in plaintext", filepath.Base(f), secret)
			}
		}
	}
}

// Messages about one account go out one at a time, in order; a failing one
// holds back only its own account's, and gives up after a day.
func TestWebhookOrderRetryGiveUpAndPause(t *testing.T) {
	ctx := context.Background()
	s, ws, hook, now, _ := hookStore(t)
	a := connectTikTok(t, s, ws, "a")
	b := connectTikTok(t, s, ws, "b")
	if _, err := s.DeleteAccount(ctx, ws, a, 1, tiktokOnly); err != nil {
		t.Fatal(err)
	}
	due, _ := s.DueDeliveries(ctx, 10)
	if len(due) != 2 || due[0].AccountID != a || due[0].Event != EventConnected || due[1].AccountID != b {
		t.Fatalf("due: %+v", due)
	}
	fail := func(d Delivery) bool {
		paused, err := s.RecordDelivery(ctx, d, Outcome{Attempt: Attempt{StatusCode: 500, Error: "answered 500"},
			RetryAt: now.Add(time.Minute), PauseAfter: 72 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return paused
	}
	fail(due[0])
	if _, err := s.RecordDelivery(ctx, due[1], Outcome{Delivered: true, Attempt: Attempt{StatusCode: 204}}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueDeliveries(ctx, 10); len(due) != 0 {
		t.Fatalf("not waiting for the retry time: %+v", due)
	}
	*now = now.Add(time.Minute)
	due, _ = s.DueDeliveries(ctx, 10)
	if len(due) != 1 || due[0].Event != EventConnected || due[0].Attempts != 1 {
		t.Fatalf("the disconnect overtook the connect: %+v", due)
	}
	*now = now.Add(WebhookRetryFor)
	fail(due[0])
	due, _ = s.DueDeliveries(ctx, 10)
	if len(due) != 1 || due[0].Event != EventDisconnected {
		t.Fatalf("after giving up the first, the next is due: %+v", due)
	}
	list, _ := s.Deliveries(ctx, ws, hook, 10)
	if list[len(list)-1].State != DeliveryFailed || len(list[len(list)-1].History) != 2 || list[len(list)-1].History[0].StatusCode != 500 {
		t.Fatalf("history: %+v", list[len(list)-1])
	}
	// Failing for three days since the last success: paused, and nothing more is sent.
	*now = now.Add(72 * time.Hour)
	if !fail(due[0]) {
		t.Fatal("an endpoint failing for three days was not paused")
	}
	if p, _ := s.PausedWebhooks(ctx, ws); len(p) != 1 || p[0].PausedReason == "" {
		t.Fatalf("paused: %+v", p)
	}
	*now = now.Add(time.Hour)
	if due, _ := s.DueDeliveries(ctx, 10); len(due) != 0 {
		t.Fatal("a paused endpoint is still sent to")
	}
	// Resuming gives what waited a fresh day; a person can resend the one given up.
	if err := s.ResumeWebhook(ctx, ws, hook); err != nil {
		t.Fatal(err)
	}
	if err := s.ResendDelivery(ctx, ws, hook, list[len(list)-1].ID); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueDeliveries(ctx, 10)
	if len(due) != 1 || due[0].Event != EventConnected || due[0].ID != list[len(list)-1].ID {
		t.Fatalf("after resume and resend: %+v", due)
	}
	if err := s.ResendDelivery(ctx, ws+1, hook, due[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another workspace resent a message: %v", err)
	}
}

// A webhook's secret is resealed by key rotation with everything else, and
// signs under the new key alone.
func TestWebhookSecretOutlivesKeyRotation(t *testing.T) {
	ctx := context.Background()
	s, ws, _, _, path := hookStore(t)
	connectTikTok(t, s, ws, "p1")
	s.Close()
	newKey := "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	kOld, _ := vault.ParseKey(testKey)
	kNew, _ := vault.ParseKey(newKey)
	both, _ := vault.NewBox(kNew, kOld)
	s2, err := Open(ctx, testOptions(t, path, both))
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, err := s2.RotateBatch(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := s2.RotateRest(ctx); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := openAtWith(t, path, newKey)
	due, err := s3.DueDeliveries(ctx, 10)
	if err != nil || len(due) != 1 || due[0].SecretErr != nil || due[0].Secret.Reveal() != "whsec-plaintext-secret-XYZ" {
		t.Fatalf("after rotation: %+v %v", due, err)
	}
}

func openAtWith(t *testing.T, path, key string) *Store {
	t.Helper()
	return mustOpen(t, withNow(testOptions(t, path, testBox(t, key)), func() time.Time {
		return time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	}))
}
