package providers

import (
	"omnisocial/words"
	"slices"
	"time"
)

// Standing is what an account's grant and credentials mean for the
// product: the one place that says what is missing, whether the account is
// limited, and when it is looked at next.
type Standing struct {
	Missing   []string // required scopes not granted, in request order
	Limited   bool     // some required scope is missing
	NextCheck time.Time
}

// Schedule decides when an account is looked at next (PLATFORMS.md §5).
// Zero values take the defaults noted.
type Schedule struct {
	ValidateEvery time.Duration // how often validated (Meta) tokens are checked; default 24 h
	ExpiryWarning time.Duration // look again when an unrenewable expiry is this near; default 7 days
}

// MinGap keeps every schedule a little in the future, so no account is
// picked up again within the same run.
const MinGap = 30 * time.Second

// Assess returns the standing of an account of p holding granted scopes
// and credentials c, as of now.
func (s Schedule) Assess(p Platform, granted []string, c Credentials, now time.Time) Standing {
	missing := Missing(p, granted)
	return Standing{Missing: missing, Limited: len(missing) > 0, NextCheck: s.Next(p, c, now)}
}

// Problem says in words what a limited account lacks: "Missing
// permission: …." ("" when nothing is missing).
func (s Standing) Problem() string {
	if len(s.Missing) == 0 {
		return ""
	}
	noun := "Missing permission: "
	if len(s.Missing) > 1 {
		noun = "Missing permissions: "
	}
	return noun + ScopeWords(s.Missing) + "."
}

// ScopeWords names scopes in words, as a sentence lists them.
func ScopeWords(names []string) string {
	var out []string
	for _, n := range names {
		out = append(out, words.LowerFirst(ScopeDescription(n)))
	}
	return words.JoinAnd(out)
}

// Missing returns the required scopes of p not in granted, in request order.
func Missing(p Platform, granted []string) []string {
	var out []string
	for _, s := range requiredScopes[p] {
		if !slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out
}

// Next returns when to check an account with credentials c again.
// Rotated (TikTok): when a quarter of the access token's life remains, its
// life read from the platform's answer (c.Expiry), never assumed.
// Validated (Meta): daily, and also when the user token or the data access
// enters the warning window, and right after either ends, so the banner
// follows promptly.
func (s Schedule) Next(p Platform, c Credentials, now time.Time) time.Time {
	if s.ValidateEvery <= 0 {
		s.ValidateEvery = 24 * time.Hour
	}
	if s.ExpiryWarning <= 0 {
		s.ExpiryWarning = 7 * 24 * time.Hour
	}
	floor := now.Add(MinGap)
	if Describe(p).Renewal == Rotated {
		if c.Expiry.IsZero() {
			return now.Add(time.Hour)
		}
		return later(c.Expiry.Add(-c.Expiry.Sub(now)/4), floor)
	}
	next := now.Add(s.ValidateEvery)
	for _, t := range []time.Time{c.Expiry, metaTime(c.Metadata, MetaUserTokenExpiry), metaTime(c.Metadata, MetaDataAccessUntil)} {
		switch {
		case t.IsZero():
		case t.Add(-s.ExpiryWarning).After(now):
			next = earlier(next, t.Add(-s.ExpiryWarning))
		case t.After(now):
			next = earlier(next, t.Add(time.Minute))
		}
	}
	return later(next, floor)
}

func metaTime(m map[string]any, key string) time.Time {
	s, _ := m[key].(string)
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
