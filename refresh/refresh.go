// Package refresh keeps connected accounts alive: it claims due accounts
// from the store's queue, refreshes (TikTok) or validates (Meta) them at the
// platform, and records each outcome (SECURITY.md §5, SPEC.md §6). RunOnce
// is the whole job, with no timers of its own; Register puts it on gocron.
package refresh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"omnisocial/providers"
	"omnisocial/store"
)

// Options configure a Refresher. Zero values take the defaults noted.
type Options struct {
	Store     *store.Store
	Providers map[providers.Platform]providers.Provider
	Log       *slog.Logger     // default: discard
	Now       func() time.Time // default: time.Now
	Batch     int              // accounts claimed at once; default 50
	Workers   int              // platform calls in flight; default 4
	// Rate is platform calls per second, per platform app (Facebook and
	// Instagram share the Meta app and its limits); default 5. +Inf: none.
	Rate          float64
	Lease         time.Duration // default 2 min; raised to cover a batch at Rate
	CallTimeout   time.Duration // one platform check; default 30 s
	ExpiryWarning time.Duration // default 7 days
	MetaEvery     time.Duration // default 24 h
	Margin        time.Duration // AccessToken renews tokens expiring within this; default 5 min
	Owner         string        // names this process in attempt ids; default host:pid
	Observer      Observer      // told each outcome and call duration; may be nil
}

// Observer is told what the queue does (the metrics).
type Observer interface {
	Outcome(platform, outcome string)
	Call(platform string, d time.Duration)
}

var outcomeNames = map[outcome]string{refreshed: "refreshed", checked: "checked", retried: "retried", needsReauth: "needs_reauth",
	misconfigured: "misconfigured", deferred: "deferred", superseded: "superseded", failed: "failed"}

// Stats count what one RunOnce did.
type Stats struct {
	Claimed       int
	Refreshed     int // new tokens stored (TikTok)
	Checked       int // tokens validated, profile synced (Meta)
	Retried       int // transient failure: backed off
	NeedsReauth   int
	Misconfigured int // the app's own credentials rejected: alert raised
	Deferred      int // put back untouched (platform asked to wait, shutdown)
	Superseded    int // a reconnect or another worker won
	Failed        int // could not record the outcome, or a bug
}

type outcome int

func (s *Stats) add(o outcome) {
	switch o {
	case refreshed:
		s.Refreshed++
	case checked:
		s.Checked++
	case retried:
		s.Retried++
	case needsReauth:
		s.NeedsReauth++
	case misconfigured:
		s.Misconfigured++
	case deferred:
		s.Deferred++
	case superseded:
		s.Superseded++
	default:
		s.Failed++
	}
}

// ErrUnwritable: the database refuses writes, so no refresh starts (each
// could burn a rotating refresh token that then cannot be stored).
var ErrUnwritable = errors.New("refresh: the database refuses writes; refreshing is paused")

// misconfiguredDelay is how long accounts wait after the platform rejected
// the app's own credentials: an admin has to act first.
const misconfiguredDelay = 30 * time.Minute

// maxRounds bounds one RunOnce: batches are claimed until the queue has no
// more due accounts, or this many were worked.
const maxRounds = 100

// Refresher works the refresh queue.
type Refresher struct {
	o     Options
	st    *store.Store
	log   *slog.Logger
	sched providers.Schedule
	lease time.Duration
	rnd   func() float64

	mu        sync.Mutex
	limiters  map[string]*rate.Limiter
	notBefore map[string]time.Time // per platform app: it asked everyone to wait
	alerted   map[string]bool      // alert keys raised (or maybe raised) by this process
	broken    bool                 // a write failed for lack of a writable database
	pending   []pendingWrite       // new tokens not yet stored
	flights   singleflight.Group   // AccessToken and CheckNow: one at a time per account
}

type pendingWrite struct {
	c   store.Claim
	res store.Result
}

