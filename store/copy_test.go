package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnisocial/internal/pgtest"
	"omnisocial/vault"
)

// copySource is a SQLite store with a bit of everything: accounts with
// tokens (and their history), a second member, an invitation, an API key,
// a session, a webhook with deliveries owed, an owner link, an alert, and
// a number in meta as builds before PostgreSQL wrote it.
func copySource(t *testing.T, accounts int) (*Store, map[string]Tokens) {
	t.Helper()
	ctx := context.Background()
	s := openSQLite(t, filepath.Join(t.TempDir(), "src.db"))
	if err := s.SetPlanLimit(ctx, "business", accounts+10); err != nil {
		t.Fatal(err)
	}
	tokens := seedAccounts(t, s, accounts)
	u, ws, err := s.SignUp(ctx, User{Email: "owner@example.com", PasswordHash: "h"}, "Second", "pro", false)
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error {
			_, err := s.AddUser(ctx, User{Email: "member@example.com", Name: "Mémber", PasswordHash: "h2"}, ws.ID, RoleMember)
			return err
		},
		func() error {
			_, _, err := s.CreateInvitation(ctx, ws.ID, u.ID, "new@example.com", RoleAdmin)
			return err
		},
		func() error { _, err := s.CreateAPIKey(ctx, ws.ID, u.ID, "ci", true); return err },
		func() error {
			return s.SaveSession(ctx, Session{IDHash: []byte{0, 1, 2, 0xff}, UserID: u.ID, Data: []byte("{\"a\":1}\x00")})
		},
		func() error {
			_, err := s.CreateWebhook(ctx, ws.ID, u.ID, "https://hooks.example.com/in", WebhookEvents, vault.NewToken("whsec-secret"))
			return err
		},
		func() error {
			_, err := s.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Subject: "s1",
				Accounts: []Discovered{{PlatformUserID: "p1", DisplayName: "Hooked", Tokens: Tokens{Access: vault.NewToken("act.hooked")}}}})
			return err
		},
		func() error {
			_, _, err := s.CreateOwnerLink(ctx, OwnerLink{WorkspaceID: ws.ID, CreatedBy: u.ID, Platform: "tiktok", Purpose: "connect"})
			return err
		},
		func() error { return s.SetAlert(ctx, "meta_app", "Meta refused the app's secret") },
		func() error { return s.MarkRefreshRun(ctx, time.Unix(1_700_000_000, 0)) },
		func() error {
			_, err := s.rawExec("INSERT INTO meta (key, value) VALUES ('old_number', 1234567)")
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("seeding step %d: %v", i, err)
		}
	}
	return s, tokens
}

// copyTarget is an empty PostgreSQL database opened as migrate opens it:
// without a key.
func copyTarget(t *testing.T) (*Store, string) {
	t.Helper()
	url := pgtest.Fresh(t)
	return mustOpen(t, Options{Path: url, Schema: readSchema(t), SchemaPostgres: readSchemaPostgres(t)}), url
}

