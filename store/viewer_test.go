package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
)

// TestUserWithMemberships checks the one-query read every logged-in
// request makes against the two reads it replaced, through the changes
// that must show on the very next request.
func TestUserWithMemberships(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	dana, acme, err := s.SignUp(ctx, User{Email: "dana@example.com", Name: "Dana", PasswordHash: "h"}, "Acme", "free", false)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := s.SignUp(ctx, User{Email: "olga@example.com", PasswordHash: "h"}, "Other", "free", false)
	loner, _, _ := s.SignUp(ctx, User{Email: "lone@example.com", PasswordHash: "h"}, "Lone", "free", false)
	tests := []struct {
		name    string
		change  func() error
		user    int64
		wantWS  []int64
		missing bool
	}{
		{"one workspace", nil, dana.ID, []int64{acme.ID}, false},
		{"added to a second", func() error {
			_, err := s.AddUser(ctx, User{Email: "dana@example.com"}, other.ID, RoleAdmin)
			return err
		},
			dana.ID, []int64{acme.ID, other.ID}, false},
		{"chose it (last used)", func() error { return s.UseWorkspace(ctx, dana.ID, other.ID) }, dana.ID, []int64{acme.ID, other.ID}, false},
		{"plan changed", func() error { return s.SetPlan(ctx, other.ID, "business") }, dana.ID, []int64{acme.ID, other.ID}, false},
		{"removed from it", func() error { return s.RemoveMember(ctx, other.ID, dana.ID, nil) }, dana.ID, []int64{acme.ID}, false},
		{"workspace deleted", func() error { _, err := s.rawExec("DELETE FROM workspaces WHERE id = ?", acme.ID); return err },
			dana.ID, nil, false},
		{"user deleted", func() error { _, err := s.rawExec("DELETE FROM users WHERE id = ?", loner.ID); return err },
			loner.ID, nil, true},
		{"no such user", nil, 999, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				if err := tc.change(); err != nil {
					t.Fatal(err)
				}
			}
			u, ms, err := s.UserWithMemberships(ctx, tc.user)
			if tc.missing {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantU, err := s.User(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			wantMs, err := s.Memberships(ctx, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if u != wantU {
				t.Errorf("user %+v, want %+v", u, wantU)
			}
			if !reflect.DeepEqual(ms, wantMs) {
				t.Errorf("memberships %+v, want %+v", ms, wantMs)
			}
			var ids []int64
			for _, m := range ms {
				ids = append(ids, m.ID)
			}
			if !reflect.DeepEqual(ids, tc.wantWS) {
				t.Errorf("workspaces %v, want %v", ids, tc.wantWS)
			}
		})
	}
}
