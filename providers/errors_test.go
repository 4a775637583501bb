package providers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"omnisocial/vault"
)

const (
	debugOK   = `{"data":{"app_id":"1234","type":"PAGE","is_valid":true,"expires_at":0,"scopes":["pages_show_list"]}}`
	ttTokenOK = `{"access_token":"` + newAccess + `","expires_in":7200,"open_id":"open-1","refresh_token":"` + newRefresh +
		`","refresh_expires_in":15552000,"scope":"user.info.basic,user.info.profile","token_type":"Bearer"}`
)

func graphErr(code, sub int, extra string) string {
	return fmt.Sprintf(`{"error":{"message":"m","type":"OAuthException","code":%d,"error_subcode":%d%s,"fbtrace_id":"Ab"}}`, code, sub, extra)
}

// classCase is one canned platform answer for TestClassification and the
// error Check or Exchange must make of it.
type classCase struct {
	name        string
	p           Platform
	exchange    bool
	routes      map[string]canned
	timeout     time.Duration
	kind        Kind
	code        string
	reason      string
	retry       time.Duration
	wantChecked bool // TikTok: rotated credentials returned with the error
}

// TestClassification feeds canned platform answers to Check and Exchange and
// checks the kind, code and retry hint, and that no error text leaks.
func TestClassification(t *testing.T) {
	for _, tc := range slices.Concat(graphCheckCases(), graphExchangeCases(), tikTokCases()) {
		t.Run(tc.name, tc.run)
	}
}

// graphCheckCases are Graph answers to Check: debug_token, then the
// profile call.
func graphCheckCases() []classCase {
	debug, node := "GET /v26.0/debug_token", "GET /v26.0/1091"
	ok := canned{body: debugOK}
	return []classCase{
		// Graph: debug_token
		{name: "debug_token 190/460", p: Facebook, kind: Permanent, code: "190/460", reason: "password was changed",
			routes: map[string]canned{debug: {body: `{"data":{"is_valid":false,"error":{"code":190,"subcode":460,"message":"x"}}}`}}},
		{name: "debug_token 190/458", p: Instagram, kind: Permanent, code: "190/458", reason: "app was removed",
			routes: map[string]canned{debug: {body: `{"data":{"is_valid":false,"error":{"code":190,"subcode":458}}}`}}},
		{name: "debug_token invalid without error", p: Facebook, kind: Permanent, code: "190",
			routes: map[string]canned{debug: {body: `{"data":{"is_valid":false}}`}}},
		{name: "debug_token app token rejected", p: Facebook, kind: Misconfigured, code: "190",
			routes: map[string]canned{debug: {status: 400, body: graphErr(190, 0, "")}}},
		{name: "debug_token call fails 190/460", p: Facebook, kind: Permanent, code: "190/460", reason: "password",
			routes: map[string]canned{debug: {status: 400, body: graphErr(190, 460, "")}}},
		// Graph: profile call
		{name: "190/460 password changed", p: Facebook, kind: Permanent, code: "190/460", reason: "password was changed",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(190, 460, "")}}},
		{name: "190/463 expired", p: Facebook, kind: Permanent, code: "190/463", reason: "expired",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(190, 463, "")}}},
		{name: "190/492 lost role", p: Facebook, kind: Permanent, code: "190/492", reason: "role on the Page",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(190, 492, "")}}},
		{name: "190/467 logged out", p: Facebook, kind: Permanent, code: "190/467", reason: "logged out",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(190, 467, "")}}},
		{name: "102 session", p: Facebook, kind: Permanent, code: "102",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(102, 0, "")}}},
		{name: "4 with X-App-Usage", p: Facebook, kind: Transient, code: "4", retry: 5 * time.Minute,
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(4, 0, ""),
				header: map[string]string{"X-App-Usage": `{"call_count":100,"total_cputime":25,"total_time":25}`}}}},
		{name: "80001 with estimated_time_to_regain_access", p: Facebook, kind: Transient, code: "80001", retry: 7 * time.Minute,
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(80001, 0, ""),
				header: map[string]string{"X-Business-Use-Case-Usage": `{"1091":[{"type":"pages","call_count":100,"total_cputime":1,"total_time":1,"estimated_time_to_regain_access":7}]}`}}}},
		{name: "17 is_transient", p: Facebook, kind: Transient, code: "17",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(17, 0, `,"is_transient":true`)}}},
		{name: "32 page limit", p: Instagram, kind: Transient, code: "32",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(32, 0, "")}}},
		{name: "368 blocked", p: Facebook, kind: Transient, code: "368/1390008",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(368, 1390008, "")}}},
		{name: "200 permission", p: Facebook, kind: Permanent, code: "200", reason: "permission",
			routes: map[string]canned{debug: ok, node: {status: 403, body: graphErr(200, 0, "")}}},
		{name: "10 permission", p: Facebook, kind: Permanent, code: "10",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(10, 0, "")}}},
		{name: "100/33 gone", p: Instagram, kind: Permanent, code: "100/33",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(100, 33, "")}}},
		{name: "bad client secret", p: Facebook, kind: Misconfigured, code: "1",
			routes: map[string]canned{debug: ok, node: {status: 400, body: `{"error":{"message":"Error validating client secret.","type":"OAuthException","code":1}}`}}},
		{name: "error object on HTTP 200", p: Facebook, kind: Permanent, code: "190",
			routes: map[string]canned{debug: ok, node: {body: graphErr(190, 0, "")}}},
		{name: "190 on a 500 is not trusted", p: Facebook, kind: Transient, code: "190",
			routes: map[string]canned{debug: ok, node: {status: 500, body: graphErr(190, 0, "")}}},
		{name: "unknown code", p: Facebook, kind: Transient, code: "12345",
			routes: map[string]canned{debug: ok, node: {status: 400, body: graphErr(12345, 0, "")}}},
		{name: "502 html", p: Facebook, kind: Transient, code: "http_502",
			routes: map[string]canned{debug: ok, node: {status: 502, body: "<html>Bad gateway</html>"}}},
		{name: "400 torn body", p: Facebook, kind: Transient, code: "http_400",
			routes: map[string]canned{debug: ok, node: {status: 400, body: `{"error":{"code":1`}}},
		{name: "200 unreadable", p: Facebook, kind: Transient, code: "http_200",
			routes: map[string]canned{debug: ok, node: {body: `not json`}}},
		{name: "429 Retry-After", p: Facebook, kind: Transient, code: "http_429", retry: 120 * time.Second,
			routes: map[string]canned{debug: ok, node: {status: 429, header: map[string]string{"Retry-After": "120"}}}},
		{name: "debug_token timeout", p: Facebook, kind: Transient, code: "timeout", timeout: 100 * time.Millisecond,
			routes: map[string]canned{debug: {body: debugOK, delay: time.Second}}},
	}
}

