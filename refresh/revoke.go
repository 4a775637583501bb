package refresh

import (
	"context"
	"time"

	"github.com/go-co-op/gocron/v2"

	"omnisocial/providers"
	"omnisocial/store"
)

// revokeGiveUp is how long a revocation is retried. A platform down for
// three days is unusual; a token that long past its disconnect is one the
// platform has most likely let lapse (Meta's Page tokens die with the
// sign-in's data access, TikTok's access tokens within a day).
const revokeGiveUp = 72 * time.Hour

// RevokeStats count what one DrainRevocations did.
type RevokeStats struct {
	Revoked, Retried, Dropped int
}

// DrainRevocations works the revocation outbox: every due revocation is
// sent to its platform once, through the same per-platform rate limit as
// refreshes. Success, or the platform saying the token is already dead,
// deletes the row and its ciphertext; anything else retries with backoff
// until revokeGiveUp, then the row is dropped with a logged reason.
func (r *Refresher) DrainRevocations(ctx context.Context) (RevokeStats, error) {
	var st RevokeStats
	for round := 0; round < maxRounds && ctx.Err() == nil; round++ {
		due, err := r.st.DueRevocations(ctx, r.o.Batch)
		if err != nil || len(due) == 0 {
			return st, err
		}
		for _, rv := range due {
			if ctx.Err() != nil {
				return st, nil
			}
			if err := r.revoke(ctx, rv, &st); err != nil {
				return st, err
			}
		}
	}
	return st, nil
}

func (r *Refresher) revoke(ctx context.Context, rv store.Revocation, st *RevokeStats) error {
	p := providers.Platform(rv.Platform)
	log := r.log.With("revocation", rv.ID, "platform", p, "reason", rv.Reason)
	now := r.o.Now()
	giveUp := func(why string) error {
		log.Warn("revocation given up: the token may stay valid at the platform until it expires", "why", why, "attempts", rv.Attempts+1)
		st.Dropped++
		return r.st.RevocationDone(ctx, rv.ID)
	}
	if rv.Err != nil {
		return giveUp("its tokens no longer open under the configured keys")
	}
	prov := r.o.Providers[p]
	var err error
	if prov == nil || !prov.Configured() {
		err = &providers.Error{Platform: p, Kind: providers.Misconfigured, Code: "not_configured", Reason: p.Name() + " is not configured on this server"}
	} else if err = r.limiter(p).Wait(ctx); err == nil {
		callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.CallTimeout)
		err = revokeAt(callCtx, prov, providers.Credentials{AccessToken: rv.Tokens.Access, RefreshToken: rv.Tokens.Refresh,
			UserToken: rv.Tokens.User, PlatformUserID: rv.PlatformUserID})
		cancel()
	}
	switch {
	case err == nil:
		log.Info("token revoked at the platform")
		st.Revoked++
		return r.st.RevocationDone(ctx, rv.ID)
	case ctx.Err() != nil:
		return nil // shutdown while waiting for the limiter: the row stays for next time
	case providers.IsPermanent(err):
		log.Info("token already invalid at the platform; nothing left to revoke", "code", code(err))
		st.Revoked++
		return r.st.RevocationDone(ctx, rv.ID)
	case now.Sub(rv.CreatedAt) >= revokeGiveUp:
		return giveUp(reason(err))
	}
	wait := backoff(rv.Attempts+1, r.rnd)
	log.Warn("revocation failed; will retry", "err", err, "next_in", wait.Round(time.Second))
	st.Retried++
	return r.st.RevocationRetry(ctx, rv.ID, now.Add(wait), reason(err))
}

// revokeAt revokes c. An access token that expired while the revocation
// waited (TikTok's live two hours) no longer reaches the authorization,
// yet its refresh token does for months: renew it once, then revoke the
// fresh access token. A refresh that fails for good means nothing is left.
func revokeAt(ctx context.Context, prov providers.Provider, c providers.Credentials) error {
	err := prov.Revoke(ctx, c)
	if !providers.IsPermanent(err) || c.RefreshToken.IsZero() {
		return err
	}
	ch, cerr := prov.Check(ctx, c)
	if ch == nil || ch.Credentials.AccessToken.IsZero() {
		if providers.IsPermanent(cerr) {
			return err // the refresh token is dead too
		}
		return cerr
	}
	return prov.Revoke(ctx, ch.Credentials)
}

// RegisterRevocations schedules DrainRevocations every interval on s,
// singleton like the refresh job. RunNow on the returned job wakes it
// after a disconnect, so a revocation is usually done within a second.
func RegisterRevocations(s gocron.Scheduler, r *Refresher, every time.Duration) (gocron.Job, error) {
	return s.NewJob(gocron.DurationJob(every), gocron.NewTask(func(ctx context.Context) error {
		_, err := r.DrainRevocations(ctx)
		return err
	}),
		gocron.WithName("revocations"),
		// A restart first sends what a crash left owed.
		gocron.WithStartAt(gocron.WithStartImmediately()),
		gocron.WithSingletonMode(gocron.LimitModeReschedule),
		gocron.WithEventListeners(r.jobListeners()...),
	)
}
