package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/internal/testrig"
	"omnisocial/providers"
	"omnisocial/sandbox"
	"omnisocial/store"
	"omnisocial/vault"
)

// TestCrashDuringRefreshStorm runs the real binary against a standalone
// sandbox with refresh-token rotation on, makes every account due, and
// kills the server with SIGKILL at random moments of the storm, several
// times. Afterwards every account must hold a refresh token the sandbox
// still accepts, or be marked needs re-auth (the one irreducible loss: the
// platform rotated the token and the process died before the commit), and
// the database must pass integrity_check.
func TestCrashDuringRefreshStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	const accounts, kills = 300, 6
	dir := t.TempDir()
	bin := filepath.Join(dir, "omnisocial")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sbURL := startProcess(t, bin, nil, "sandbox", "--addr", freeAddr(t), "--state", filepath.Join(dir, "sandbox.json"))
	db := filepath.Join(dir, "crash.db")
	seedTikTok(t, db, sbURL, accounts)

	addr := freeAddr(t)
	serverEnv := []string{
		"OMNISOCIAL_DB=" + db, "OMNISOCIAL_ENCRYPTION_KEY=" + testKey, "OMNISOCIAL_SESSION_SECRET=" + testSecret,
		"OMNISOCIAL_ADDR=" + addr, "OMNISOCIAL_BASE_URL=http://" + addr,
		"OMNISOCIAL_TIKTOK_CLIENT_KEY=" + sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET=" + sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL=" + sbURL + "/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL=" + sbURL + "/sandbox/open.tiktokapis.com",
		"OMNISOCIAL_REFRESH_INTERVAL=1s", "OMNISOCIAL_REFRESH_BATCH=25", "OMNISOCIAL_REFRESH_WORKERS=8", "OMNISOCIAL_REFRESH_RATE=100",
		"OMNISOCIAL_PLAN_LIMITS=free=3,pro=10,business=1000", "OMNISOCIAL_LOG_LEVEL=warn",
	}
	for i := range kills {
		makeAllDue(t, db)
		// Killed at a random moment of a storm of about three seconds
		// (100 refreshes a second), not waiting for it to answer first.
		cmd := startServerProcess(t, bin, serverEnv, "")
		time.Sleep(time.Duration(200+rand.IntN(2500)) * time.Millisecond)
		cmd.Process.Kill() // SIGKILL: no shutdown, no deferred writes
		cmd.Wait()
		t.Logf("kill %d: %d of %d accounts refreshed before the kill, %d in flight", i+1, countSynced(t, db), accounts, countLeased(t, db))
	}
	// One last, clean run: whatever was in flight at a kill is retried from
	// the stored token, and a token lost in the gap ends as needs re-auth.
	makeAllDue(t, db)
	cmd := startServerProcess(t, bin, serverEnv, addr)
	waitSettled(t, db, 60*time.Second)
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()

	valid := sandboxRefreshTokens(t, sbURL)
	st := openStore(t, db)
	defer st.Close()
	lost, broken := 0, 0
	for _, a := range allAccounts(t, st, db) {
		tok, err := st.Tokens(context.Background(), a.ID)
		if err != nil {
			t.Fatalf("account %s does not open: %v", a.ID, err)
		}
		switch {
		case a.Status == store.StatusNeedsReauth:
			lost++
		case valid[tok.Refresh.Reveal()] != "valid":
			broken++
			t.Errorf("account %s is %s but its refresh token is %q at the sandbox", a.ID, a.Status, valid[tok.Refresh.Reveal()])
		}
	}
	var check string
	if err := rawDB(t, db).QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	t.Logf("%d kills during the storm, %d accounts: %d silently broken, %d refresh tokens lost (marked needs re-auth), integrity_check ok",
		kills, accounts, broken, lost)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs the binary and returns the sandbox's base URL once it
// answers; the process is killed at the end of the test.
func startProcess(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	base := "http://" + args[2]
	waitHTTP(t, base+"/sandbox/control/settings")
	return base
}

func startServerProcess(t *testing.T, bin string, env []string, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), env...)
	logf, _ := os.OpenFile(filepath.Join(t.TempDir(), "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	if addr != "" {
		waitHTTP(t, "http://"+addr+"/healthz")
	}
	return cmd
}

