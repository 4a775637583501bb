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
		res, err := s.w.ExecContext(ctx, `WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 6)
			INSERT INTO account_events (workspace_id, account_id, account_name, kind, detail, created_at)
			SELECT a.workspace_id, a.id, a.display_name,
				CASE WHEN (a.rowid + day.n + ?) % 97 = 0 THEN 'check_failed' ELSE 'checked' END,
				CASE WHEN (a.rowid + day.n + ?) % 97 = 0 THEN 'Facebook did not answer in time; next try soon' ELSE 'Tokens valid; profile synced' END,
				? + day.n * 86400 + a.rowid % 3600
			FROM social_accounts a, day`, week*7, week*7, now)
		if n, _ := res.RowsAffected(); err != nil || n != 7*accounts {
			t.Fatalf("week %d: %d events written (%v)", week, n, err)
		}
		var failures int64
		s.r.QueryRow(`WITH RECURSIVE day(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM day WHERE n < 6)
			SELECT count(*) FROM social_accounts a, day WHERE (a.rowid + day.n + ?) % 97 = 0`, week*7).Scan(&failures)
		wantKept += failures
		clk.Add(7 * 24 * time.Hour)
		if _, err := s.PruneHistory(ctx, clk.Now().AddDate(0, 0, -horizon)); err != nil {
			t.Fatal(err)
		}
	}
	var routine, kept int64
	s.r.QueryRow("SELECT count(*) FROM account_events WHERE kind = 'checked'").Scan(&routine)
	s.r.QueryRow("SELECT count(*) FROM account_events WHERE kind = 'check_failed'").Scan(&kept)
	if kept != wantKept {
		t.Fatalf("%d failures in history, want all %d", kept, wantKept)
	}
	if max := int64(accounts * (horizon + 7)); routine > max {
		t.Fatalf("%d routine events kept, want at most %d (the horizon's)", routine, max)
	}
	exec(t, s, "PRAGMA wal_checkpoint(TRUNCATE)")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// ~30,000 routine rows of ~100 bytes plus indexes: a year unpruned
	// was measured at 364,000 rows and 51 MiB, eight times the size.
	const bound = 12 << 20
	t.Logf("after a year: %d routine and %d other events, file %.1f MiB (bound %d MiB)", routine, kept, float64(info.Size())/(1<<20), bound>>20)
	if info.Size() > bound {
		t.Fatalf("database is %d bytes after a year, over the %d bound", info.Size(), bound)
	}
}
