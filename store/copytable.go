package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// copyTable is a table as the copy and its check see it: the source's
// columns, its primary key, and what the target's columns hold.
type copyTable struct {
	name     string
	cols     []string
	kinds    []colKind // the target's, by column
	pk       []int     // indexes into cols, in key order
	identity []string  // the target's identity columns
}

// colKind is what a target column holds, as far as the copy cares: SQLite
// lets any value into any column, PostgreSQL does not.
type colKind int

const (
	kindOther colKind = iota
	kindText
	kindBytes
)

// describeTables lists the source's tables in the order they were made
// (the order schema.sql and the migration steps made them in, which
// creates a table after those its foreign keys name), and matches each
// with the target's.
func describeTables(ctx context.Context, src, dst *Store) ([]copyTable, error) {
	rows, err := src.query(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY rowid`)
	names, err := collect(rows, err, func(r *sql.Rows) (n string, err error) { return n, r.Scan(&n) })
	if err != nil {
		return nil, fmt.Errorf("store: listing the source's tables: %w", err)
	}
	var out []copyTable
	for _, n := range names {
		t, err := describeTable(ctx, src, dst, n)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func describeTable(ctx context.Context, src, dst *Store, name string) (copyTable, error) {
	t := copyTable{name: name}
	type col struct {
		name string
		pk   int
	}
	rows, err := src.query(ctx, "SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", name)
	cols, err := collect(rows, err, func(r *sql.Rows) (c col, err error) { return c, r.Scan(&c.name, &c.pk) })
	if err != nil {
		return t, fmt.Errorf("store: the source's table %s: %w", name, err)
	}
	pk := map[int]int{} // position in the key -> column
	for i, c := range cols {
		t.cols = append(t.cols, c.name)
		if c.pk > 0 {
			pk[c.pk-1] = i
		}
	}
	for i := range len(pk) {
		t.pk = append(t.pk, pk[i])
	}
	if len(t.pk) == 0 {
		return t, fmt.Errorf("store: the source's table %s has no primary key to copy it in order by", name)
	}
	return t, t.matchTarget(ctx, dst)
}

// matchTarget finds each column in the target and notes its kind.
func (t *copyTable) matchTarget(ctx context.Context, dst *Store) error {
	rows, err := dst.query(ctx, `SELECT column_name, data_type, is_identity FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = ?`, t.name)
	type col struct{ name, typ, identity string }
	cols, err := collect(rows, err, func(r *sql.Rows) (c col, err error) { return c, r.Scan(&c.name, &c.typ, &c.identity) })
	if err != nil {
		return fmt.Errorf("store: the target's table %s: %w", t.name, err)
	}
	if len(cols) == 0 {
		return fmt.Errorf("store: the target has no table %s (is it at this build's schema version?)", t.name)
	}
	byName := map[string]col{}
	for _, c := range cols {
		byName[c.name] = c
		if c.identity == "YES" {
			t.identity = append(t.identity, c.name)
		}
	}
	for _, n := range t.cols {
		c, ok := byName[n]
		if !ok {
			return fmt.Errorf("store: the target's table %s has no column %s (is it at this build's schema version?)", t.name, n)
		}
		switch c.typ {
		case "text", "character varying":
			t.kinds = append(t.kinds, kindText)
		case "bytea":
			t.kinds = append(t.kinds, kindBytes)
		default:
			t.kinds = append(t.kinds, kindOther)
		}
	}
	return nil
}

func (t copyTable) colList() string { return quoteAll(t.cols, nil) }
func (t copyTable) pkList() string  { return quoteAll(t.cols, t.pk) }

func quoteAll(cols []string, only []int) string {
	var q []string
	if only == nil {
		for _, c := range cols {
			q = append(q, quote(c))
		}
	}
	for _, i := range only {
		q = append(q, quote(cols[i]))
	}
	return strings.Join(q, ", ")
}

// order is the ORDER BY list of the primary key. SQLite compares text by
// its bytes; on PostgreSQL (target true) text is compared so too, rather
// than by the database's language rules, so both ends list rows alike.
func (t copyTable) order(target bool, dir string) string {
	var q []string
	for _, i := range t.pk {
		c := quote(t.cols[i])
		if target && t.kinds[i] == kindText {
			c += ` COLLATE "C"`
		}
		q = append(q, c+dir)
	}
	return strings.Join(q, ", ")
}

// key is the primary key of a row read by scan.
func (t copyTable) key(row []any) []any {
	k := make([]any, len(t.pk))
	for i, c := range t.pk {
		k[i] = row[c]
	}
	return k
}

// insert is the INSERT of n rows. A row already there (a batch sent again)
// is left alone, or, in a seeded table, takes the source's values; a
// clash on any other unique constraint fails the batch.
func (t copyTable) insert(n int, upsert bool) string {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(t.name) + " (" + t.colList() + ") VALUES ")
	row := "(" + marks(len(t.cols)) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (" + t.pkList() + ") DO ")
	var set []string
	for i, c := range t.cols {
		if upsert && !t.inKey(i) {
			set = append(set, quote(c)+" = excluded."+quote(c))
		}
	}
	if len(set) == 0 {
		b.WriteString("NOTHING")
	} else {
		b.WriteString("UPDATE SET " + strings.Join(set, ", "))
	}
	return b.String()
}

func (t copyTable) inKey(col int) bool {
	for _, i := range t.pk {
		if i == col {
			return true
		}
	}
	return false
}

// scan reads one row, each value normalized for its target column.
func (t copyTable) scan(r *sql.Rows) ([]any, error) {
	row := make([]any, len(t.cols))
	ptrs := make([]any, len(row))
	for i := range row {
		ptrs[i] = &row[i]
	}
	if err := r.Scan(ptrs...); err != nil {
		return nil, err
	}
	for i, v := range row {
		n, err := normalize(t.kinds[i], v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.name, t.cols[i], err)
		}
		row[i] = n
	}
	return row, nil
}

// normalize is v as the target column of kind k takes it, and as both ends
// of the check compare it: bytes stay bytes, text stays text, and a number
// in a bytes column (meta, as builds before PostgreSQL wrote it) becomes
// its decimal digits, as the store writes numbers there now.
func normalize(k colKind, v any) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		if k == kindBytes {
			return digits(v), nil
		}
		return v, nil
	case int32:
		return normalize(k, int64(v))
	case int16:
		return normalize(k, int64(v))
	case bool:
		return normalize(k, map[bool]int64{false: 0, true: 1}[v])
	case float64:
		if k == kindBytes {
			return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
		}
		return v, nil
	case string:
		if k == kindBytes {
			return []byte(v), nil
		}
		return v, nil
	case []byte:
		if k == kindText {
			return string(v), nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("a value of type %T the copy does not know", v)
}
