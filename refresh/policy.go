package refresh

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

// Policy decides when an account is looked at next (PLATFORMS.md §5).
type Policy struct {
	MetaEvery     time.Duration // how often Meta tokens are validated; default 24 h
	ExpiryWarning time.Duration // look again when an unrenewable expiry is this near; default 7 days
}

// minGap keeps every schedule a little in the future, so no account is
// picked up again within the same run.
const minGap = 30 * time.Second

// NextCheck is the default policy, for code that schedules a first check
// (the connect handler).
func NextCheck(p providers.Platform, c providers.Credentials, now time.Time) time.Time {
	return Policy{}.Next(p, c, now)
}

// Next returns when to check an account with credentials c again.
// TikTok: when a quarter of the access token's life remains, its life read
// from the platform's answer (c.Expiry), never assumed. Meta: daily, and
// also when the user token or the data access enters the warning window,
// and right after either ends, so the banner follows promptly.
func (pol Policy) Next(p providers.Platform, c providers.Credentials, now time.Time) time.Time {
	if pol.MetaEvery <= 0 {
		pol.MetaEvery = 24 * time.Hour
	}
	if pol.ExpiryWarning <= 0 {
		pol.ExpiryWarning = 7 * 24 * time.Hour
	}
	floor := now.Add(minGap)
	if p == providers.TikTok {
		if c.Expiry.IsZero() {
			return now.Add(time.Hour)
		}
		return later(c.Expiry.Add(-c.Expiry.Sub(now)/4), floor)
	}
	next := now.Add(pol.MetaEvery)
	for _, t := range []time.Time{c.Expiry, metaTime(c.Metadata, providers.MetaUserTokenExpiry), metaTime(c.Metadata, providers.MetaDataAccessUntil)} {
		switch {
		case t.IsZero():
		case t.Add(-pol.ExpiryWarning).After(now):
			next = earlier(next, t.Add(-pol.ExpiryWarning))
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

// Backoff bounds for transient failures.
const (
	backoffBase = time.Minute
	backoffCap  = 6 * time.Hour
)

// backoff is exponential with full jitter (AWS architecture blog): a random
// wait below base·2^(n-1), capped. minGap on top keeps a retry from being
// immediate, which would only hammer a platform that is struggling.
func backoff(n int, rnd func() float64) time.Duration {
	ceil := backoffCap
	if n < 20 {
		ceil = min(backoffCap, backoffBase<<max(n-1, 0))
	}
	return minGap + time.Duration(rnd()*float64(ceil))
}

func jitter(d time.Duration) time.Duration { return time.Duration(rand.Float64() * float64(d)) }

// status says whether the granted scopes cover what the product needs.
func status(p providers.Platform, granted []string) (string, string) {
	var missing []string
	for _, sc := range providers.Describe(p).Scopes {
		if !slices.Contains(granted, sc.Name) {
			missing = append(missing, strings.ToLower(sc.Description[:1])+sc.Description[1:])
		}
	}
	if len(missing) == 0 {
		return store.StatusActive, ""
	}
	return store.StatusLimited, "Missing permission: " + strings.Join(missing, "; ") + "."
}
