package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnisocial/internal/testrig"
	"omnisocial/store"
	"omnisocial/vault"
)

const (
	testKey    = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testSecret = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
)

// env is a fake environment for run: the settings given, nothing else.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestServeRefusesBadKeys(t *testing.T) {
	tests := []struct {
		name, key, wantVar string
	}{
		{"missing", "", "OMNISOCIAL_ENCRYPTION_KEY"},
		{"ten characters", "0123456789", "OMNISOCIAL_ENCRYPTION_KEY"},
		{"not hex", strings.Repeat("zx", 32), "OMNISOCIAL_ENCRYPTION_KEY"},
		{"63 characters", testKey[:63], "OMNISOCIAL_ENCRYPTION_KEY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "x.db")
			var stderr bytes.Buffer
			err := run(context.Background(), []string{"omnisocial", "serve"},
				env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", tc.key, "OMNISOCIAL_SESSION_SECRET", testSecret, "OMNISOCIAL_ADDR", "127.0.0.1:0"),
				nil, &stderr, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.wantVar) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantVar)
			}
			if strings.Contains(err.Error(), tc.key) && tc.key != "" {
				t.Fatal("the error repeats the key")
			}
			if _, statErr := os.Stat(db); statErr == nil {
				t.Fatal("a database was created despite the bad configuration")
			}
		})
	}
}

