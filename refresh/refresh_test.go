package refresh

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
)

func TestTikTokRotation(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	old := e.tokens(id)
	e.dueNow(id)
	now := e.clock.Now()

	st := e.run(e.refresher(nil))
	if st.Claimed != 1 || st.Refreshed != 1 {
		t.Fatalf("stats = %+v, want one refresh", st)
	}
	got := e.tokens(id)
	if got.Refresh.Equal(old.Refresh) || got.Access.Equal(old.Access) || got.Refresh.IsZero() {
		t.Fatal("the rotated pair was not stored")
	}
	if s := e.tokenStatus(old.Refresh); s != "rotated" {
		t.Errorf("old refresh token is %q at the sandbox, want rotated", s)
	}
	if s := e.tokenStatus(got.Refresh); s != "valid" {
		t.Errorf("stored refresh token is %q at the sandbox, want valid", s)
	}
	// And the sandbox really takes the stored one, not the old one.
	tt := e.adapter(providers.TikTok)
	if _, err := tt.Check(context.Background(), providers.Credentials{RefreshToken: old.Refresh, PlatformUserID: "x"}); !providers.IsPermanent(err) {
		t.Errorf("old refresh token: %v, want rejected", err)
	}
	q := e.state(id)
	life := got.Expiry.Sub(now)
	if q.Status != store.StatusActive || q.LastOutcome != store.OutcomeRefreshed || !q.LastSyncedAt.Equal(now) || q.Failures != 0 ||
		q.NextCheckAt.Before(now.Add(life*3/4-time.Second)) || q.NextCheckAt.After(now.Add(life*3/4+time.Second)) {
		t.Fatalf("queue state = %+v; token life %v", q, life)
	}
	if ev, _ := e.st.Events(context.Background(), e.ws, id, 1); len(ev) != 1 || ev[0].Kind != "refreshed" {
		t.Fatalf("events = %+v", ev)
	}
	if st := e.run(e.refresher(nil)); st.Claimed != 0 {
		t.Fatalf("refreshed again before due: %+v", st)
	}
}

func TestMetaCheckSyncsProfile(t *testing.T) {
	for _, p := range []providers.Platform{providers.Facebook, providers.Instagram} {
		t.Run(string(p), func(t *testing.T) {
			e := newEnv(t)
			ids := e.connect(p, "dana")
			ws := e.ws
			want, _ := e.st.Account(context.Background(), ws, ids[0])
			e.sqlExec("UPDATE social_accounts SET display_name = 'stale', avatar_url = ''")
			e.dueNow(ids...)
			now := e.clock.Now()

			st := e.run(e.refresher(nil))
			if st.Checked != len(ids) || st.Claimed != len(ids) {
				t.Fatalf("stats = %+v, want %d checked", st, len(ids))
			}
			got, _ := e.st.Account(context.Background(), ws, ids[0])
			if got.DisplayName != want.DisplayName || got.AvatarURL == "" || !got.LastSyncedAt.Equal(now) || got.Status != want.Status {
				t.Fatalf("profile not synced: %q (want %q), avatar %q, synced %v, status %s", got.DisplayName, want.DisplayName,
					got.AvatarURL, got.LastSyncedAt, got.Status)
			}
			if got.Metadata[providers.MetaDataAccessUntil] == nil {
				t.Errorf("metadata lost the data-access expiry: %v", got.Metadata)
			}
			if q := e.state(ids[0]); q.LastOutcome != "checked" || !q.NextCheckAt.After(now.Add(23*time.Hour)) {
				t.Fatalf("queue state = %+v", q)
			}
		})
	}
}

