package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/providers"
	"omnisocial/refresh"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

type refreshRow struct {
	Accounts    int
	Workers     int
	QueueTime   time.Duration
	QueueRate   float64
	BareTime    time.Duration
	BareRate    float64
	PeakHeapMB  float64
	NeedsReauth int
	Passes      int
	// Durability: from RecordSuccess's call to its commit, and how many
	// outcomes a commit held on average.
	StoreP50, StoreP99 time.Duration
	PerCommit          float64
}

// benchRefresh makes n TikTok accounts (real sandbox authorizations, with
// rotation on) due at once and times the queue working through them, then
// times bare round trips (the adapter's Check with no queue, vault or
// store) over another n authorizations in the same run.
// tiktokSandbox is an in-process sandbox that consents as Bloom at once,
// the client that reaches it, and the TikTok adapter pointed at it.
func tiktokSandbox() (*sandbox.Sandbox, *http.Client, providers.Provider, error) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		return nil, nil, nil, err
	}
	client := sb.Client(30 * time.Second)
	tiktok := providers.NewTikTokLogin(providers.TikTokConfig{RedirectURL: "https://omnisocial.example/oauth/tiktok/callback",
		HTTPClient: client, ClientKey: sandbox.DevTikTokClientKey, ClientSecret: vault.NewToken(sandbox.DevTikTokClientSecret),
		AuthBase: "https://sandbox.local/sandbox/www.tiktok.com", APIBase: "https://sandbox.local/sandbox/open.tiktokapis.com"})
	if _, err := client.Post("https://sandbox.local/sandbox/control/autoconsent", "application/json",
		strings.NewReader(`{"enabled":true,"persona":"bloom"}`)); err != nil {
		sb.Close()
		return nil, nil, nil, err
	}
	return sb, client, tiktok, nil
}

func benchRefresh(schema string, n, workers int) (refreshRow, error) {
	ctx := context.Background()
	row := refreshRow{Accounts: n, Workers: workers}
	dir, _ := os.MkdirTemp("", "omnisocial-bench")
	defer os.RemoveAll(dir)
	sb, client, tiktok, err := tiktokSandbox()
	if err != nil {
		return row, err
	}
	defer sb.Close()

	key, _ := vault.ParseKey(strings.Repeat("cd", 32))
	box, _ := vault.NewBox(key)
	st, err := store.Open(ctx, store.Options{Path: filepath.Join(dir, "refresh.db"), Schema: schema, Box: box})
	if err != nil {
		return row, err
	}
	defer st.Close()
	st.SetPlanLimit(ctx, "business", n)
	u, ws, err := st.SignUp(ctx, store.User{Email: "bench@example.com", PasswordHash: "h"}, "Bench", "business", false)
	if err != nil {
		return row, err
	}
	fmt.Fprintf(os.Stderr, "  seeding %d + %d TikTok authorizations…\n", n, n)
	grants, err := authorizeMany(ctx, tiktok, client, 2*n, workers)
	if err != nil {
		return row, err
	}
	// The queue's half goes into the store, due now.
	if err := seedQueue(ctx, st, ws.ID, u.ID, grants[:n]); err != nil {
		return row, err
	}

	lat := &outcomeLatency{}
	lat.watch(st)
	runtime.GC()
	stop := sampleHeap(&row.PeakHeapMB)
	r := refresh.New(refresh.Options{Store: st, Providers: map[providers.Platform]providers.Provider{providers.TikTok: tiktok},
		Log: slog.New(slog.DiscardHandler), Batch: 500, Workers: workers, Rate: math.Inf(1)})
	stopProfile, err := startProfile(queueProfile)
	if err != nil {
		return row, err
	}
	t0 := time.Now()
	refreshed := 0
	for row.Passes = 1; row.Passes <= 10; row.Passes++ {
		s, err := r.RunOnce(ctx)
		if err != nil {
			return row, err
		}
		refreshed += s.Refreshed
		row.NeedsReauth += s.NeedsReauth
		if s.Claimed == 0 || refreshed >= n {
			break
		}
	}
	row.QueueTime = time.Since(t0)
	stopProfile()
	stop()
	if refreshed < n {
		return row, fmt.Errorf("only %d of %d accounts refreshed", refreshed, n)
	}
	row.QueueRate = float64(n) / row.QueueTime.Seconds()
	row.StoreP50, row.StoreP99, row.PerCommit = lat.summary()

	// Baseline: the same platform work with nothing around it.
	var bareErr error
	row.BareTime, bareErr = bareChecks(ctx, tiktok, grants[n:], workers)
	row.BareRate = float64(n) / row.BareTime.Seconds()
	return row, bareErr
}

