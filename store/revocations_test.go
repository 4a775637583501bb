package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"omnisocial/vault"
)

func tiktokOnly(string) []string { return []string{"tiktok"} }

// A revocation owed survives key rotation: it is resealed with the rest,
// and opens under the new key alone. Its plaintext is never in the file.
func TestRevocationsOutliveKeyRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rv.db")
	s := openAt(t, path)
	tokens := seedAccounts(t, s, 2)
	var id string
	var want Tokens
	for id, want = range tokens {
		break
	}
	a, err := s.DeleteAccount(ctx, 0, id, 0, tiktokOnly)
	if err == nil || a.ID != "" {
		t.Fatalf("another workspace's account was deleted: %v", err)
	}
	ws := func() int64 {
		var ws int64
		s.rawQueryRow("SELECT workspace_id FROM social_accounts WHERE id = ?", id).Scan(&ws)
		return ws
	}()
	if _, err := s.DeleteAccount(ctx, ws, id, 0, tiktokOnly); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(want.Access.Reveal())) || bytes.Contains(raw, []byte(want.Refresh.Reveal())) {
		t.Fatal("a token owed a revocation is in the file in plaintext")
	}

	kOld, _ := vault.ParseKey(testKey)
	kNew, _ := vault.ParseKey("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")
	both, _ := vault.NewBox(kNew, kOld)
	s, err = Open(ctx, testOptions(t, path, both))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n > 0; {
		if n, err = s.RotateBatch(ctx, 10); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RotateRest(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	newOnly, _ := vault.NewBox(kNew)
	s, err = Open(ctx, testOptions(t, path, newOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	due, err := s.DueRevocations(ctx, 10)
	if err != nil || len(due) != 1 || due[0].Err != nil {
		t.Fatalf("owed after rotation: %+v, %v", due, err)
	}
	if got := due[0].Tokens; !got.Access.Equal(want.Access) || !got.Refresh.Equal(want.Refresh) {
		t.Fatal("the resealed revocation holds other tokens")
	}
}

// A ciphertext copied from one revocation to another does not open: each
// is bound to its own row.
func TestRevocationCiphertextBoundToItsRow(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	tokens := seedAccounts(t, s, 2)
	var ws int64
	for id := range tokens {
		s.rawQueryRow("SELECT workspace_id FROM social_accounts WHERE id = ?", id).Scan(&ws)
		if _, err := s.DeleteAccount(ctx, ws, id, 0, tiktokOnly); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, s, "UPDATE revocations SET sealed = (SELECT sealed FROM revocations ORDER BY id LIMIT 1)")
	due, err := s.DueRevocations(ctx, 10)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %d, %v", len(due), err)
	}
	opened := 0
	for _, r := range due {
		if r.Err == nil {
			opened++
		}
	}
	if opened != 1 {
		t.Fatalf("%d revocations opened after the copy, want only the original", opened)
	}
}