func TestTransientFaultsBackOffAndRecover(t *testing.T) {
	tests := []struct {
		name     string
		platform providers.Platform
		persona  string
		fault    map[string]any
		callTime time.Duration
		wantCode string
		minWait  time.Duration
	}{
		{"tiktok 5xx", providers.TikTok, "bloom", map[string]any{"endpoint": "tiktok.token", "kind": "5xx"}, 0, "server_error", minGap},
		{"tiktok 429 with retry hint", providers.TikTok, "bloom", map[string]any{"endpoint": "tiktok.token", "kind": "429", "retry_after": 7200}, 0, "rate_limit_exceeded", 2 * time.Hour},
		{"tiktok timeout", providers.TikTok, "bloom", map[string]any{"endpoint": "tiktok.token", "kind": "timeout"}, 300 * time.Millisecond, "timeout", minGap},
		{"tiktok profile 5xx after the rotation", providers.TikTok, "bloom", map[string]any{"endpoint": "tiktok.userinfo", "kind": "5xx"}, 0, "internal_error", minGap},
		{"facebook 5xx", providers.Facebook, "lee", map[string]any{"endpoint": "meta.debug_token", "kind": "5xx"}, 0, "2", minGap},
		{"facebook app rate limit", providers.Facebook, "lee", map[string]any{"endpoint": "meta.debug_token", "kind": "429"}, 0, "4", 5 * time.Minute},
		{"instagram page rate limit", providers.Instagram, "dana", map[string]any{"endpoint": "meta.node", "kind": "rate_limit", "retry_after": 600}, 0, "32", 10 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := slices.Min(e.connect(tc.platform, tc.persona)) // claimed first among equals
			e.dueNow(id)
			now := e.clock.Now()
			before := e.tokens(id)
			e.fault(tc.fault)
			r := e.refresher(func(o *Options) { o.Workers, o.Batch, o.CallTimeout = 1, 1, tc.callTime })

			st := e.run(r)
			if st.Retried != 1 {
				t.Fatalf("stats = %+v, want one retry", st)
			}
			q := e.state(id)
			if q.Status == store.StatusNeedsReauth || q.Failures != 1 || q.LastOutcome != store.OutcomeTransient.Because(tc.wantCode) || q.LastError == "" {
				t.Fatalf("queue state = %+v", q)
			}
			if q.NextCheckAt.Before(now.Add(tc.minWait)) || q.NextCheckAt.After(now.Add(max(tc.minWait, backoffBase+minGap)+time.Second)) {
				t.Fatalf("next check in %v, want from %v up to the first backoff", q.NextCheckAt.Sub(now), tc.minWait)
			}
			if tc.wantCode == "internal_error" && e.tokens(id).Refresh.Equal(before.Refresh) {
				t.Fatal("the rotated pair was not stored before the profile failure was handled")
			}
			// The outage ends; the next try succeeds and clears the record.
			e.control("DELETE", "faults", nil)
			e.dueNow(id)
			if st := e.run(e.refresher(nil)); st.Refreshed+st.Checked != 1 {
				t.Fatalf("recovery run: %+v", st)
			}
			if q := e.state(id); q.Status == store.StatusNeedsReauth || q.Failures != 0 || q.LastError != "" && !strings.HasPrefix(q.LastError, "Missing") {
				t.Fatalf("after recovery: %+v", q)
			}
		})
	}
}

// A rate-limit hint holds back the platform's whole queue, not only the
// account that hit it.
func TestRetryHintSlowsThePlatform(t *testing.T) {
	e := newEnv(t)
	e.connect(providers.TikTok, "bloom")
	ids := e.connect(providers.TikTok, "river")
	e.dueNow(ids...)
	e.control("DELETE", "stats", nil)
	e.fault(map[string]any{"endpoint": "tiktok.token", "kind": "429", "retry_after": 600})
	r := e.refresher(func(o *Options) { o.Workers = 1 })

	st := e.run(r)
	if st.Retried != 1 || st.Deferred != 1 || e.stats()["tiktok.token"] != 1 {
		t.Fatalf("stats = %+v, sandbox %v: want one call, the other account held back", st, e.stats())
	}
	for _, id := range ids {
		if q := e.state(id); q.NextCheckAt.Before(e.clock.Now().Add(10*time.Minute)) || q.Status != store.StatusActive {
			t.Fatalf("account %s: %+v", id, q)
		}
	}
}

func TestPermanentFailuresNeedReauth(t *testing.T) {
	tests := []struct {
		name       string
		platform   providers.Platform
		persona    string
		break_     func(e *env)
		wantReason string
	}{
		{"tiktok revoked", providers.TikTok, "bloom", func(e *env) { e.control("POST", "revoke", map[string]any{"persona": "bloom"}) },
			"TikTok rejected the refresh token (expired or revoked)"},
		{"tiktok invalid_grant", providers.TikTok, "bloom", func(e *env) { e.fault(map[string]any{"endpoint": "tiktok.token", "kind": "invalid_grant"}) },
			"TikTok rejected the refresh token (expired or revoked)"},
		{"facebook app removed", providers.Facebook, "lee", func(e *env) { e.control("POST", "revoke", map[string]any{"persona": "lee"}) },
			"The app was removed from the Facebook account"},
		{"facebook password changed", providers.Facebook, "lee", func(e *env) { e.fault(map[string]any{"endpoint": "meta.node", "kind": "invalid_grant"}) },
			"The Facebook password was changed"},
		{"facebook token expired", providers.Facebook, "lee", func(e *env) { e.control("POST", "expire", map[string]any{"persona": "lee"}) },
			"The Facebook sign-in expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.connect(tc.platform, tc.persona)[0]
			e.dueNow(id)
			tc.break_(e)
			r := e.refresher(nil)

			if st := e.run(r); st.NeedsReauth != 1 {
				t.Fatalf("stats = %+v, want needs re-auth", st)
			}
			q := e.state(id)
			if q.Status != store.StatusNeedsReauth || q.LastError != tc.wantReason {
				t.Fatalf("queue state = %+v, want reason %q", q, tc.wantReason)
			}
			if ev, _ := e.st.Events(context.Background(), e.ws, id, 1); len(ev) != 1 || ev[0].Kind != "needs_reauth" || ev[0].Detail != tc.wantReason {
				t.Fatalf("events = %+v", ev)
			}
			if _, err := r.AccessToken(context.Background(), id); !errors.Is(err, ErrNeedsReauth) {
				t.Fatalf("AccessToken: %v, want ErrNeedsReauth", err)
			}
			// No further attempts until reconnected.
			e.control("DELETE", "stats", nil)
			e.clock.Add(30 * 24 * time.Hour)
			if st := e.run(r); st.Claimed != 0 || len(e.stats()) != 0 {
				t.Fatalf("a dead account was tried again: %+v, sandbox %v", st, e.stats())
			}
		})
	}
}

