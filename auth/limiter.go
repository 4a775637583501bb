package auth

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter slows log-in attempts per e-mail address and per client address.
// Buckets refill, so an attacker hammering someone's address delays them by
// minutes at most and never locks them out for good (ASVS 6.1.1, 6.3.1).
type Limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
	every   time.Duration
	burst   int
	now     func() time.Time
}

// WithClock makes the limiter read time from now (tests).
func (l *Limiter) WithClock(now func() time.Time) *Limiter { l.now = now; return l }

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewLimiter allows burst attempts per key, then one every `every`.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{buckets: map[string]*bucket{}, every: every, burst: burst, now: time.Now}
}

// Allow reports whether an attempt for this e-mail from this client may go
// ahead; when it may not, it says how long to wait.
func (l *Limiter) Allow(email, client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.buckets) > 100_000 {
		l.sweep(now)
	}
	// Both buckets must have room; take from neither unless both do.
	keys := []string{"e:" + strings.ToLower(strings.TrimSpace(email)), "c:" + client}
	var wait time.Duration
	for _, k := range keys {
		b := l.bucket(k, now)
		r := b.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > wait {
			wait = d
		}
		r.CancelAt(now)
	}
	if wait > 0 {
		return false, wait
	}
	for _, k := range keys {
		l.buckets[k].lim.AllowN(now, 1)
	}
	return true, 0
}

func (l *Limiter) bucket(k string, now time.Time) *bucket {
	b, ok := l.buckets[k]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
		l.buckets[k] = b
	}
	b.seen = now
	return b
}

// sweep forgets keys idle long enough to have refilled completely.
func (l *Limiter) sweep(now time.Time) {
	full := l.every * time.Duration(l.burst)
	for k, b := range l.buckets {
		if now.Sub(b.seen) > full {
			delete(l.buckets, k)
		}
	}
}
