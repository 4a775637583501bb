// Command bench measures OmniSocial on this machine and writes
// bench/results.md: page and API throughput against a same-stack baseline,
// the refresh queue against bare sandbox round trips, the vault, and the
// binary's footprint. With OMNISOCIAL_BENCH_POSTGRES (a postgres:// URL of a
// database it may create schemas in) it adds the accounts page and the
// refresh queue, on 1 and 3 replicas, on PostgreSQL. Run it from the module
// root: make bench.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

func main() {
	d := flag.Duration("d", 3*time.Second, "length of each page load run")
	accounts := flag.Int("accounts", 10_000, "accounts due at once in the refresh run")
	workers := flag.Int("workers", 16, "refresh workers")
	out := flag.String("o", "bench/results.md", "where to write the table")
	only := flag.String("only", "", `"refresh": the refresh sections alone (with OMNISOCIAL_BENCH_POSTGRES, PostgreSQL's refresh rows too)`)
	flag.StringVar(&queueProfile, "cpuprofile", "", "write a CPU profile of the SQLite refresh queue's run (seeding left out) to this file")
	flag.Parse()
	// The same collector settings as the binary (main.tuneGC), since the
	// page and refresh runs serve from this process.
	debug.SetGCPercent(200)
	debug.SetMemoryLimit(512 << 20)
	if err := run(*d, *accounts, *workers, *out, *only == "refresh"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(d time.Duration, accounts, workers int, out string, refreshOnly bool) error {
	schema, err := os.ReadFile("schema.sql")
	if err != nil {
		return fmt.Errorf("run from the module root (make bench): %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n%s, %d cores (%s), %s %s/%s. Produced by `make bench`.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)

	var pages []pageRow
	if !refreshOnly {
		if pages, err = writePages(&b, string(schema), d); err != nil {
			return err
		}
	}

	fmt.Fprintln(os.Stderr, "refresh…")
	rr, err := benchRefresh(string(schema), accounts, workers)
	if err != nil {
		return fmt.Errorf("refresh: %w", err)
	}
	fmt.Fprintf(&b, "## Refresh (%d TikTok accounts due at once, rotation on, in-process sandbox, %d workers, no rate limit)\n\n", rr.Accounts, rr.Workers)
	b.WriteString("| | total | refreshes/s | stored p50 | stored p99 | outcomes a commit | peak heap | needs re-auth |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| queue (claim, platform, seal, store) | %.2f s | %.0f | %s | %s | %.1f | %.0f MB | %d |\n", rr.QueueTime.Seconds(), rr.QueueRate,
		ms(rr.StoreP50), ms(rr.StoreP99), rr.PerCommit, rr.PeakHeapMB, rr.NeedsReauth)
	fmt.Fprintf(&b, "| bare sandbox round trips (adapter only) | %.2f s | %.0f | | | | | |\n", rr.BareTime.Seconds(), rr.BareRate)
	fmt.Fprintf(&b, "\nQueue/bare: %.0f%% of the bare rate. Stored: from RecordSuccess's call until its outcome (a rotated refresh token with it) "+
		"is committed with synchronous=FULL.\n\n", 100*rr.QueueRate/rr.BareRate)

	if server := os.Getenv("OMNISOCIAL_BENCH_POSTGRES"); server != "" {
		if err := benchPostgres(&b, server, string(schema), pages, rr, d, accounts, workers); err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
	}
	if !refreshOnly {
		if err := writeVaultAndFootprint(&b, string(schema), d); err != nil {
			return err
		}
	}
	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func writePages(b *strings.Builder, schema string, d time.Duration) ([]pageRow, error) {
	fmt.Fprintln(os.Stderr, "pages…")
	pages, err := benchPages(".", store.Options{Schema: schema}, os.DirFS("static"), d)
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	fmt.Fprintf(b, "## Pages (logged in, workspace of 50 accounts, loopback, %s per run)\n\n", d)
	b.WriteString("| route | clients | req/s | p50 | p99 | errors | baseline req/s | baseline p99 | page/baseline |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range pages {
		fmt.Fprintf(b, "| %s | %d | %.0f | %s | %s | %d | %.0f | %s | %.0f%% |\n", r.Name, r.Clients, r.Page.RPS, ms(r.Page.P50), ms(r.Page.P99),
			r.Page.Errors, r.Base.RPS, ms(r.Base.P99), 100*r.Page.RPS/r.Base.RPS)
	}
	b.WriteString("\nBaseline: a route on the same Echo stack (every middleware, session and CSRF included) that renders nothing.\n\n")
	return pages, nil
}

func writeVaultAndFootprint(b *strings.Builder, schema string, d time.Duration) error {
	fmt.Fprintln(os.Stderr, "vault…")
	box, _ := vault.NewBox([]byte(strings.Repeat("k", vault.KeySize)))
	tok := vault.NewToken("act." + strings.Repeat("x", 120))
	ct, _ := box.Seal(tok, "account-id", "access_token")
	seal := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			box.Seal(tok, "account-id", "access_token")
		}
	})
	open := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			box.Open(ct, "account-id", "access_token")
		}
	})
	b.WriteString("## Vault (AES-256-GCM, 124-byte token)\n\n| | ns/op | allocs/op | B/op |\n|---|---:|---:|---:|\n")
	fmt.Fprintf(b, "| seal | %d | %d | %d |\n| open | %d | %d | %d |\n\n", seal.NsPerOp(), seal.AllocsPerOp(), seal.AllocedBytesPerOp(),
		open.NsPerOp(), open.AllocsPerOp(), open.AllocedBytesPerOp())

	fmt.Fprintln(os.Stderr, "footprint…")
	fp, err := benchFootprint(schema, d)
	if err != nil {
		return fmt.Errorf("footprint: %w", err)
	}
	b.WriteString("## Footprint (release build: CGO_ENABLED=0, -trimpath -s -w)\n\n| | |\n|---|---:|\n")
	fmt.Fprintf(b, "| binary | %.1f MB |\n| start to first 200 of /healthz | %s |\n| resident memory, idle | %.1f MB |\n\n",
		fp.BinaryMB, ms(fp.StartToOK), fp.IdleRSSMB)
	b.WriteString("The accounts page of the same binary under load; CPU is the server's own, from /proc.\n\n")
	b.WriteString("| workspace | clients | req/s | p99 | server CPU per request | peak resident memory |\n|---|---:|---:|---:|---:|---:|\n")
	for _, l := range fp.Loads {
		fmt.Fprintf(b, "| %d accounts | %d | %.0f | %s | %d µs | %.1f MB |\n", l.Accounts, l.Clients, l.RPS, ms(l.P99), l.CPUPerRequest.Microseconds(), l.PeakRSSMB)
	}
	if len(fp.Loads) >= 2 {
		fmt.Fprintf(b, "\nCPU per request, 200 accounts ÷ 50: %.2f×.\n", float64(fp.Loads[1].CPUPerRequest)/float64(fp.Loads[0].CPUPerRequest))
	}
	b.WriteString("\n")
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}