// After a crash mid-refresh the account is retried once, carefully, with the
// stored refresh token. If the platform had rotated it (the answer never got
// stored), that ends in needs re-auth, stated, and not in a loop.
func TestCrashMidRefresh(t *testing.T) {
	tests := []struct {
		name        string
		rotatedLost bool
		want        store.Status
	}{
		{"crash before the platform answered", false, store.StatusActive},
		{"crash after a rotation, before the commit", true, store.StatusNeedsReauth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			id := e.connect(providers.TikTok, "bloom")[0]
			e.dueNow(id)
			ctx := context.Background()
			c, err := e.st.ClaimOne(ctx, e.clock.Now(), id, "crashed", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rotatedLost {
				tt := e.adapter(providers.TikTok)
				if _, err := tt.Check(ctx, providers.Credentials{RefreshToken: c.Tokens.Refresh, PlatformUserID: c.PlatformUserID}); err != nil {
					t.Fatal(err)
				}
			}
			r := e.refresher(nil)
			if st := e.run(r); st.Claimed != 0 {
				t.Fatalf("claimed under a live lease: %+v", st)
			}
			e.clock.Add(2 * time.Minute) // the lease runs out
			st := e.run(r)
			if st.Claimed != 1 {
				t.Fatalf("expired lease not reclaimed: %+v", st)
			}
			if q := e.state(id); q.Status != tc.want {
				t.Fatalf("status %s (%s), want %s", q.Status, q.LastError, tc.want)
			}
			e.clock.Add(24 * time.Hour)
			if st := e.run(r); tc.rotatedLost && st.Claimed != 0 {
				t.Fatalf("tried again: %+v", st)
			}
		})
	}
}

// A wrong app secret is the app's problem: no account is condemned, one
// alert is raised for the admin, and the first success clears it.
func TestMisconfigurationMarksNoAccountDead(t *testing.T) {
	tests := []struct {
		platform providers.Platform
		personas []string // one sign-in each
		wrong    func(*providers.Apps)
	}{
		{providers.TikTok, []string{"bloom", "river"}, func(c *providers.Apps) { c.TikTok.ClientSecret = vault.NewToken("wrong") }},
		{providers.Facebook, []string{"dana"}, func(c *providers.Apps) { c.Meta.AppSecret = vault.NewToken("wrong") }},
	}
	for _, tc := range tests {
		t.Run(string(tc.platform), func(t *testing.T) {
			e := newEnv(t)
			var ids []string
			for _, persona := range tc.personas {
				ids = e.connect(tc.platform, persona) // the platform's accounts so far
			}
			e.dueNow(ids...)
			r := e.refresher(func(o *Options) { o.Providers = e.providers(tc.wrong); o.Workers = 1 })

			st := e.run(r)
			if st.Misconfigured != 1 || st.Deferred != len(ids)-1 || st.NeedsReauth != 0 {
				t.Fatalf("stats = %+v: want one call, the rest held back, nobody condemned", st)
			}
			for _, id := range ids {
				if q := e.state(id); q.Status == store.StatusNeedsReauth || q.Failures != 0 || !q.NextCheckAt.After(e.clock.Now()) {
					t.Fatalf("account %s: %+v", id, q)
				}
			}
			alerts, _ := e.st.Alerts(context.Background())
			if len(alerts) != 1 || alerts[0].Key != "platform:"+string(tc.platform) || !strings.Contains(alerts[0].Message, "app") {
				t.Fatalf("alerts = %+v, want one", alerts)
			}
			// The admin fixes the secret; the next success lifts the alert.
			e.dueNow(ids...)
			if st := e.run(e.refresher(nil)); st.Refreshed+st.Checked != len(ids) {
				t.Fatalf("after the fix: %+v", st)
			}
			if alerts, _ := e.st.Alerts(context.Background()); len(alerts) != 0 {
				t.Fatalf("alert not cleared: %+v", alerts)
			}
		})
	}
}
