package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"omnisocial/providers"
	"omnisocial/refresh"
	"omnisocial/store"
	"omnisocial/vault"
)

// pgRefreshRow is one refresh run on PostgreSQL.
type pgRefreshRow struct {
	Replicas    int
	Time        time.Duration
	Rate        float64
	NeedsReauth int
	// As refreshRow's, over every replica's outcomes.
	StoreP50, StoreP99 time.Duration
	PerCommit          float64
}

// freshSchema makes a schema of its own on the server at server (a
// postgres:// URL) and returns a URL whose search_path is it, and a drop.
func freshSchema(server string) (dsn string, drop func(), err error) {
	admin, err := sql.Open("pgx", server)
	if err != nil {
		return "", nil, err
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "bench_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("OMNISOCIAL_BENCH_POSTGRES: %w", err)
	}
	u, err := url.Parse(server)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String(), func() { admin.Exec("DROP SCHEMA " + name + " CASCADE"); admin.Close() }, nil
}

// benchRefreshPG makes n TikTok accounts due at once in a fresh schema and
// times replicas refreshers working them, each with a store (a connection
// pool) of its own, as separate processes would have; the sandbox is in
// process, as in benchRefresh. A process-level run, SIGKILL included, is
// TestReplicasShareTheQueue.
func benchRefreshPG(server, schema, schemaPG string, n, workers, replicas int) (pgRefreshRow, error) {
	ctx := context.Background()
	row := pgRefreshRow{Replicas: replicas}
	dsn, drop, err := freshSchema(server)
	if err != nil {
		return row, err
	}
	defer drop()
	sb, client, tiktok, err := tiktokSandbox()
	if err != nil {
		return row, err
	}
	defer sb.Close()
	key, _ := vault.ParseKey(strings.Repeat("cd", 32))
	box, _ := vault.NewBox(key)
	stores := make([]*store.Store, replicas)
	for i := range stores {
		if stores[i], err = store.Open(ctx, store.Options{Path: dsn, Schema: schema, SchemaPostgres: schemaPG, Box: box}); err != nil {
			return row, err
		}
		defer stores[i].Close()
	}
	stores[0].SetPlanLimit(ctx, "business", n)
	u, ws, err := stores[0].SignUp(ctx, store.User{Email: "bench@example.com", PasswordHash: "h"}, "Bench", "business", false)
	if err != nil {
		return row, err
	}
	fmt.Fprintf(os.Stderr, "  PostgreSQL, %d replicas: seeding %d TikTok authorizations…\n", replicas, n)
	grants, err := authorizeMany(ctx, tiktok, client, n, workers)
	if err != nil {
		return row, err
	}
	if err := seedQueue(ctx, stores[0], ws.ID, u.ID, grants); err != nil {
		return row, err
	}
	lat := &outcomeLatency{}
	for _, st := range stores {
		lat.watch(st)
	}
	t0 := time.Now()
	refreshed, reauth, err := runReplicas(ctx, stores, tiktok, n, workers)
	row.Time, row.NeedsReauth = time.Since(t0), reauth
	if err != nil {
		return row, err
	}
	if refreshed < n {
		return row, fmt.Errorf("PostgreSQL, %d replicas: only %d of %d accounts refreshed", replicas, refreshed, n)
	}
	row.Rate = float64(n) / row.Time.Seconds()
	row.StoreP50, row.StoreP99, row.PerCommit = lat.summary()
	return row, nil
}

