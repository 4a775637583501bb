package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/internal/pgtest"
	"omnisocial/internal/testrig"
	"omnisocial/providers"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

// fleet is the shared ground of a replica test: the built binary, one
// PostgreSQL schema of its own, a standalone sandbox, and the environment
// every replica starts with.
type fleet struct {
	t     *testing.T
	dir   string
	bin   string
	dsn   string
	sbURL string
	tr    *http.Transport // the seeding's connections to the sandbox
	raw   *sql.DB         // the schema, behind the store's back (queue columns)
	st    *store.Store    // the store as the replicas see it, same key
	env   []string
}

// newFleet skips without a PostgreSQL server (fails instead when
// OMNISOCIAL_REQUIRE_POSTGRES is set), then builds the binary, makes a
// schema that is dropped when the test ends, and starts the sandbox with
// TikTok refresh-token rotation on.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	pgtest.Need(t)
	if testing.Short() {
		t.Skip("builds the binary and runs three replicas")
	}
	f := &fleet{t: t, dir: t.TempDir()}
	f.bin = filepath.Join(f.dir, "omnisocial")
	if out, err := exec.Command("go", "build", "-o", f.bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f.dsn = pgtest.Fresh(t)
	var err error
	if f.raw, err = sql.Open("pgx", f.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.raw.Close() })
	k, _ := vault.ParseKey(testKey)
	box, _ := vault.NewBox(k)
	if f.st, err = store.Open(context.Background(), store.Options{Path: f.dsn, Schema: schemaSQL, SchemaPostgres: schemaPostgres, Box: box}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.sbURL = startProcess(t, f.bin, nil, "sandbox", "--addr", freeAddr(t))
	f.control("POST", "tiktok", `{"mode":"current","rotation":true}`)
	f.control("POST", "autoconsent", `{"enabled":true,"persona":"bloom"}`)
	f.env = []string{
		"OMNISOCIAL_DB=" + f.dsn, "OMNISOCIAL_ENCRYPTION_KEY=" + testKey, "OMNISOCIAL_SESSION_SECRET=" + testSecret,
		"OMNISOCIAL_TIKTOK_CLIENT_KEY=" + sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET=" + sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL=" + f.sbURL + "/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL=" + f.sbURL + "/sandbox/open.tiktokapis.com",
		"OMNISOCIAL_REFRESH_INTERVAL=1s", "OMNISOCIAL_REFRESH_BATCH=200", "OMNISOCIAL_REFRESH_WORKERS=" + strconv.Itoa(replicaWorkers), "OMNISOCIAL_REFRESH_RATE=100000",
		"OMNISOCIAL_PLAN_LIMITS=free=3,pro=10,business=100000", "OMNISOCIAL_LOG_LEVEL=warn",
	}
	return f
}

// control calls the sandbox's control API and decodes its answer into out, if given.
func (f *fleet) control(method, path, body string, out ...any) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.sbURL+"/sandbox/control/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		f.t.Fatalf("sandbox control %s %s: %d", method, path, res.StatusCode)
	}
	if len(out) > 0 {
		if err := json.NewDecoder(res.Body).Decode(out[0]); err != nil {
			f.t.Fatal(err)
		}
	}
}

// seed authorizes n TikTok accounts at the sandbox and stores them in one
// workspace, not yet due (the storms make them due), a chunk stored while
// the next is authorized. Distinct platform ids: the sandbox has one TikTok
// Business persona. No grant subject, as in bench/refresh.go: one sign-in
// shared by all would let a single dead refresh token take every account
// down with it.
func (f *fleet) seed(n int) {
	f.t.Helper()
	ctx := context.Background()
	f.st.SetPlanLimit(ctx, "business", n)
	u, ws, err := f.st.SignUp(ctx, store.User{Email: "storm@example.com", PasswordHash: "h"}, "Storm", "business", false)
	if err != nil {
		f.t.Fatal(err)
	}
	const chunk = 500
	chunks := make(chan []providers.Credentials, 1)
	var authErr error
	go func() {
		defer close(chunks)
		for start := 0; start < n && authErr == nil; start += chunk {
			var c []providers.Credentials
			c, authErr = f.authorize(min(chunk, n-start))
			chunks <- c
		}
	}()
	later, i := time.Now().Add(time.Hour), 0
	for creds := range chunks {
		var found []store.Discovered
		for _, c := range creds {
			found = append(found, store.Discovered{PlatformUserID: fmt.Sprintf("%s:%d", c.PlatformUserID, i), DisplayName: "Bloom Botanics",
				Scopes:      []string{"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"},
				Tokens:      store.Tokens{Access: c.AccessToken, Refresh: c.RefreshToken, Expiry: c.Expiry, RefreshExpiry: c.RefreshExpiry},
				NextCheckAt: later})
			i++
		}
		if _, err := f.st.Connect(ctx, store.Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: found}); err != nil {
			f.t.Fatal(err)
		}
	}
	if authErr != nil {
		f.t.Fatalf("authorize: %v", authErr)
	}
}