func TestLoadConfig(t *testing.T) {
	base := []string{"OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret}
	tests := []struct {
		name    string
		extra   []string
		wantErr string // a variable name the error must mention; "" = valid
	}{
		{"defaults", nil, ""},
		{"bad addr", []string{"OMNISOCIAL_ADDR", "8080"}, "OMNISOCIAL_ADDR"},
		{"bad base url", []string{"OMNISOCIAL_BASE_URL", "localhost:8080"}, "OMNISOCIAL_BASE_URL"},
		{"bad signup", []string{"OMNISOCIAL_SIGNUP", "maybe"}, "OMNISOCIAL_SIGNUP"},
		{"bad dev", []string{"OMNISOCIAL_DEV", "yes please"}, "OMNISOCIAL_DEV"},
		{"bad plan limits", []string{"OMNISOCIAL_PLAN_LIMITS", "free=three"}, "OMNISOCIAL_PLAN_LIMITS"},
		{"half a facebook app", []string{"OMNISOCIAL_FACEBOOK_APP_ID", "123"}, "OMNISOCIAL_FACEBOOK_APP_ID"},
		{"bad idle", []string{"OMNISOCIAL_SESSION_IDLE", "-1s"}, "OMNISOCIAL_SESSION_IDLE"},
		{"short session secret", []string{"OMNISOCIAL_SESSION_SECRET", "abc"}, "OMNISOCIAL_SESSION_SECRET"},
		{"bad log level", []string{"OMNISOCIAL_LOG_LEVEL", "loud"}, "OMNISOCIAL_LOG_LEVEL"},
		{"bad proxy range", []string{"OMNISOCIAL_TRUSTED_PROXIES", "10.0.0.0/8, nonsense"}, "OMNISOCIAL_TRUSTED_PROXIES"},
		{"bad tiktok pkce", []string{"OMNISOCIAL_TIKTOK_PKCE", "base64"}, "OMNISOCIAL_TIKTOK_PKCE"},
		// Issue 11, finding 6: placeholder keys and one secret used twice.
		{"all-zero key", []string{"OMNISOCIAL_ENCRYPTION_KEY", strings.Repeat("0", 64)}, "OMNISOCIAL_ENCRYPTION_KEY"},
		{"all-zero session secret", []string{"OMNISOCIAL_SESSION_SECRET", strings.Repeat("00", 32)}, "OMNISOCIAL_SESSION_SECRET"},
		{"one byte repeated", []string{"OMNISOCIAL_ENCRYPTION_KEY", strings.Repeat("ff", 32)}, "OMNISOCIAL_ENCRYPTION_KEY"},
		{"key and secret the same", []string{"OMNISOCIAL_SESSION_SECRET", testKey}, "OMNISOCIAL_SESSION_SECRET"},
		{"key and secret the same, other case", []string{"OMNISOCIAL_SESSION_SECRET", strings.ToUpper(testKey)}, "OMNISOCIAL_SESSION_SECRET"},
		{"old key is the key", []string{"OMNISOCIAL_ENCRYPTION_KEY_OLD", testKey}, "OMNISOCIAL_ENCRYPTION_KEY_OLD"},
		// Finding 4: development mode on a public https URL or with real platform credentials.
		{"dev on https", []string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_BASE_URL", "https://social.example.com"}, "OMNISOCIAL_BASE_URL"},
		{"dev with a facebook app", []string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_FACEBOOK_APP_ID", "1", "OMNISOCIAL_FACEBOOK_APP_SECRET", "s"}, "OMNISOCIAL_FACEBOOK_APP_ID"},
		{"dev with a tiktok app", []string{"OMNISOCIAL_DEV", "1", "OMNISOCIAL_TIKTOK_CLIENT_KEY", "k", "OMNISOCIAL_TIKTOK_CLIENT_SECRET", "s"}, "OMNISOCIAL_TIKTOK_CLIENT_SECRET"},
		// Finding 3: the sandbox control token must be worth guessing.
		{"short control token", []string{"OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_SANDBOX_CONTROL_TOKEN", "secret"}, "OMNISOCIAL_SANDBOX_CONTROL_TOKEN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			kv := append(append([]string{}, base...), tc.extra...)
			m := map[string]string{}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			cfg, err := loadConfig(func(k string) string { return m[k] })
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Addr != ":8080" || cfg.DBPath != "./data/omnisocial.db" || cfg.PlanLimits["pro"] != 10 || cfg.Dev || cfg.TikTokPKCE != "hex" {
					t.Fatalf("defaults: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}

// Development mode generates secrets and mounts the sandbox with its
// open control API: refused where it looks like production, before any
// secret or database file is written (issue 11, finding 4).
func TestServeRefusesDevModeInProduction(t *testing.T) {
	tests := []struct {
		name     string
		extra    []string
		wantVars []string
	}{
		{"https base URL", []string{"OMNISOCIAL_BASE_URL", "https://social.example.com"}, []string{"OMNISOCIAL_DEV", "OMNISOCIAL_BASE_URL"}},
		{"Meta credentials", []string{"OMNISOCIAL_FACEBOOK_APP_ID", "123", "OMNISOCIAL_FACEBOOK_APP_SECRET", "s3cr3t"},
			[]string{"OMNISOCIAL_DEV", "OMNISOCIAL_FACEBOOK_APP_ID", "OMNISOCIAL_FACEBOOK_APP_SECRET"}},
		{"TikTok credentials", []string{"OMNISOCIAL_TIKTOK_CLIENT_KEY", "k", "OMNISOCIAL_TIKTOK_CLIENT_SECRET", "s3cr3t"},
			[]string{"OMNISOCIAL_DEV", "OMNISOCIAL_TIKTOK_CLIENT_KEY", "OMNISOCIAL_TIKTOK_CLIENT_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "dev.db")
			var stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second) // a server that starts stops here
			defer cancel()
			err := run(ctx, []string{"omnisocial", "serve"},
				env(append([]string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_DB", db, "OMNISOCIAL_ADDR", "127.0.0.1:0"}, tc.extra...)...),
				nil, &stderr, &stderr)
			if err == nil {
				t.Fatal("development mode started")
			}
			for _, v := range tc.wantVars {
				if !strings.Contains(err.Error(), v) {
					t.Errorf("error %q does not name %s", err, v)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatal("the error repeats a secret")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("files written despite the refusal: %v", entries)
			}
		})
	}
}

// In development OMNISOCIAL_ADDR alone moves the base URL along with it;
// an explicit OMNISOCIAL_BASE_URL wins, and outside development nothing is
// guessed.
func TestDevAddrMovesBaseURL(t *testing.T) {
	keys := []string{"OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret}
	tests := []struct {
		kv   []string
		want string
	}{
		{[]string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_ADDR", ":9090"}, "http://localhost:9090"},
		{[]string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_ADDR", "127.0.0.1:9091"}, "http://127.0.0.1:9091"},
		{[]string{"OMNISOCIAL_DEV", "true"}, "http://localhost:8080"},
		{[]string{"OMNISOCIAL_DEV", "true", "OMNISOCIAL_ADDR", ":9090", "OMNISOCIAL_BASE_URL", "http://dev.example.test:8000"}, "http://dev.example.test:8000"},
		{[]string{"OMNISOCIAL_ADDR", ":9090"}, "http://localhost:8080"},
	}
	for _, tc := range tests {
		cfg, err := loadConfig(env(append(append([]string{}, keys...), tc.kv...)...))
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.BaseURL.String(); got != tc.want {
			t.Errorf("%v: base URL %s, want %s", tc.kv, got, tc.want)
		}
	}
}

// The start-up log says where to sign up.
func TestStartupLogNamesSignup(t *testing.T) {
	ts := startServer(t)
	if want := "open " + ts.URL + "/signup"; !strings.Contains(ts.logs.String(), want) {
		t.Fatalf("the start-up log does not say %q:\n%s", want, ts.logs.String())
	}
}

func TestDevModeGeneratesSecretsOnce(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "dev.db")
	getenv := env("OMNISOCIAL_DEV", "true", "OMNISOCIAL_DB", db)
	g1, generated, err := devSecrets(getenv)
	if err != nil || !generated {
		t.Fatalf("first start: generated=%v err=%v", generated, err)
	}
	info, err := os.Stat(filepath.Join(dir, "dev-secrets.env"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file: %v mode %v", err, info.Mode())
	}
	g2, generated, _ := devSecrets(getenv)
	if generated || g1("OMNISOCIAL_ENCRYPTION_KEY") != g2("OMNISOCIAL_ENCRYPTION_KEY") || g2("OMNISOCIAL_ENCRYPTION_KEY") == "" {
		t.Fatal("second start did not reuse the generated key")
	}
	if _, err := loadConfig(g2); err != nil {
		t.Fatalf("generated secrets do not validate: %v", err)
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	getenv := env("OMNISOCIAL_DB", filepath.Join(dir, "c.db"), "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret)
	var out bytes.Buffer
	ctx := context.Background()
	steps := []struct {
		args    []string
		stdin   string
		wantOut string
		wantErr string
	}{
		{[]string{"omnisocial", "keygen"}, "", "", ""},
		{[]string{"omnisocial", "user", "add", "--email", "o@example.com", "--workspace", "Acme", "--password-stdin"}, "correct horse battery\n", `created workspace "Acme"`, ""},
		{[]string{"omnisocial", "user", "add", "--email", "m@example.com", "--workspace", "Acme", "--role", "admin", "--password-stdin"}, "correct horse battery\n", "as admin", ""},
		{[]string{"omnisocial", "user", "add", "--email", "m@example.com", "--workspace", "Acme", "--password-stdin"}, "correct horse battery\n", "", "already in workspace"},
		{[]string{"omnisocial", "user", "add", "--email", "x@example.com", "--workspace", "Acme", "--password-stdin"}, "short\n", "", "at least 8"},
		{[]string{"omnisocial", "plan", "set", "--workspace", "Acme", "--plan", "pro"}, "", "now on plan pro", ""},
		{[]string{"omnisocial", "plan", "set", "--workspace", "Acme", "--plan", "gold"}, "", "", "unknown plan"},
		{[]string{"omnisocial", "plan", "set", "--workspace", "Nope", "--plan", "pro"}, "", "", "no workspace"},
		{[]string{"omnisocial", "frobnicate"}, "", "", "unknown command"},
	}
	for _, s := range steps {
		out.Reset()
		err := run(ctx, s.args, getenv, strings.NewReader(s.stdin), &out, &out)
		if s.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), s.wantErr) {
				t.Fatalf("%v: err = %v, want %q", s.args, err, s.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", s.args, err)
		}
		if !strings.Contains(out.String(), s.wantOut) {
			t.Fatalf("%v: output %q, want %q", s.args, out.String(), s.wantOut)
		}
		if s.args[1] == "keygen" && len(strings.TrimSpace(out.String())) != 64 {
			t.Fatalf("keygen printed %q", out.String())
		}
	}
}

// testServer is the real server (run's serve path) on a free loopback
// port, with the sandbox mounted.
type testServer struct {
	URL  string
	DB   string
	logs *testrig.SyncBuffer
}

func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the base URL must name the port before the server starts
	kv := append([]string{
		"OMNISOCIAL_DB", filepath.Join(t.TempDir(), "e2e.db"),
		"OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret,
		"OMNISOCIAL_ADDR", addr, "OMNISOCIAL_BASE_URL", "http://" + addr, "OMNISOCIAL_SANDBOX", "true",
		"OMNISOCIAL_SANDBOX_CONTROL_TOKEN", testControlToken,
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	ts := &testServer{URL: "http://" + addr, logs: &testrig.SyncBuffer{}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "OMNISOCIAL_DB" {
			ts.DB = kv[i+1]
		}
	}
	go func() { done <- serve(ctx, env(kv...), ts.logs, func(string) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start in 10s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	res, err := http.Get(ts.URL + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v", err)
	}
	res.Body.Close()
	return ts
}

func TestRotateKeyCommand(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "rot.db")
	newKey := "5a5b5c5d5e5f" + testKey[12:]
	_, _, st, err := setup(ctx, env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	u, ws, _ := st.SignUp(ctx, store.User{Email: "o@example.com", PasswordHash: "h"}, "W", "business", false)
	var found []store.Discovered
	for i := range 250 {
		found = append(found, store.Discovered{PlatformUserID: fmt.Sprint(i), DisplayName: fmt.Sprint(i),
			Tokens: store.Tokens{Access: vault.NewToken(fmt.Sprint("act.", i))}})
	}
	st.SetPlanLimit(ctx, "business", 1000)
	if _, err := st.Connect(ctx, store.Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: found}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var out bytes.Buffer
	if err := run(ctx, []string{"omnisocial", "rotate-key"}, env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", newKey,
		"OMNISOCIAL_SESSION_SECRET", testSecret), nil, &out, &out); err == nil || !strings.Contains(err.Error(), "OMNISOCIAL_ENCRYPTION_KEY_OLD") {
		t.Fatalf("without the old key: %v", err)
	}
	rotEnv := env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", newKey, "OMNISOCIAL_ENCRYPTION_KEY_OLD", testKey,
		"OMNISOCIAL_SESSION_SECRET", testSecret, "OMNISOCIAL_PLAN_LIMITS", "free=3,pro=10,business=1000")
	out.Reset()
	if err := run(ctx, []string{"omnisocial", "rotate-key"}, rotEnv, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "250/250") || !strings.Contains(out.String(), "Done: 250 accounts re-encrypted") {
		t.Fatalf("output: %q", out.String())
	}
	// Afterwards the new key alone opens everything; the old one alone is refused.
	newOnly := env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", newKey, "OMNISOCIAL_SESSION_SECRET", testSecret)
	_, _, st, err = setup(ctx, newOnly, io.Discard)
	if err != nil {
		t.Fatalf("new key alone: %v", err)
	}
	accts, _ := st.Accounts(ctx, ws.ID)
	for _, a := range accts {
		if _, err := st.Tokens(ctx, a.ID); err != nil {
			t.Fatalf("account %s does not open under the new key: %v", a.ID, err)
		}
	}
	st.Close()
	_, _, _, err = setup(ctx, env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "OMNISOCIAL_ENCRYPTION_KEY") {
		t.Fatalf("old key alone after rotation: %v", err)
	}
}
