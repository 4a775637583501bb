package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sandbox.json")
	c := &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	sb, err := New(Options{StatePath: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sb: sb, srv: newServer(t, sb), clock: c, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	fb := e.metaLongToken(e.metaUserToken("dana", igScopes))
	page := e.graphGet("104000000000101", fb, "fields", "access_token").JSON(t)["access_token"].(string)
	tt := e.ttConnect("bloom")
	e.control("tiktok", map[string]any{"mode": "classic"})
	e.control("revoke", map[string]any{"persona": "lee"})
	before := len(e.tokens())
	e.srv.Close()
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}

	sb2, err := New(Options{StatePath: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e2 := &env{t: t, sb: sb2, srv: newServer(t, sb2), clock: c, hc: e.hc}
	t.Cleanup(func() { sb2.Close() })
	if r := e2.graphGet("me/accounts", fb, "fields", "id,instagram_business_account"); r.Status != 200 || len(r.JSON(t)["data"].([]any)) != 4 {
		t.Errorf("fb after restart: %s", r.Body)
	}
	if r := e2.graphGet("me", page); r.Status != 200 {
		t.Errorf("page token after restart: %s", r.Body)
	}
	if r := e2.userInfo(tt["access_token"].(string), "display_name"); r.Status != 200 {
		t.Errorf("tiktok after restart: %s", r.Body)
	}
	m := e2.ttRefresh(tt["refresh_token"].(string)).JSON(t)
	if m["refresh_token"] != tt["refresh_token"] {
		t.Errorf("classic setting lost across restart")
	}
	if got := len(e2.tokens()); got != before+1 { // +1: the classic refresh minted an access token
		t.Errorf("listing after restart: %d tokens, want %d", got, before+1)
	}

	// The background writer flushes without Close.
	e2.control("lifetimes", map[string]any{"scale": 0.5})
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), `"scale":0.5`) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("state not flushed in the background")
}

func TestCorruptStateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := New(Options{StatePath: path}); err == nil {
		t.Errorf("corrupt state accepted")
	}
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// TestConcurrentRefreshes exercises the lock under -race: many refresh chains
// at once, and a concurrent refresh with an already-rotated token must lose.
func TestConcurrentRefreshes(t *testing.T) {
	e := newEnv(t)
	var rts []string
	for range 8 {
		rts = append(rts, e.ttConnect("bloom")["refresh_token"].(string))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for _, rt := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				r := e.ttRefresh(rt)
				if r.Status != 200 {
					errs <- string(r.Body)
					return
				}
				var m map[string]any
				json.Unmarshal(r.Body, &m)
				rt = m["refresh_token"].(string)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	// Two refreshes racing with one token: exactly one wins.
	rt := e.ttConnect("river")["refresh_token"].(string)
	results := make(chan int, 2)
	for range 2 {
		go func() { results <- e.ttRefresh(rt).Status }()
	}
	a, b := <-results, <-results
	if a+b != 600 {
		t.Errorf("racing refreshes: %d and %d", a, b)
	}
}

// The control API's guard: JSON only on POST and DELETE and never
// cross-site, in every mode; a bearer when locked; absent when off.
func TestControlGuard(t *testing.T) {
	call := func(e *env, method, path, ct, bearer string, hdr ...string) int {
		req, _ := http.NewRequest(method, e.srv.URL+"/sandbox/control/"+path, strings.NewReader(`{"enabled":true,"persona":"dana"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	const tok = "a-control-token-of-some-length-0123456789"
	open, locked, off := newEnv(t), newEnvWith(t, Options{ControlToken: tok}), newEnvWith(t, Options{ControlOff: true})
	tests := []struct {
		name                 string
		e                    *env
		method, path, ct, by string
		hdr                  []string
		want                 int
	}{
		{"open: text/plain POST", open, "POST", "autoconsent", "text/plain", "", nil, 415},
		{"open: form POST", open, "POST", "autoconsent", "application/x-www-form-urlencoded", "", nil, 415},
		{"open: no content type", open, "POST", "autoconsent", "", "", nil, 415},
		{"open: cross-site JSON", open, "POST", "autoconsent", "application/json", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"open: cross-site GET tokens", open, "GET", "tokens", "", "", []string{"Sec-Fetch-Site", "cross-site"}, 403},
		{"open: JSON", open, "GET", "settings", "", "", nil, 200},
		{"locked: no bearer", locked, "GET", "tokens", "", "", nil, 401},
		{"locked: wrong bearer", locked, "GET", "tokens", "", "nope", nil, 401},
		{"locked: text/plain with bearer", locked, "POST", "autoconsent", "text/plain", tok, nil, 415},
		{"locked: bearer", locked, "GET", "tokens", "", tok, nil, 200},
		{"off: GET", off, "GET", "tokens", "", "", nil, 404},
		{"off: POST with a bearer", off, "POST", "signed_request", "application/json", tok, nil, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := call(tc.e, tc.method, tc.path, tc.ct, tc.by, tc.hdr...); got != tc.want {
				t.Fatalf("%d, want %d", got, tc.want)
			}
		})
	}
	for _, e := range []*env{open, locked} {
		if e.sb.st.Settings.AutoConsent.Enabled {
			t.Fatal("a refused call turned autoconsent on")
		}
	}
	// The platform endpoints are not behind the guard.
	if r := off.get("/sandbox/static/consent.css"); r.Status != 200 {
		t.Fatalf("consent.css with the control API off: %d", r.Status)
	}
}
