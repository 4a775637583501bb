package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"omnisocial/vault"
)

// BenchmarkRecordSuccessConcurrent stores one refresh outcome per
// operation from 16 goroutines at once, on pre-claimed accounts: the
// store's share of the refresh queue, without the platform.
func BenchmarkRecordSuccessConcurrent(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	cs := claimMany(b, s, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan Claim)
	for range 16 {
		wg.Go(func() {
			for c := range next {
				if err := s.RecordSuccess(ctx, c, result("at-new-"+c.ID, "rt-new")); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, c := range cs {
		next <- c
	}
	close(next)
	wg.Wait()
}

// claimMany connects n accounts and claims them all.
func claimMany(tb testing.TB, s *Store, n int) []Claim {
	tb.Helper()
	ctx := context.Background()
	s.SetPlanLimit(ctx, "business", n+10)
	u, ws, err := s.SignUp(ctx, User{Email: fmt.Sprintf("b%d@example.com", time.Now().UnixNano()), PasswordHash: "h"}, "B", "business", false)
	if err != nil {
		tb.Fatal(err)
	}
	var out []Claim
	for start := 0; start < n; start += 500 {
		var ds []Discovered
		for i := start; i < min(start+500, n); i++ {
			ds = append(ds, Discovered{PlatformUserID: fmt.Sprintf("u%06d", i), DisplayName: "Account",
				Tokens: Tokens{Access: vault.NewToken(fmt.Sprintf("at-%d", i)), Refresh: vault.NewToken("rt")}, NextCheckAt: t0})
		}
		if _, err := s.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: ds}); err != nil {
			tb.Fatal(err)
		}
		cs, err := s.ClaimDue(ctx, t0, "me", len(ds), time.Hour)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, cs...)
	}
	return out
}

// BenchmarkReleaseAndFailConcurrent puts back (even i) or fails
// transiently (odd i) one claim per operation from 16 goroutines at once:
// a platform asking everyone to wait, or an outage.
func BenchmarkReleaseAndFailConcurrent(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, filepath.Join(b.TempDir(), "bench.db"))
	cs := claimMany(b, s, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range next {
				var err error
				if i%2 == 0 {
					err = s.ReleaseLease(ctx, cs[i], t0.Add(time.Minute), "")
				} else {
					err = s.RecordFailure(ctx, cs[i], Failure{At: t0, Reason: "down", NextCheckAt: t0.Add(time.Minute), Outcome: "transient:http_500"})
				}
				if err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
}
