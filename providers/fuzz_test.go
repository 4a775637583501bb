package providers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"omnisocial/vault"
)

// The parsers of platform answers see bytes from the network: whatever
// arrives, they must not panic, must never call a failure success, and must
// keep the body out of the error text (it can carry tokens).

func fuzzResponse(status int, body []byte) *response {
	u, _ := url.Parse("https://graph.example/v26.0/me")
	return &response{method: http.MethodGet, url: u, status: 100 + (status%500+500)%500, header: http.Header{}, body: body}
}

func checkParsed(t *testing.T, res *response, err error) {
	t.Helper()
	if err == nil && res.status/100 != 2 {
		t.Fatalf("status %d accepted as success", res.status)
	}
	if err == nil {
		return
	}
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("unclassified error %T", err)
	}
	if strings.Contains(err.Error(), "SECRETTOKEN") {
		t.Fatalf("error text carries the body: %s", err)
	}
}

func FuzzGraphResult(f *testing.F) {
	a := NewFacebookLogin(Facebook, MetaConfig{AppID: "1", AppSecret: vault.NewToken("s")})
	f.Add(200, []byte(`{"id":"1","name":"x"}`))
	f.Add(400, []byte(`{"error":{"message":"Error validating access token: SECRETTOKEN","type":"OAuthException","code":190,"error_subcode":460,"fbtrace_id":"x"}}`))
	f.Add(400, []byte(`{"error":{"code":4,"is_transient":true}}`))
	f.Add(200, []byte(`{"error":{"code":"190"}}`))
	f.Add(500, []byte(`<html>SECRETTOKEN</html>`))
	f.Add(429, []byte(``))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res := fuzzResponse(status, body)
		var out map[string]any
		checkParsed(t, res, a.graphResult(res, &out))
	})
}

func FuzzTikTokResult(f *testing.F) {
	a := NewTikTokLogin(TikTokConfig{ClientKey: "k", ClientSecret: vault.NewToken("s")})
	f.Add(200, []byte(`{"access_token":"act.x","expires_in":7200,"open_id":"o","refresh_expires_in":15552000,"refresh_token":"rft.y","scope":"user.info.basic","token_type":"Bearer"}`), false)
	f.Add(400, []byte(`{"error":"invalid_grant","error_description":"SECRETTOKEN","log_id":"1"}`), false)
	f.Add(200, []byte(`{"data":{"user":{"open_id":"o"}},"error":{"code":"ok","message":"","log_id":"1"}}`), true)
	f.Add(200, []byte(`{"data":{},"error":{"code":"access_token_invalid","message":"SECRETTOKEN"}}`), true)
	f.Add(200, []byte(`{"expires_in":"7200"}`), false)
	f.Fuzz(func(t *testing.T, status int, body []byte, envelope bool) {
		res := fuzzResponse(status, body)
		var out map[string]any
		err := a.tiktokResult(res, envelope, true, &out)
		checkParsed(t, res, err)
	})
}