// seedQueue stores an account for each credential, due now; one workspace
// holds them all (distinct ids: the sandbox has one TikTok persona).
func seedQueue(ctx context.Context, st *store.Store, ws, uid int64, creds []providers.Credentials) error {
	now := time.Now()
	for start := 0; start < len(creds); start += 500 {
		var found []store.Discovered
		for i := start; i < min(start+500, len(creds)); i++ {
			c := creds[i]
			found = append(found, store.Discovered{PlatformUserID: fmt.Sprintf("%s:%d", c.PlatformUserID, i), DisplayName: "Bloom Botanics",
				Scopes:      []string{"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"},
				Tokens:      store.Tokens{Access: c.AccessToken, Refresh: c.RefreshToken, Expiry: c.Expiry, RefreshExpiry: c.RefreshExpiry},
				NextCheckAt: now.Add(-time.Second)})
		}
		if _, err := st.Connect(ctx, store.Connect{WorkspaceID: ws, UserID: uid, Platform: "tiktok", Accounts: found}); err != nil {
			return err
		}
	}
	return nil
}

// bareChecks times the adapter's Check of every credential on workers
// goroutines, with no queue, vault or store around it.
func bareChecks(ctx context.Context, prov providers.Provider, creds []providers.Credentials, workers int) (time.Duration, error) {
	jobs := make(chan providers.Credentials)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bareErr error
	t0 := time.Now()
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				if _, err := prov.Check(ctx, c); err != nil {
					mu.Lock()
					bareErr = err
					mu.Unlock()
				}
			}
		})
	}
	for _, c := range creds {
		jobs <- c
	}
	close(jobs)
	wg.Wait()
	return time.Since(t0), bareErr
}

// authorizeMany runs n real authorizations at the sandbox (auto-consent).
func authorizeMany(ctx context.Context, a providers.Provider, client *http.Client, n, workers int) ([]providers.Credentials, error) {
	out := make([]providers.Credentials, n)
	noFollow := &http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			for i := range next {
				v := oauth2.GenerateVerifier()
				res, err := noFollow.Get(a.AuthCodeURL(providers.AuthRequest{State: "bench", Verifier: v}))
				if err == nil {
					res.Body.Close()
					loc, _ := url.Parse(res.Header.Get("Location"))
					var g *providers.Grant
					if g, err = a.Exchange(ctx, loc.Query().Get("code"), v); err == nil {
						out[i] = g.Accounts[0].Credentials
					}
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, firstErr
}

// sampleHeap records the peak heap in use until the returned stop is called.
func sampleHeap(peak *float64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			*peak = max(*peak, float64(m.HeapInuse)/(1<<20))
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// outcomeLatency collects the store's report of each refresh outcome
// stored: how long from the call to the commit, and the commit's size.
type outcomeLatency struct {
	mu     sync.Mutex
	waits  []time.Duration
	shares float64 // sum of 1/group: commits, counted from their outcomes
}

// watch records st's outcomes.
func (l *outcomeLatency) watch(st *store.Store) {
	st.OnOutcomeStored(func(wait time.Duration, group int) {
		l.mu.Lock()
		l.waits = append(l.waits, wait)
		l.shares += 1 / float64(max(group, 1))
		l.mu.Unlock()
	})
}

// summary is the median and 99th percentile wait, and outcomes per commit.
func (l *outcomeLatency) summary() (p50, p99 time.Duration, perCommit float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waits) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l.waits)
	return l.waits[len(l.waits)/2], l.waits[len(l.waits)*99/100], float64(len(l.waits)) / l.shares
}

// queueProfile is -cpuprofile: where the queue's run writes its CPU profile.
var queueProfile string

// startProfile starts a CPU profile into path, if one is named.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
