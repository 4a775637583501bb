package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"omnisocial/internal/pgtest"
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

// Replicas started together on an empty PostgreSQL database all open it:
// one creates the schema while the others wait on the advisory lock and
// then find it made, and every one stamps the same key canary check.
func TestReplicasCreateTheSchemaOnce(t *testing.T) {
	dsn := pgtest.Fresh(t)
	const replicas = 4
	errs := make(chan error, replicas)
	var wg sync.WaitGroup
	for range replicas {
		wg.Go(func() {
			s, err := Open(context.Background(), Options{Path: dsn, Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a replica starting with the others: %v", err)
		}
	}
	s := mustOpen(t, Options{Path: dsn, Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
	var versions, canaries int
	s.rawQueryRow("SELECT count(*) FROM schema_version").Scan(&versions)
	s.rawQueryRow("SELECT count(*) FROM meta WHERE key = 'key_canary'").Scan(&canaries)
	if versions != 1 || canaries != 1 {
		t.Fatalf("%d schema_version rows and %d key canaries, want one of each", versions, canaries)
	}
}

// A PostgreSQL database made by the version 9 that shipped migrates to the
// latest: the same shape as a fresh one, and the same triggers.
func TestPostgresMigratesFromNine(t *testing.T) {
	v9, err := os.ReadFile("testdata/schema_postgres_v9.sql")
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.Fresh(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(v9)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	old := mustOpen(t, Options{Path: dsn, Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
	fresh := mustOpen(t, Options{Path: pgtest.Fresh(t), Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
	got, want := postgresShape(t, old.r), postgresShape(t, fresh.r)
	for _, table := range slices.Sorted(maps.Keys(want)) {
		for _, part := range []string{"columns", "unique", "foreign keys"} {
			if w, g := want[table][part], got[table][part]; !slices.Equal(w, g) {
				t.Errorf("%s %s:\n migrated %v\n fresh    %v", table, part, g, w)
			}
		}
	}
	triggers := func(s *Store) [][]string {
		return rowsOf(t, s.r, `SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
			WHERE NOT tgisinternal AND c.relnamespace = current_schema()::regnamespace ORDER BY tgname`)
	}
	if g, w := triggers(old), triggers(fresh); fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("triggers: migrated %v, fresh %v", g, w)
	}
}
