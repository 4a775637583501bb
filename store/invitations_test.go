package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestInvitations(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	s, err := Open(ctx, withNow(testOptions(t, t.TempDir()+"/i.db", testBox(t, testKey)), func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	owner, ws, _ := s.SignUp(ctx, User{Email: "owner@example.com", Name: "Olga", PasswordHash: "h"}, "Acme", "free", false)
	sam, _, _ := s.SignUp(ctx, User{Email: "sam@example.com", PasswordHash: "h"}, "Sam's", "free", false)

	// An existing user: accepted only by them, once.
	inv, tok, err := s.CreateInvitation(ctx, ws.ID, owner.ID, "SAM@example.com", RoleAdmin)
	if err != nil || tok.IsZero() {
		t.Fatal(err)
	}
	if got, err := s.InvitationsFor(ctx, "sam@example.com"); err != nil || len(got) != 1 || got[0].InvitedBy != "Olga" || got[0].WorkspaceName != "Acme" {
		t.Fatalf("pending for sam: %+v %v", got, err)
	}
	if _, err := s.AcceptInvitation(ctx, owner.ID, inv.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("accepted by someone else: %v", err)
	}
	if _, err := s.AcceptInvitation(ctx, sam.ID, inv.ID); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Membership(ctx, sam.ID, ws.ID); err != nil || m.Role != RoleAdmin || m.LastUsedAt.IsZero() {
		t.Fatalf("membership after accepting: %+v %v", m, err)
	}
	if _, err := s.AcceptInvitation(ctx, sam.ID, inv.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("accepted twice: %v", err)
	}
	if _, _, err := s.CreateInvitation(ctx, ws.ID, owner.ID, "sam@example.com", RoleMember); !errors.Is(err, ErrAlreadyMember) {
		t.Fatalf("inviting a member: %v", err)
	}

	// A new e-mail: the link creates the account; inviting again replaces the link.
	_, old, _ := s.CreateInvitation(ctx, ws.ID, owner.ID, "new@example.com", RoleMember)
	_, tok, _ = s.CreateInvitation(ctx, ws.ID, owner.ID, "new@example.com", RoleMember)
	if _, _, err := s.AcceptInvitationAsNewUser(ctx, old.Reveal(), User{Name: "N", PasswordHash: "h"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a replaced link: %v", err)
	}
	u, got, err := s.AcceptInvitationAsNewUser(ctx, tok.Reveal(), User{Name: "N", PasswordHash: "h"})
	if err != nil || u.Email != "new@example.com" || got.ID != ws.ID {
		t.Fatalf("new user: %+v %+v %v", u, got, err)
	}
	// A link for an e-mail with an account cannot set its password.
	_, tok, _ = s.CreateInvitation(ctx, sam2(t, s, ctx), owner.ID, "owner@example.com", RoleMember)
	if _, _, err := s.AcceptInvitationAsNewUser(ctx, tok.Reveal(), User{Name: "Eve", PasswordHash: "evil"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("link for an existing account: %v", err)
	}
	if o, _ := s.User(ctx, owner.ID); o.PasswordHash != "h" || o.Name != "Olga" {
		t.Fatal("the link changed an existing account")
	}

	// Expiry.
	_, tok, _ = s.CreateInvitation(ctx, ws.ID, owner.ID, "late@example.com", RoleMember)
	now = now.Add(InvitationTTL + time.Second)
	if _, err := s.InvitationByToken(ctx, tok.Reveal()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired link: %v", err)
	}
}

// sam2 makes a second workspace owned by someone else, for a cross-check.
func sam2(t *testing.T, s *Store, ctx context.Context) int64 {
	u, ws, err := s.SignUp(ctx, User{Email: "third@example.com", PasswordHash: "h"}, "Third", "free", false)
	if err != nil || u.ID == 0 {
		t.Fatal(err)
	}
	return ws.ID
}

func TestLastOwnerIsKept(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	owner, ws, _ := s.SignUp(ctx, User{Email: "o@example.com", PasswordHash: "h"}, "Acme", "free", false)
	m, _ := s.AddUser(ctx, User{Email: "m@example.com", PasswordHash: "h"}, ws.ID, RoleMember)
	tests := []struct {
		name string
		do   func() error
		want error
	}{
		{"demote the last owner", func() error { return s.SetRole(ctx, ws.ID, owner.ID, RoleAdmin, nil) }, ErrLastOwner},
		{"remove the last owner", func() error { return s.RemoveMember(ctx, ws.ID, owner.ID, nil) }, ErrLastOwner},
		{"promote a member", func() error { return s.SetRole(ctx, ws.ID, m.ID, RoleOwner, nil) }, nil},
		{"now the first owner may step down", func() error { return s.SetRole(ctx, ws.ID, owner.ID, RoleMember, nil) }, nil},
		{"the new last owner stays", func() error { return s.RemoveMember(ctx, ws.ID, m.ID, nil) }, ErrLastOwner},
		{"bad role", func() error { return s.SetRole(ctx, ws.ID, m.ID, "king", nil) }, nil},
		{"a stranger", func() error { return s.RemoveMember(ctx, ws.ID, 999, nil) }, ErrNotFound},
		{"the member leaves", func() error { return s.RemoveMember(ctx, ws.ID, owner.ID, nil) }, nil},
	}
	for _, tc := range tests {
		err := tc.do()
		if tc.name == "bad role" {
			if err == nil {
				t.Fatal("an unknown role was stored")
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if ms, _ := s.Members(ctx, ws.ID); len(ms) != 1 || ms[0].Role != RoleOwner {
		t.Fatalf("members at the end: %+v", ms)
	}
}
