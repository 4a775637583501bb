package handlers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

// BenchmarkAccountsPage renders the accounts page of a 50-account
// workspace through the whole stack, without the network (for pprof).
func BenchmarkAccountsPage(b *testing.B) {
	k := newKit(b)
	br := k.browser()
	br.signup("dana@example.com", "W")
	k.st.SetPlan(b.Context(), 1, "business")
	var found []store.Discovered
	for i := range 50 {
		found = append(found, store.Discovered{PlatformUserID: fmt.Sprint(i), DisplayName: fmt.Sprint("Account ", i), Username: "brand",
			AvatarURL: "https://cdn.example/a.png", Metadata: map[string]any{"category": "Coffee Shop"},
			Tokens: store.Tokens{Access: vault.NewToken("x"), Expiry: time.Now().Add(time.Hour)}})
	}
	k.st.Connect(b.Context(), store.Connect{WorkspaceID: 1, UserID: 1, Platform: "tiktok", Accounts: found})
	cookies := br.c.Jar.Cookies(mustURL(k.srv.URL))
	h := k.echo
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/settings/accounts", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
