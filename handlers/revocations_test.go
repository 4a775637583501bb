package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"omnisocial/store"
)

// signedIn reports whether the sandbox still honours any token of a
// persona: their sign-in is alive at the platform.
func (s *sandboxCtl) signedIn(persona string) bool {
	s.t.Helper()
	var list []struct {
		Kind, Persona string
		Valid         bool
	}
	if err := json.Unmarshal(s.control("GET", "tokens", nil), &list); err != nil {
		s.t.Fatal(err)
	}
	for _, tok := range list {
		if tok.Persona == persona && tok.Kind != "code" && tok.Valid {
			return true
		}
	}
	return false
}

// Tokens the app lets go are revoked at the platform, unless an account
// still uses their sign-in (SPEC §13): each case ends by asking the sandbox
// which sign-ins are alive.
func TestTokensLetGoAreRevoked(t *testing.T) {
	type step func(t *testing.T, k *kit, b *browser, sb *sandboxCtl)
	accountID := func(t *testing.T, k *kit, platformUserID string) string {
		for _, a := range k.accounts(t) {
			if a.PlatformUserID == platformUserID {
				return a.ID
			}
		}
		t.Fatalf("no account %s", platformUserID)
		return ""
	}
	disconnect := func(puid string) step {
		return func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			id := accountID(t, k, puid)
			if res := b.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("disconnect: %d", res.StatusCode)
			}
		}
	}
	connectPages := func(persona string, pages ...string) step {
		return func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			sb.consent(persona)
			b.choose(b.authorize("facebook", nil).Header.Get("Location"), pages...)
		}
	}
	connectTikTok := func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
		sb.consent("bloom")
		if loc := b.authorize("tiktok", nil).Header.Get("Location"); loc != "/settings/accounts" {
			t.Fatalf("tiktok connect went to %s", loc)
		}
	}
	tests := []struct {
		name       string
		steps      []step
		alive, not []string // personas whose sign-in is / is no longer honoured
		accounts   int
	}{
		{"disconnecting the only TikTok account", []step{connectTikTok, disconnect(bloomOpenID)}, nil, []string{"bloom"}, 0},
		{"one of two Pages keeps the Facebook sign-in", []step{connectPages("dana", harbor, northwind), disconnect(harbor)},
			[]string{"dana"}, nil, 1},
		{"the last Page revokes it", []step{connectPages("dana", harbor, northwind), disconnect(harbor), disconnect(northwind)},
			nil, []string{"dana"}, 0},
		{"a choice cancelled", []step{func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			sb.consent("dana")
			grant := b.authorize("facebook", nil).Header.Get("Location")
			if res := b.form(grant, grant+"/cancel", url.Values{}); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("cancel: %d", res.StatusCode)
			}
		}}, nil, []string{"dana"}, 0},
		{"a reconnect signed in as somebody else", []step{connectPages("dana", harbor), func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			sb.consent("lee")
			res := b.authorize("facebook", url.Values{"account": {accountID(t, k, harbor)}})
			if !strings.HasPrefix(res.Header.Get("Location"), "/settings/accounts/") {
				t.Fatalf("reconnect as lee went to %s", res.Header.Get("Location"))
			}
		}}, []string{"dana"}, []string{"lee"}, 1},
		{"a plan with no room for what was granted", []step{func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			// The plan fills while the person is at TikTok (another tab, a
			// colleague): a full plan is refused before the platform, so
			// the authorization starts with room.
			sb.consent("bloom")
			res := b.form("/settings/accounts/connect", "/connect/tiktok", url.Values{})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("connect start: %d", res.StatusCode)
			}
			if err := k.st.SetPlanLimit(t.Context(), "free", 0); err != nil {
				t.Fatal(err)
			}
			b.followPlatform(res.Header.Get("Location"))
		}}, nil, []string{"bloom"}, 0},
		{"a reconnect cancels the revocation still owed", []step{connectTikTok, func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			// TikTok is down when the person disconnects: the revocation waits.
			sb.control("POST", "faults", map[string]any{"endpoint": "tiktok.revoke", "kind": "5xx", "count": 1})
			disconnect(bloomOpenID)(t, k, b, sb)
			if n, _ := k.st.RevocationsOwed(t.Context()); n != 1 {
				t.Fatalf("%d revocations owed, want the one that failed", n)
			}
		}, connectTikTok, func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
			if n, _ := k.st.RevocationsOwed(t.Context()); n != 0 {
				t.Fatalf("%d revocations still owed after the sign-in was used again", n)
			}
		}}, []string{"bloom"}, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, sb := newFlowKit(t)
			b := k.browser()
			b.signup("dana@example.com", "Harbor")
			for _, s := range tc.steps {
				s(t, k, b, sb)
			}
			for _, p := range tc.alive {
				if !sb.signedIn(p) {
					t.Errorf("%s's sign-in was revoked, but an account still uses it", p)
				}
			}
			for _, p := range tc.not {
				if sb.signedIn(p) {
					t.Errorf("%s's sign-in is still honoured at the platform", p)
				}
			}
			if got := len(k.accounts(t)); got != tc.accounts {
				t.Errorf("%d accounts, want %d", got, tc.accounts)
			}
			if tc.name != "a reconnect cancels the revocation still owed" {
				if n, _ := k.st.RevocationsOwed(t.Context()); n != 0 {
					t.Errorf("%d revocations still owed", n)
				}
			}
		})
	}
}

// bloomOpenID is the sandbox's TikTok Business persona.
const bloomOpenID = "b1003a7e-0c5d-4f3b-9e2a-6b1000000001"

func (k *kit) accounts(t *testing.T) []store.Account {
	t.Helper()
	accts, err := k.st.Accounts(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return accts
}
