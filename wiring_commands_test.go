package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"omnisocial/internal/testrig"
)

// Subcommands. TestCommands and TestRotateKeyCommand (main_test.go) cover
// the ones listed here; commandCases covers the rest, through run().
var commandsTestedElsewhere = map[string]string{
	"keygen": "TestCommands", "user add": "TestCommands", "plan set": "TestCommands", "rotate-key": "TestRotateKeyCommand",
	"migrate": "TestMigrateCommand",
}

var commandCases = map[string]func(t *testing.T){
	"serve":   cmdServe,
	"sandbox": cmdSandbox,
	"version": cmdVersion,
	"help":    cmdHelp,
	"doctor":  cmdDoctor,
}

// doctor: against a running server's database it prints every line good,
// with the callback URLs built from OMNISOCIAL_BASE_URL; with the wrong key,
// unconfigured platforms, an http public base URL or a refresh job that
// never ran it prints those lines FAIL with the fix and exits with an error.
func cmdDoctor(t *testing.T) {
	w := boot(t, "OMNISOCIAL_SANDBOX", "true", "OMNISOCIAL_REFRESH_INTERVAL", "1s")
	base := "http://" + w.Addr
	if err := os.Chmod(filepath.Dir(w.DB), 0o700); err != nil {
		t.Fatal(err)
	}
	doctor := func(kv ...string) (string, error) {
		m := map[string]string{"OMNISOCIAL_DB": w.DB, "OMNISOCIAL_ENCRYPTION_KEY": testKey, "OMNISOCIAL_SESSION_SECRET": testSecret,
			"OMNISOCIAL_BASE_URL": base, "OMNISOCIAL_SANDBOX": "true", "OMNISOCIAL_REFRESH_INTERVAL": "1s",
			"OMNISOCIAL_SMTP_URL": "smtp://user:pass@127.0.0.1:2525", "OMNISOCIAL_MAIL_FROM": "alerts@example.com"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		var out bytes.Buffer
		err := run(context.Background(), []string{"omnisocial", "doctor"}, func(k string) string { return m[k] }, nil, &out, io.Discard)
		return out.String(), err
	}
	var out string
	var err error
	for range 100 { // the refresh job runs at start
		if out, err = doctor(); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("doctor against a good install: %v\n%s", err, out)
	}
	for _, want := range []string{base + "/oauth/facebook/callback", base + "/oauth/instagram/callback", base + "/oauth/tiktok/callback",
		"[ok  ] The encryption key opens the database", "[ok  ] Database is writable", "[ok  ] Refresh job ran in the last interval",
		"[ok  ] Database files are the owner's alone", "[ok  ] E-mail alerts: SMTP configured"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"wrong key", []string{"OMNISOCIAL_ENCRYPTION_KEY", testSecret, "OMNISOCIAL_SESSION_SECRET", testKey},
			[]string{"[FAIL] The encryption key does not open the database", "fix: set OMNISOCIAL_ENCRYPTION_KEY"}},
		{"fresh public install", []string{"OMNISOCIAL_DB", filepath.Join(t.TempDir(), "fresh.db"), "OMNISOCIAL_SANDBOX", "",
			"OMNISOCIAL_BASE_URL", "http://social.example.com:8080", "OMNISOCIAL_SMTP_URL", ""},
			[]string{"[FAIL] TikTok: not configured", "fix: set OMNISOCIAL_TIKTOK_CLIENT_KEY and OMNISOCIAL_TIKTOK_CLIENT_SECRET",
				"[FAIL] Facebook: not configured", "http://social.example.com:8080/oauth/tiktok/callback",
				"[FAIL] Base URL is not https", "[FAIL] Refresh job has never run", "[FAIL] Database folder is readable by others",
				"[FAIL] E-mail alerts: SMTP not configured"}},
		{"development mode, secrets from its file", []string{"OMNISOCIAL_DB", filepath.Join(t.TempDir(), "dev.db"), "OMNISOCIAL_DEV", "true",
			"OMNISOCIAL_ENCRYPTION_KEY", "", "OMNISOCIAL_SESSION_SECRET", "", "OMNISOCIAL_SMTP_URL", ""},
			[]string{"[ok  ] The encryption key opens the database", "[ok  ] Facebook: configured: talking to the built-in sandbox",
				"[FAIL] Refresh job has never run"}},
	} {
		out, err := doctor(tc.env...)
		if err == nil {
			t.Errorf("%s: doctor exited well:\n%s", tc.name, out)
		}
		for _, want := range tc.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, want, out)
			}
		}
	}
}

// TestCommandsInUsage fails when the usage text lists a command without a case.
func TestCommandsInUsage(t *testing.T) {
	_, list, ok := strings.Cut(usage, "\ncommands:\n")
	if !ok {
		t.Fatal("usage has no commands: section")
	}
	list, _, _ = strings.Cut(list, "\n\n")
	n := 0
	for _, line := range strings.Split(list, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if name == "" {
			continue
		}
		n++
		if commandCases[name] == nil && commandsTestedElsewhere[name] == "" {
			t.Errorf("command %q has no case: add one to commandCases in wiring_test.go", name)
		}
	}
	if n < 5 {
		t.Fatalf("read only %d commands from the usage text", n)
	}
}

func TestCommandWiring(t *testing.T) {
	for name, fn := range commandCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

// serve, named or as the default: the server answers at OMNISOCIAL_ADDR
// and stops cleanly when the context ends.
func cmdServe(t *testing.T) {
	for _, args := range [][]string{{"omnisocial", "serve"}, {"omnisocial"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			addr := wiringAddr(t)
			logs := &testrig.SyncBuffer{}
			getenv := env("OMNISOCIAL_DB", filepath.Join(t.TempDir(), "serve.db"), "OMNISOCIAL_ENCRYPTION_KEY", testKey,
				"OMNISOCIAL_SESSION_SECRET", testSecret, "OMNISOCIAL_ADDR", addr, "OMNISOCIAL_BASE_URL", "http://"+addr)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx, args, getenv, nil, io.Discard, logs) }()
			waitUp(t, "http://"+addr+"/healthz", done)
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "msg=listening") || !strings.Contains(logs.String(), "msg=stopped") {
				t.Fatalf("log:\n%s", logs)
			}
		})
	}
}

// sandbox: the emulator answers at --addr and keeps its state in --state.
func cmdSandbox(t *testing.T) {
	addr := wiringAddr(t)
	state := filepath.Join(t.TempDir(), "sandbox.json")
	stderr := &testrig.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"omnisocial", "sandbox", "--addr", addr, "--state", state}, env(), nil, io.Discard, stderr)
	}()
	waitUp(t, "http://"+addr+"/sandbox/control/personas", done)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "sandbox listening on http://"+addr+"/sandbox/") {
		t.Errorf("stderr: %q", stderr)
	}
	if _, err := os.Stat(state); err != nil {
		t.Errorf("no state file at --state: %v", err)
	}
}

func cmdVersion(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"omnisocial", "version"}, env(), nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != version+"\n" {
		t.Fatalf("version printed %q, want %q", out.String(), version+"\n")
	}
}

func cmdHelp(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out bytes.Buffer
		if err := run(context.Background(), []string{"omnisocial", arg}, env(), nil, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out.String()) != strings.TrimSpace(usage) {
			t.Fatalf("%s printed %q", arg, out.String())
		}
	}
}