// runReplicas runs one refresher per store at once, each passing over the
// queue until the replicas together refreshed n accounts or a pass of
// every replica found nothing.
func runReplicas(ctx context.Context, stores []*store.Store, prov providers.Provider, n, workers int) (refreshed, reauth int, err error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, st := range stores {
		r := refresh.New(refresh.Options{Store: st, Providers: map[providers.Platform]providers.Provider{providers.TikTok: prov},
			Log: slog.New(slog.DiscardHandler), Batch: 200, Workers: workers, Rate: math.Inf(1), Owner: "bench-" + strconv.Itoa(i)})
		wg.Go(func() {
			for pass := 0; pass < 20; pass++ {
				s, rerr := r.RunOnce(ctx)
				mu.Lock()
				refreshed += s.Refreshed
				reauth += s.NeedsReauth
				if rerr != nil {
					err = rerr
				}
				done := refreshed >= n || err != nil
				mu.Unlock()
				if done || s.Claimed == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	return refreshed, reauth, err
}

// benchPostgres writes the PostgreSQL section: the accounts page next to
// the SQLite rows of this run, and the refresh queue on 1 and 3 replicas.
func benchPostgres(b *strings.Builder, server, schema string, sqlite []pageRow, rr refreshRow, d time.Duration, n, workers int) error {
	schemaPG, err := os.ReadFile("schema_postgres.sql")
	if err != nil {
		return err
	}
	fmt.Fprintf(b, "## On PostgreSQL (%s, %s per run)\n\n", serverVersion(server), d)
	if sqlite != nil { // not with -only refresh
		if err := pagesOnPostgres(b, server, schema, string(schemaPG), sqlite, d); err != nil {
			return err
		}
	}
	fmt.Fprintf(b, "\nRefresh: %d TikTok accounts due at once, rotation on, in-process sandbox, %d workers a replica, no rate limit. "+
		"A replica here is a refresher with a connection pool of its own, in this one process.\n\n", n, workers)
	b.WriteString("| database | replicas | total | refreshes/s | stored p50 | stored p99 | outcomes a commit | needs re-auth |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(b, "| SQLite | 1 | %.2f s | %.0f | %s | %s | %.1f | %d |\n", rr.QueueTime.Seconds(), rr.QueueRate, ms(rr.StoreP50), ms(rr.StoreP99), rr.PerCommit, rr.NeedsReauth)
	for _, replicas := range []int{1, 3} {
		fmt.Fprintf(os.Stderr, "refresh on PostgreSQL, %d replicas…\n", replicas)
		row, err := benchRefreshPG(server, schema, string(schemaPG), n, workers, replicas)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "| PostgreSQL | %d | %.2f s | %.0f | %s | %s | %.1f | %d |\n", row.Replicas, row.Time.Seconds(), row.Rate,
			ms(row.StoreP50), ms(row.StoreP99), row.PerCommit, row.NeedsReauth)
	}
	b.WriteString("\n")
	return nil
}

// pagesOnPostgres writes the accounts page on PostgreSQL next to SQLite's.
func pagesOnPostgres(b *strings.Builder, server, schema, schemaPG string, sqlite []pageRow, d time.Duration) error {
	fmt.Fprintln(os.Stderr, "pages on PostgreSQL…")
	dsn, drop, err := freshSchema(server)
	if err != nil {
		return err
	}
	pages, err := benchPages(".", store.Options{Path: dsn, Schema: schema, SchemaPostgres: schemaPG}, os.DirFS("static"), d)
	drop()
	if err != nil {
		return err
	}
	b.WriteString("| route | clients | SQLite req/s | SQLite p99 | PostgreSQL req/s | PostgreSQL p99 |\n|---|---:|---:|---:|---:|---:|\n")
	for i, r := range pages {
		if r.Name == "accounts page" && i < len(sqlite) {
			fmt.Fprintf(b, "| %s | %d | %.0f | %s | %.0f | %s |\n", r.Name, r.Clients, sqlite[i].Page.RPS, ms(sqlite[i].Page.P99), r.Page.RPS, ms(r.Page.P99))
		}
	}
	return nil
}

// serverVersion is the server's version in words, or "PostgreSQL".
func serverVersion(server string) string {
	db, err := sql.Open("pgx", server)
	if err != nil {
		return "PostgreSQL"
	}
	defer db.Close()
	var v string
	if db.QueryRow("SHOW server_version").Scan(&v) != nil {
		return "PostgreSQL"
	}
	return "PostgreSQL " + strings.Fields(v)[0]
}
