package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// loadResult is what one run of the load generator saw.
type loadResult struct {
	Requests int
	Errors   int
	RPS      float64
	P50, P99 time.Duration
}

// load sends GET url from `clients` goroutines, each waiting for its answer
// before the next (closed loop), for d or maxRequests, whichever comes
// first. Only loopback addresses are ever targeted.
func load(client *http.Client, url string, clients int, d time.Duration, maxRequests int) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	errs := 0
	budget := make(chan struct{}, maxRequests)
	for range maxRequests {
		budget <- struct{}{}
	}
	close(budget)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			bad := 0
			for range budget {
				if ctx.Err() != nil {
					break
				}
				t0 := time.Now()
				res, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				mine = append(mine, time.Since(t0))
				if err != nil || res.StatusCode != http.StatusOK {
					bad++
				}
			}
			mu.Lock()
			all = append(all, mine...)
			errs += bad
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(float64(len(all))*p))]
	}
	return loadResult{Requests: len(all), Errors: errs, RPS: float64(len(all)) / took.Seconds(), P50: pct(0.50), P99: pct(0.99)}
}
