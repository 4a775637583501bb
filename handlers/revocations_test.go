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
	for _, tc := range revocationCases() {
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

// revocationStep is one thing a person does in a revocation case.
type revocationStep func(t *testing.T, k *kit, b *browser, sb *sandboxCtl)

type revocationCase struct {
	name       string
	steps      []revocationStep
	alive, not []string // personas whose sign-in is / is no longer honoured
	accounts   int
}

func revocationCases() []revocationCase {
	return []revocationCase{
		{"disconnecting the only TikTok account", []revocationStep{connectTikTok, disconnectAccount(bloomOpenID)}, nil, []string{"bloom"}, 0},
		{"one of two Pages keeps the Facebook sign-in", []revocationStep{connectPages("dana", harbor, northwind), disconnectAccount(harbor)},
			[]string{"dana"}, nil, 1},
		{"the last Page revokes it", []revocationStep{connectPages("dana", harbor, northwind), disconnectAccount(harbor), disconnectAccount(northwind)},
			nil, []string{"dana"}, 0},
		{"a choice cancelled", []revocationStep{cancelPageChoice}, nil, []string{"dana"}, 0},
		{"a reconnect signed in as somebody else", []revocationStep{connectPages("dana", harbor), reconnectHarborAsLee},
			[]string{"dana"}, []string{"lee"}, 1},
		{"a plan with no room for what was granted", []revocationStep{fillThePlanWhileAtTikTok}, nil, []string{"bloom"}, 0},
		{"a reconnect cancels the revocation still owed", []revocationStep{connectTikTok, disconnectWhileTikTokIsDown,
			connectTikTok, noRevocationOwed}, []string{"bloom"}, nil, 1},
	}
}

func accountByPlatformID(t *testing.T, k *kit, platformUserID string) string {
	for _, a := range k.accounts(t) {
		if a.PlatformUserID == platformUserID {
			return a.ID
		}
	}
	t.Fatalf("no account %s", platformUserID)
	return ""
}

func disconnectAccount(puid string) revocationStep {
	return func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
		id := accountByPlatformID(t, k, puid)
		if res := b.form("/settings/accounts", "/settings/accounts/"+id+"/disconnect", url.Values{}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("disconnect: %d", res.StatusCode)
		}
	}
}

func connectPages(persona string, pages ...string) revocationStep {
	return func(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
		sb.consent(persona)
		b.choose(b.authorize("facebook", nil).Header.Get("Location"), pages...)
	}
}

func connectTikTok(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	sb.consent("bloom")
	if loc := b.authorize("tiktok", nil).Header.Get("Location"); loc != "/settings/accounts" {
		t.Fatalf("tiktok connect went to %s", loc)
	}
}

func cancelPageChoice(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	sb.consent("dana")
	grant := b.authorize("facebook", nil).Header.Get("Location")
	if res := b.form(grant, grant+"/cancel", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("cancel: %d", res.StatusCode)
	}
}

func reconnectHarborAsLee(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	sb.consent("lee")
	res := b.authorize("facebook", url.Values{"account": {accountByPlatformID(t, k, harbor)}})
	if !strings.HasPrefix(res.Header.Get("Location"), "/settings/accounts/") {
		t.Fatalf("reconnect as lee went to %s", res.Header.Get("Location"))
	}
}

// fillThePlanWhileAtTikTok: the plan fills while the person is at TikTok
// (another tab, a colleague): a full plan is refused before the platform,
// so the authorization starts with room.
func fillThePlanWhileAtTikTok(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	sb.consent("bloom")
	res := b.form("/settings/accounts/connect", "/connect/tiktok", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect start: %d", res.StatusCode)
	}
	if err := k.st.SetPlanLimit(t.Context(), "free", 0); err != nil {
		t.Fatal(err)
	}
	b.followPlatform(res.Header.Get("Location"))
}

// disconnectWhileTikTokIsDown: TikTok is down when the person disconnects,
// so the revocation waits.
func disconnectWhileTikTokIsDown(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	sb.control("POST", "faults", map[string]any{"endpoint": "tiktok.revoke", "kind": "5xx", "count": 1})
	disconnectAccount(bloomOpenID)(t, k, b, sb)
	if n, _ := k.st.RevocationsOwed(t.Context()); n != 1 {
		t.Fatalf("%d revocations owed, want the one that failed", n)
	}
}

func noRevocationOwed(t *testing.T, k *kit, b *browser, sb *sandboxCtl) {
	if n, _ := k.st.RevocationsOwed(t.Context()); n != 0 {
		t.Fatalf("%d revocations still owed after the sign-in was used again", n)
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
