package handlers

import (
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestIdleTimeoutHonoured: whatever the idle limit, a person active more
// often than it stays logged in for many times its length, and silence
// longer than it logs them out. The last-seen time is written often enough
// for short limits, but not on every request for the default hour.
func TestIdleTimeoutHonoured(t *testing.T) {
	tests := []struct {
		idle      time.Duration
		every     time.Duration // a click this often
		during    time.Duration // for this long
		maxWrites int           // last-seen writes allowed while clicking every second for a minute
	}{
		{idle: 20 * time.Second, every: 15 * time.Second, during: 2 * time.Minute, maxWrites: 13},
		{idle: 2 * time.Minute, every: 90 * time.Second, during: 15 * time.Minute, maxWrites: 3},
		{idle: time.Hour, every: 45 * time.Minute, during: 6 * time.Hour, maxWrites: 2},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint("idle ", tc.idle), func(t *testing.T) {
			t.Parallel()
			k := newKit(t, func(d *Deps) { d.SessionIdle, d.SessionMax = tc.idle, 24*time.Hour })
			b := k.browser()
			b.signup("dana@example.com", "W")
			in := func() bool {
				t.Helper()
				res := b.get("/settings/accounts")
				switch res.StatusCode {
				case http.StatusOK:
					return true
				case http.StatusSeeOther:
					return false
				}
				t.Fatalf("status %d", res.StatusCode)
				return false
			}
			if !in() {
				t.Fatal("not logged in after sign-up")
			}

			// A click every second for a minute: few writes of last-seen.
			seen := map[int64]bool{}
			for range 60 {
				k.clock.Add(time.Second)
				if !in() {
					t.Fatal("logged out while clicking every second")
				}
				seen[lastSeen(t, k)] = true
			}
			if len(seen) > tc.maxWrites {
				t.Errorf("last-seen written %d times in a minute of clicks, want at most %d", len(seen), tc.maxWrites)
			}

			for elapsed := time.Duration(0); elapsed < tc.during; elapsed += tc.every {
				k.clock.Add(tc.every)
				if !in() {
					t.Fatalf("logged out after %s of a click every %s", elapsed+tc.every, tc.every)
				}
			}
			k.clock.Add(tc.idle - time.Second)
			if !in() {
				t.Fatalf("logged out after %s of silence, limit %s", tc.idle-time.Second, tc.idle)
			}
			k.clock.Add(tc.idle + time.Second)
			if in() {
				t.Fatalf("still logged in after %s of silence, limit %s", tc.idle+time.Second, tc.idle)
			}
		})
	}
}

// lastSeen reads the logged-in session's last-seen time from the database.
func lastSeen(t *testing.T, k *kit) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v int64
	if err := db.QueryRow("SELECT last_seen_at FROM sessions WHERE user_id IS NOT NULL").Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestGoneUserIsLoggedOut: a session whose user has gone (deleted behind
// the app's back, the session row and memberships left over) is an
// anonymous one on the very next request, never an error page.
func TestGoneUserIsLoggedOut(t *testing.T) {
	k := newKit(t)
	br := k.browser()
	br.signup("dana@example.com", "W")
	if res := br.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("before: %d", res.StatusCode)
	}
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)") // foreign keys off: nothing cascades
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("DELETE FROM users"); err != nil {
		t.Fatal(err)
	}
	if res := br.get("/settings/accounts"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("after: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := br.get("/api/v1/accounts"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API after: %d", res.StatusCode)
	}
}
