package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnisocial/sandbox"
)

// TestRevocationSurvivesSIGKILL disconnects an account through the real
// binary while TikTok's revoke endpoint hangs, kills the server with
// SIGKILL mid-call, and restarts it: the revocation owed in the disconnect's
// commit is sent on start-up, so the token is dead at the platform although
// the process that owed it never finished.
func TestRevocationSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "omnisocial")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	sb := sandboxProc{t, startProcess(t, bin, nil, "sandbox", "--addr", freeAddr(t), "--state", filepath.Join(dir, "sandbox.json"))}
	sb.control("POST", "autoconsent", `{"enabled":true,"persona":"bloom"}`)

	db := filepath.Join(dir, "revoke.db")
	addr := freeAddr(t)
	base := "http://" + addr
	serverEnv := []string{
		"OMNISOCIAL_DB=" + db, "OMNISOCIAL_ENCRYPTION_KEY=" + testKey, "OMNISOCIAL_SESSION_SECRET=" + testSecret,
		"OMNISOCIAL_ADDR=" + addr, "OMNISOCIAL_BASE_URL=" + base,
		"OMNISOCIAL_TIKTOK_CLIENT_KEY=" + sandbox.DevTikTokClientKey, "OMNISOCIAL_TIKTOK_CLIENT_SECRET=" + sandbox.DevTikTokClientSecret,
		"OMNISOCIAL_TIKTOK_AUTH_URL=" + sb.URL + "/sandbox/www.tiktok.com", "OMNISOCIAL_TIKTOK_API_URL=" + sb.URL + "/sandbox/open.tiktokapis.com",
	}
	cmd := startServerProcess(t, bin, serverEnv, addr)
	p := newPerson(t, base)
	id, access := signUpAndConnectTikTok(t, p, sb, db)
	access = disconnectAndKill(t, p, sb, cmd, id, db, access)

	// TikTok answers again; the restarted server pays what it owes.
	sb.control("DELETE", "faults", "")
	cmd = startServerProcess(t, bin, serverEnv, addr)
	waitUntil(t, 15*time.Second, "the token to be revoked at TikTok", func() bool {
		return allStatus(tiktokAccessTokens(t, sb.control("GET", "tokens", "")), "revoked")
	})
	waitUntil(t, 5*time.Second, "the outbox row to go", func() bool {
		var owed int
		rawDB(t, db).QueryRow("SELECT count(*) FROM revocations").Scan(&owed)
		return owed == 0
	})
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	raw, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	for tok := range access {
		if bytes.Contains(raw, []byte(tok)) {
			t.Fatal("the token is in the database file in plaintext")
		}
	}
}

// sandboxProc is a sandbox running as a process of its own, at URL.
type sandboxProc struct {
	t   *testing.T
	URL string
}

// control calls its control API and returns the answer's body.
func (sb sandboxProc) control(method, path, body string) []byte {
	t := sb.t
	t.Helper()
	req, _ := http.NewRequest(method, sb.URL+"/sandbox/control/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("sandbox %s %s: %d %s", method, path, res.StatusCode, b.String())
	}
	return b.Bytes()
}

// signUpAndConnectTikTok signs p up and connects TikTok; it returns the
// one account's id and the one access token issued for it, with its status.
func signUpAndConnectTikTok(t *testing.T, p *person, sb sandboxProc, db string) (string, map[string]string) {
	t.Helper()
	if res, err := p.submit("/signup", "/signup", url.Values{"name": {"Bo"}, "email": {"bo@example.com"},
		"password": {"correct horse battery"}, "workspace": {"Bloom"}}); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signup: %v %v", res, err)
	}
	if res, err := p.connect("tiktok"); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("connect: %v %v", res, err)
	}
	var id string
	rawDB(t, db).QueryRow("SELECT id FROM social_accounts").Scan(&id)
	access := tiktokAccessTokens(t, sb.control("GET", "tokens", ""))
	if id == "" || len(access) != 1 {
		t.Fatalf("after connect: account %q, access tokens %v", id, access)
	}
	return id, access
}

// disconnectAndKill: every revocation now hangs at TikTok; the disconnect
// commits, the outbox calls, and the process dies while it waits. The token
// is still valid and one revocation is owed. It returns the access tokens
// as the sandbox lists them after the kill.
func disconnectAndKill(t *testing.T, p *person, sb sandboxProc, cmd *exec.Cmd, id, db string, access map[string]string) map[string]string {
	t.Helper()
	sb.control("POST", "faults", `{"endpoint":"tiktok.revoke","kind":"timeout","count":100}`)
	if res, err := p.submit("/settings/accounts/"+id+"/disconnect", "/settings/accounts/"+id+"/disconnect", url.Values{}); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disconnect: %v %v", res, err)
	}
	waitUntil(t, 10*time.Second, "the revocation call to start", func() bool {
		return bytes.Contains(sb.control("GET", "stats", ""), []byte(`"fault.tiktok.revoke.timeout"`))
	})
	cmd.Process.Kill()
	cmd.Wait()
	for tok, status := range access {
		if status != "valid" {
			t.Fatalf("token %s… is %s before the restart", tok[:6], status)
		}
	}
	if access = tiktokAccessTokens(t, sb.control("GET", "tokens", "")); !allStatus(access, "valid") {
		t.Fatalf("the hung call revoked the token: %v", access)
	}
	var owed int
	rawDB(t, db).QueryRow("SELECT count(*) FROM revocations").Scan(&owed)
	if owed != 1 {
		t.Fatalf("%d revocations owed after the kill, want 1", owed)
	}
	return access
}

// tiktokAccessTokens maps each TikTok access token the sandbox issued to
// its status (valid, revoked, expired…).
func tiktokAccessTokens(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var list []struct{ Platform, Kind, Token, Status string }
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tok := range list {
		if tok.Platform == "tiktok" && tok.Kind == "access" {
			out[tok.Token] = tok.Status
		}
	}
	return out
}

func allStatus(m map[string]string, want string) bool {
	for _, s := range m {
		if s != want {
			return false
		}
	}
	return len(m) > 0
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
