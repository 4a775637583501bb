package providers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/vault"
)

func TestDescribe(t *testing.T) {
	tests := []struct {
		p      Platform
		name   string
		scopes []string
	}{
		{Facebook, "Facebook", []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement", "pages_messaging"}},
		{Instagram, "Instagram", []string{"instagram_basic", "instagram_content_publish", "instagram_manage_comments", "pages_show_list", "pages_read_engagement"}},
		{TikTok, "TikTok", []string{"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"}},
	}
	for _, tc := range tests {
		info := Describe(tc.p)
		var names []string
		for _, s := range info.Scopes {
			names = append(names, s.Name)
			if s.Description == "" || s.Description == s.Name {
				t.Errorf("%s: scope %s has no words", tc.p, s.Name)
			}
		}
		if info.Name != tc.name || info.AccountType == "" || info.Requirements == "" || !slices.Equal(names, tc.scopes) {
			t.Errorf("Describe(%s) = %+v", tc.p, info)
		}
	}
	if ScopeDescription("pages_manage_posts") != "Publish posts to your Pages" || ScopeDescription("x.unknown") != "x.unknown" {
		t.Error("ScopeDescription words wrong")
	}
	if p, ok := ParsePlatform("tiktok"); !ok || p != TikTok {
		t.Error("ParsePlatform(tiktok) failed")
	}
	if _, ok := ParsePlatform("../facebook"); ok {
		t.Error("ParsePlatform accepted junk")
	}
}

func TestAuthCodeURL(t *testing.T) {
	verifier := oauth2.GenerateVerifier()
	tests := []struct {
		name      string
		p         Platform
		rerequest []string
		pkce      string // TikTokConfig.PKCE; "" = the default
		path      string
		want      map[string]string // "" means must be absent
	}{
		{name: "facebook", p: Facebook, path: "/v26.0/dialog/oauth", want: map[string]string{
			"client_id": "1234", "response_type": "code", "state": "st", "redirect_uri": "https://app.example/oauth/x/callback",
			"scope":          "pages_show_list,pages_manage_posts,pages_read_engagement,pages_messaging,business_management",
			"code_challenge": "", "auth_type": "", "client_key": ""}},
		{name: "facebook rerequest", p: Facebook, rerequest: []string{"pages_messaging"}, path: "/v26.0/dialog/oauth",
			want: map[string]string{"scope": "pages_messaging", "auth_type": "rerequest"}},
		{name: "instagram", p: Instagram, path: "/v26.0/dialog/oauth", want: map[string]string{
			"client_id": "1234", "scope": "instagram_basic,instagram_content_publish,instagram_manage_comments,pages_show_list,pages_read_engagement,business_management"}},
		{name: "tiktok", p: TikTok, path: "/v2/auth/authorize/", want: map[string]string{
			"client_key": "ttkey", "client_id": "", "response_type": "code", "state": "st",
			"redirect_uri":   "https://app.example/oauth/x/callback",
			"scope":          "user.info.basic,user.info.profile,user.info.stats,video.list,video.upload,video.publish",
			"code_challenge": hexChallenge(verifier), "code_challenge_method": "S256"}},
		{name: "tiktok s256 setting", p: TikTok, pkce: PKCES256, path: "/v2/auth/authorize/", want: map[string]string{
			"code_challenge": oauth2.S256ChallengeFromVerifier(verifier), "code_challenge_method": "S256"}},
		{name: "tiktok rerequest", p: TikTok, rerequest: []string{"video.publish"}, path: "/v2/auth/authorize/",
			want: map[string]string{"scope": "video.publish"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig("https://base.example")
			cfg.TikTok.PKCE = tc.pkce
			a := New(tc.p, cfg, testRedirect)
			raw := a.AuthCodeURL(AuthRequest{State: "st", Verifier: verifier, Rerequest: tc.rerequest})
			u, err := url.Parse(raw)
			if err != nil || u.Host != "base.example" || u.Path != tc.path {
				t.Fatalf("URL %s", raw)
			}
			q := u.Query()
			for k, v := range tc.want {
				if _, has := q[k]; v == "" && has || q.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, q.Get(k), v)
				}
			}
			if strings.Contains(raw, verifier) || strings.Contains(raw, appSecret) || strings.Contains(raw, clientSecret) {
				t.Errorf("URL leaks the verifier or a secret: %s", raw)
			}
			if a.UsesPKCE() != (tc.p == TikTok) {
				t.Errorf("UsesPKCE = %v", a.UsesPKCE())
			}
		})
	}
}

// TestNoTokenInOutput prints and logs every type that holds a token.
func TestNoTokenInOutput(t *testing.T) {
	creds := Credentials{AccessToken: vault.NewToken(accessTok), RefreshToken: vault.NewToken(refreshTok),
		UserToken: vault.NewToken(userToken), Expiry: time.Now(), PlatformUserID: "1", Metadata: map[string]any{"a": 1}}
	acc := Account{PlatformUserID: "1", Credentials: creds}
	grant := &Grant{Subject: "1", Accounts: []Account{acc}}
	checked := &Checked{Credentials: creds}
	cfg := testConfig("https://x")
	a := New(TikTok, cfg, testRedirect).(*TikTokLogin)

	err := a.transportError("GET", "https://graph.example/v26.0/debug_token?input_token="+pageToken+"&access_token=1|"+appSecret,
		errors.New("connection reset"))

	var out bytes.Buffer
	for _, v := range []any{creds, &creds, acc, grant, checked, cfg, a, err} {
		fmt.Fprintf(&out, "%v %+v %#v %s %q %x\n", v, v, v, v, v, v)
		b, _ := json.Marshal(v)
		out.Write(b)
	}
	for _, h := range []slog.Handler{slog.NewTextHandler(&out, nil), slog.NewJSONHandler(&out, nil)} {
		slog.New(h).Error("refresh", "creds", creds, "grant", grant, "checked", checked, "config", cfg, "adapter", a, "err", err)
	}
	for _, sec := range allSecrets {
		if strings.Contains(out.String(), sec) {
			t.Errorf("output leaks %q", sec)
		}
	}
	if strings.Contains(out.String(), "debug_token?") {
		t.Error("output holds a query string")
	}
	if !strings.Contains(out.String(), "REDACTED") {
		t.Error("tokens were not printed as redacted")
	}
}

// hexChallenge is TikTok's documented code_challenge: hex of SHA-256.
func hexChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:])
}
