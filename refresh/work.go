package refresh

import (
	"context"
	"errors"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
)

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

func (r *Refresher) work(ctx context.Context, c store.Claim) outcome {
	p := providers.Platform(c.Platform)
	prov := r.o.Providers[p]
	now := r.o.Now()
	switch {
	case prov == nil || !prov.Configured():
		r.alert(ctx, "platform:"+c.Platform, p.Name()+" is not configured on this server, so its accounts cannot be kept connected.")
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), store.OutcomeMisconfigured)
		return misconfigured
	case c.TokensErr != nil:
		r.log.Error("refresh: stored tokens cannot be opened", "account", c.ID, "err", c.TokensErr)
		r.alert(ctx, "tokens", "Stored tokens of some accounts cannot be decrypted. Check the encryption key configuration.")
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), store.OutcomeMisconfigured)
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
		Username: ch.Username, DisplayName: ch.DisplayName, AvatarURL: providers.SafeAvatar(ch.AvatarURL),
		Scopes: scopes, Metadata: ch.Metadata}
	standing := r.sched.Assess(p, scopes, cr, now)
	res.NextCheckAt = standing.NextCheck
	res.Status, res.Problem = statusOf(standing)
	o := checked
	res.Outcome, res.Event, res.EventDetail = store.OutcomeChecked, "checked", "Tokens valid; profile synced"
	if !cr.AccessToken.Equal(c.Tokens.Access) {
		o = refreshed
		res.Outcome, res.Event, res.EventDetail = store.OutcomeRefreshed, "refreshed", "Access token renewed; profile synced"
	}
	if err != nil {
		// Not routine: history keeps it past the routine horizon.
		res.Failed, res.Problem, res.Event = true, reason(err), "check_failed"
		res.EventDetail = "Tokens renewed, then: " + reason(err)
		switch providers.KindOf(err) {
		case providers.Permanent, providers.Denied:
			o, res.Status, res.Outcome, res.Event = needsReauth, store.StatusNeedsReauth, store.OutcomePermanent.Because(code(err)), "needs_reauth"
		case providers.Misconfigured:
			r.alert(ctx, "platform:"+c.Platform, reason(err)+". Check the "+p.Name()+" app credentials.")
			o, res.Outcome, res.NextCheckAt = misconfigured, store.OutcomeMisconfigured.Because(code(err)), now.Add(misconfiguredDelay)
		default:
			o, res.Outcome = retried, store.OutcomeTransient.Because(code(err))
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
		r.release(ctx, c, now.Add(misconfiguredDelay+jitter(time.Minute)), store.OutcomeMisconfigured.Because(code(err)))
		return misconfigured
	case providers.Permanent, providers.Denied:
		// A rejected token may be one somebody already replaced (another
		// worker's rotation, a reconnect): only the stored one can condemn.
		t, terr := r.st.Tokens(context.WithoutCancel(ctx), c.ID)
		if terr != nil || !t.Refresh.Equal(used.RefreshToken) || !t.Access.Equal(used.AccessToken) {
			r.release(ctx, c, c.NextCheckAt, "")
			return superseded
		}
		f := store.Failure{At: now, Permanent: true, Reason: reason(err), Outcome: store.OutcomePermanent.Because(code(err)), Spread: spread(c, used, err)}
		log.Warn("refresh: account needs re-auth", "reason", reason(err), "recovered", c.Recovered, "sign_in_wide", f.Spread != nil)
		return r.record(ctx, c, f, needsReauth)
	}
	wait := r.retryWait(p, c, err, now)
	log.Info("refresh: transient failure, backing off", "err", err, "wait", wait)
	return r.record(ctx, c, store.Failure{At: now, Reason: reason(err), NextCheckAt: now.Add(wait), Outcome: store.OutcomeTransient.Because(code(err))}, retried)
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

func (r *Refresher) release(ctx context.Context, c store.Claim, next time.Time, outcome store.CheckOutcome) {
	if err := r.st.ReleaseLease(ctx, c, next, outcome); err != nil && !errors.Is(err, store.ErrLostLease) {
		r.storeFailed(err, "release a lease")
	}
}

// statusOf is the status stored for an account of that standing, with its
// problem in words.
func statusOf(st providers.Standing) (store.Status, string) {
	if !st.Limited {
		return store.StatusActive, ""
	}
	return store.StatusLimited, st.Problem()
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
