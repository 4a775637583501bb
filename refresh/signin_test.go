package refresh

// One dead sign-in, every account (issue 12, PLATFORMS.md §8 "Grant-wide
// token death"): a check that finds the sign-in dead marks every account
// obtained through it at once, in every workspace, with the same reason.

import (
	"context"
	"slices"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

// workspace is a second person with their own workspace, connecting into it.
type workspace struct {
	e       *env
	ws, uid int64
}

func (e *env) otherWorkspace(email string) workspace {
	e.t.Helper()
	u, ws, err := e.st.SignUp(context.Background(), store.User{Email: email, PasswordHash: "h"}, "Other", "business", false)
	if err != nil {
		e.t.Fatal(err)
	}
	return workspace{e, ws.ID, u.ID}
}

// connect authorizes persona and stores every account found in w.
func (w workspace) connect(p providers.Platform, persona string) []string {
	w.e.t.Helper()
	g := w.e.authorize(p, persona)
	if _, err := w.e.st.Connect(context.Background(), store.Connect{WorkspaceID: w.ws, UserID: w.uid, Platform: string(p),
		Subject: g.Subject, SubjectName: g.SubjectName, Accounts: store.FromGrant(p, g, w.e.clock.Now())}); err != nil {
		w.e.t.Fatal(err)
	}
	accs, err := w.e.st.Accounts(context.Background(), w.ws)
	if err != nil {
		w.e.t.Fatal(err)
	}
	var ids []string
	for _, a := range accs {
		if a.Platform == string(p) && a.GrantSubject == g.Subject {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// TestDeadSignInMarksEveryAccount: one account of a sign-in is checked; what
// the platform says about the sign-in decides which other accounts, in any
// workspace, need re-auth with it.
func TestDeadSignInMarksEveryAccount(t *testing.T) {
	tests := []struct {
		name string
		// kill makes the platform end the sign-in; it gets the two
		// workspaces' accounts (first: the one checked).
		kill       func(e *env, first, second []string)
		platform   providers.Platform
		persona    string
		wantCode   string
		secondDies bool // the same person's other sign-ins' accounts, here and in the other workspace
	}{
		{name: "facebook app removed (190/458) reaches every sign-in of the person",
			platform: providers.Facebook, persona: "dana", wantCode: "190/458", secondDies: true,
			kill: func(e *env, _, _ []string) { e.control("POST", "revoke", map[string]any{"persona": "dana"}) }},
		{name: "facebook sign-in expired (190/463) reaches the accounts of that sign-in only",
			platform: providers.Facebook, persona: "dana", wantCode: "190/463", secondDies: false,
			kill: func(e *env, first, _ []string) {
				e.control("POST", "expire", map[string]any{"token": e.tokens(first[0]).User.Reveal()})
			}},
		{name: "tiktok authorization revoked reaches the same TikTok account everywhere",
			platform: providers.TikTok, persona: "bloom", wantCode: "invalid_grant", secondDies: true,
			kill: func(e *env, _, _ []string) { e.control("POST", "revoke", map[string]any{"persona": "bloom"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			other := e.otherWorkspace("sam@example.com")
			first, second, bystanders := connectSignIns(t, e, other, tc.platform, tc.persona)
			tc.kill(e, first, second)

			// One account is checked (Check now); its check decides for all.
			if err := e.refresher(nil).CheckNow(context.Background(), first[0]); err != nil {
				t.Fatal(err)
			}
			checked := e.state(first[0])
			if checked.Status != store.StatusNeedsReauth || checked.LastOutcome != store.OutcomePermanent.Because(tc.wantCode) {
				t.Fatalf("checked account: %+v", checked)
			}
			wantDead := first[1:]
			if tc.secondDies {
				wantDead = append(wantDead, second...)
			}
			for _, id := range wantDead {
				assertMarkedWithReason(t, e, other, id, checked.LastError)
			}
			alive := bystanders
			if !tc.secondDies {
				alive = append(alive, second...)
			}
			for _, id := range alive {
				if q := e.state(id); q.Status == store.StatusNeedsReauth {
					t.Errorf("%s was marked too: %+v", id, q)
				}
			}
		})
	}
}

// connectSignIns connects, for persona on p, first: one sign-in's accounts
// in this workspace (the first is checked); second: the same person's
// other sign-ins, here and in another workspace; bystanders: somebody
// else's.
func connectSignIns(t *testing.T, e *env, other workspace, p providers.Platform, persona string) (first, second, bystanders []string) {
	t.Helper()
	first = e.connect(p, persona)
	shared := providers.Describe(p).SharesSignIn() // a Facebook sign-in serves Instagram too
	if !shared {
		second = other.connect(p, persona)
		bystanders = other.connect(p, "river")
	} else {
		second = append(e.connect(providers.Instagram, persona), other.connect(providers.Instagram, persona)...)
		bystanders = slices.DeleteFunc(e.connect(providers.Facebook, "lee"), func(id string) bool { return slices.Contains(first, id) })
	}
	if len(first) < 1 || len(second) == 0 || len(bystanders) == 0 || shared && len(first) < 2 {
		t.Fatalf("setup: %d %d %d accounts", len(first), len(second), len(bystanders))
	}
	return first, second, bystanders
}

// assertMarkedWithReason checks that account id (in e's workspace or in
// other) needs re-auth with reason, holds no lease, and has a needs_reauth
// event saying so.
func assertMarkedWithReason(t *testing.T, e *env, other workspace, id, reason string) {
	t.Helper()
	q := e.state(id)
	if q.Status != store.StatusNeedsReauth || q.LastError != reason || !q.LeaseUntil.IsZero() {
		t.Errorf("%s: %+v, want needs re-auth with %q", id, q, reason)
	}
	evs, _ := e.st.Events(context.Background(), e.ws, id, 5)
	if len(evs) == 0 {
		evs, _ = e.st.Events(context.Background(), other.ws, id, 5)
	}
	if len(evs) == 0 || evs[0].Kind != "needs_reauth" || evs[0].Detail != reason {
		t.Errorf("%s: no needs_reauth event with the reason: %+v", id, evs)
	}
}

// TestDeadSignInRespectsLeases: an account another worker holds while the
// sign-in is found dead is marked without losing that worker's outcome:
// its lease and attempt stand, its tokens (a rotated TikTok refresh token
// above all) are stored, and the status stays needs re-auth.
func TestDeadSignInRespectsLeases(t *testing.T) {
	for _, p := range []providers.Platform{providers.Facebook, providers.TikTok} {
		t.Run(string(p), func(t *testing.T) {
			e := newEnv(t)
			persona := map[providers.Platform]string{providers.Facebook: "dana", providers.TikTok: "bloom"}[p]
			ids := e.connect(p, persona)
			other := e.otherWorkspace("sam@example.com")
			held := other.connect(p, persona)[0]

			// Another worker claims the held account and gets its answer
			// from the platform before the sign-in dies.
			ctx := context.Background()
			claim, err := e.st.ClaimOne(ctx, e.clock.Now(), held, "other-worker", 10*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			prov := e.adapter(p)
			creds := providers.Credentials{AccessToken: claim.Tokens.Access, RefreshToken: claim.Tokens.Refresh, UserToken: claim.Tokens.User,
				Expiry: claim.Tokens.Expiry, RefreshExpiry: claim.Tokens.RefreshExpiry, PlatformUserID: claim.PlatformUserID, Metadata: claim.Metadata}
			ch, err := prov.Check(ctx, creds)
			if err != nil {
				t.Fatal(err)
			}

			e.control("POST", "revoke", map[string]any{"persona": persona})
			if err := e.refresher(nil).CheckNow(ctx, ids[0]); err != nil {
				t.Fatal(err)
			}
			if q := e.state(ids[0]); q.Status != store.StatusNeedsReauth {
				t.Fatalf("checked account: %+v", q)
			}
			q := e.state(held)
			if q.Status != store.StatusNeedsReauth || q.LeaseUntil.IsZero() {
				t.Fatalf("held account: %+v, want needs re-auth with its lease intact", q)
			}

			// The other worker's outcome still lands: tokens stored, status kept.
			res := store.Result{At: e.clock.Now(), Tokens: store.Tokens{Access: ch.Credentials.AccessToken, Refresh: ch.Credentials.RefreshToken,
				User: ch.Credentials.UserToken, Expiry: ch.Credentials.Expiry, RefreshExpiry: ch.Credentials.RefreshExpiry},
				Status: store.StatusActive, NextCheckAt: e.clock.Now().Add(time.Hour), Outcome: "checked", Event: "checked"}
			if err := e.st.RecordSuccess(ctx, claim, res); err != nil {
				t.Fatalf("the worker's outcome was fenced off: %v", err)
			}
			if got := e.tokens(held); !got.Access.Equal(ch.Credentials.AccessToken) || !got.Refresh.Equal(ch.Credentials.RefreshToken) {
				t.Error("the worker's tokens were not stored")
			}
			if q := e.state(held); q.Status != store.StatusNeedsReauth || q.LastError == "" || !q.LeaseUntil.IsZero() {
				t.Errorf("after the worker's outcome: %+v, want needs re-auth, lease released", q)
			}
		})
	}
}
