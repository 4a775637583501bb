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
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/words"
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

const (
	refreshed outcome = iota
	checked
	retried
	needsReauth
	misconfigured
	deferred
	superseded
	failed
)

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
	flights   map[string]*flight   // AccessToken: one refresh per account
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
		limiters: map[string]*rate.Limiter{}, notBefore: map[string]time.Time{}, alerted: map[string]bool{},
		flights: map[string]*flight{}}
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

func (r *Refresher) work(ctx context.Context, c store.Claim) outcome {
	p := providers.Platform(c.Platform)
	prov := r.o.Providers[p]
	now := r.o.Now()
	switch {
	case prov == nil || !prov.Configured():
		r.alert(ctx, "platform:"+c.Platform, p.Name()+" is not configured on this server, so its accounts cannot be kept connected.")
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), "misconfigured")
		return misconfigured
	case c.TokensErr != nil:
		r.log.Error("refresh: stored tokens cannot be opened", "account", c.ID, "err", c.TokensErr)
		r.alert(ctx, "tokens", "Stored tokens of some accounts cannot be decrypted. Check the encryption key configuration.")
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), "misconfigured")
		return misconfigured
	}
	if c.Recovered {
		r.log.Warn("refresh: retrying an attempt that was cut off (crash or kill); its refresh token may be spent",
			"account", c.ID, "platform", c.Platform)
	}
	if nb := r.waitUntil(p); nb.After(now) {
		r.release(ctx, c, nb.Add(jitter(time.Minute)), "")
		return deferred
	}
	if err := r.limiter(p).Wait(ctx); err != nil { // shut down before the call: nothing happened
		r.release(ctx, c, c.NextCheckAt, "")
		return deferred
	}
	// The call gets its own deadline and not shutdown's cancellation: a
	// refresh abandoned halfway may have rotated the token already.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CallTimeout)
	defer cancel()
	creds := providers.Credentials{AccessToken: c.Tokens.Access, RefreshToken: c.Tokens.Refresh, UserToken: c.Tokens.User,
		Expiry: c.Tokens.Expiry, RefreshExpiry: c.Tokens.RefreshExpiry, PlatformUserID: c.PlatformUserID, Metadata: c.Metadata}
	start := time.Now()
	res, err := prov.Check(callCtx, creds)
	if r.o.Observer != nil {
		r.o.Observer.Call(c.Platform, time.Since(start))
	}
	if res != nil {
		return r.succeeded(ctx, c, res, err)
	}
	return r.failed(ctx, c, creds, err)
}

// succeeded stores fresh credentials before anything else: after a TikTok
// rotation the stored refresh token is already dead. err is a later step
// that failed (TikTok's profile call after the refresh).
func (r *Refresher) succeeded(ctx context.Context, c store.Claim, ch *providers.Checked, err error) outcome {
	p, now := providers.Platform(c.Platform), r.o.Now()
	cr := ch.Credentials
	scopes := ch.Scopes
	if len(scopes) == 0 {
		scopes = c.Scopes // an answer without a scope list is not a loss of every permission
	}
	res := store.Result{At: now, Tokens: store.Tokens{Access: cr.AccessToken, Refresh: cr.RefreshToken, User: cr.UserToken,
		Expiry: cr.Expiry, RefreshExpiry: cr.RefreshExpiry},
		Username: ch.Username, DisplayName: ch.DisplayName, AvatarURL: safeAvatar(ch.AvatarURL),
		Scopes: scopes, Metadata: ch.Metadata}
	standing := r.sched.Assess(p, scopes, cr, now)
	res.NextCheckAt = standing.NextCheck
	res.Status, res.Problem = statusOf(standing)
	o := checked
	res.Outcome, res.Event, res.EventDetail = "checked", "checked", "Tokens valid; profile synced"
	if !cr.AccessToken.Equal(c.Tokens.Access) {
		o = refreshed
		res.Outcome, res.Event, res.EventDetail = "refreshed", "refreshed", "Access token renewed; profile synced"
	}
	if err != nil {
		// Not routine: history keeps it past the routine horizon.
		res.Failed, res.Problem, res.Event = true, reason(err), "check_failed"
		res.EventDetail = "Tokens renewed, then: " + reason(err)
		switch providers.KindOf(err) {
		case providers.Permanent, providers.Denied:
			o, res.Status, res.Outcome, res.Event = needsReauth, store.StatusNeedsReauth, "permanent:"+code(err), "needs_reauth"
		case providers.Misconfigured:
			r.alert(ctx, "platform:"+c.Platform, reason(err)+". Check the "+p.Name()+" app credentials.")
			o, res.Outcome, res.NextCheckAt = misconfigured, "misconfigured:"+code(err), now.Add(misconfiguredDelay)
		default:
			o, res.Outcome = retried, "transient:"+code(err)
			res.NextCheckAt = now.Add(r.retryWait(p, c, err, now))
		}
	}
	switch werr := r.st.RecordSuccess(ctx, c, res); {
	case errors.Is(werr, store.ErrLostLease):
		r.log.Info("refresh: outcome dropped, the account was reconnected or claimed again meanwhile", "account", c.ID)
		return superseded
	case werr != nil:
		// Keep the tokens in memory and try again before any new refresh.
		r.mu.Lock()
		r.pending = append(r.pending, pendingWrite{c, res})
		r.mu.Unlock()
		r.storeFailed(werr, "store refreshed tokens")
		return failed
	}
	if o == refreshed || o == checked {
		r.clearAlert(ctx, "platform:"+c.Platform)
	}
	r.log.Debug("refresh: account ok", "account", c.ID, "platform", c.Platform, "outcome", res.Outcome)
	return o
}

