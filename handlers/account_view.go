package handlers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

// accountView shapes an account for pages: status in words, times as
// people say them, never a token.
func (s *server) accountView(a store.Account, manage bool) views.AccountView {
	now := s.Now()
	p := a.Provider()
	v := views.AccountView{
		ID: a.ID, Platform: a.Platform, Login: string(p), PlatformName: p.Name(), Name: a.DisplayName, AvatarURL: providers.SafeAvatar(a.AvatarURL),
		LastSynced: views.Ago(a.LastSyncedAt, now), CanManage: manage,
	}
	if a.Username != "" {
		v.Handle = "@" + strings.TrimPrefix(a.Username, "@")
	}
	if providers.Describe(p).Handle == providers.HandleCategory {
		v.Handle = "Page"
		if c := a.Metadata["category"]; c != nil && fmt.Sprint(c) != "" {
			v.Handle = fmt.Sprint(c)
		}
	}
	deadline := renewalDeadline(a)
	v.Expiry = s.expiryText(a, deadline)
	// The status shown was established by the last successful check (or
	// the connection), or, for needs re-auth, by the check or the
	// platform's notice that found the account (or its sign-in) dead:
	// nothing else updates an account waiting to be reconnected.
	checked := a.LastSyncedAt
	if a.Status == store.StatusNeedsReauth {
		checked = a.UpdatedAt
	}
	v.Checked = views.Ago(checked, now)
	v.Status = s.shownStatus(a, now)
	switch v.Status {
	case statusNeedsReauth:
		v.StatusLabel = "Needs re-auth"
		v.Expiry = "" // it works until nothing: the problem says what to do
		v.Problem = sentence(a.LastError)
		if v.Problem == "" {
			v.Problem = "OmniSocial can no longer reach this account."
		}
		v.Problem += " Reconnect it to keep publishing."
	case statusLimited:
		v.StatusLabel = "Limited"
		v.Missing = providers.Missing(p, a.Scopes)
		v.Problem = sentence(a.LastError)
		if len(v.Missing) > 0 {
			v.Problem = providers.Standing{Missing: v.Missing}.Problem() + " " + grantAdvice(len(v.Missing))
		}
	case statusExpiring:
		v.StatusLabel = "Expiring soon"
		v.Problem = fmt.Sprintf("Access to %s ends %s (%s) and cannot renew itself. Reconnect before then.",
			a.DisplayName, views.In(deadline, now), deadline.Format("2 Jan 2006"))
	default:
		v.StatusLabel = "Active"
	}
	return v
}

// viewUntil is when the clock changes what accountView says of a, seen at
// now: its relative times, and its deadline's warning and passing.
func (s *server) viewUntil(a store.Account, now time.Time) time.Time {
	until := views.Changes(a.LastSyncedAt, now)
	soonest := func(t time.Time) {
		if t.After(now) && t.Before(until) {
			until = t
		}
	}
	soonest(views.Changes(a.UpdatedAt, now))
	if d := renewalDeadline(a); !d.IsZero() {
		soonest(views.Changes(d, now))
		soonest(d.Add(-s.ExpiryWarning + 1)) // expiring from just after
		soonest(d.Add(1))                    // expired from just after
	}
	return until
}

// The statuses pages and the API show: the stored ones, and expiring.
const (
	statusActive      = string(store.StatusActive)
	statusLimited     = string(store.StatusLimited)
	statusNeedsReauth = string(store.StatusNeedsReauth)
	statusExpiring    = "expiring"
)

// shownStatus is an account's status as pages and the API give it: the
// stored one, except that a working account whose access ends within the
// warning and cannot renew itself is expiring.
func (s *server) shownStatus(a store.Account, now time.Time) string {
	switch deadline := renewalDeadline(a); {
	case a.Status == store.StatusNeedsReauth, a.Status == store.StatusLimited:
		return string(a.Status)
	case !deadline.IsZero() && deadline.Sub(now) < s.ExpiryWarning:
		return statusExpiring
	}
	return statusActive
}

// renewalDeadline is when an account stops working unless a person signs in
// again: a TikTok refresh token's end, a Meta sign-in's or data access's
// end, or an access token's end when nothing can renew it.
func renewalDeadline(a store.Account) time.Time { return a.RenewalDeadline() }

func (s *server) expiryText(a store.Account, deadline time.Time) string {
	now := s.Now()
	switch {
	case renews(a) && !a.RefreshExpiresAt.IsZero():
		return "Renews automatically until " + a.RefreshExpiresAt.Format("2 Jan 2006")
	case deadline.IsZero():
		return "Never expires"
	case deadline.Before(now):
		return "Expired " + views.Ago(deadline, now)
	}
	return "Works until " + deadline.Format("2 Jan 2006")
}

// sentence ends a message with a full stop when it has none, so another
// sentence can follow it.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// missingWords names missing permissions in one sentence:
// "Missing permissions: publish posts and read engagement."

func grantAdvice(n int) string {
	if n == 1 {
		return "Grant it to use every feature."
	}
	return "Grant them to use every feature."
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return views.Thousands(int64(n)) + " " + unit + "s"
}

// signInName is where the person signs in for an account: Instagram
// accounts are reached through Facebook Login.
func signInName(a store.Account) string {
	return providers.Describe(a.Provider()).SignIn
}

// renews reports whether the account's platform renews its access on its
// own with a refresh token (TikTok), rather than only validating it.
func renews(a store.Account) bool {
	return providers.Describe(a.Provider()).Renewal == providers.Rotated
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// number writes a count from JSON as people read it (12,410); ids and
// other large values keep their digits.
func number(x float64) string {
	if x != math.Trunc(x) || math.Abs(x) >= 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return views.Thousands(int64(x))
}

// outcomeWords puts the queue's outcome ("transient:http_503") in words
// for the details page.
func outcomeWords(o store.CheckOutcome) string {
	code := o.Code()
	switch o.Kind() {
	case "":
		return "—"
	case store.OutcomeRefreshed:
		return "Tokens refreshed"
	case store.OutcomeChecked:
		return "Checked, working"
	case store.OutcomeReconnected:
		return "Reconnected"
	case store.OutcomeDeauthorized:
		return "The app was removed at Facebook"
	case store.OutcomeTransient:
		return "Temporary problem (" + code + "); retrying"
	case store.OutcomePermanent:
		return "Rejected by the platform (" + code + ")"
	case store.OutcomeMisconfigured:
		return "The platform rejected this server's app credentials (" + code + ")"
	}
	return string(o)
}
