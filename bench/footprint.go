package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

type footprint struct {
	BinaryMB  float64
	StartToOK time.Duration
	IdleRSSMB float64
	LoadRSSMB float64
	LoadRPS   float64
}

// benchFootprint builds the release binary, starts it on a database with
// 50 accounts, and measures size, time to the first 200 of /healthz, and
// resident memory idle and under 16 clients loading the accounts page.
func benchFootprint(schema string, d time.Duration) (footprint, error) {
	var f footprint
	dir, _ := os.MkdirTemp("", "omnisocial-bench")
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "omnisocial")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return f, fmt.Errorf("build: %v\n%s", err, out)
	}
	info, err := os.Stat(bin)
	if err != nil {
		return f, err
	}
	f.BinaryMB = float64(info.Size()) / (1 << 20)

	// Not one byte repeated: serve refuses placeholder keys.
	keyHex := strings.Repeat("0123456789abcdef", 4)
	db := filepath.Join(dir, "fp.db")
	key, _ := vault.ParseKey(keyHex)
	box, _ := vault.NewBox(key)
	st, err := store.Open(context.Background(), store.Options{Path: db, Schema: schema, Box: box})
	if err != nil {
		return f, err
	}
	st.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "OMNISOCIAL_DB="+db, "OMNISOCIAL_ENCRYPTION_KEY="+keyHex,
		"OMNISOCIAL_SESSION_SECRET="+strings.Repeat("fedcba9876543210", 4), "OMNISOCIAL_ADDR="+addr, "OMNISOCIAL_BASE_URL=http://"+addr,
		"OMNISOCIAL_LOG_LEVEL=warn", "OMNISOCIAL_PLAN_LIMITS=free=50,pro=50,business=50")
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return f, err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	for {
		if res, err := http.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(t0) > 10*time.Second {
			return f, fmt.Errorf("healthz never answered")
		}
		time.Sleep(time.Millisecond)
	}
	f.StartToOK = time.Since(t0)

	client, err := loggedIn("http://" + addr)
	if err != nil {
		return f, err
	}
	if err := seedOver(db, keyHex); err != nil {
		return f, err
	}
	time.Sleep(time.Second)
	f.IdleRSSMB = rssMB(cmd.Process.Pid)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				f.LoadRSSMB = max(f.LoadRSSMB, rssMB(cmd.Process.Pid))
			}
		}
	}()
	res := load(client, "http://"+addr+"/settings/accounts", 16, d, 1_000_000)
	close(done)
	f.LoadRPS = res.RPS
	return f, nil
}

// seedOver adds the 50 accounts through a second connection to the file
// the server has open (SQLite in WAL mode allows it).
func seedOver(db, keyHex string) error {
	key, _ := vault.ParseKey(keyHex)
	box, _ := vault.NewBox(key)
	schema, err := os.ReadFile("schema.sql")
	if err != nil {
		return err
	}
	st, err := store.Open(context.Background(), store.Options{Path: db, Schema: string(schema), Box: box})
	if err != nil {
		return err
	}
	defer st.Close()
	return seedPageAccounts(context.Background(), st, 50)
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
