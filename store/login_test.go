package store

import (
	"context"
	"testing"
	"time"

	"omnisocial/vault"
)

// An Instagram account is one row whichever login connected it: a second
// login renews it in place, takes over its tokens, and leaves none of the
// first login's behind.
func TestAnotherLoginRenewsTheSameAccount(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	u, ws, err := s.SignUp(ctx, User{Email: "ig@example.com", PasswordHash: "h"}, "IG", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	viaPage := Discovered{PlatformUserID: "17841400000000101", DisplayName: "Harbor", Scopes: []string{"instagram_basic"},
		Tokens: Tokens{Access: vault.NewToken("page-token"), User: vault.NewToken("fb-user-token")}, NextCheckAt: t0}
	direct := Discovered{PlatformUserID: "17841400000000101", DisplayName: "Harbor", Scopes: []string{"instagram_business_basic"},
		Tokens: Tokens{Access: vault.NewToken("IGAA-long"), Expiry: t0.Add(60 * 24 * time.Hour)}, NextCheckAt: t0}
	steps := []struct {
		name      string
		c         Connect
		wantLogin string
		wantUser  string
	}{
		{"through the Facebook Page", Connect{Platform: "instagram", Subject: "fb-1", Accounts: []Discovered{viaPage}}, "instagram", "fb-user-token"},
		{"then with Instagram's own login", Connect{Platform: "instagram", Login: "instagram_login", Subject: "17841400000000101",
			Accounts: []Discovered{direct}}, "instagram_login", ""},
		{"and back through the Page", Connect{Platform: "instagram", Subject: "fb-1", Accounts: []Discovered{viaPage}}, "instagram", "fb-user-token"},
	}
	for _, st := range steps {
		st.c.WorkspaceID, st.c.UserID = ws.ID, u.ID
		if _, err := s.Connect(ctx, st.c); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		accs, err := s.Accounts(ctx, ws.ID)
		if err != nil || len(accs) != 1 {
			t.Fatalf("%s: %d accounts (%v), want one", st.name, len(accs), err)
		}
		tok, err := s.Tokens(ctx, accs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if accs[0].Login != st.wantLogin || tok.User.Reveal() != st.wantUser {
			t.Fatalf("%s: login %q, user token %q; want %q, %q", st.name, accs[0].Login, tok.User.Reveal(), st.wantLogin, st.wantUser)
		}
	}
}
