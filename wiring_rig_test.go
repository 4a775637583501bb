package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/internal/testrig"
	"omnisocial/sandbox"
)

// wired is the real server started through serve().
type wired struct {
	URL, Addr, DB string
	logs          *testrig.SyncBuffer
	stop          func() error // idempotent; returns what serve returned
}

// boot starts serve() on a free loopback address with a fresh database and
// test keys; kv overrides those (an empty value unsets).
func boot(t *testing.T, kv ...string) *wired {
	t.Helper()
	w, err := tryBoot(t, kv...)
	if err != nil {
		t.Fatalf("server did not start: %v", err)
	}
	return w
}

func tryBoot(t *testing.T, kv ...string) (*wired, error) {
	t.Helper()
	addr := wiringAddr(t)
	m := map[string]string{
		"OMNISOCIAL_DB":             filepath.Join(t.TempDir(), "wiring.db"),
		"OMNISOCIAL_ENCRYPTION_KEY": testKey, "OMNISOCIAL_SESSION_SECRET": testSecret,
		"OMNISOCIAL_ADDR": addr, "OMNISOCIAL_BASE_URL": "http://" + addr,
		"OMNISOCIAL_SANDBOX_CONTROL_TOKEN": testControlToken,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	w := &wired{DB: m["OMNISOCIAL_DB"], logs: &testrig.SyncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, func(k string) string { return m[k] }, w.logs, func(a string) { ready <- a })
	}()
	select {
	case a := <-ready:
		w.Addr, w.URL = a, "http://"+a
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not start in 20 s")
	}
	var once sync.Once
	var stopErr error
	w.stop = func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return w, nil
}

func wiringAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitUp polls u until it answers 200, failing if run returns first.
func waitUp(t *testing.T, u string, done <-chan error) {
	t.Helper()
	for range 400 {
		select {
		case err := <-done:
			t.Fatalf("returned before answering: %v", err)
		default:
		}
		if res, err := http.Get(u); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s never answered", u)
}

// visitor is a person without a browser: cookies kept by name whatever
// their Secure flag (the server is on plain http even when its base URL is
// https), redirects not followed, and Sec-Fetch-Site: same-origin on every
// request to the server, which passes the CSRF check as a browser does.
type visitor struct {
	t       *testing.T
	base    string
	hc      *http.Client
	cookies map[string]string
}

func newVisitor(t *testing.T, base string) *visitor {
	return &visitor{t: t, base: base, cookies: map[string]string{}, hc: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (v *visitor) do(method, target string, form url.Values, headers ...string) (*http.Response, []byte) {
	v.t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = v.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	own := strings.HasPrefix(target, v.base+"/")
	if own {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for name, value := range v.cookies {
			req.AddCookie(&http.Cookie{Name: name, Value: value})
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := v.hc.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		v.t.Fatal(err)
	}
	if own {
		for _, c := range res.Cookies() {
			if c.MaxAge < 0 || c.Value == "" {
				delete(v.cookies, c.Name)
			} else {
				v.cookies[c.Name] = c.Value
			}
		}
	}
	return res, b
}

// page GETs a page that must answer 200.
func (v *visitor) page(path string) *goquery.Document {
	v.t.Helper()
	res, body := v.do("GET", path, nil)
	if res.StatusCode != http.StatusOK {
		v.t.Fatalf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Location"))
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		v.t.Fatal(err)
	}
	return doc
}

func (v *visitor) signup(email, workspace string) *http.Response {
	v.t.Helper()
	res, body := v.do("POST", "/signup", url.Values{"name": {"Dana"}, "email": {email}, "password": {"correct horse battery"}, "workspace": {workspace}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		v.t.Fatalf("sign-up: %d %s\n%.500s", res.StatusCode, res.Header.Get("Location"), body)
	}
	return res
}

// connect starts a connection on platform, consenting as persona at the
// sandbox served from sandboxBase, and returns the callback's answer.
func (v *visitor) connect(platform, sandboxBase, persona string) *http.Response {
	v.t.Helper()
	req, _ := http.NewRequest("POST", sandboxBase+"/sandbox/control/autoconsent", strings.NewReader(`{"enabled":true,"persona":"`+persona+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	res.Body.Close()
	res, body := v.do("POST", "/connect/"+platform, url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		v.t.Fatalf("connect %s: %d %.300s", platform, res.StatusCode, body)
	}
	return v.follow(res.Header.Get("Location"))
}

// follow visits a platform's authorize URL (consent is automatic) and then
// the callback it redirects to, returning the callback's answer.
func (v *visitor) follow(authURL string) *http.Response {
	v.t.Helper()
	res, body := v.do("GET", authURL, nil)
	if res.StatusCode != http.StatusFound {
		v.t.Fatalf("platform answered %d: %.300s", res.StatusCode, body)
	}
	cb := res.Header.Get("Location")
	if !strings.HasPrefix(cb, v.base+"/oauth/") {
		v.t.Fatalf("platform redirected to %s", cb)
	}
	res, _ = v.do("GET", cb, nil)
	return res
}

// platform is a sandbox on a server of its own, standing in for the real
// hosts, with a log of the requests it got. Refresh-token grants can be
// made slow, and are counted while in flight.
type platform struct {
	URL string
	t   *testing.T

	mu            sync.Mutex
	seen          []string // "METHOD /path [grant_type]"
	inFlight, max int
	starts        []time.Time
}

func startPlatform(t *testing.T, refreshDelay time.Duration) *platform {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	p := &platform{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := r.Method + " " + r.URL.Path
		refresh := false
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/oauth/token/") {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			q, _ := url.ParseQuery(string(b))
			entry += " " + q.Get("grant_type")
			refresh = q.Get("grant_type") == "refresh_token"
		}
		p.mu.Lock()
		p.seen = append(p.seen, entry)
		if refresh {
			p.inFlight++
			p.max = max(p.max, p.inFlight)
			p.starts = append(p.starts, time.Now())
		}
		p.mu.Unlock()
		if refresh {
			time.Sleep(refreshDelay)
			defer func() { p.mu.Lock(); p.inFlight--; p.mu.Unlock() }()
		}
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *platform) control(path, body string) {
	p.t.Helper()
	res, err := http.Post(p.URL+"/sandbox/control/"+path, "application/json", strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("sandbox control %s: %d", path, res.StatusCode)
	}
}

// requests lists the requests whose path starts with prefix.
func (p *platform) requests(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.seen {
		if _, path, _ := strings.Cut(s, " "); strings.HasPrefix(path, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func (p *platform) refreshes() (maxInFlight int, starts []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max, slices.Clone(p.starts)
}

// assertConfigured checks the connect chooser's verdict on each platform.
func assertConfigured(t *testing.T, doc *goquery.Document, want map[string]bool) {
	t.Helper()
	for platform, configured := range want {
		card := doc.Find("[data-testid=platform-" + platform + "]")
		if card.Length() != 1 {
			t.Errorf("no card for %s in the chooser", platform)
			continue
		}
		if got := card.Find("[data-testid=not-configured]").Length() == 0; got != configured {
			t.Errorf("%s configured = %v, want %v", platform, got, configured)
		}
	}
}

func openRaw(t *testing.T, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func queryString(t *testing.T, db, query string) string {
	t.Helper()
	var s string
	if err := openRaw(t, db).QueryRow(query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func httpGet(t *testing.T, u string) *http.Response {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func setCookie(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }
