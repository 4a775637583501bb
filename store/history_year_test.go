//go:build !race

// The race detector makes SQLite's transpiled engine some thirty times
// slower and this test has no goroutines to race: `make test` runs it in a
// pass of its own without -race.

package store

import (
	"context"
	"os"
	"testing"
	"time"
)

// A year of daily checks for 1,000 accounts, with housekeeping's daily
// pruning, under the fake clock: the file stays bounded by the horizon,
// not by the year, and every event a person reads is still there.
func TestHistoryStaysBoundedOverAYear(t *testing.T) {
	const accounts, days, horizon = 1000, 365, 30
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	s, path := openWithClock(t, clk)
	if err := s.SetPlanLimit(ctx, "business", accounts); err != nil {
		t.Fatal(err)
	}
	seedQueue(t, s, accounts, t0)
	var wantKept int64
	for week := range days / 7 {
		// A week of daily checks, one row per account and day as
		// RecordSuccess writes them; now and then one a person must read.
		// Housekeeping then prunes, as it does every ten minutes.
		now := clk.Now().Unix()
		res, err := s.rawExec(`WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 6)
			INSERT INTO account_events (workspace_id, account_id, account_name, kind, detail, created_at)
			SELECT a.workspace_id, a.id, a.display_name,
				CASE WHEN (a.k + day.n + ?) % 97 = 0 THEN 'check_failed' ELSE 'checked' END,
				CASE WHEN (a.k + day.n + ?) % 97 = 0 THEN 'Facebook did not answer in time; next try soon' ELSE 'Tokens valid; profile synced' END,
				? + day.n * 86400 + a.k % 3600
			FROM (SELECT *, row_number() OVER (ORDER BY id) AS k FROM social_accounts) a, day`, week*7, week*7, now)
		if n, _ := res.RowsAffected(); err != nil || n != 7*accounts {
			t.Fatalf("week %d: %d events written (%v)", week, n, err)
		}
		var failures int64
		s.rawQueryRow(`WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 6)
			SELECT count(*) FROM (SELECT row_number() OVER (ORDER BY id) AS k FROM social_accounts) a, day WHERE (a.k + day.n + ?) % 97 = 0`, week*7).Scan(&failures)
		wantKept += failures
		clk.Add(7 * 24 * time.Hour)
		if _, err := s.PruneHistory(ctx, clk.Now().AddDate(0, 0, -horizon)); err != nil {
			t.Fatal(err)
		}
		if s.Postgres() {
			// PostgreSQL reuses a pruned row's space once vacuumed, which
			// autovacuum does on its own in a running server.
			exec(t, s, "VACUUM account_events")
		}
	}
	var routine, kept int64
	s.rawQueryRow("SELECT count(*) FROM account_events WHERE kind = 'checked'").Scan(&routine)
	s.rawQueryRow("SELECT count(*) FROM account_events WHERE kind = 'check_failed'").Scan(&kept)
	if kept != wantKept {
		t.Fatalf("%d failures in history, want all %d", kept, wantKept)
	}
	if max := int64(accounts * (horizon + 7)); routine > max {
		t.Fatalf("%d routine events kept, want at most %d (the horizon's)", routine, max)
	}
	size := sizeOf(t, s, path)
	// ~30,000 routine rows of ~100 bytes plus indexes: a year unpruned
	// was measured at 364,000 rows and 51 MiB, eight times the size.
	// PostgreSQL's rows carry a 24-byte header and 8-byte integers, and
	// were measured at 17.6 MiB for the same pruned year.
	bound := int64(12 << 20)
	if s.Postgres() {
		bound = 24 << 20
	}
	t.Logf("after a year: %d routine and %d other events, database %.1f MiB (bound %d MiB)", routine, kept, float64(size)/(1<<20), bound>>20)
	if size > bound {
		t.Fatalf("database is %d bytes after a year, over the %d bound", size, bound)
	}
}

// sizeOf is the database's size on disk: the SQLite file once its log is
// folded in, or the PostgreSQL schema's tables with their indexes.
func sizeOf(t *testing.T, s *Store, path string) int64 {
	if s.Postgres() {
		var n int64
		err := s.rawQueryRow(`SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
			WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	exec(t, s, "PRAGMA wal_checkpoint(TRUNCATE)")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}