func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	dst, url := copyTarget(t)
	src, tokens := copySource(t, 7)
	var finished []string
	err := CopyTo(ctx, src, dst, func(p Progress) {
		if p.Finished {
			finished = append(finished, fmt.Sprintf("%s %d/%d", p.Table, p.Done, p.Total))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	checks, err := FinishCopy(ctx, src, dst)
	if err != nil {
		t.Fatalf("%v\n%v", err, checks)
	}
	if len(checks) != len(finished) || len(checks) < 20 {
		t.Fatalf("%d tables checked, %d copied: %v", len(checks), len(finished), finished)
	}
	for _, want := range []string{"users 3/3", "social_accounts 8/8", "webhook_deliveries", "owner_links 1/1", "sessions 1/1", "plans 3/3"} {
		if !strings.Contains(strings.Join(finished, ","), want) {
			t.Errorf("no %q among the tables copied: %v", want, finished)
		}
	}
	for _, c := range checks {
		if c.SourceRows == 0 && c.Table != "oauth_flows" && c.Table != "pending_grants" && c.Table != "revocations" &&
			c.Table != "deletion_requests" && c.Table != "webhook_attempts" && c.Table != "mail_outbox" {
			t.Errorf("%s: the source has no rows, so the test proves nothing for it", c.Table)
		}
	}
	var marks int
	dst.rawQueryRow("SELECT count(*) FROM meta WHERE key = 'migrating_from'").Scan(&marks)
	if marks != 0 {
		t.Fatal("the marker outlived a verified copy")
	}
	dst.Close()

	// The target is now a store like any other, under the same key.
	moved := mustOpen(t, Options{Path: url, SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)})
	for id, want := range tokens {
		got, err := moved.Tokens(ctx, id)
		if err != nil || got.Access.Reveal() != want.Access.Reveal() || got.Refresh.Reveal() != want.Refresh.Reveal() {
			t.Fatalf("account %s's tokens after the move: %v", id, err)
		}
	}
	if at, err := moved.LastRefreshRun(ctx); err != nil || at.Unix() != 1_700_000_000 {
		t.Fatalf("last refresh run after the move: %v, %v", at, err)
	}
	var old []byte
	moved.rawQueryRow("SELECT value FROM meta WHERE key = 'old_number'").Scan(&old)
	if string(old) != "1234567" {
		t.Fatalf("an old number in meta became %q, want its digits", old)
	}
	// The sequences moved past the copied ids.
	ws, err := moved.WorkspaceByName(ctx, "Second")
	if err != nil {
		t.Fatal(err)
	}
	u, err := moved.AddUser(ctx, User{Email: "after@example.com", PasswordHash: "h"}, ws.ID, RoleMember)
	if err != nil || u.ID != 4 {
		t.Fatalf("a user added after the move: id %d, %v", u.ID, err)
	}
	if _, _, err := moved.CreateInvitation(ctx, ws.ID, u.ID, "later@example.com", RoleMember); err != nil {
		t.Fatalf("an invitation after the move: %v", err)
	}
}

// A copy stopped after some batches (a kill, a lost connection) and run
// again ends with the same rows, none twice.
func TestCopyResumes(t *testing.T) {
	old := copyBatch
	copyBatch = 3
	t.Cleanup(func() { copyBatch = old })
	for _, stopAfter := range []int{1, 4, 9, 20} {
		t.Run(fmt.Sprint(stopAfter), func(t *testing.T) {
			ctx := context.Background()
			dst, _ := copyTarget(t)
			src, _ := copySource(t, 20)
			cctx, cancel := context.WithCancel(ctx)
			batches := 0
			err := CopyTo(cctx, src, dst, func(p Progress) {
				if p.Done > 0 && !p.Finished {
					if batches++; batches == stopAfter {
						cancel()
					}
				}
			})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("the stopped copy: %v", err)
			}
			if _, err := FinishCopy(ctx, src, dst); !errors.Is(err, ErrMismatch) {
				t.Fatalf("a half copy passed verification: %v", err)
			}
			// Each table's first report says where it resumed.
			resumed, seen := int64(0), map[string]bool{}
			if err := CopyTo(ctx, src, dst, func(p Progress) {
				if !seen[p.Table] && !seededTables[p.Table] {
					resumed += p.Done
				}
				seen[p.Table] = true
			}); err != nil {
				t.Fatalf("the second run: %v", err)
			}
			if resumed == 0 && stopAfter > 2 {
				t.Error("the second run started every table from its start")
			}
			if checks, err := FinishCopy(ctx, src, dst); err != nil {
				t.Fatalf("%v\n%v", err, checks)
			}
		})
	}
}

func TestCopyRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		prepare func(t *testing.T, dst *Store, url string)
		want    string
	}{
		{"a target with data", func(t *testing.T, dst *Store, url string) {
			if _, _, err := dst.SignUp(ctx, User{Email: "x@example.com", PasswordHash: "h"}, "X", "free", false); err != nil {
				t.Fatal(err)
			}
		}, "table users has rows"},
		{"a target a server started on", func(t *testing.T, dst *Store, url string) {
			mustOpen(t, Options{Path: url, SchemaPostgres: readSchemaPostgres(t), Box: testBox(t, testKey)}).Close()
		}, "table meta has rows"},
		{"a target filling from another source", func(t *testing.T, dst *Store, url string) {
			other, _ := copySource(t, 1)
			cctx, cancel := context.WithCancel(ctx)
			defer cancel()
			CopyTo(cctx, other, dst, func(p Progress) {
				if p.Table == "users" {
					cancel()
				}
			})
		}, "being filled from another source"},
		{"a target without a table", func(t *testing.T, dst *Store, url string) {
			if _, err := dst.rawExec("DROP TABLE owner_links"); err != nil {
				t.Fatal(err)
			}
		}, "no table owner_links"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst, url := copyTarget(t)
			tc.prepare(t, dst, url)
			before := snapshot(t, dst)
			src, _ := copySource(t, 2)
			err := CopyTo(ctx, src, dst, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if after := snapshot(t, dst); after != before {
				t.Fatalf("the refused target changed:\n%s\n%s", before, after)
			}
		})
	}
}

