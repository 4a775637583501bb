package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnisocial/sandbox"
)

const testControlToken = "control-0123456789abcdef0123456789abcdef"

// controlCall calls the sandbox control API with a bearer token ("" sends
// none) and the content type given, returning status and body.
func controlCall(t *testing.T, base, method, path, contentType, bearer, body string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/sandbox/control/"+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// A demo install (OMNISOCIAL_SANDBOX=true, not development mode) is on the
// internet: its sandbox must not list every tenant's tokens, mint
// signed_requests, or take settings from anyone (issue 11, finding 3). A
// wiring case: OMNISOCIAL_SANDBOX_CONTROL_TOKEN observed from outside.
func wireSandboxControlToken(t *testing.T) {
	open := startServer(t, "OMNISOCIAL_SANDBOX_CONTROL_TOKEN", "")
	locked := startServer(t, "OMNISOCIAL_SANDBOX_CONTROL_TOKEN", testControlToken)
	type call struct{ method, path, body string }
	calls := []call{
		{"GET", "tokens", ""}, {"GET", "settings", ""}, {"GET", "faults", ""},
		{"POST", "signed_request", `{"persona":"dana"}`}, {"POST", "autoconsent", `{"enabled":true,"persona":"dana"}`},
		{"POST", "revoke", `{"persona":"dana"}`}, {"POST", "reset", `{}`}, {"DELETE", "faults", ""},
	}
	for _, c := range calls {
		// Without a configured token the control API is off.
		if st, body := controlCall(t, open.URL, c.method, c.path, "application/json", "", c.body); st != http.StatusNotFound {
			t.Errorf("no token configured: %s %s = %d %s, want 404", c.method, c.path, st, body)
		}
		if st, _ := controlCall(t, open.URL, c.method, c.path, "application/json", testControlToken, c.body); st != http.StatusNotFound {
			t.Errorf("no token configured, a guessed bearer: %s %s = %d, want 404", c.method, c.path, st)
		}
		// With one, only its bearer opens it.
		for _, bearer := range []string{"", "wrong", testControlToken[:len(testControlToken)-1], testControlToken + "x"} {
			if st, _ := controlCall(t, locked.URL, c.method, c.path, "application/json", bearer, c.body); st != http.StatusUnauthorized {
				t.Errorf("bearer %q: %s %s = %d, want 401", bearer, c.method, c.path, st)
			}
		}
	}
	// A cross-site text/plain POST (a form or fetch without preflight) is
	// refused in every mode, with the right token too, and changes nothing.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		if st, _ := controlCall(t, locked.URL, "POST", "autoconsent", ct, testControlToken, `{"enabled":true,"persona":"dana"}`); st != http.StatusUnsupportedMediaType {
			t.Errorf("content type %q: %d, want 415", ct, st)
		}
	}
	if st, _ := controlCall(t, locked.URL, "POST", "autoconsent", "application/json", testControlToken, `{"enabled":true}`, "Sec-Fetch-Site", "cross-site"); st != http.StatusForbidden {
		t.Errorf("cross-site JSON POST: %d, want 403", st)
	}
	st, body := controlCall(t, locked.URL, "GET", "settings", "", testControlToken, "")
	if st != http.StatusOK || strings.Contains(body, `"enabled":true`) {
		t.Fatalf("settings after refused calls: %d %s", st, body)
	}
	// The operator's bearer works.
	if st, body := controlCall(t, locked.URL, "POST", "autoconsent", "application/json; charset=utf-8", testControlToken, `{"enabled":true,"persona":"dana"}`); st != http.StatusOK {
		t.Fatalf("with the token: %d %s", st, body)
	}
}

// The sandbox's Meta app secret of a demo install is its own, not the
// published development constant: anyone could otherwise sign a
// data-deletion callback and delete every tenant's sandbox Pages.
func TestDemoSandboxSecretIsNotTheDevConstant(t *testing.T) {
	ts := startServer(t)
	pj, _ := json.Marshal(map[string]any{"algorithm": "HMAC-SHA256", "issued_at": time.Now().Unix(), "user_id": "10229000000001"})
	enc := base64.RawURLEncoding.EncodeToString(pj)
	mac := hmac.New(sha256.New, []byte(sandbox.DevMetaAppSecret))
	mac.Write([]byte(enc))
	sr := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
	for _, path := range []string{"/oauth/facebook/data-deletion", "/oauth/facebook/deauthorize"} {
		res, err := http.PostForm(ts.URL+path, url.Values{"signed_request": {sr}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("%s signed with the development secret: %d, want 400", path, res.StatusCode)
		}
	}
	// The sandbox's own signed_request (through the operator's control API)
	// still verifies: both sides share the install's secret.
	st, body := controlCall(t, ts.URL, "POST", "signed_request", "application/json", testControlToken, `{"persona":"lee"}`)
	if st != http.StatusOK {
		t.Fatalf("signed_request: %d %s", st, body)
	}
	var got struct {
		SignedRequest string `json:"signed_request"`
	}
	json.Unmarshal([]byte(body), &got)
	res, err := http.PostForm(ts.URL+"/oauth/facebook/deauthorize", url.Values{"signed_request": {got.SignedRequest}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("the sandbox's own signed_request: %d", res.StatusCode)
	}
}

// The database files are 0600 whatever the folder; a folder others can
// read is still worth a warning at start (issue 11, finding 5).
func TestWarnsWhenDataFolderIsOpen(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o755, true}, {0o750, true}, {0o700, false}} {
		dir := filepath.Join(t.TempDir(), "data")
		os.Mkdir(dir, tc.mode)
		os.Chmod(dir, tc.mode)
		var logs bytes.Buffer
		_, _, st, err := setup(context.Background(), env("OMNISOCIAL_DB", filepath.Join(dir, "o.db"),
			"OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret), &logs)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if got := strings.Contains(logs.String(), "readable by others"); got != tc.warn {
			t.Errorf("folder %v: warned = %v, want %v\n%s", tc.mode, got, tc.warn, logs.String())
		}
		if tc.warn && !strings.Contains(logs.String(), dir) {
			t.Errorf("the warning does not name the folder: %s", logs.String())
		}
		for _, f := range []string{"o.db", "o.db-wal", "o.db-shm"} {
			if info, err := os.Stat(filepath.Join(dir, f)); err == nil && info.Mode().Perm() != 0o600 {
				t.Errorf("%s is %v", f, info.Mode().Perm())
			}
		}
	}
}