func (r *Refresher) failed(ctx context.Context, c store.Claim, used providers.Credentials, err error) outcome {
	p, now := providers.Platform(c.Platform), r.o.Now()
	if err == nil {
		err = errors.New("the platform returned nothing")
	}
	log := r.log.With("account", c.ID, "platform", c.Platform, "code", code(err))
	switch providers.KindOf(err) {
	case providers.Misconfigured:
		// The app's credentials, not the account: condemn nobody, tell the
		// admin once, and stop calling the platform for a while.
		log.Error("refresh: the platform rejected the app's credentials", "err", err)
		r.alert(ctx, "platform:"+c.Platform, reason(err)+". Check the "+p.Name()+" app credentials.")
		r.slowPlatform(p, now.Add(misconfiguredDelay))
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), "misconfigured:"+code(err))
		return misconfigured
	case providers.Permanent, providers.Denied:
		// A rejected token may be one somebody already replaced (another
		// worker's rotation, a reconnect): only the stored one can condemn.
		t, terr := r.st.Tokens(context.WithoutCancel(ctx), c.ID)
		if terr != nil || !t.Refresh.Equal(used.RefreshToken) || !t.Access.Equal(used.AccessToken) {
			r.release(ctx, c, c.NextCheckAt, "")
			return superseded
		}
		f := store.Failure{At: now, Permanent: true, Reason: reason(err), Outcome: "permanent:" + code(err), Spread: spread(c, used, err)}
		log.Warn("refresh: account needs re-auth", "reason", reason(err), "recovered", c.Recovered, "sign_in_wide", f.Spread != nil)
		return r.record(ctx, c, f, needsReauth)
	}
	wait := r.retryWait(p, c, err, now)
	log.Info("refresh: transient failure, backing off", "err", err, "wait", wait)
	return r.record(ctx, c, store.Failure{At: now, Reason: reason(err), NextCheckAt: now.Add(wait), Outcome: "transient:" + code(err)}, retried)
}

// spread names the other accounts a dead sign-in takes down with this one
// (SPEC §6, PLATFORMS.md §8), or nil. One exception: an attempt that was
// cut off (Recovered) may have rotated a refresh token (TikTok's) whose
// answer was lost, so its invalid_grant proves nothing about the authorization.
func spread(c store.Claim, used providers.Credentials, err error) *store.Spread {
	sp := &store.Spread{Platforms: providers.SignInPlatforms(providers.Platform(c.Platform)), Subject: c.GrantSubject}
	switch providers.ReachOf(err) {
	case providers.ReachPerson:
		if c.Recovered && providers.Describe(providers.Platform(c.Platform)).Renewal == providers.Rotated {
			return nil
		}
	case providers.ReachSignIn:
		if used.UserToken.IsZero() {
			return nil
		}
		sp.UserToken = used.UserToken
	default:
		return nil
	}
	if sp.Subject == "" {
		return nil
	}
	return sp
}

// retryWait is the account's backoff, never shorter than the platform's
// hint; a hint also holds back the rest of the platform's queue.
func (r *Refresher) retryWait(p providers.Platform, c store.Claim, err error, now time.Time) time.Duration {
	var hint time.Duration
	if e, ok := errors.AsType[*providers.Error](err); ok {
		hint = e.RetryAfter
	}
	if hint > 0 {
		r.slowPlatform(p, now.Add(hint))
	}
	return max(hint, backoff(c.Failures+1, r.rnd))
}

func (r *Refresher) record(ctx context.Context, c store.Claim, f store.Failure, o outcome) outcome {
	switch err := r.st.RecordFailure(ctx, c, f); {
	case errors.Is(err, store.ErrLostLease):
		return superseded
	case err != nil:
		r.storeFailed(err, "record a failed check")
		return failed
	}
	return o
}

func (r *Refresher) release(ctx context.Context, c store.Claim, next time.Time, outcome string) {
	if err := r.st.ReleaseLease(ctx, c, next, outcome); err != nil && !errors.Is(err, store.ErrLostLease) {
		r.storeFailed(err, "release a lease")
	}
}

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

// statusOf is the status stored for an account of that standing, with its
// problem in words.
func statusOf(st providers.Standing) (string, string) {
	if !st.Limited {
		return store.StatusActive, ""
	}
	var missing []string
	for _, s := range st.Missing {
		missing = append(missing, words.LowerFirst(providers.ScopeDescription(s)))
	}
	return store.StatusLimited, "Missing permission: " + strings.Join(missing, "; ") + "."
}

// reason is an error in words for the account's owner: a classified
// error's own words, never provider text.
func reason(err error) string {
	if e, ok := errors.AsType[*providers.Error](err); ok && e.Reason != "" {
		return e.Reason
	}
	return "The check failed unexpectedly"
}

func code(err error) string {
	if e, ok := errors.AsType[*providers.Error](err); ok && e.Code != "" {
		return e.Code
	}
	return "error"
}

// safeAvatar keeps only avatar URLs a page may show (as the connect handler
// does); "" keeps the stored one.
func safeAvatar(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "data:image/") {
		return u
	}
	return ""
}
