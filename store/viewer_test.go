package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"omnisocial/providers"
	"omnisocial/vault"
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

// TestAccountList checks the accounts page's narrow read against the full
// one: every field the list and its banner read is the same, the rest is
// left zero, the order is the list's, and other workspaces stay out.
func TestAccountList(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	u, ws, err := s.SignUp(ctx, User{Email: "dana@example.com", PasswordHash: "h"}, "Acme", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := s.SignUp(ctx, User{Email: "olga@example.com", PasswordHash: "h"}, "Other", "business", false)
	exp := t0.Add(2 * time.Hour)
	tests := []struct {
		name     string
		ws       int64
		platform string
		login    string
		d        Discovered
	}{
		{"a Page with a category and Meta's ends", ws.ID, "facebook", "", Discovered{PlatformUserID: "p1", DisplayName: "Beta Café",
			Metadata: map[string]any{"category": "Coffee Shop", "followers_count": 1200, "tasks": []any{"MANAGE"},
				providers.MetaUserTokenExpiry: "2027-01-02T03:04:05Z", providers.MetaDataAccessUntil: "2027-03-01T00:00:00Z"},
			Scopes: []string{"pages_show_list"}, Tokens: Tokens{Access: vault.NewToken("a1"), Expiry: exp}}},
		{"a category that is not a string", ws.ID, "facebook", "", Discovered{PlatformUserID: "p2", DisplayName: "alpha",
			Metadata: map[string]any{"category": 7.0, providers.MetaUserTokenExpiry: nil}, Tokens: Tokens{Access: vault.NewToken("a2")}}},
		{"Instagram through Facebook Login", ws.ID, "instagram", "facebook", Discovered{PlatformUserID: "i1", Username: "brand",
			DisplayName: "Brand", Metadata: map[string]any{"followers_count": 5}, Tokens: Tokens{Access: vault.NewToken("a3")}}},
		{"TikTok, no metadata", ws.ID, "tiktok", "", Discovered{PlatformUserID: "t1", DisplayName: "Tok", AvatarURL: "https://cdn.example/a.png",
			Tokens: Tokens{Access: vault.NewToken("a4"), Refresh: vault.NewToken("r4"), Expiry: exp, RefreshExpiry: exp.Add(time.Hour)}}},
		{"another workspace's", other.ID, "tiktok", "", Discovered{PlatformUserID: "t2", DisplayName: "Not ours", Tokens: Tokens{Access: vault.NewToken("a5")}}},
	}
	for _, tc := range tests {
		c := Connect{WorkspaceID: tc.ws, UserID: u.ID, Platform: tc.platform, Login: tc.login, Subject: "s-" + tc.d.PlatformUserID,
			SubjectName: "Dana", Accounts: []Discovered{tc.d}}
		if _, err := s.Connect(ctx, c); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
	}
	// A stored problem, so status and last error are not all defaults.
	exec(t, s, "UPDATE social_accounts SET status = 'needs_reauth', last_error = 'Token revoked', last_synced_at = ? WHERE platform_user_id = 'i1'", t0.Unix())

	full, err := s.Accounts(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.AccountList(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(full) || len(full) != 4 {
		t.Fatalf("%d listed, %d in full, want 4", len(list), len(full))
	}
	for i, f := range full {
		l := list[i]
		t.Run(f.DisplayName, func(t *testing.T) {
			// What the list does not read is left zero; the rest must match.
			want := f
			want.UserID, want.ConnectedBy, want.PlatformUserID = 0, "", ""
			want.NextCheckAt, want.ConnectedAt, want.LastOutcome, want.Failures = time.Time{}, time.Time{}, "", 0
			want.Metadata = nil
			got := l
			got.Metadata = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("listed\n%+v\nwant\n%+v", got, want)
			}
			for _, k := range []string{"category", providers.MetaUserTokenExpiry, providers.MetaDataAccessUntil} {
				fv, fok := f.Metadata[k]
				lv, lok := l.Metadata[k]
				if fok != lok && fv != nil || !reflect.DeepEqual(fv, lv) {
					t.Errorf("metadata %s: listed %v (%v), full %v (%v)", k, lv, lok, fv, fok)
				}
			}
			if _, ok := l.Metadata["followers_count"]; ok {
				t.Error("the list decoded metadata it does not show")
			}
			if l.RenewalDeadline() != f.RenewalDeadline() {
				t.Errorf("renewal deadline %v, want %v", l.RenewalDeadline(), f.RenewalDeadline())
			}
		})
	}
}

// TestSessionWithUser checks the one query a logged-in request makes
// against the reads it replaced (the session row, then
// UserWithMemberships), through the changes that must show on the very
// next request.
func TestSessionWithUser(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	dana, acme, err := s.SignUp(ctx, User{Email: "dana@example.com", Name: "Dana", PasswordHash: "h"}, "Acme", "free", false)
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := s.SignUp(ctx, User{Email: "olga@example.com", PasswordHash: "h"}, "Other", "free", false)
	loner, _, _ := s.SignUp(ctx, User{Email: "lone@example.com", PasswordHash: "h"}, "Lone", "free", false)
	sessions := map[string]Session{
		"dana":      {IDHash: []byte("dana-session-hash"), UserID: dana.ID, Data: []byte("dana's data")},
		"anonymous": {IDHash: []byte("anon-session-hash"), Data: []byte{0, 1, 2}},
		"loner":     {IDHash: []byte("lone-session-hash"), UserID: loner.ID, Data: []byte("x")},
	}
	for _, se := range sessions {
		if err := s.SaveSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		change  func() error
		session string
		wantWS  []int64
		missing bool
	}{
		{"one workspace", nil, "dana", []int64{acme.ID}, false},
		{"before log-in", nil, "anonymous", nil, false},
		{"added to a second", func() error {
			_, err := s.AddUser(ctx, User{Email: "dana@example.com"}, other.ID, RoleAdmin)
			return err
		}, "dana", []int64{acme.ID, other.ID}, false},
		{"chose it (last used)", func() error { return s.UseWorkspace(ctx, dana.ID, other.ID) }, "dana", []int64{acme.ID, other.ID}, false},
		{"touched", func() error { return s.TouchSession(ctx, sessions["dana"].IDHash) }, "dana", []int64{acme.ID, other.ID}, false},
		{"removed from it", func() error { return s.RemoveMember(ctx, other.ID, dana.ID, nil) }, "dana", []int64{acme.ID}, false},
		{"workspace deleted", func() error { _, err := s.rawExec("DELETE FROM workspaces WHERE id = ?", acme.ID); return err },
			"dana", nil, false},
		{"user deleted (the session goes with it)", func() error {
			_, err := s.rawExec("DELETE FROM users WHERE id = ?", loner.ID)
			return err
		}, "loner", nil, true},
		{"no such session", nil, "none", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.change != nil {
				if err := tc.change(); err != nil {
					t.Fatal(err)
				}
			}
			hash := sessions[tc.session].IDHash
			if hash == nil {
				hash = []byte("no such hash")
			}
			se, u, ms, err := s.SessionWithUser(ctx, hash)
			if tc.missing {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("err %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSessionWithUser(t, s, se, u, ms, tc.wantWS)
		})
	}
}

// checkSessionWithUser compares what SessionWithUser read with the reads
// it replaced.
func checkSessionWithUser(t *testing.T, s *Store, se Session, u User, ms []Membership, wantWS []int64) {
	t.Helper()
	ctx := context.Background()
	want, err := s.Session(ctx, se.IDHash)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(se, want) {
		t.Errorf("session %+v, want %+v", se, want)
	}
	var wantU User
	var wantMs []Membership
	if want.UserID != 0 {
		if wantU, wantMs, err = s.UserWithMemberships(ctx, want.UserID); err != nil {
			t.Fatal(err)
		}
	}
	if u != wantU || !reflect.DeepEqual(ms, wantMs) {
		t.Errorf("user %+v %+v, want %+v %+v", u, ms, wantU, wantMs)
	}
	var ids []int64
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if !reflect.DeepEqual(ids, wantWS) {
		t.Errorf("workspaces %v, want %v", ids, wantWS)
	}
}

// TestSessionWithUserGoneUser: a session row left behind by a user deleted
// without the foreign keys (SQLite with them off) names nobody.
func TestSessionWithUserGoneUser(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if s.Postgres() {
		t.Skip("PostgreSQL always enforces the foreign key")
	}
	u, _, err := s.SignUp(ctx, User{Email: "dana@example.com", PasswordHash: "h"}, "Acme", "free", false)
	if err != nil {
		t.Fatal(err)
	}
	hash := []byte("session-hash")
	if err := s.SaveSession(ctx, Session{IDHash: hash, UserID: u.ID, Data: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	// The writer is one connection, so the pragma holds for the delete.
	for _, q := range []string{"PRAGMA foreign_keys = OFF", "DELETE FROM users", "PRAGMA foreign_keys = ON"} {
		if _, err := s.rawExec(q); err != nil {
			t.Fatal(err)
		}
	}
	se, got, ms, err := s.SessionWithUser(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if se.UserID != u.ID || got != (User{}) || len(ms) != 0 {
		t.Fatalf("session user %d, user %+v, workspaces %v; want the row's id %d, no user, none", se.UserID, got, ms, u.ID)
	}
}

// BenchmarkViewerRead compares what a logged-in request read before its
// handler ran, the session row and then the user with their workspaces,
// with the one query that reads both.
func BenchmarkViewerRead(b *testing.B) {
	ctx := context.Background()
	s := newTestStore(b)
	u, _, err := s.SignUp(ctx, User{Email: "dana@example.com", PasswordHash: "h"}, "Acme", "free", false)
	if err != nil {
		b.Fatal(err)
	}
	s.CreateWorkspace(ctx, u.ID, "Beta", "free")
	hash := []byte("session-hash")
	s.SaveSession(ctx, Session{IDHash: hash, UserID: u.ID, Data: make([]byte, 80)})
	b.Run("two queries", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			se, err := s.Session(ctx, hash)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.UserWithMemberships(ctx, se.UserID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, _, err := s.SessionWithUser(ctx, hash); err != nil {
				b.Fatal(err)
			}
		}
	})
}