// New builds a Refresher.
func New(o Options) *Refresher {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Batch, o.Workers = cmp.Or(max(o.Batch, 0), 50), cmp.Or(max(o.Workers, 0), 4)
	if o.Rate <= 0 || math.IsNaN(o.Rate) {
		o.Rate = 5
	}
	o.Lease, o.CallTimeout = cmp.Or(o.Lease, 2*time.Minute), cmp.Or(o.CallTimeout, 30*time.Second)
	o.Margin = cmp.Or(o.Margin, 5*time.Minute)
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = host + ":" + strconv.Itoa(os.Getpid())
	}
	// The lease must outlast the slowest claimed account's wait for the
	// limiter plus its call: a lease running out mid-call lets another
	// worker use a refresh token that is about to be rotated.
	lease := o.Lease
	if !math.IsInf(o.Rate, 1) {
		lease = max(lease, 2*o.CallTimeout+time.Duration(float64(o.Batch)/o.Rate*float64(time.Second)))
	}
	return &Refresher{o: o, st: o.Store, log: o.Log, lease: lease, rnd: rand.Float64,
		sched:    providers.Schedule{ValidateEvery: o.MetaEvery, ExpiryWarning: o.ExpiryWarning},
		limiters: map[string]*rate.Limiter{}, notBefore: map[string]time.Time{}, alerted: map[string]bool{}}
}

// RunOnce claims due accounts in batches and works them, until none are
// due or ctx is cancelled. A cancelled ctx stops claiming at once; calls
// already made finish (bounded by CallTimeout) and their outcome is stored
// regardless, and claimed accounts not yet started are put back.
func (r *Refresher) RunOnce(ctx context.Context) (Stats, error) {
	var st Stats
	if ctx.Err() != nil {
		return st, nil
	}
	if err := r.recoverStore(ctx); err != nil {
		return st, err
	}
	if err := r.st.MarkRefreshRun(ctx, r.o.Now()); err != nil {
		r.log.Warn("refresh: could not record the run", "err", err)
	}
	for range maxRounds {
		if ctx.Err() != nil || r.isBroken() {
			break
		}
		claims, err := r.st.ClaimDue(ctx, r.o.Now(), r.o.Owner, r.o.Batch, r.lease)
		if err != nil {
			r.storeFailed(err, "claim due accounts")
			return st, fmt.Errorf("refresh: %w", err)
		}
		st.Claimed += len(claims)
		r.workAll(ctx, claims, &st)
		if len(claims) < r.o.Batch {
			break
		}
	}
	if r.isBroken() {
		return st, ErrUnwritable
	}
	return st, nil
}

// workAll works claims on at most Workers goroutines.
func (r *Refresher) workAll(ctx context.Context, claims []store.Claim, st *Stats) {
	jobs := make(chan store.Claim)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(r.o.Workers, len(claims)) {
		wg.Go(func() {
			for c := range jobs {
				o := r.safeWork(ctx, c)
				if r.o.Observer != nil {
					r.o.Observer.Outcome(c.Platform, outcomeNames[o])
				}
				mu.Lock()
				st.add(o)
				mu.Unlock()
			}
		})
	}
feed:
	for i, c := range claims {
		if r.isBroken() {
			break // leases run out; the accounts wait for a writable database
		}
		select {
		case jobs <- c:
		case <-ctx.Done():
			// Not started: put them back now rather than when the lease runs out.
			for _, c := range claims[i:] {
				r.st.ReleaseLease(ctx, c, c.NextCheckAt, "")
				mu.Lock()
				st.add(deferred)
				mu.Unlock()
			}
			break feed
		}
	}
	close(jobs)
	wg.Wait()
}

// safeWork keeps a panic in one account's work from killing the process:
// worker goroutines are beyond gocron's recovery.
func (r *Refresher) safeWork(ctx context.Context, c store.Claim) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("refresh: panic while working an account", "account", c.ID, "platform", c.Platform, "panic", v)
			r.release(ctx, c, r.o.Now().Add(backoff(c.Failures+1, r.rnd)), "")
			o = failed
		}
	}()
	return r.work(ctx, c)
}
