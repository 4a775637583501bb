package auth

import (
	"container/list"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MaxLimiterKeys bounds the limiter's memory: about 150 bytes a key.
const MaxLimiterKeys = 100_000

// Limiter slows log-in attempts per e-mail address and per client address.
// Buckets refill, so an attacker hammering someone's address delays them by
// minutes at most and never locks them out for good (ASVS 6.1.1, 6.3.1).
//
// The keys live in a fixed-size LRU (a map into a list): every attempt is
// O(1), and a flood of fresh addresses evicts the keys idle longest, never
// the ones under attack, which each attempt moves to the front.
type Limiter struct {
	mu    sync.Mutex
	keys  map[string]*list.Element // of *bucket
	order *list.List               // most recently used first
	max   int
	every time.Duration
	burst int
	now   func() time.Time
}

// WithClock makes the limiter read time from now (tests).
func (l *Limiter) WithClock(now func() time.Time) *Limiter { l.now = now; return l }

type bucket struct {
	key string
	lim *rate.Limiter
}

// NewLimiter allows burst attempts per key, then one every `every`.
func NewLimiter(burst int, every time.Duration) *Limiter {
	return &Limiter{keys: map[string]*list.Element{}, order: list.New(), max: MaxLimiterKeys, every: every, burst: burst, now: time.Now}
}

// Len is the number of keys held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// Allow reports whether an attempt for this e-mail from this client may go
// ahead; when it may not, it says how long to wait.
func (l *Limiter) Allow(email, client string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	// Both buckets must have room; take from neither unless both do.
	buckets := [2]*bucket{l.bucket("e:" + strings.ToLower(strings.TrimSpace(email))), l.bucket("c:" + client)}
	var wait time.Duration
	for _, b := range buckets {
		r := b.lim.ReserveN(now, 1)
		if d := r.DelayFrom(now); d > wait {
			wait = d
		}
		r.CancelAt(now)
	}
	if wait > 0 {
		return false, wait
	}
	for _, b := range buckets {
		b.lim.AllowN(now, 1)
	}
	return true, 0
}

// bucket finds or makes k's bucket and marks it used, evicting the least
// recently used key when the table is full.
func (l *Limiter) bucket(k string) *bucket {
	if el, ok := l.keys[k]; ok {
		l.order.MoveToFront(el)
		return el.Value.(*bucket)
	}
	if len(l.keys) >= l.max {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.keys, old.Value.(*bucket).key)
	}
	b := &bucket{key: k, lim: rate.NewLimiter(rate.Every(l.every), l.burst)}
	l.keys[k] = l.order.PushFront(b)
	return b
}
