package providers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/vault"
)

// TestTikTokRequests checks what goes over the wire: client_key (never
// client_id), the PKCE verifier, the refresh form, the fields asked for.
func TestTikTokRequests(t *testing.T) {
	var forms []url.Values
	var fields []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v2/oauth/token/":
			if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
				t.Errorf("token content type %q", r.Header.Get("Content-Type"))
			}
			r.ParseForm()
			forms = append(forms, r.PostForm)
			fmt.Fprintf(w, `{"access_token":%q,"expires_in":"7200","open_id":"open-1","refresh_token":%q,"refresh_expires_in":15552000,
				"scope":"user.info.basic,user.info.stats,video.list","token_type":"Bearer"}`, newAccess, newRefresh)
		case "/v2/user/info/":
			if r.Header.Get("Authorization") != "Bearer "+newAccess {
				t.Errorf("user info without the bearer token")
			}
			fields = append(fields, r.URL.Query().Get("fields"))
			fmt.Fprint(w, `{"data":{"user":{"open_id":"open-1","union_id":"u-1","display_name":"Bloom","avatar_url":"https://a","follower_count":5}},
				"error":{"code":"ok","message":"","log_id":"1"}}`)
		}
	}))
	defer srv.Close()
	a := New(TikTok, testConfig(srv.URL), testRedirect)

	before := time.Now()
	g, err := a.Exchange(ctxT(t), authCode, "verifier-123")
	if err != nil {
		t.Fatal(err)
	}
	ck, err := a.Check(ctxT(t), Credentials{RefreshToken: vault.NewToken(refreshTok), PlatformUserID: "open-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"client_key": "ttkey", "client_secret": clientSecret, "grant_type": "authorization_code", "code": authCode,
			"code_verifier": "verifier-123", "redirect_uri": "https://app.example/oauth/x/callback", "client_id": ""},
		{"client_key": "ttkey", "client_secret": clientSecret, "grant_type": "refresh_token", "refresh_token": refreshTok, "client_id": ""},
	}
	for i, w := range want {
		for k, v := range w {
			if forms[i].Get(k) != v {
				t.Errorf("request %d: %s = %q, want %q", i, k, forms[i].Get(k), v)
			}
		}
	}
	// Only the fields the granted scopes allow: stats yes, username (profile) no.
	for _, f := range fields {
		if f != "open_id,union_id,avatar_url,display_name,follower_count,following_count,likes_count,video_count" {
			t.Errorf("fields %q", f)
		}
	}
	acc := g.Accounts[0]
	if acc.PlatformUserID != "open-1" || acc.DisplayName != "Bloom" || acc.Metadata["follower_count"] != int64(5) ||
		acc.Credentials.RefreshToken.Reveal() != newRefresh || !strings.Contains(strings.Join(g.Declined, ","), "video.publish") {
		t.Errorf("grant %+v", g)
	}
	// expires_in as a string and as a number both count from now.
	if d := acc.Credentials.Expiry.Sub(before); d < 7199*time.Second || d > 7210*time.Second {
		t.Errorf("expiry in %v", d)
	}
	if d := ck.Credentials.RefreshExpiry.Sub(before); d < 179*24*time.Hour || d > 181*24*time.Hour {
		t.Errorf("refresh expiry in %v", d)
	}
	if ck.Credentials.RefreshToken.Reveal() != newRefresh || ck.Metadata["union_id"] != "u-1" {
		t.Errorf("checked %+v", ck)
	}
}
