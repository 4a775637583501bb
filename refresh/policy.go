package refresh

import (
	"math/rand/v2"
	"time"

	"omnisocial/providers"
)

// minGap keeps every retry a little in the future, as every schedule is
// (providers.MinGap).
const minGap = providers.MinGap

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