func graphExchangeCases() []classCase {
	fbToken, fbLong := "POST /v26.0/oauth/access_token", "GET /v26.0/oauth/access_token"
	return []classCase{
		// Graph: exchange
		{name: "exchange 200 without access_token", p: Facebook, exchange: true, kind: Transient, code: "no_access_token",
			routes: map[string]canned{fbToken: {body: `{"token_type":"bearer","expires_in":3600}`}}},
		{name: "exchange code reused", p: Facebook, exchange: true, kind: Permanent, code: "100/36009", reason: "already used",
			routes: map[string]canned{fbToken: {status: 400, body: graphErr(100, 36009, "")}}},
		{name: "exchange bad secret", p: Instagram, exchange: true, kind: Misconfigured, code: "1",
			routes: map[string]canned{fbToken: {status: 400, body: `{"error":{"message":"Error validating client secret.","code":1}}`}}},
		{name: "long-lived 200 without access_token", p: Facebook, exchange: true, kind: Transient, code: "no_access_token",
			routes: map[string]canned{fbToken: {body: `{"access_token":"` + shortToken + `","expires_in":3600}`}, fbLong: {body: `{"expires_in":5183944}`}}},
		{name: "long-lived timeout (token in query)", p: Facebook, exchange: true, kind: Transient, code: "timeout", timeout: 100 * time.Millisecond,
			routes: map[string]canned{fbToken: {body: `{"access_token":"` + shortToken + `","expires_in":3600}`},
				fbLong: {body: `{}`, delay: time.Second}}},
		{name: "exchange timeout", p: Facebook, exchange: true, kind: Transient, code: "timeout", timeout: 100 * time.Millisecond,
			routes: map[string]canned{fbToken: {body: `{}`, delay: time.Second}}},
	}
}