// snapshot is every row count of a PostgreSQL store and its meta.
func snapshot(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	rows, err := s.rawQuery("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		var c int
		s.rawQueryRow("SELECT count(*) FROM " + quote(n)).Scan(&c)
		fmt.Fprintf(&b, "%s=%d ", n, c)
	}
	var meta string
	s.rawQueryRow("SELECT coalesce(string_agg(key || ':' || encode(value, 'hex'), ',' ORDER BY key), '') FROM meta").Scan(&meta)
	return b.String() + meta
}

// The check finds a changed value, a missing row and an extra one, and
// the marker stays until it passes.
func TestVerifyFindsDifferences(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, change, table string
	}{
		{"a token", "UPDATE social_accounts SET access_token = '\\x00'::bytea WHERE id = (SELECT min(id) FROM social_accounts)", "social_accounts"},
		{"a number", "UPDATE users SET mail_alerts = 0 WHERE id = 1", "users"},
		{"a missing row", "DELETE FROM sessions", "sessions"},
		{"an extra row", "INSERT INTO system_alerts (key, message, created_at) VALUES ('x', 'y', 1)", "system_alerts"},
		{"a number in meta", "UPDATE meta SET value = '1234568'::bytea WHERE key = 'old_number'", "meta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst, _ := copyTarget(t)
			src, _ := copySource(t, 3)
			if err := CopyTo(ctx, src, dst, nil); err != nil {
				t.Fatal(err)
			}
			if checks, err := Verify(ctx, src, dst); err != nil {
				t.Fatalf("%v\n%v", err, checks)
			}
			if _, err := dst.rawExec(tc.change); err != nil {
				t.Fatal(err)
			}
			checks, err := FinishCopy(ctx, src, dst)
			if !errors.Is(err, ErrMismatch) || !strings.HasSuffix(err.Error(), " in "+tc.table) {
				t.Fatalf("got %v, want a mismatch in %s", err, tc.table)
			}
			for _, c := range checks {
				if c.OK() == (c.Table == tc.table) {
					t.Errorf("%s: OK() = %v", c.Table, c.OK())
				}
			}
			var marks int
			dst.rawQueryRow("SELECT count(*) FROM meta WHERE key = 'migrating_from'").Scan(&marks)
			if marks != 1 {
				t.Fatal("the marker went with a failed check")
			}
		})
	}
}

// BenchmarkCopyTo moves a database of 10,000 accounts (with their
// history) and checks it, reporting rows per second:
//
//	go test ./store/ -run '^$' -bench CopyTo -benchtime 3x
func BenchmarkCopyTo(b *testing.B) {
	pgtest.Need(b)
	ctx := context.Background()
	src := openSQLite(b, filepath.Join(b.TempDir(), "big.db"))
	if err := src.SetPlanLimit(ctx, "business", 10_000); err != nil {
		b.Fatal(err)
	}
	u, ws, err := src.SignUp(ctx, User{Email: "big@example.com", PasswordHash: "h"}, "Big", "business", false)
	if err != nil {
		b.Fatal(err)
	}
	for chunk := range 10 {
		var found []Discovered
		for i := range 1000 {
			n := chunk*1000 + i
			found = append(found, Discovered{PlatformUserID: fmt.Sprint(n), DisplayName: fmt.Sprint("Account ", n),
				Tokens: Tokens{Access: vault.NewToken(fmt.Sprint("act.", n)), Refresh: vault.NewToken(fmt.Sprint("rft.", n))}})
		}
		if _, err := src.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: found}); err != nil {
			b.Fatal(err)
		}
	}
	var rows int64
	var copying, checking time.Duration
	for range b.N {
		b.StopTimer()
		dst := mustOpen(b, Options{Path: pgtest.Fresh(b), SchemaPostgres: readSchemaPostgres(b)})
		b.StartTimer()
		start := time.Now()
		if err := CopyTo(ctx, src, dst, nil); err != nil {
			b.Fatal(err)
		}
		copying += time.Since(start)
		start = time.Now()
		checks, err := FinishCopy(ctx, src, dst)
		if err != nil {
			b.Fatal(err)
		}
		checking += time.Since(start)
		rows = 0
		for _, c := range checks {
			rows += c.SourceRows
		}
	}
	b.ReportMetric(float64(rows), "rows")
	b.ReportMetric(float64(rows)*float64(b.N)/copying.Seconds(), "rows/s-copy")
	b.ReportMetric(copying.Seconds()/float64(b.N), "s-copy")
	b.ReportMetric(checking.Seconds()/float64(b.N), "s-verify")
}
