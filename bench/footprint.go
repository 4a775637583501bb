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
	"sync"
	"time"

	"omnisocial/store"
	"omnisocial/vault"
)

type footprint struct {
	BinaryMB  float64
	StartToOK time.Duration
	IdleRSSMB float64
	Loads     []footprintLoad
}

// footprintLoad is one load on the accounts page of the release binary:
// its server's CPU per request, read from /proc, and its peak memory.
type footprintLoad struct {
	Accounts, Clients int
	RPS               float64
	P99               time.Duration
	CPUPerRequest     time.Duration
	PeakRSSMB         float64
}

// benchFootprint builds the release binary, starts it on a database with a
// workspace of 50 accounts and one of 200, and measures size, time to the
// first 200 of /healthz, resident memory idle, and the accounts page of
// each workspace under load: the server's CPU per request and its memory.
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
		"OMNISOCIAL_LOG_LEVEL=warn", "OMNISOCIAL_PLAN_LIMITS=free=50,pro=50,business=200")
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

	base := "http://" + addr
	fifty, err := loggedIn(base, "dana@example.com", "Harbor")
	if err != nil {
		return f, err
	}
	twoHundred, err := loggedIn(base, "lee@example.com", "Agency")
	if err != nil {
		return f, err
	}
	if err := seedOver(db, keyHex, map[int64]int{1: 50, 2: 200}); err != nil {
		return f, err
	}
	time.Sleep(time.Second)
	f.IdleRSSMB = rssMB(cmd.Process.Pid)
	f.Loads = loadPage(cmd.Process.Pid, base, d, []pageLoad{{fifty, 50, 16}, {twoHundred, 200, 16}, {fifty, 50, 64}})
	return f, nil
}

type pageLoad struct {
	client            *http.Client
	accounts, clients int
}

// loadPage loads the accounts page of the server pid serves at base, as
// each load's person, recording its CPU per request and peak memory.
func loadPage(pid int, base string, d time.Duration, loads []pageLoad) []footprintLoad {
	var out []footprintLoad
	for _, l := range loads {
		load(l.client, base+"/settings/accounts", l.clients, time.Second, 1_000_000) // warm up
		fl := footprintLoad{Accounts: l.accounts, Clients: l.clients}
		stop := sampleRSS(pid, &fl.PeakRSSMB)
		cpu := cpuTime(pid)
		res := load(l.client, base+"/settings/accounts", l.clients, d, 1_000_000)
		fl.CPUPerRequest = (cpuTime(pid) - cpu) / time.Duration(max(res.Requests, 1))
		stop()
		fl.RPS, fl.P99 = res.RPS, res.P99
		out = append(out, fl)
	}
	return out
}

// sampleRSS records the peak resident memory of pid until stop is called.
func sampleRSS(pid int, peak *float64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			*peak = max(*peak, rssMB(pid))
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// cpuTime is the user and system CPU pid has used (/proc/pid/stat, in
// clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	// Fields after the command's closing parenthesis, from the third on.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.Atoi(f[11])
	stime, _ := strconv.Atoi(f[12])
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// seedOver adds each workspace's accounts through a second connection to
// the file the server has open (SQLite in WAL mode allows it).
func seedOver(db, keyHex string, accounts map[int64]int) error {
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
	for ws, n := range accounts {
		if err := seedPageAccounts(context.Background(), st, ws, n); err != nil {
			return err
		}
	}
	return nil
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
