package main

// Platform fidelity through the real server (issue 12): settings are
// observed from outside, at the sandbox, so a setting that is parsed but
// never passed on to an adapter fails here (STYLE.md pitfall 17).

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// wireTikTokPKCE (a wiring case) runs TikTok's authorization through
// the real server. The challenge on the authorize URL must be in the
// encoding OMNISOCIAL_TIKTOK_PKCE names, and the sandbox, strict in the
// encoding it is set to, must accept the exchange only when both agree.
func wireTikTokPKCE(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}$`)
	b64RE := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	tests := []struct {
		name      string
		setting   []string // extra environment
		sandbox   string   // sandbox PKCE mode; "" = its strict default (hex)
		challenge *regexp.Regexp
		connected bool
	}{
		{"default is hex", nil, "", hexRE, true},
		{"hex named", []string{"OMNISOCIAL_TIKTOK_PKCE", "hex"}, "", hexRE, true},
		{"s256 against an s256 sandbox", []string{"OMNISOCIAL_TIKTOK_PKCE", "s256"}, "s256", b64RE, true},
		{"s256 against the strict default is refused", []string{"OMNISOCIAL_TIKTOK_PKCE", "s256"}, "", b64RE, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.setting...)
			sandboxControl(t, ts.URL, "autoconsent", `{"enabled":true,"persona":"bloom"}`)
			if tc.sandbox != "" {
				sandboxControl(t, ts.URL, "tiktok", `{"pkce":"`+tc.sandbox+`"}`)
			}
			p := newPerson(t, ts.URL)
			if res, err := p.submit("/signup", "/signup", url.Values{"name": {"P"}, "email": {fmt.Sprintf("pkce%d@example.com", i)},
				"password": {"correct horse battery"}, "workspace": {"W"}}); err != nil || res.StatusCode != http.StatusSeeOther {
				t.Fatalf("sign-up: %v", err)
			}
			res, err := p.submit("/settings/accounts/connect", "/connect/tiktok", url.Values{})
			if err != nil {
				t.Fatal(err)
			}
			auth, err := url.Parse(res.Header.Get("Location"))
			if err != nil || !strings.Contains(auth.Path, "/v2/auth/authorize/") {
				t.Fatalf("connect did not send us to TikTok: %v %q", err, res.Header.Get("Location"))
			}
			if c := auth.Query().Get("code_challenge"); !tc.challenge.MatchString(c) || auth.Query().Get("code_challenge_method") != "S256" {
				t.Fatalf("code_challenge %q (method %q) is not in the configured encoding", c, auth.Query().Get("code_challenge_method"))
			}
			res, _, err = p.do("GET", auth.String(), nil) // the sandbox consents at once
			if err != nil {
				t.Fatal(err)
			}
			res, _, err = p.do("GET", res.Header.Get("Location"), nil) // our callback
			if err != nil || res.StatusCode != http.StatusSeeOther {
				t.Fatalf("callback: %v %v", err, res)
			}
			_, body, _ := p.do("GET", "/settings/accounts", nil)
			connected := strings.Contains(string(body), "Bloom Botanics")
			if connected != tc.connected {
				t.Fatalf("connected = %v, want %v", connected, tc.connected)
			}
			if !tc.connected && !strings.Contains(string(body), "rejected the authorization code") {
				t.Errorf("the refusal is not explained on the page")
			}
		})
	}
}
