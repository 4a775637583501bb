package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"omnisocial/internal/pgtest"
)

// schema_postgres.sql says what schema.sql says: the same tables and
// columns in the same order, the same NOT NULLs and primary keys, the same
// unique keys, and the same foreign keys with the same ON DELETE. (The
// CHECKs and the history's rules are exercised by the tests that run on
// both databases.)
func TestSchemasAgree(t *testing.T) {
	dsn := pgtest.Fresh(t)
	lite := openSQLite(t, filepath.Join(t.TempDir(), "fresh.db"))
	pg := mustOpen(t, Options{Path: dsn, Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
	want, got := sqliteShape(t, lite.r), postgresShape(t, pg.r)
	for _, table := range slices.Sorted(maps.Keys(want)) {
		if got[table] == nil {
			t.Errorf("%s: missing on PostgreSQL", table)
			continue
		}
		for _, part := range []string{"columns", "unique", "foreign keys"} {
			w, g := want[table][part], got[table][part]
			if !slices.Equal(w, g) {
				t.Errorf("%s %s:\n SQLite     %v\n PostgreSQL %v", table, part, w, g)
			}
		}
	}
	for table := range got {
		if want[table] == nil && table != "schema_version" {
			t.Errorf("%s: on PostgreSQL only", table)
		}
	}
}

type shape map[string]map[string][]string // table -> part -> sorted facts

func rowsOf(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	return out
}

func sqliteShape(t *testing.T, db *sql.DB) shape {
	out := shape{}
	for _, r := range rowsOf(t, db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'") {
		table := r[0]
		parts := map[string][]string{}
		for _, c := range rowsOf(t, db, "SELECT name, \"notnull\", pk FROM pragma_table_xinfo(?)", table) {
			notNull := c[1] == "1" || c[2] != "0" // a primary key is never null
			parts["columns"] = append(parts["columns"], fmt.Sprintf("%s null=%v pk=%v", c[0], !notNull, c[2] != "0"))
		}
		for _, ix := range rowsOf(t, db, "SELECT name, \"unique\", partial FROM pragma_index_list(?)", table) {
			if ix[1] != "1" {
				continue
			}
			var cols []string
			for _, c := range rowsOf(t, db, "SELECT name FROM pragma_index_info(?) ORDER BY seqno", ix[0]) {
				cols = append(cols, c[0])
			}
			parts["unique"] = append(parts["unique"], fmt.Sprintf("(%s) partial=%v", strings.Join(cols, ","), ix[2] == "1"))
		}
		if pk := primaryKey(parts["columns"]); pk != "" && !slices.Contains(parts["unique"], pk) {
			parts["unique"] = append(parts["unique"], pk) // an INTEGER PRIMARY KEY is the rowid, not an index
		}
		for _, fk := range rowsOf(t, db, "SELECT \"from\", \"table\", \"to\", on_delete FROM pragma_foreign_key_list(?)", table) {
			parts["foreign keys"] = append(parts["foreign keys"], fmt.Sprintf("%s -> %s(%s) on delete %s", fk[0], fk[1], fk[2], fk[3]))
		}
		sortParts(parts)
		out[table] = parts
	}
	return out
}

// primaryKey is the unique fact of a one-column primary key.
func primaryKey(cols []string) string {
	var pk []string
	for _, c := range cols {
		if strings.HasSuffix(c, "pk=true") {
			pk = append(pk, strings.Fields(c)[0])
		}
	}
	if len(pk) != 1 {
		return ""
	}
	return "(" + pk[0] + ") partial=false"
}

func postgresShape(t *testing.T, db *sql.DB) shape {
	out := shape{}
	for _, r := range rowsOf(t, db, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`) {
		table := r[0]
		parts := map[string][]string{}
		pks := map[string]bool{}
		for _, c := range rowsOf(t, db, `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
			WHERE i.indrelid = $1::regclass AND i.indisprimary`, table) {
			pks[c[0]] = true
		}
		for _, c := range rowsOf(t, db, `SELECT column_name, is_nullable FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table) {
			parts["columns"] = append(parts["columns"], fmt.Sprintf("%s null=%v pk=%v", c[0], c[1] == "YES", pks[c[0]]))
		}
		for _, ix := range rowsOf(t, db, `SELECT (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
				JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum), i.indpred IS NOT NULL
			FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique`, table) {
			parts["unique"] = append(parts["unique"], fmt.Sprintf("(%s) partial=%v", ix[0], ix[1] == "true"))
		}
		for _, fk := range rowsOf(t, db, `SELECT a.attname, c.confrelid::regclass::text, af.attname,
				CASE c.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' ELSE 'SET DEFAULT' END
			FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
			JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
			WHERE c.conrelid = $1::regclass AND c.contype = 'f'`, table) {
			parts["foreign keys"] = append(parts["foreign keys"], fmt.Sprintf("%s -> %s(%s) on delete %s", fk[0], fk[1], fk[2], fk[3]))
		}
		sortParts(parts)
		out[table] = parts
	}
	return out
}

// sortParts orders the facts that have no order of their own (columns
// keep theirs).
func sortParts(p map[string][]string) {
	slices.Sort(p["unique"])
	slices.Sort(p["foreign keys"])
}
