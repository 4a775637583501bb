package store

import (
	"context"
	"path/filepath"
	"testing"
)

// A job lock is held by one store at a time and free again once let go;
// on SQLite, the one process always holds it.
func TestJobLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "jobs.db")
	a, b := openAt(t, path), openAt(t, path)
	unlockA, ok, err := a.JobLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("first lock: %v, %v", ok, err)
	}
	_, okB, err := b.JobLock(ctx, "housekeeping")
	if err != nil {
		t.Fatal(err)
	}
	if okB != !a.Postgres() {
		t.Fatalf("a second replica took a held lock: %v (postgres %v)", okB, a.Postgres())
	}
	other, ok, err := b.JobLock(ctx, "mail")
	if err != nil || !ok {
		t.Fatalf("another job's lock: %v, %v", ok, err)
	}
	other()
	unlockA()
	unlockB, ok, err := b.JobLock(ctx, "housekeeping")
	if err != nil || !ok {
		t.Fatalf("after unlock: %v, %v", ok, err)
	}
	unlockB()
}

// Every schema version after PostgreSQL's first has its PostgreSQL step.
func TestStepsForBoth(t *testing.T) {
	for v := postgresFrom; v < Latest; v++ {
		if len(stepsPostgres[v]) == 0 {
			t.Errorf("steps[%d] (%d→%d) has no PostgreSQL twin in stepsPostgres", v-1, v, v+1)
		}
	}
	for v := range stepsPostgres {
		if v < postgresFrom || v >= Latest {
			t.Errorf("stepsPostgres[%d] is outside %d..%d", v, postgresFrom, Latest-1)
		}
	}
}
