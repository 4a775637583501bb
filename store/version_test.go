package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"omnisocial/vault"
)

// Every write that changes what the account lists show moves the
// workspace's AccountsVersion in its own transaction, and nothing else
// does: pages keep a workspace's rendered list under that number.
func TestAccountsVersionMoves(t *testing.T) {
	ctx := context.Background()
	claim := func(t *testing.T, s *Store) Claim {
		t.Helper()
		cs, err := s.ClaimDue(ctx, t0, "w", 1, time.Minute)
		if err != nil || len(cs) != 1 {
			t.Fatalf("claim: %v (%d claims)", err, len(cs))
		}
		return cs[0]
	}
	tests := []struct {
		name  string
		write func(t *testing.T, s *Store, ws int64, ids []string) error
		moves bool
	}{
		{"connecting an account", func(t *testing.T, s *Store, ws int64, ids []string) error {
			u, err := s.UserByEmail(ctx, "owner@example.com")
			if err != nil {
				return err
			}
			_, err = s.Connect(ctx, Connect{WorkspaceID: ws, UserID: u.ID, Platform: "tiktok", Accounts: []Discovered{{PlatformUserID: "new",
				DisplayName: "New", Tokens: Tokens{Access: vault.NewToken("at-new")}, NextCheckAt: t0}}})
			return err
		}, true},
		{"a claim (lease columns only)", func(t *testing.T, s *Store, ws int64, ids []string) error {
			claim(t, s)
			return nil
		}, false},
		{"a refresh", func(t *testing.T, s *Store, ws int64, ids []string) error {
			return s.RecordSuccess(ctx, claim(t, s), Result{At: t0, Tokens: Tokens{Access: vault.NewToken("at-2")}, NextCheckAt: t0.Add(time.Hour),
				Outcome: OutcomeRefreshed, Event: "refreshed"})
		}, true},
		{"a failed check", func(t *testing.T, s *Store, ws int64, ids []string) error {
			return s.RecordFailure(ctx, claim(t, s), Failure{At: t0, Reason: "Down", NextCheckAt: t0.Add(time.Minute), Outcome: OutcomeTransient})
		}, true},
		{"a lease let go", func(t *testing.T, s *Store, ws int64, ids []string) error {
			return s.ReleaseLease(ctx, claim(t, s), t0.Add(time.Minute), "")
		}, true},
		{"a disconnect", func(t *testing.T, s *Store, ws int64, ids []string) error {
			_, err := s.DeleteAccount(ctx, ws, ids[0], 0, func(p string) []string { return []string{p} })
			return err
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openAt(t, filepath.Join(t.TempDir(), "v.db"))
			ws, ids := seedVersioned(t, s)
			other, _ := seedQueue(t, s, 1, t0.Add(time.Hour)) // not due: only ws's accounts are claimed
			before, otherBefore := versionOf(t, s, ws), versionOf(t, s, other)
			if err := tc.write(t, s, ws, ids); err != nil {
				t.Fatal(err)
			}
			after := versionOf(t, s, ws)
			if moved := after != before; moved != tc.moves {
				t.Errorf("version %d → %d: moved = %v, want %v", before, after, moved, tc.moves)
			}
			if got := versionOf(t, s, other); got != otherBefore {
				t.Errorf("another workspace's version moved: %d → %d", otherBefore, got)
			}
		})
	}
}

// seedVersioned is a workspace owned by owner@example.com with two TikTok
// accounts due at t0.
func seedVersioned(t *testing.T, s *Store) (int64, []string) {
	t.Helper()
	ctx := context.Background()
	u, ws, err := s.SignUp(ctx, User{Email: "owner@example.com", PasswordHash: "h"}, "V", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	var ds []Discovered
	for _, id := range []string{"a", "b"} {
		ds = append(ds, Discovered{PlatformUserID: id, DisplayName: id, NextCheckAt: t0,
			Tokens: Tokens{Access: vault.NewToken("at-" + id), Refresh: vault.NewToken("rt-" + id), Expiry: t0.Add(time.Hour)}})
	}
	if _, err := s.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: ds}); err != nil {
		t.Fatal(err)
	}
	accts, err := s.Accounts(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range accts {
		ids = append(ids, a.ID)
	}
	return ws.ID, ids
}

func versionOf(t *testing.T, s *Store, ws int64) int64 {
	t.Helper()
	m, err := s.WorkspaceMembership(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return m.AccountsVersion
}

// A workspace deleted with its accounts still on it goes, taking its
// versions along (the accounts' delete triggers find no workspace to bump).
func TestWorkspaceDeletedWithItsAccounts(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "v.db"))
	ws, _ := seedVersioned(t, s)
	if versionOf(t, s, ws) == 0 {
		t.Fatal("connecting accounts moved no version")
	}
	exec(t, s, "DELETE FROM workspaces WHERE id = ?", ws)
	var accounts, versions int
	s.rawQueryRow("SELECT count(*) FROM social_accounts").Scan(&accounts)
	s.rawQueryRow("SELECT count(*) FROM account_versions").Scan(&versions)
	if accounts != 0 || versions != 0 {
		t.Fatalf("after the workspace went: %d accounts, %d versions", accounts, versions)
	}
}
