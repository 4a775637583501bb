package main

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"omnisocial/internal/pgtest"
	"omnisocial/store"
)

func TestMigrateUsage(t *testing.T) {
	getenv := env("OMNISOCIAL_DB", filepath.Join(t.TempDir(), "u.db"), "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret)
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--to is required"},
		{[]string{"--to"}, "flag needs an argument"},
		{[]string{"--to", "mysql://root:hunter2@db/app"}, "must be a postgres:// or postgresql:// URL"},
		{[]string{"--to", "postgres://u@h/d", "extra"}, `unexpected "extra"`},
		{[]string{"--from", "x"}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"omnisocial", "migrate"}, tc.args...), getenv, nil, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "usage: omnisocial migrate --to") {
			t.Errorf("%v: %v, want %q and the usage", tc.args, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: the error shows the password: %v", tc.args, err)
		}
	}
}

// The command moves a database a server wrote (through the commands),
// prints a line per table and the verification, never the password; a
// server then runs on the URL with the same key, and a second migrate is
// refused. A wrong key is refused before the target is touched.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	target := withPassword(t, pgtest.Fresh(t))
	db := filepath.Join(t.TempDir(), "m.db")
	getenv := env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret)
	for _, email := range []string{"o@example.com", "m@example.com"} {
		args := []string{"omnisocial", "user", "add", "--email", email, "--workspace", "Acme", "--password-stdin"}
		if err := run(ctx, args, getenv, strings.NewReader("correct horse battery\n"), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
	}
	migrate := []string{"omnisocial", "migrate", "--to", target}

	wrongKey := env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "OMNISOCIAL_SESSION_SECRET", testSecret)
	if err := run(ctx, migrate, wrongKey, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not the key") {
		t.Fatalf("a wrong key: %v", err)
	}
	if tables := countTables(t, target); tables != 0 {
		t.Fatalf("a wrong key left %d tables in the target", tables)
	}

	var out, errw bytes.Buffer
	if err := run(ctx, migrate, getenv, nil, &out, &errw); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errw.String())
	}
	pw, _ := mustURL(t, target).User.Password()
	for _, want := range []string{"users 2/2 rows", "memberships 2/2 rows", "owner_links 0/0 rows"} {
		if !hasLine(errw.String(), want) {
			t.Errorf("no line %q in the progress:\n%s", want, errw.String())
		}
	}
	for _, want := range []string{"Copying " + db + " into", "table source rows target rows sha-256", "users 2 2 * ok", "plans 3 3 * ok", "done. Set * (with its password)"} {
		if !hasLine(out.String(), want) {
			t.Errorf("no line %q in\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String()+errw.String(), pw) {
		t.Errorf("the password is printed:\n%s%s", out.String(), errw.String())
	}

	// A server's commands run on the copy with the same key.
	onPG := env("OMNISOCIAL_DB", target, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret)
	args := []string{"omnisocial", "user", "add", "--email", "new@example.com", "--workspace", "Acme", "--password-stdin"}
	if err := run(ctx, args, onPG, strings.NewReader("correct horse battery\n"), &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatalf("adding a user on the copy: %v", err)
	}
	if err := run(ctx, migrate, getenv, nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("migrating into a used database: %v", err)
	}
}

// hasLine reports whether a line of out has the words of want (a *
// stands for any one word) and maybe more after them.
func hasLine(out, want string) bool {
	for line := range strings.Lines(out) {
		got, words := strings.Fields(line), strings.Fields(want)
		if len(got) < len(words) {
			continue
		}
		match := true
		for i, w := range words {
			match = match && (w == "*" || w == got[i])
		}
		if match {
			return true
		}
	}
	return false
}

// withPassword gives the test server's URL a password when it has none
// (the test server trusts its socket), so the test can look for it.
func withPassword(t *testing.T, dsn string) string {
	u := mustURL(t, dsn)
	if _, ok := u.User.Password(); !ok {
		u.User = url.UserPassword(u.User.Username(), "pw-never-printed")
	}
	return u.String()
}

func mustURL(t *testing.T, dsn string) *url.URL {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		t.Fatalf("the test server's URL: %v", err)
	}
	return u
}

func countTables(t *testing.T, dsn string) int {
	var n int
	q := "SELECT count(*) FROM information_schema.tables WHERE table_schema = '" + mustURL(t, dsn).Query().Get("search_path") + "'"
	if err := pgtest.Admin(t).QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Off a terminal the progress is plain lines: one per table, and one per
// tenth of a big table.
func TestCopyProgressLines(t *testing.T) {
	tests := []struct {
		name   string
		total  int64
		step   int64
		lines  int
		suffix string
	}{
		{"small", 2500, 1000, 1, "plans                2500/2500 rows\n"},
		{"big", 20_000, 1000, 10, "plans                20000/20000 rows\n"},
		{"resumed big", 20_000, 15_000, 2, "plans                20000/20000 rows\n"},
		{"empty", 0, 1, 1, "plans                0/0 rows\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newCopyProgress(&out)
			for done := int64(0); done < tc.total; done = min(done+tc.step, tc.total) {
				p.update(store.Progress{Table: "plans", Done: done, Total: tc.total})
			}
			p.update(store.Progress{Table: "plans", Done: tc.total, Total: tc.total, Finished: true})
			if n := strings.Count(out.String(), "\n"); n != tc.lines || !strings.HasSuffix(out.String(), tc.suffix) {
				t.Fatalf("%d lines, want %d ending %q:\n%s", n, tc.lines, tc.suffix, out.String())
			}
			if strings.Contains(out.String(), "\r") {
				t.Fatal("a carriage return off a terminal")
			}
		})
	}
}