func waitHTTP(t *testing.T, u string) {
	t.Helper()
	for range 200 {
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

func openStore(t *testing.T, db string) *store.Store {
	t.Helper()
	k, _ := vault.ParseKey(testKey)
	box, _ := vault.NewBox(k)
	st, err := store.Open(context.Background(), store.Options{Path: db, Schema: schemaSQL, Box: box})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func rawDB(t *testing.T, db string) *sql.DB {
	t.Helper()
	d, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// seedTikTok connects n TikTok accounts, each through a real authorization
// at the sandbox and in a workspace of its own (the sandbox has one TikTok
// Business persona; a workspace lists an account once).
func seedTikTok(t *testing.T, db, sbURL string, n int) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, db)
	defer st.Close()
	st.SetPlanLimit(ctx, "business", 1000)
	res, err := http.Post(sbURL+"/sandbox/control/autoconsent", "application/json", strings.NewReader(`{"enabled":true,"persona":"bloom"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	a := providers.New(providers.TikTok, testrig.SandboxApps(sbURL, nil), "http://127.0.0.1/oauth/tiktok/callback")
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range n {
		verifier := oauth2.GenerateVerifier()
		res, err := hc.Get(a.AuthCodeURL(providers.AuthRequest{State: "s", Verifier: verifier}))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		loc, _ := url.Parse(res.Header.Get("Location"))
		g, err := a.Exchange(ctx, loc.Query().Get("code"), verifier)
		if err != nil {
			t.Fatal(err)
		}
		u, ws, err := st.SignUp(ctx, store.User{Email: fmt.Sprintf("crash%d@example.com", i), PasswordHash: "h"}, "W", "business", false)
		if err != nil {
			t.Fatal(err)
		}
		acc := g.Accounts[0]
		if _, err := st.Connect(ctx, store.Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Subject: g.Subject,
			Accounts: []store.Discovered{{PlatformUserID: acc.PlatformUserID, DisplayName: acc.DisplayName, Scopes: acc.Scopes,
				NextCheckAt: (providers.Schedule{}).Next(providers.TikTok, acc.Credentials, time.Now()),
				Tokens: store.Tokens{Access: acc.Credentials.AccessToken, Refresh: acc.Credentials.RefreshToken,
					Expiry: acc.Credentials.Expiry, RefreshExpiry: acc.Credentials.RefreshExpiry}}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// makeAllDue makes every working account due, and lets the leases a kill
// left behind run out, as the two minutes of a lease would while the
// server is down (the attempt ids stay: that is how a restart knows an
// attempt was in flight).
func makeAllDue(t *testing.T, db string) {
	t.Helper()
	now := time.Now().Unix() - 1
	if _, err := rawDB(t, db).Exec(`UPDATE social_accounts SET next_check_at = ?, last_synced_at = 0,
		lease_until = CASE WHEN lease_until IS NULL THEN NULL ELSE ? END WHERE status != 'needs_reauth'`, now, now); err != nil {
		t.Fatal(err)
	}
}

func countSynced(t *testing.T, db string) int {
	var n int
	rawDB(t, db).QueryRow("SELECT count(*) FROM social_accounts WHERE last_synced_at > 0").Scan(&n)
	return n
}

func countLeased(t *testing.T, db string) int {
	var n int
	rawDB(t, db).QueryRow("SELECT count(*) FROM social_accounts WHERE lease_until IS NOT NULL").Scan(&n)
	return n
}

// waitSettled waits until no account is due or leased.
func waitSettled(t *testing.T, db string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		var busy int
		rawDB(t, db).QueryRow(`SELECT count(*) FROM social_accounts WHERE status != 'needs_reauth'
			AND (next_check_at <= ? OR lease_until > ?)`, time.Now().Unix(), time.Now().Unix()).Scan(&busy)
		if busy == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the storm never settled")
}

func sandboxRefreshTokens(t *testing.T, sbURL string) map[string]string {
	t.Helper()
	res, err := http.Get(sbURL + "/sandbox/control/tokens")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list []struct{ Kind, Token, Status string }
	if err := json.NewDecoder(res.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tok := range list {
		if tok.Kind == "refresh" {
			out[tok.Token] = tok.Status
		}
	}
	return out
}

func allAccounts(t *testing.T, st *store.Store, db string) []store.Account {
	t.Helper()
	rows, err := rawDB(t, db).Query("SELECT DISTINCT workspace_id FROM social_accounts")
	if err != nil {
		t.Fatal(err)
	}
	var wss []int64
	for rows.Next() {
		var ws int64
		rows.Scan(&ws)
		wss = append(wss, ws)
	}
	rows.Close()
	var out []store.Account
	for _, ws := range wss {
		accts, err := st.Accounts(context.Background(), ws)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, accts...)
	}
	return out
}
