package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx" with database/sql
)

// IsPostgres reports whether dsn names a PostgreSQL database rather than
// a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openPostgres opens the database at o.Path, a postgres:// URL, for one of
// possibly several replicas. Reads and writes share one pool: PostgreSQL
// takes concurrent writers, and write's serializable transactions keep them
// as correct as SQLite's single writer does.
func openPostgres(ctx context.Context, o Options) (*Store, error) {
	if o.SchemaPostgres == "" {
		return nil, errors.New("store: no PostgreSQL schema given")
	}
	db, err := sql.Open("pgx", o.Path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &Store{w: db, r: db, d: &dialect{postgres: true}, reads: &stmtCache{db: db}, box: o.Box, now: o.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := s.migratePostgres(ctx, o.SchemaPostgres); err != nil {
		s.Close()
		return nil, err
	}
	return s.ready(ctx)
}

// postgresFrom is the schema version PostgreSQL support started at: a
// PostgreSQL database is never older, so stepsPostgres begins there.
const postgresFrom = 9

// stepsPostgres[v] takes a PostgreSQL database from version v to v+1: what
// steps[v-1] does to SQLite, in PostgreSQL's words (TestStepsForBoth).
var stepsPostgres = map[int][]string{
	9: {
		`CREATE TABLE IF NOT EXISTS account_versions (
	workspace_id BIGINT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
	shard        BIGINT NOT NULL,
	version      BIGINT NOT NULL,
	PRIMARY KEY (workspace_id, shard)
)`,
		`CREATE OR REPLACE FUNCTION social_accounts_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF current_setting('omnisocial.copying', true) = 'on' THEN
		RETURN NULL;
	END IF;
	INSERT INTO account_versions (workspace_id, shard, version)
		SELECT id, pg_backend_pid() % 16, 1 FROM workspaces
		WHERE id = CASE WHEN TG_OP = 'INSERT' THEN NEW.workspace_id ELSE OLD.workspace_id END
			OR TG_OP = 'UPDATE' AND id = NEW.workspace_id
	ON CONFLICT (workspace_id, shard) DO UPDATE SET version = account_versions.version + 1;
	RETURN NULL;
END $$`,
		`CREATE OR REPLACE TRIGGER social_accounts_version AFTER INSERT OR DELETE OR UPDATE OF
	workspace_id, user_id, platform, platform_user_id, username, display_name, avatar_url, scopes, token_expires_at, refresh_expires_at, metadata, status, last_error, last_synced_at, next_check_at, grant_subject, grant_subject_name, connected_at, updated_at, failures, last_outcome, login
	ON social_accounts FOR EACH ROW EXECUTE FUNCTION social_accounts_version()`,
	},
}

// migrateLock is the advisory lock replicas starting together queue on, so
// one of them creates or migrates the schema and the others find it done.
const migrateLock = 0x6f6d6e69 // "omni"

func (s *Store) migratePostgres(ctx context.Context, schema string) error {
	// Read committed: after waiting for the lock, the version read must be
	// the one the replica before us committed.
	return s.writeAt(ctx, sql.LevelReadCommitted, func(ctx context.Context, tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", migrateLock); err != nil {
			return fmt.Errorf("store: schema lock: %w", err)
		}
		v, err := postgresVersion(ctx, tx)
		if err != nil {
			return err
		}
		if v > Latest {
			return fmt.Errorf("store: the database is at schema version %d, newer than this build (%d)", v, Latest)
		}
		if v != 0 && v < postgresFrom {
			return fmt.Errorf("store: schema version %d predates PostgreSQL support (%d): the database was not made by omnisocial", v, postgresFrom)
		}
		if v == 0 {
			// Several statements and no arguments: pgx sends them as one
			// simple query, untranslated (the functions' bodies hold $$).
			if _, err := tx.tx.ExecContext(ctx, schema); err != nil {
				return fmt.Errorf("store: create schema: %w", err)
			}
		}
		for ; v > 0 && v < Latest; v++ {
			for _, q := range stepsPostgres[v] {
				if _, err := tx.tx.ExecContext(ctx, q); err != nil {
					return fmt.Errorf("store: migrate %d→%d: %w", v, v+1, err)
				}
			}
			if _, err := tx.ExecContext(ctx, "UPDATE schema_version SET version = ?", v+1); err != nil {
				return fmt.Errorf("store: migrate %d→%d: %w", v, v+1, err)
			}
		}
		if v, err = postgresVersion(ctx, tx); err != nil {
			return err
		}
		if v != Latest {
			return fmt.Errorf("store: schema_postgres.sql stamps version %d, migrations reach %d", v, Latest)
		}
		return nil
	})
}

// postgresVersion is the schema's version, 0 for an empty database.
func postgresVersion(ctx context.Context, tx *Tx) (int, error) {
	var exists bool
	if err := tx.QueryRowContext(ctx, "SELECT to_regclass('schema_version') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := tx.QueryRowContext(ctx, "SELECT version FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// Postgres reports whether the store is on PostgreSQL.
func (s *Store) Postgres() bool { return s.d.postgres }

// JobLock takes the lock named key if no other replica holds it, for a job
// that must run on one replica at a time (housekeeping, the outboxes). The
// lock is PostgreSQL's session advisory lock on a connection of its own:
// a replica that dies lets go of it with its connection. On SQLite there is
// one process, and ok is always true. unlock must be called when ok.
func (s *Store) JobLock(ctx context.Context, key string) (unlock func(), ok bool, err error) {
	if !s.d.postgres {
		return func() {}, true, nil
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	id := int64(h.Sum64())
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("store: job lock: %w", err)
	}
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("store: job lock: %w", err)
		}
		return nil, false, nil
	}
	return func() {
		conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", id)
		conn.Close()
	}, true, nil
}

// Shown is dsn as logs and pages may print it: a PostgreSQL URL without
// its password.
func Shown(dsn string) string {
	if !IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unreadable URL)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
