package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"omnisocial/auth"
	"omnisocial/handlers/apitest"
	"omnisocial/internal/testrig"
	"omnisocial/store"
	"omnisocial/vault"
)

type kit struct {
	t      testing.TB
	st     *store.Store
	srv    *httptest.Server
	clock  *testrig.Clock
	deps   Deps
	logs   *strings.Builder
	dbPath string
	echo   *echo.Echo
}

type kitOption func(*Deps)

func newKit(t testing.TB, opts ...kitOption) *kit {
	t.Helper()
	clk := testrig.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	st, path := testrig.Store(t, clk.Now)
	return kitOn(t, st, path, clk, opts...)
}

// kitOn is a server on st, which is at path: one replica, when another
// kit is on the same database.
func kitOn(t testing.TB, st *store.Store, path string, clk *testrig.Clock, opts ...kitOption) *kit {
	t.Helper()
	logs := &strings.Builder{}
	var logMu sync.Mutex
	base, _ := url.Parse("http://omnisocial.test")
	d := Deps{
		Store:       st,
		Log:         slog.New(slog.NewTextHandler(lockedWriter{&logMu, logs}, nil)),
		Static:      fstest.MapFS{"app.css": {Data: []byte("body{}")}},
		Asset:       "test",
		Now:         clk.Now,
		BaseURL:     base,
		SessionKey:  vault.Derive(testrig.Key(), "session"),
		SessionIdle: time.Hour,
		SessionMax:  12 * time.Hour,
	}
	for _, o := range opts {
		o(&d)
	}
	k := &kit{t: t, st: st, clock: clk, deps: d, logs: logs, dbPath: path}
	k.echo = New(d)
	// Every answer under /api/ is checked against the OpenAPI description.
	k.srv = httptest.NewServer(apitest.Handler(t, k.echo))
	t.Cleanup(k.srv.Close)
	return k
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// browser is a client with a cookie jar that does not follow redirects, so
// tests see each 303.
type browser struct {
	k *kit
	c *http.Client
}

func (k *kit) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{k: k, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(req *http.Request) *http.Response {
	b.k.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.k.t.Fatal(err)
	}
	b.k.t.Cleanup(func() { res.Body.Close() })
	return res
}

func (b *browser) get(path string, headers ...string) *http.Response {
	req, _ := http.NewRequest(http.MethodGet, b.k.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// post sends a form as it is, with the headers given; form (below) adds
// the CSRF token a page carries.
func (b *browser) post(path string, form url.Values, headers ...string) *http.Response {
	req, _ := http.NewRequest(http.MethodPost, b.k.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

// csrf reads the token a page puts in its forms.
func (b *browser) csrf(page string) string {
	b.k.t.Helper()
	doc := parse(b.k.t, b.get(page))
	tok, ok := doc.Find(`input[name=_csrf]`).First().Attr("value")
	if !ok || tok == "" {
		b.k.t.Fatalf("no CSRF token on %s", page)
	}
	return tok
}

func (b *browser) form(page, path string, form url.Values) *http.Response {
	form.Set("_csrf", b.csrf(page))
	return b.post(path, form)
}

func parse(t testing.TB, res *http.Response) *goquery.Document {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// signup creates a user through the real form and leaves b logged in.
func (b *browser) signup(email, workspace string) {
	b.k.t.Helper()
	res := b.form("/signup", "/signup", url.Values{"name": {"Dana"}, "email": {email}, "password": {"correct horse battery"}, "workspace": {workspace}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		body, _ := io.ReadAll(res.Body)
		b.k.t.Fatalf("sign-up: %d %s\n%s", res.StatusCode, res.Header.Get("Location"), body)
	}
}

// addUser makes a user directly in the store (a fast password hash is fine).
func (k *kit) addUser(email string, workspaceID int64, role store.Role) {
	k.t.Helper()
	if _, err := k.st.AddUser(context.Background(), store.User{Email: email, PasswordHash: auth.HashPassword("correct horse battery")}, workspaceID, role); err != nil {
		k.t.Fatal(err)
	}
}

func (b *browser) login(email string) *http.Response {
	return b.form("/login", "/login", url.Values{"email": {email}, "password": {"correct horse battery"}})
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

type goquerySel = goquery.Selection

func dbPath(k *kit) string { return k.dbPath }

// waitFor polls cond for up to five seconds (background work such as
// revocation), failing the test if it never holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 250; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition never held")
}