// authorize runs n real authorizations at the sandbox (auto-consent), a few at a time.
func (f *fleet) authorize(n int) ([]providers.Credentials, error) {
	if f.tr == nil {
		// Connections kept for reuse: with the default two per host most
		// of the seeding's time went to dialing.
		f.tr = &http.Transport{MaxIdleConnsPerHost: 64}
		f.t.Cleanup(f.tr.CloseIdleConnections)
	}
	a := providers.New(providers.TikTok, testrig.SandboxApps(f.sbURL, &http.Client{Transport: f.tr, Timeout: 30 * time.Second}),
		"http://127.0.0.1/oauth/tiktok/callback")
	hc := &http.Client{Transport: f.tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	out := make([]providers.Credentials, n)
	errs := make(chan error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range next {
				v := oauth2.GenerateVerifier()
				res, err := hc.Get(a.AuthCodeURL(providers.AuthRequest{State: "s", Verifier: v}))
				if err != nil {
					errs <- err
					continue
				}
				res.Body.Close()
				loc, _ := url.Parse(res.Header.Get("Location"))
				g, err := a.Exchange(context.Background(), loc.Query().Get("code"), v)
				if err != nil {
					errs <- err
					continue
				}
				out[i] = g.Accounts[0].Credentials
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	return out, <-errs
}

// replica is one `omnisocial serve` process on the fleet's database.
type replica struct {
	name, addr, log string
	cmd             *exec.Cmd
}

// start runs a replica on a free address and waits for /healthz.
func (f *fleet) start(name string) *replica {
	f.t.Helper()
	r := &replica{name: name, addr: freeAddr(f.t), log: filepath.Join(f.dir, name+".log")}
	f.run(r)
	return r
}

// run (re)starts r's process, its log appended to.
func (f *fleet) run(r *replica) {
	f.t.Helper()
	r.cmd = exec.Command(f.bin, "serve")
	r.cmd.Env = append(append(os.Environ(), f.env...), "OMNISOCIAL_ADDR="+r.addr, "OMNISOCIAL_BASE_URL=http://"+r.addr)
	logf, err := os.OpenFile(r.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		f.t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	cmd := r.cmd
	f.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	waitHTTP(f.t, "http://"+r.addr+"/healthz")
}

// owner is how r's refresher signs its attempt ids (refresh.Options.Owner).
func (r *replica) owner() string {
	host, _ := os.Hostname()
	return host + ":" + strconv.Itoa(r.cmd.Process.Pid)
}

// kill ends r with SIGKILL: no shutdown, no outcome stored after it.
func (r *replica) kill() {
	r.cmd.Process.Kill()
	r.cmd.Wait()
}

// errorLines are the lines r logged at level ERROR.
func (r *replica) errorLines(t *testing.T) []string {
	b, err := os.ReadFile(r.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// count runs a count(*) query on the schema.
func (f *fleet) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.raw.QueryRow(store.PostgresSQL(q), args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func (f *fleet) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.raw.Exec(store.PostgresSQL(q), args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

// ids lists the accounts matching where.
func (f *fleet) ids(where string, args ...any) []string {
	f.t.Helper()
	rows, err := f.raw.Query(store.PostgresSQL("SELECT id FROM social_accounts WHERE "+where), args...)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

// refreshTokens is each listed account's stored refresh token, opened with the replicas' key.
func (f *fleet) refreshTokens(ids []string) map[string]string {
	f.t.Helper()
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		tok, err := f.st.Tokens(context.Background(), id)
		if err != nil {
			f.t.Fatalf("account %s does not open: %v", id, err)
		}
		out[id] = tok.Refresh.Reveal()
	}
	return out
}

// reusedTokens are the refresh tokens the sandbox refused because rotation
// had replaced them already, with how often each was presented.
func (f *fleet) reusedTokens() map[string]int {
	f.t.Helper()
	var list []struct {
		Kind, Token string
		Reused      int
	}
	f.control("GET", "tokens", "", &list)
	out := map[string]int{}
	for _, tok := range list {
		if tok.Kind == "refresh" && tok.Reused > 0 {
			out[tok.Token] = tok.Reused
		}
	}
	return out
}

// storm makes every working account due at once and waits until none is
// due or leased. during is called with the number refreshed so far while
// it runs. The rate is refreshes a second from the first refresh seen (the
// replicas look every second) to the last.
func (f *fleet) storm(label string, limit time.Duration, during func(refreshed int)) (n int, rate float64) {
	f.t.Helper()
	now := time.Now().Unix()
	f.exec("UPDATE social_accounts SET next_check_at = ?, last_synced_at = 0 WHERE status != 'needs_reauth'", now-1)
	var first time.Time
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		n = f.count("SELECT count(*) FROM social_accounts WHERE last_synced_at > 0")
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		now := time.Now().Unix()
		if f.count(`SELECT count(*) FROM social_accounts WHERE status != 'needs_reauth'
			AND (next_check_at <= ? OR lease_until > ?)`, now, now) == 0 {
			n = f.count("SELECT count(*) FROM social_accounts WHERE last_synced_at > 0")
			rate = float64(n) / time.Since(first).Seconds()
			f.t.Logf("%s: %d accounts refreshed in %.1f s: %.0f refreshes/s", label, n, time.Since(first).Seconds(), rate)
			return n, rate
		}
		if during != nil {
			during(n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	f.t.Fatalf("%s: the storm never settled (%d refreshed)", label, n)
	return 0, 0
}
