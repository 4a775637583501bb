package refresh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

// ErrNeedsReauth: the account must be reconnected by its owner.
var ErrNeedsReauth = store.ErrNeedsReauth

// AccessToken returns a usable access token for an account, refreshing it
// first when it expires within Margin. Concurrent callers for one account
// share one refresh, and that refresh takes the same database lease as the
// job, so the two never overlap: while the job holds the account, callers
// wait for its outcome instead.
func (r *Refresher) AccessToken(ctx context.Context, id string) (vault.Token, error) {
	var tried bool
	var lastErr error
	for {
		t, q, err := r.st.AccessTokenFor(ctx, id)
		if err != nil {
			return vault.Token{}, fmt.Errorf("refresh: account %s: %w", id, err)
		}
		if q.Status == store.StatusNeedsReauth {
			return vault.Token{}, fmt.Errorf("refresh: account %s: %w: %s", id, ErrNeedsReauth, q.LastError)
		}
		now := r.o.Now()
		if !r.expiresSoon(t.Expiry, now) || tried && t.Expiry.After(now) {
			return t.Access, nil
		}
		if tried {
			if lastErr == nil {
				lastErr = errors.New(cmp.Or(q.LastError, "the refresh did not succeed"))
			}
			return vault.Token{}, fmt.Errorf("refresh: account %s: the access token expired and could not be renewed: %w", id, lastErr)
		}
		err = r.flight(ctx, id, func(ctx context.Context) error { return r.refreshNow(ctx, id) })
		switch {
		case errors.Is(err, store.ErrLeased): // the job is on it: wait for its outcome
			select {
			case <-ctx.Done():
				return vault.Token{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		case errors.Is(err, store.ErrNotFound), ctx.Err() != nil:
			return vault.Token{}, fmt.Errorf("refresh: account %s: %w", id, err)
		default:
			tried, lastErr = true, err
		}
	}
}

func (r *Refresher) expiresSoon(exp, now time.Time) bool {
	return !exp.IsZero() && exp.Sub(now) < r.o.Margin
}

// refreshNow works one account under a lease. A caller that read the
// tokens just before another refresh stored new ones finds them fresh here
// and makes no call.
func (r *Refresher) refreshNow(ctx context.Context, id string) error {
	if r.isBroken() {
		return ErrUnwritable
	}
	c, err := r.st.ClaimOne(ctx, r.o.Now(), id, r.o.Owner, r.lease)
	if err != nil {
		return err
	}
	if !r.expiresSoon(c.Tokens.Expiry, r.o.Now()) {
		r.release(ctx, c, c.NextCheckAt, "")
		return nil
	}
	if r.safeWork(ctx, c) == failed {
		if r.isBroken() {
			return ErrUnwritable
		}
		return errors.New("the outcome of the refresh could not be stored")
	}
	return nil // the caller reads the outcome from the account
}

// flight runs fn once per key at a time; callers arriving meanwhile wait
// for that run's result. fn runs detached from any one caller's ctx, so a
// caller giving up does not cancel the refresh for the others.
func (r *Refresher) flight(ctx context.Context, key string, fn func(context.Context) error) error {
	detached := context.WithoutCancel(ctx)
	ch := r.flights.DoChan(key, func() (any, error) { return nil, fn(detached) })
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CheckNow refreshes or validates one account at once, whatever its
// schedule (a person's "Check now"). It takes the same lease as the job, so
// it never overlaps it: store.ErrLeased means a check is already running.
func (r *Refresher) CheckNow(ctx context.Context, id string) error {
	return r.flight(ctx, "check:"+id, func(ctx context.Context) error {
		if r.isBroken() {
			return ErrUnwritable
		}
		c, err := r.st.ClaimOne(ctx, r.o.Now(), id, r.o.Owner, r.lease)
		if err != nil {
			return err
		}
		if r.safeWork(ctx, c) == failed {
			if r.isBroken() {
				return ErrUnwritable
			}
			return errors.New("the outcome of the check could not be stored")
		}
		return nil
	})
}
