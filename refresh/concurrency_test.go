package refresh

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
)

func TestAccessTokenSharesOneRefresh(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	r := e.refresher(nil)
	ctx := context.Background()

	// Not near expiry: the stored token, no call.
	e.control("DELETE", "stats", nil)
	tok, err := r.AccessToken(ctx, id)
	if err != nil || !tok.Equal(e.tokens(id).Access) || len(e.stats()) != 0 {
		t.Fatalf("fresh token: %v, sandbox %v", err, e.stats())
	}

	e.expireSoon(id)
	var wg sync.WaitGroup
	got := make([]vault.Token, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() { got[i], errs[i] = r.AccessToken(ctx, id) })
	}
	wg.Wait()
	stored := e.tokens(id)
	for i := range 50 {
		if errs[i] != nil || !got[i].Equal(stored.Access) {
			t.Fatalf("caller %d: %v (token current: %v)", i, errs[i], got[i].Equal(stored.Access))
		}
	}
	if n := e.stats()["tiktok.token.refresh_token"]; n != 1 {
		t.Fatalf("%d refresh calls, want 1", n)
	}
	if q := e.state(id); q.Status != store.StatusActive || e.tokenStatus(stored.Refresh) != "valid" {
		t.Fatalf("after: %+v", q)
	}
}

// While the job holds an account's lease, AccessToken waits for the job's
// outcome instead of refreshing beside it.
func TestAccessTokenWaitsForTheJob(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.expireSoon(id)
	ctx := context.Background()
	c, err := e.st.ClaimOne(ctx, e.clock.Now(), id, "job", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.control("DELETE", "stats", nil)
	done := make(chan error, 1)
	go func() { _, err := e.refresher(nil).AccessToken(ctx, id); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("returned while the job held the account: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if n := e.stats()["tiktok.token"]; n != 0 {
		t.Fatalf("%d calls beside the job's lease", n)
	}
	e.st.ReleaseLease(ctx, c, c.NextCheckAt, "")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := e.stats()["tiktok.token.refresh_token"]; n != 1 {
		t.Fatalf("%d refresh calls, want 1", n)
	}
}

// gate holds a provider's Check until released.
type gate struct {
	providers.Provider
	started chan struct{}
	release chan struct{}
}

func (g *gate) Check(ctx context.Context, c providers.Credentials) (*providers.Checked, error) {
	g.started <- struct{}{}
	<-g.release
	return g.Provider.Check(ctx, c)
}

func TestReconnectDuringRefreshWins(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.dueNow(id)
	g := &gate{Provider: e.providers(nil)[providers.TikTok], started: make(chan struct{}, 1), release: make(chan struct{})}
	r := e.refresher(func(o *Options) { o.Providers[providers.TikTok] = g })
	res := make(chan Stats, 1)
	go func() { st, _ := r.RunOnce(context.Background()); res <- st }()
	<-g.started

	e.storeGrant(providers.TikTok, e.authorize(providers.TikTok, "bloom"), true) // the owner reconnects
	reconnected := e.tokens(id)
	close(g.release)
	st := <-res
	if st.Superseded != 1 || st.NeedsReauth != 0 {
		t.Fatalf("stats = %+v, want the refresh superseded", st)
	}
	got := e.tokens(id)
	if !got.Access.Equal(reconnected.Access) || !got.Refresh.Equal(reconnected.Refresh) {
		t.Fatal("the refresh's late write replaced the reconnected tokens")
	}
	if q := e.state(id); q.Status != store.StatusActive || q.LastOutcome != "reconnected" {
		t.Fatalf("queue state = %+v", q)
	}
	if s := e.tokenStatus(got.Refresh); s != "valid" {
		t.Fatalf("stored refresh token is %q at the sandbox", s)
	}
}

func TestRunOnceCancelledClaimsNothing(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.dueNow(id)
	e.control("DELETE", "stats", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st, err := e.refresher(nil).RunOnce(ctx)
	if err != nil || st != (Stats{}) || len(e.stats()) != 0 {
		t.Fatalf("RunOnce(cancelled) = %+v, %v; sandbox %v", st, err, e.stats())
	}
	if q := e.state(id); !q.LeaseUntil.IsZero() {
		t.Fatal("a lease was taken")
	}
}

// Shutdown during a call: the call finishes and its outcome is stored.
func TestShutdownMidCallStoresTheOutcome(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	old := e.tokens(id)
	e.dueNow(id)
	g := &gate{Provider: e.providers(nil)[providers.TikTok], started: make(chan struct{}, 1), release: make(chan struct{})}
	r := e.refresher(func(o *Options) { o.Providers[providers.TikTok] = g })
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan Stats, 1)
	go func() { st, _ := r.RunOnce(ctx); res <- st }()
	<-g.started
	cancel()
	close(g.release)
	if st := <-res; st.Refreshed != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if got := e.tokens(id); got.Refresh.Equal(old.Refresh) || e.tokenStatus(got.Refresh) != "valid" {
		t.Fatal("the rotated pair was lost at shutdown")
	}
}

type panicky struct{ providers.Provider }

func (panicky) Check(context.Context, providers.Credentials) (*providers.Checked, error) {
	panic("boom")
}

func TestPanicInOneAccountIsContained(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.dueNow(id)
	r := e.refresher(func(o *Options) { o.Providers[providers.TikTok] = panicky{o.Providers[providers.TikTok]} })
	if st := e.run(r); st.Failed != 1 {
		t.Fatalf("stats = %+v", st)
	}
	if q := e.state(id); !q.LeaseUntil.IsZero() || q.Status != store.StatusActive || !q.NextCheckAt.After(e.clock.Now()) {
		t.Fatalf("queue state = %+v", q)
	}
	if !strings.Contains(e.logs.String(), "panic") {
		t.Fatal("the panic was not logged")
	}
}

// While the database refuses writes nothing is claimed; tokens a refresh
// could not store are kept in memory and stored first once it accepts
// writes again.
func TestCircuitBreaker(t *testing.T) {
	e := newEnv(t)
	id := e.connect(providers.TikTok, "bloom")[0]
	e.dueNow(id)
	r := e.refresher(nil)
	ctx := context.Background()
	c, err := e.st.ClaimOne(ctx, e.clock.Now(), id, "me", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	held := store.Result{At: e.clock.Now(), Tokens: store.Tokens{Access: vault.NewToken("held-at"), Refresh: vault.NewToken("held-rt"),
		Expiry: e.clock.Now().Add(time.Hour)}, Status: store.StatusActive, NextCheckAt: e.clock.Now().Add(time.Hour), Outcome: "refreshed"}
	r.broken, r.pending = true, []pendingWrite{{c, held}}

	st, err := r.RunOnce(ctx)
	if err != nil || st.Claimed != 0 {
		t.Fatalf("RunOnce = %+v, %v", st, err)
	}
	if got := e.tokens(id); got.Refresh.Reveal() != "held-rt" || r.isBroken() {
		t.Fatal("the held tokens were not stored on recovery")
	}

	// A probe that fails keeps the breaker open and claims nothing.
	other := newEnv(t)
	other.st.Close()
	r2 := other.refresher(nil)
	r2.broken = true
	if st, err := r2.RunOnce(ctx); !errors.Is(err, ErrUnwritable) || st.Claimed != 0 {
		t.Fatalf("broken RunOnce = %+v, %v", st, err)
	}
}

type counting struct {
	providers.Provider
	running, most *atomic.Int32
}

func (c counting) Check(ctx context.Context, cr providers.Credentials) (*providers.Checked, error) {
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	return c.Provider.Check(ctx, cr)
}
