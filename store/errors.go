package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || pgCode(err) == "23505"
}

func isForeignKey(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || pgCode(err) == "23503"
}

// IsUnwritable reports whether err means the database cannot take writes
// (disk full, I/O error, read-only; on PostgreSQL also a server that
// cannot be reached): refreshing must stop, since each refresh could burn
// a rotating token that could not be stored.
func IsUnwritable(err error) bool {
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	switch c := pgCode(err); {
	case c == "25006", strings.HasPrefix(c, "53"), strings.HasPrefix(c, "58"), strings.HasPrefix(c, "08"):
		// read-only transaction, insufficient resources (disk full), system I/O error, connection lost
		return true
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce)
}