// tikTokCases are TikTok answers at the token endpoint (Check refreshes,
// Exchange trades a code), then at user info after a successful refresh.
func tikTokCases() []classCase {
	ttTok, ttInfo := "POST /v2/oauth/token/", "GET /v2/user/info/"
	tt := canned{body: ttTokenOK}
	return []classCase{
		// TikTok: token endpoint
		{name: "invalid_grant 400", p: TikTok, kind: Permanent, code: "invalid_grant", reason: "refresh token",
			routes: map[string]canned{ttTok: {status: 400, body: `{"error":"invalid_grant","error_description":"Refresh token is invalid or expired.","log_id":"1"}`}}},
		{name: "invalid_grant on 200", p: TikTok, kind: Permanent, code: "invalid_grant",
			routes: map[string]canned{ttTok: {body: `{"error":"invalid_grant","error_description":"x","log_id":"1"}`}}},
		{name: "invalid_client", p: TikTok, kind: Misconfigured, code: "invalid_client",
			routes: map[string]canned{ttTok: {status: 401, body: `{"error":"invalid_client","error_description":"x"}`}}},
		{name: "access_denied", p: TikTok, kind: Permanent, code: "access_denied",
			routes: map[string]canned{ttTok: {status: 400, body: `{"error":"access_denied"}`}}},
		{name: "token 429 Retry-After", p: TikTok, kind: Transient, code: "rate_limit_exceeded", retry: 30 * time.Second,
			routes: map[string]canned{ttTok: {status: 429, header: map[string]string{"Retry-After": "30"},
				body: `{"error":{"code":"rate_limit_exceeded","message":"slow down","log_id":"1"}}`}}},
		{name: "token 200 without access_token", p: TikTok, kind: Transient, code: "no_access_token",
			routes: map[string]canned{ttTok: {body: `{"open_id":"open-1","scope":"user.info.basic","expires_in":7200}`}}},
		{name: "token 200 without refresh_token", p: TikTok, kind: Transient, code: "no_access_token",
			routes: map[string]canned{ttTok: {body: `{"access_token":"` + newAccess + `","open_id":"open-1","expires_in":7200}`}}},
		{name: "token 503 html", p: TikTok, kind: Transient, code: "http_503",
			routes: map[string]canned{ttTok: {status: 503, body: `<html>`}}},
		{name: "token timeout", p: TikTok, kind: Transient, code: "timeout", timeout: 100 * time.Millisecond,
			routes: map[string]canned{ttTok: {body: ttTokenOK, delay: time.Second}}},
		{name: "exchange invalid_grant", p: TikTok, exchange: true, kind: Permanent, code: "invalid_grant", reason: "authorization code",
			routes: map[string]canned{ttTok: {status: 400, body: `{"error":"invalid_grant"}`}}},
		// TikTok: user info after a successful refresh
		{name: "userinfo non-ok envelope on 200", p: TikTok, kind: Permanent, code: "access_token_invalid", wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {body: `{"data":{},"error":{"code":"access_token_invalid","message":"x","log_id":"1"}}`}}},
		{name: "userinfo scope_not_authorized", p: TikTok, kind: Permanent, code: "scope_not_authorized", wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {status: 401, body: `{"data":{},"error":{"code":"scope_not_authorized","message":"x","log_id":"1"}}`}}},
		{name: "userinfo unknown code on 200", p: TikTok, kind: Transient, code: "reached_active_user_cap", wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {body: `{"data":{},"error":{"code":"reached_active_user_cap","message":"x"}}`}}},
		{name: "userinfo without envelope error", p: TikTok, kind: Transient, code: "http_200", wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {body: `{"data":{"user":{"open_id":"open-1"}}}`}}},
		{name: "userinfo 429", p: TikTok, kind: Transient, code: "rate_limit_exceeded", retry: 60 * time.Second, wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {status: 429, header: map[string]string{"Retry-After": "60"},
				body: `{"data":{},"error":{"code":"rate_limit_exceeded","message":"x"}}`}}},
		{name: "userinfo 500 internal_error", p: TikTok, kind: Transient, code: "internal_error", wantChecked: true,
			routes: map[string]canned{ttTok: tt, ttInfo: {status: 500, body: `{"data":{},"error":{"code":"internal_error","message":"x"}}`}}},
	}
}

