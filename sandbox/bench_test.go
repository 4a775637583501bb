package sandbox

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkTikTokRefresh measures one rotating refresh through the handler
// (no network), with the state file enabled so the background writer runs.
func BenchmarkTikTokRefresh(b *testing.B) {
	sb, err := New(Options{StatePath: filepath.Join(b.TempDir(), "state.json")})
	if err != nil {
		b.Fatal(err)
	}
	defer sb.Close()
	sb.st.Settings.AutoConsent = autoConsent{Enabled: true, Persona: "bloom"}
	rec := httptest.NewRecorder()
	sb.ServeHTTP(rec, httptest.NewRequest("GET", ttAuthorizeURL(ttScopes), nil))
	loc, _ := url.Parse(rec.Header().Get("Location"))
	form := url.Values{"client_key": {DevTikTokClientKey}, "client_secret": {DevTikTokClientSecret},
		"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {testRedirect}}
	rt := postRT(b, sb, form)
	b.ResetTimer()
	for range b.N {
		rt = postRT(b, sb, url.Values{"client_key": {DevTikTokClientKey}, "client_secret": {DevTikTokClientSecret},
			"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	}
}

func postRT(b *testing.B, sb *Sandbox, form url.Values) string {
	req := httptest.NewRequest("POST", "/sandbox/open.tiktokapis.com/v2/oauth/token/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	sb.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		b.Fatalf("%d %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	i := strings.Index(body, `"refresh_token":"`) + len(`"refresh_token":"`)
	return body[i : i+strings.IndexByte(body[i:], '"')]
}
