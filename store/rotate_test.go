package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"omnisocial/vault"
)

// seedAccounts connects n accounts with known tokens under the store's key.
func seedAccounts(t *testing.T, s *Store, n int) map[string]Tokens {
	t.Helper()
	ctx := context.Background()
	u, ws, err := s.SignUp(ctx, User{Email: fmt.Sprintf("o%d@example.com", time.Now().UnixNano()), PasswordHash: "h"}, "W", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	var found []Discovered
	for i := range n {
		found = append(found, Discovered{PlatformUserID: fmt.Sprint(1000 + i), DisplayName: fmt.Sprint("Account ", i),
			Tokens: Tokens{Access: vault.NewToken(fmt.Sprint("act.secret-", i)), Refresh: vault.NewToken(fmt.Sprint("rft.secret-", i))}})
	}
	if _, err := s.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: found}); err != nil {
		t.Fatal(err)
	}
	accts, _ := s.Accounts(ctx, ws.ID)
	out := map[string]Tokens{}
	for _, a := range accts {
		tok, err := s.Tokens(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[a.ID] = tok
	}
	return out
}

func TestRotateKey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	oldKey, newKey := testKey, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
	before := seedAccounts(t, openAt(t, path), 7)

	kOld, _ := vault.ParseKey(oldKey)
	kNew, _ := vault.ParseKey(newKey)
	both, _ := vault.NewBox(kNew, kOld)
	s, err := Open(ctx, testOptions(t, path, both))
	if err != nil {
		t.Fatalf("opening with the new key primary and the old one kept: %v", err)
	}
	if n, _ := s.RotationRemaining(ctx); n != 7 {
		t.Fatalf("%d accounts to rotate, want 7", n)
	}
	// Interrupted after one small batch, then resumed.
	if n, err := s.RotateBatch(ctx, 3); err != nil || n != 3 {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	for {
		n, err := s.RotateBatch(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := s.RotateRest(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.RotationRemaining(ctx); n != 0 {
		t.Fatalf("%d accounts left under the old key", n)
	}
	s.Close()

	onlyNew, _ := vault.NewBox(kNew)
	s, err = Open(ctx, testOptions(t, path, onlyNew))
	if err != nil {
		t.Fatalf("opening with only the new key after rotation: %v", err)
	}
	defer s.Close()
	for id, want := range before {
		got, err := s.Tokens(ctx, id)
		if err != nil || !got.Access.Equal(want.Access) || !got.Refresh.Equal(want.Refresh) {
			t.Fatalf("account %s after rotation: %v", id, err)
		}
	}
	onlyOld, _ := vault.NewBox(kOld)
	if _, err := Open(ctx, testOptions(t, path, onlyOld)); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("the old key alone still opens the database: %v", err)
	}
}

// A refresh that writes new tokens after rotation has read a row, but
// before it writes the row back, must win: the write-back is a
// compare-and-swap on the ciphertext rotation read.
func TestRotateLosesToAConcurrentWrite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "r.db")
	seedAccounts(t, openAt(t, path), 3)
	kOld, _ := vault.ParseKey(testKey)
	kNew, _ := vault.ParseKey("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")
	both, _ := vault.NewBox(kNew, kOld)
	s, err := Open(ctx, testOptions(t, path, both))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var id, puid string
	var ws, uid int64
	s.rawQueryRow("SELECT id, workspace_id, user_id, platform_user_id FROM social_accounts ORDER BY id LIMIT 1").Scan(&id, &ws, &uid, &puid)
	fresh := Tokens{Access: vault.NewToken("act.fresh"), Refresh: vault.NewToken("rft.fresh")}
	rotateReadHook = func() {
		rotateReadHook = nil
		if _, err := s.Connect(ctx, Connect{WorkspaceID: ws, UserID: uid, Platform: "tiktok", OnlyExisting: true,
			Accounts: []Discovered{{PlatformUserID: puid, DisplayName: "x", Tokens: fresh}}}); err != nil {
			t.Error(err)
		}
	}
	defer func() { rotateReadHook = nil }()
	n, err := s.RotateBatch(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("rotated %d rows, want 2 (the one rewritten meanwhile is skipped)", n)
	}
	got, _ := s.Tokens(ctx, id)
	if !got.Access.Equal(fresh.Access) || !got.Refresh.Equal(fresh.Refresh) {
		t.Fatal("rotation wrote back tokens older than a concurrent write")
	}
	if left, _ := s.RotationRemaining(ctx); left != 0 {
		t.Fatalf("%d rows left under the old key", left)
	}
}