// run calls Check (or Exchange) against the case's canned answers and
// checks the *Error that comes back.
func (c classCase) run(t *testing.T) {
	srv, _ := fakeServer(t, c.routes)
	cfg := testConfig(srv.URL)
	if c.timeout > 0 {
		cfg.Meta.HTTPClient.Timeout = c.timeout
	}
	a := New(c.p, cfg, testRedirect)
	var err error
	var checked *Checked
	switch {
	case c.exchange:
		_, err = a.Exchange(ctxT(t), authCode, "")
	case c.p == TikTok:
		checked, err = a.Check(ctxT(t), Credentials{AccessToken: vault.NewToken(accessTok),
			RefreshToken: vault.NewToken(refreshTok), PlatformUserID: "open-1"})
	default:
		checked, err = a.Check(ctxT(t), Credentials{AccessToken: vault.NewToken(pageToken), PlatformUserID: "1091",
			Metadata: map[string]any{MetaPageID: "55"}})
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if e.Kind != c.kind || e.Code != c.code || e.Platform != c.p {
		t.Errorf("got %s/%s/%s, want %s/%s/%s", e.Platform, e.Kind, e.Code, c.p, c.kind, c.code)
	}
	if e.Reason == "" || !strings.Contains(e.Reason, c.reason) {
		t.Errorf("reason %q, want it to contain %q", e.Reason, c.reason)
	}
	if e.RetryAfter != c.retry {
		t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, c.retry)
	}
	if c.kind == Transient != IsTransient(err) || c.kind == Permanent != IsPermanent(err) {
		t.Errorf("IsTransient/IsPermanent disagree with kind %s", e.Kind)
	}
	if c.code == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout error does not match context.DeadlineExceeded")
	}
	assertClean(t, "error", fmt.Sprintf("%v | %+v | %#v", err, err, err))
	if (checked != nil) != c.wantChecked {
		t.Fatalf("checked = %v, want non-nil %v", checked != nil, c.wantChecked)
	}
	if checked != nil {
		c := checked.Credentials
		if c.AccessToken.Reveal() != newAccess || c.RefreshToken.Reveal() != newRefresh || c.Expiry.IsZero() || c.RefreshExpiry.IsZero() {
			t.Errorf("rotated credentials not returned with the error: %+v", c)
		}
	}
}

func TestHTTPDateRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	h := map[string][]string{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}
	if got := retryAfter(h, now); got != 90*time.Second {
		t.Errorf("retryAfter = %v, want 90s", got)
	}
}

func TestCanceledContext(t *testing.T) {
	srv, _ := fakeServer(t, map[string]canned{"POST /v2/oauth/token/": {body: ttTokenOK, delay: time.Second}})
	a := New(TikTok, testConfig(srv.URL), testRedirect)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := a.Check(ctx, Credentials{RefreshToken: vault.NewToken(refreshTok)})
	if !errors.Is(err, context.Canceled) || !IsTransient(err) {
		t.Fatalf("err = %v, want a Transient error matching context.Canceled", err)
	}
	assertClean(t, "error", err.Error())
}

func TestCallbackError(t *testing.T) {
	tests := []struct {
		query string
		kind  Kind
		none  bool
	}{
		{query: "code=abc&state=s", none: true},
		{query: "error=access_denied&error_code=200&error_description=Permissions+error&error_reason=user_denied&state=s", kind: Denied},
		{query: "error=access_denied&error_description=<script>&state=s", kind: Denied},
		{query: "error=server_error&error_description=<b>boom</b>", kind: Permanent},
	}
	for _, tc := range tests {
		q, _ := url.ParseQuery(tc.query)
		err := CallbackError(Facebook, q)
		if tc.none {
			if err != nil {
				t.Errorf("%s: err = %v, want nil", tc.query, err)
			}
			continue
		}
		if KindOf(err) != tc.kind || strings.ContainsAny(err.Error(), "<>") {
			t.Errorf("%s: err = %v, want kind %s without provider text", tc.query, err, tc.kind)
		}
	}
}

func TestNotConfigured(t *testing.T) {
	for _, p := range Platforms() {
		a := New(p, Apps{}, "https://app.example/cb")
		if a.Configured() {
			t.Errorf("%s: Configured() = true without credentials", p)
		}
		if _, err := a.Exchange(t.Context(), "c", ""); !IsMisconfigured(err) {
			t.Errorf("%s: Exchange err = %v, want Misconfigured", p, err)
		}
	}
	if New(Platform("myspace"), testConfig("http://x"), testRedirect) != nil {
		t.Error("unknown platform has an adapter")
	}
}
