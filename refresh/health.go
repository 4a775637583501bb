package refresh

import (
	"cmp"
	"context"
	"errors"
	"time"

	"golang.org/x/time/rate"

	"omnisocial/providers"
	"omnisocial/store"
)

// storeFailed opens the circuit breaker when the database cannot be written.
func (r *Refresher) storeFailed(err error, what string) {
	if store.IsUnwritable(err) {
		r.mu.Lock()
		r.broken = true
		r.mu.Unlock()
		r.log.Error("refresh: the database refuses writes; no refresh starts until it accepts them again", "op", what, "err", err)
		return
	}
	r.log.Error("refresh: database error", "op", what, "err", err)
}

func (r *Refresher) isBroken() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broken
}

// recoverStore closes the breaker once a write succeeds, and first stores
// any tokens still held in memory.
func (r *Refresher) recoverStore(ctx context.Context) error {
	r.mu.Lock()
	broken, pending := r.broken, r.pending
	r.pending = nil
	r.mu.Unlock()
	if !broken && len(pending) == 0 {
		return nil
	}
	err := r.st.CheckWritable(ctx)
	var keep []pendingWrite
	for _, w := range pending {
		if err == nil {
			if err = r.st.RecordSuccess(ctx, w.c, w.res); errors.Is(err, store.ErrLostLease) {
				err = nil
			}
			if err == nil {
				continue
			}
		}
		keep = append(keep, w)
	}
	r.mu.Lock()
	r.pending = append(keep, r.pending...)
	r.broken = err != nil && (broken || store.IsUnwritable(err))
	r.mu.Unlock()
	if err != nil {
		r.log.Error("refresh: the database still refuses writes; refreshing stays paused", "err", err, "tokens_held", len(keep))
		return ErrUnwritable
	}
	if broken {
		r.log.Info("refresh: the database accepts writes again; refreshing resumes")
	}
	return nil
}

// bucket names a platform's app: platforms sharing an app share its limits.
func bucket(p providers.Platform) string { return cmp.Or(providers.Describe(p).App, string(p)) }

func (r *Refresher) limiter(p providers.Platform) *rate.Limiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.limiters[bucket(p)]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(r.o.Rate), max(1, int(min(r.o.Rate, 1000))))
		r.limiters[bucket(p)] = l
	}
	return l
}

func (r *Refresher) slowPlatform(p providers.Platform, until time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notBefore[bucket(p)] = later(r.notBefore[bucket(p)], until)
}

func (r *Refresher) waitUntil(p providers.Platform) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.notBefore[bucket(p)]
}

func (r *Refresher) alert(ctx context.Context, key, msg string) {
	r.mu.Lock()
	r.alerted[key] = true
	r.mu.Unlock()
	if err := r.st.SetAlert(ctx, key, msg); err != nil {
		r.storeFailed(err, "raise an alert")
	}
}

// clearAlert lifts an alert after a success. Without a record in memory
// (a restart) it still tries once, so a stale alert does not linger.
func (r *Refresher) clearAlert(ctx context.Context, key string) {
	r.mu.Lock()
	raised, known := r.alerted[key]
	r.alerted[key] = false
	r.mu.Unlock()
	if raised || !known {
		if err := r.st.ClearAlert(ctx, key); err != nil {
			r.storeFailed(err, "clear an alert")
		}
	}
}
