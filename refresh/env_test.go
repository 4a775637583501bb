package refresh

// The test rig: the real sandbox behind httptest, the real adapters, a real
// SQLite file, and a clock the tests move. Accounts get their tokens through
// a real authorization, as in production.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/internal/testrig"
	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	st     *store.Store
	dbPath string
	clock  *testrig.Clock
	logs   *testrig.SyncBuffer
	ws     int64
	uid    int64
	shared bool // the sandbox and the adapters run on clock
}

func newEnv(t *testing.T) *env { return newEnvClock(t, false) }

// newEnvClock is newEnv; shared gives the sandbox and the adapters the
// test's clock too, for platforms whose own sense of time decides.
func newEnvClock(t *testing.T, shared bool) *env {
	t.Helper()
	ctx := context.Background()
	c := testrig.NewClock(time.Now().Truncate(time.Second))
	var sbNow func() time.Time
	if shared {
		sbNow = c.Now
	}
	srv := testrig.SandboxAt(t, sbNow)
	st, path := testrig.Store(t, c.Now)
	u, ws, err := st.SignUp(ctx, store.User{Email: "dana@example.com", PasswordHash: "h"}, "Acme", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, st: st, dbPath: path, clock: c, logs: &testrig.SyncBuffer{}, ws: ws.ID, uid: u.ID, shared: shared}
	t.Cleanup(e.assertNoTokenLogged)
	return e
}

// apps is the adapters' configuration against the sandbox; change
// adjusts it (a wrong secret, a short timeout).
func (e *env) apps(change func(*providers.Apps)) providers.Apps {
	a := testrig.SandboxApps(e.srv.URL, &http.Client{Timeout: 10 * time.Second})
	if e.shared {
		a.Instagram.Now = e.clock.Now
	}
	if change != nil {
		change(&a)
	}
	return a
}

func (e *env) providers(change func(*providers.Apps)) map[providers.Platform]providers.Provider {
	return providers.All(e.apps(change), e.srv.URL)
}

// adapter is p's adapter against the sandbox.
func (e *env) adapter(p providers.Platform) providers.Provider {
	return providers.New(p, e.apps(nil), providers.CallbackURL(e.srv.URL, p))
}

// refresher has no rate limit, so tests never wait on real time.
func (e *env) refresher(change func(*Options)) *Refresher {
	o := Options{Store: e.st, Providers: e.providers(nil), Now: e.clock.Now, Rate: math.Inf(1), Workers: 4, Log: sloglogger(e.logs)}
	if change != nil {
		change(&o)
	}
	return New(o)
}

func sloglogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// control calls the sandbox control API.
func (e *env) control(method, path string, body any) []byte {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.srv.URL+"/sandbox/control/"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		e.t.Fatalf("control %s %s: %s %s", method, path, res.Status, out)
	}
	return out
}

func (e *env) stats() map[string]int64 {
	var m map[string]int64
	if err := json.Unmarshal(e.control("GET", "stats", nil), &m); err != nil {
		e.t.Fatal(err)
	}
	return m
}

type sbToken struct {
	Platform, Kind, Token, Status string
}

func (e *env) sandboxTokens() []sbToken {
	var out []sbToken
	if err := json.Unmarshal(e.control("GET", "tokens", nil), &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// tokenStatus is the sandbox's view of a token: valid, rotated, revoked…
func (e *env) tokenStatus(tok vault.Token) string {
	for _, s := range e.sandboxTokens() {
		if s.Token == tok.Reveal() {
			return s.Status
		}
	}
	return "unknown"
}

func (e *env) assertNoTokenLogged() {
	logs := e.logs.String()
	for _, s := range e.sandboxTokens() {
		if s.Token != "" && strings.Contains(logs, s.Token) {
			e.t.Errorf("a %s %s token was logged", s.Platform, s.Kind)
		}
	}
}

// authorize signs persona in at the sandbox and exchanges the code.
func (e *env) authorize(p providers.Platform, persona string) *providers.Grant {
	e.t.Helper()
	e.control("POST", "autoconsent", map[string]any{"enabled": true, "persona": persona})
	a := e.adapter(p)
	var verifier string
	if a.UsesPKCE() {
		verifier = oauth2.GenerateVerifier()
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(a.AuthCodeURL(providers.AuthRequest{State: oauth2.GenerateVerifier(), Verifier: verifier}))
	if err != nil {
		e.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		e.t.Fatalf("authorize %s/%s: %s, Location %q", p, persona, res.Status, res.Header.Get("Location"))
	}
	g, err := a.Exchange(context.Background(), loc.Query().Get("code"), verifier)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

// connect authorizes persona and stores what the grant manages; it returns
// the ids of the platform's accounts.
func (e *env) connect(p providers.Platform, persona string) []string {
	e.t.Helper()
	e.storeGrant(p, e.authorize(p, persona), false)
	accs, err := e.st.Accounts(context.Background(), e.ws)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, a := range accs {
		if a.Provider() == p {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		e.t.Fatalf("no %s account connected", p)
	}
	return ids
}

func (e *env) storeGrant(p providers.Platform, g *providers.Grant, onlyExisting bool) {
	e.t.Helper()
	_, err := e.st.Connect(context.Background(), store.Connect{WorkspaceID: e.ws, UserID: e.uid, Platform: string(p),
		Subject: g.Subject, SubjectName: g.SubjectName, Accounts: store.FromGrant(p, g, e.clock.Now()), OnlyExisting: onlyExisting})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) state(id string) store.QueueState {
	e.t.Helper()
	q, err := e.st.QueueState(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

func (e *env) tokens(id string) store.Tokens {
	e.t.Helper()
	t, err := e.st.Tokens(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// dueNow moves the clock to the latest next check of ids.
func (e *env) dueNow(ids ...string) {
	e.t.Helper()
	var last time.Time
	for _, id := range ids {
		last = later(last, e.state(id).NextCheckAt)
	}
	if d := last.Sub(e.clock.Now()); d > 0 {
		e.clock.Add(d)
	}
}

// expireSoon leaves the stored access token one minute to live.
func (e *env) expireSoon(id string) {
	e.sqlExec("UPDATE social_accounts SET token_expires_at = ? WHERE id = ?", e.clock.Now().Add(time.Minute).Unix(), id)
}

// sqlExec changes the database behind the store's back (what a
// crash or an old version would leave).
func (e *env) sqlExec(q string, args ...any) {
	e.t.Helper()
	testrig.Exec(e.t, e.dbPath, q, args...)
}

func (e *env) run(r *Refresher) Stats {
	e.t.Helper()
	st, err := r.RunOnce(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func (e *env) fault(f map[string]any) { e.control("POST", "faults", f) }
