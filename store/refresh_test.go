package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"omnisocial/vault"
)

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// seedQueue connects n TikTok accounts due at next and returns the
// workspace and the account ids in platform-user-id order.
func seedQueue(t *testing.T, s *Store, n int, next time.Time) (int64, []string) {
	t.Helper()
	ctx := context.Background()
	u, ws, err := s.SignUp(ctx, User{Email: fmt.Sprintf("q%d@example.com", time.Now().UnixNano()), PasswordHash: "h"}, "Q", "business", false)
	if err != nil {
		t.Fatal(err)
	}
	var ds []Discovered
	for i := range n {
		ds = append(ds, Discovered{PlatformUserID: fmt.Sprintf("u%02d", i), DisplayName: fmt.Sprintf("Account %02d", i),
			Tokens: Tokens{Access: vault.NewToken(fmt.Sprintf("at-%d", i)), Refresh: vault.NewToken(fmt.Sprintf("rt-%d", i)),
				Expiry: next.Add(time.Hour), RefreshExpiry: next.Add(180 * 24 * time.Hour)},
			Scopes: []string{"user.info.basic"}, NextCheckAt: next})
	}
	if _, err := s.Connect(ctx, Connect{WorkspaceID: ws.ID, UserID: u.ID, Platform: "tiktok", Accounts: ds}); err != nil {
		t.Fatal(err)
	}
	accs, err := s.Accounts(ctx, ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(accs, func(a, b Account) int { return strings.Compare(a.PlatformUserID, b.PlatformUserID) })
	var ids []string
	for _, a := range accs {
		ids = append(ids, a.ID)
	}
	return ws.ID, ids
}

func exec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	if _, err := s.rawExec(q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestClaimDue(t *testing.T) {
	ctx := context.Background()
	lease := 2 * time.Minute
	tests := []struct {
		name          string
		setup         string // SQL run on the account before claiming
		args          []any
		wantClaimed   bool
		wantRecovered bool
		wantOneErr    error // ClaimOne on the same account
	}{
		{"due", "", nil, true, false, nil},
		{"not yet due", "UPDATE social_accounts SET next_check_at = ?", []any{t0.Add(time.Minute).Unix()}, false, false, nil},
		{"needs_reauth", "UPDATE social_accounts SET status = 'needs_reauth'", nil, false, false, ErrNeedsReauth},
		{"live lease", "UPDATE social_accounts SET lease_until = ?, attempt_id = 'other:1'", []any{t0.Add(time.Minute).Unix()}, false, false, ErrLeased},
		{"lease ran out mid-attempt", "UPDATE social_accounts SET lease_until = ?, attempt_id = 'other:1'", []any{t0.Add(-time.Second).Unix()}, true, true, nil},
		{"limited is still kept alive", "UPDATE social_accounts SET status = 'limited'", nil, true, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			_, ids := seedQueue(t, s, 1, t0)
			if tc.setup != "" {
				exec(t, s, tc.setup, tc.args...)
			}
			cs, err := s.ClaimDue(ctx, t0, "me", 10, lease)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(cs) == 1; got != tc.wantClaimed {
				t.Fatalf("claimed %d accounts, want claimed=%v", len(cs), tc.wantClaimed)
			}
			if tc.wantClaimed {
				c := cs[0]
				if c.ID != ids[0] || !strings.HasPrefix(c.AttemptID, "me:") || c.Recovered != tc.wantRecovered ||
					c.Tokens.Refresh.Reveal() != "rt-0" || c.Tokens.Access.Reveal() != "at-0" || c.Platform != "tiktok" {
					t.Fatalf("claim = %+v", c)
				}
				q, _ := s.QueueState(ctx, c.ID)
				if !q.LeaseUntil.Equal(t0.Add(lease)) || !q.LastAttemptAt.Equal(t0) {
					t.Fatalf("intent not recorded: %+v", q)
				}
				// Claimed means leased: nobody else gets it now.
				if again, _ := s.ClaimDue(ctx, t0, "other", 10, lease); len(again) != 0 {
					t.Fatal("a leased account was claimed twice")
				}
				if _, err := s.ClaimOne(ctx, t0, c.ID, "other", lease); !errors.Is(err, ErrLeased) {
					t.Fatalf("ClaimOne on a leased account: %v, want ErrLeased", err)
				}
				return
			}
			_, err = s.ClaimOne(ctx, t0, ids[0], "me", lease)
			if !errors.Is(err, tc.wantOneErr) {
				t.Fatalf("ClaimOne: %v, want %v", err, tc.wantOneErr)
			}
		})
	}
	t.Run("unknown account", func(t *testing.T) {
		s := newTestStore(t)
		if _, err := s.ClaimOne(ctx, t0, "nope", "me", lease); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ClaimOne: %v, want ErrNotFound", err)
		}
	})
}

func TestClaimDueOrderAndLimit(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	_, ids := seedQueue(t, s, 3, t0)
	exec(t, s, "UPDATE social_accounts SET next_check_at = ? WHERE id = ?", t0.Add(-time.Hour).Unix(), ids[2])
	cs, err := s.ClaimDue(ctx, t0, "me", 2, time.Minute)
	if err != nil || len(cs) != 2 || cs[0].ID != ids[2] {
		t.Fatalf("claimed %v, %v: want 2, most overdue first", cs, err)
	}
}

// Two processes (two Stores on one file) and several goroutines each claim
// until the queue is empty: every account goes to exactly one of them.
func TestConcurrentClaimersNeverShare(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "q.db")
	a := openAt(t, path)
	b := openAt(t, path)
	_, ids := seedQueue(t, a, 30, t0)
	var mu sync.Mutex
	got := map[string]string{}
	var wg sync.WaitGroup
	for i := range 8 {
		s := []*Store{a, b}[i%2]
		wg.Go(func() {
			for {
				cs, err := s.ClaimDue(ctx, t0, fmt.Sprint("w", i), 3, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					if prev, dup := got[c.ID]; dup {
						t.Errorf("account %s claimed by %s and %s", c.ID, prev, c.AttemptID)
					}
					got[c.ID] = c.AttemptID
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != len(ids) {
		t.Fatalf("%d of %d accounts claimed", len(got), len(ids))
	}
}

func result(access, refresh string) Result {
	return Result{At: t0, Tokens: Tokens{Access: vault.NewToken(access), Refresh: vault.NewToken(refresh), Expiry: t0.Add(2 * time.Hour)},
		DisplayName: "Renamed", Status: StatusActive, NextCheckAt: t0.Add(90 * time.Minute), Outcome: "refreshed", Event: "refreshed"}
}

func TestRecordSuccess(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		refresh     string // "" = the platform sent none
		wantRefresh string
	}{
		{"rotated refresh token replaces the old one", "rt-new", "rt-new"},
		{"empty refresh token keeps the stored one", "", "rt-0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			ws, ids := seedQueue(t, s, 1, t0)
			exec(t, s, "UPDATE social_accounts SET failures = 3, last_error = 'x'")
			cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Minute)
			before, _ := s.QueueState(ctx, ids[0])
			if err := s.RecordSuccess(ctx, cs[0], result("at-new", tc.refresh)); err != nil {
				t.Fatal(err)
			}
			tok, _ := s.Tokens(ctx, ids[0])
			if tok.Access.Reveal() != "at-new" || tok.Refresh.Reveal() != tc.wantRefresh || !tok.Expiry.Equal(t0.Add(2*time.Hour)) {
				t.Fatalf("tokens = %s / %s, %v", tok.Access.Reveal(), tok.Refresh.Reveal(), tok.Expiry)
			}
			q, _ := s.QueueState(ctx, ids[0])
			if q.Version != before.Version+1 || !q.LeaseUntil.IsZero() || q.Failures != 0 || q.LastError != "" ||
				q.LastOutcome != "refreshed" || !q.LastSyncedAt.Equal(t0) || !q.NextCheckAt.Equal(t0.Add(90*time.Minute)) {
				t.Fatalf("queue state = %+v", q)
			}
			acc, _ := s.Account(ctx, ws, ids[0])
			if acc.DisplayName != "Renamed" || strings.Join(acc.Scopes, " ") != "user.info.basic" {
				t.Fatalf("profile = %q %v (empty scopes keep the stored ones)", acc.DisplayName, acc.Scopes)
			}
			if ev, _ := s.Events(ctx, ws, ids[0], 1); len(ev) != 1 || ev[0].Kind != "refreshed" {
				t.Fatalf("events = %+v", ev)
			}
			// The attempt is over: writing its outcome again is fenced off.
			if err := s.RecordSuccess(ctx, cs[0], result("at-x", "rt-x")); !errors.Is(err, ErrLostLease) {
				t.Fatalf("second write: %v, want ErrLostLease", err)
			}
		})
	}
	t.Run("empty access token is refused", func(t *testing.T) {
		s := newTestStore(t)
		seedQueue(t, s, 1, t0)
		cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Minute)
		if err := s.RecordSuccess(ctx, cs[0], result("", "rt")); err == nil {
			t.Fatal("stored an empty access token")
		}
	})
}

// Shutdown cancels the job's context; an outcome (maybe a rotated token
// the platform will not issue again) is stored all the same.
func TestOutcomeSurvivesCancelledContext(t *testing.T) {
	s := newTestStore(t)
	_, ids := seedQueue(t, s, 1, t0)
	cs, _ := s.ClaimDue(context.Background(), t0, "me", 1, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.RecordSuccess(ctx, cs[0], result("at-new", "rt-new")); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Tokens(context.Background(), ids[0]); tok.Refresh.Reveal() != "rt-new" {
		t.Fatal("not stored")
	}
}

// A reconnect while a refresh is in flight clears the attempt id: the
// refresh's late write changes nothing.
func TestRefreshLosesToReconnect(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	ws, ids := seedQueue(t, s, 1, t0)
	cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Minute)
	acc, _ := s.Account(ctx, ws, ids[0])
	var uid int64
	s.rawQueryRow("SELECT user_id FROM social_accounts WHERE id = ?", ids[0]).Scan(&uid)
	if _, err := s.Connect(ctx, Connect{WorkspaceID: ws, UserID: uid, Platform: "tiktok", OnlyExisting: true,
		Accounts: []Discovered{{PlatformUserID: acc.PlatformUserID, DisplayName: acc.DisplayName,
			Tokens: Tokens{Access: vault.NewToken("at-reconnect"), Refresh: vault.NewToken("rt-reconnect")}, NextCheckAt: t0.Add(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	for name, write := range map[string]func() error{
		"success": func() error { return s.RecordSuccess(ctx, cs[0], result("at-late", "rt-late")) },
		"failure": func() error { return s.RecordFailure(ctx, cs[0], Failure{Permanent: true, Reason: "dead"}) },
		"release": func() error { return s.ReleaseLease(ctx, cs[0], t0, "") },
	} {
		if err := write(); !errors.Is(err, ErrLostLease) {
			t.Errorf("late %s: %v, want ErrLostLease", name, err)
		}
	}
	tok, _ := s.Tokens(ctx, ids[0])
	q, _ := s.QueueState(ctx, ids[0])
	if tok.Access.Reveal() != "at-reconnect" || tok.Refresh.Reveal() != "rt-reconnect" || q.Status != StatusActive {
		t.Fatalf("reconnect overwritten: %s / %s, %s", tok.Access.Reveal(), tok.Refresh.Reveal(), q.Status)
	}
}

func TestRecordFailure(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		status     Status
		f          Failure
		wantStatus Status
		wantEvent  string
		claimable  bool // again, once due
	}{
		{"transient keeps active", StatusActive, Failure{Reason: "TikTok had a temporary problem", NextCheckAt: t0.Add(5 * time.Minute), Outcome: "transient:http_500"},
			StatusActive, "check_failed", true},
		{"transient keeps limited", StatusLimited, Failure{Reason: "timeout", NextCheckAt: t0.Add(5 * time.Minute), Outcome: "transient:timeout"},
			StatusLimited, "check_failed", true},
		{"permanent needs re-auth", StatusActive, Failure{Permanent: true, Reason: "TikTok rejected the refresh token (expired or revoked)", Outcome: "permanent:invalid_grant"},
			StatusNeedsReauth, "needs_reauth", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestStore(t)
			ws, ids := seedQueue(t, s, 1, t0)
			exec(t, s, "UPDATE social_accounts SET status = ?", tc.status)
			cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Minute)
			tc.f.At = t0
			if err := s.RecordFailure(ctx, cs[0], tc.f); err != nil {
				t.Fatal(err)
			}
			q, _ := s.QueueState(ctx, ids[0])
			if q.Status != tc.wantStatus || q.LastError != tc.f.Reason || q.Failures != 1 || q.LastOutcome != tc.f.Outcome || !q.LeaseUntil.IsZero() {
				t.Fatalf("queue state = %+v", q)
			}
			if !tc.f.Permanent && !q.NextCheckAt.Equal(tc.f.NextCheckAt) {
				t.Fatalf("next check %v, want %v", q.NextCheckAt, tc.f.NextCheckAt)
			}
			tok, _ := s.Tokens(ctx, ids[0])
			if tok.Refresh.Reveal() != "rt-0" {
				t.Fatal("a failure touched the tokens")
			}
			if ev, _ := s.Events(ctx, ws, ids[0], 1); len(ev) != 1 || ev[0].Kind != tc.wantEvent || !strings.HasPrefix(ev[0].Detail, tc.f.Reason) {
				t.Fatalf("events = %+v", ev)
			}
			later, _ := s.ClaimDue(ctx, t0.Add(24*time.Hour), "me", 1, time.Minute)
			if (len(later) == 1) != tc.claimable {
				t.Fatalf("claimed %d a day later, want claimable=%v", len(later), tc.claimable)
			}
		})
	}
}

func TestReleaseLease(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	_, ids := seedQueue(t, s, 1, t0)
	cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Hour)
	if err := s.ReleaseLease(ctx, cs[0], t0.Add(30*time.Minute), "misconfigured:invalid_client"); err != nil {
		t.Fatal(err)
	}
	q, _ := s.QueueState(ctx, ids[0])
	if q.Status != StatusActive || q.Failures != 0 || !q.NextCheckAt.Equal(t0.Add(30*time.Minute)) || !q.LeaseUntil.IsZero() {
		t.Fatalf("queue state = %+v", q)
	}
	if again, _ := s.ClaimDue(ctx, t0.Add(30*time.Minute), "me", 1, time.Hour); len(again) != 1 {
		t.Fatal("a released account was not claimable when due")
	}
}

func TestAlerts(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	s.SetAlert(ctx, "platform:tiktok", "first")
	s.SetAlert(ctx, "platform:tiktok", "reworded")
	s.SetAlert(ctx, "tokens", "other")
	got, err := s.Alerts(ctx)
	if err != nil || len(got) != 2 {
		t.Fatalf("alerts = %+v, %v", got, err)
	}
	if i := slices.IndexFunc(got, func(a Alert) bool { return a.Key == "platform:tiktok" }); i < 0 || got[i].Message != "reworded" {
		t.Fatalf("alerts = %+v", got)
	}
	s.ClearAlert(ctx, "platform:tiktok")
	s.ClearAlert(ctx, "never-raised")
	if got, _ := s.Alerts(ctx); len(got) != 1 || got[0].Key != "tokens" {
		t.Fatalf("after clear: %+v", got)
	}
}

// A full disk is reported as unwritable, the signal for the refresher to
// stop starting refreshes; CheckWritable tells when it may resume.
func TestFullDatabaseIsUnwritable(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	seedQueue(t, s, 1, t0)
	cs, _ := s.ClaimDue(ctx, t0, "me", 1, time.Minute)
	r := result("at-"+strings.Repeat("x", 20000), "rt-new") // needs new pages
	undo := fillUp(t, s)
	err := s.RecordSuccess(ctx, cs[0], r)
	if !IsUnwritable(err) {
		t.Fatalf("write to a full database: %v, want unwritable", err)
	}
	undo()
	if err := s.CheckWritable(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSuccess(ctx, cs[0], r); err != nil {
		t.Fatalf("the held tokens could not be stored after recovery: %v", err)
	}
}

// fillUp makes the database refuse writes as a full disk does, until undo:
// SQLite is held at its size, and PostgreSQL answers disk_full (53100).
func fillUp(t *testing.T, s *Store) (undo func()) {
	if s.Postgres() {
		exec(t, s, `CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION USING ERRCODE = ''disk_full''; END'`)
		for _, table := range []string{"social_accounts", "meta"} {
			exec(t, s, "CREATE TRIGGER full_"+table+" BEFORE INSERT OR UPDATE ON "+table+" FOR EACH ROW EXECUTE FUNCTION disk_full()")
		}
		return func() { exec(t, s, "DROP FUNCTION disk_full CASCADE") }
	}
	var pages int
	s.rawQueryRow("PRAGMA page_count").Scan(&pages)
	exec(t, s, fmt.Sprintf("PRAGMA max_page_count = %d", pages))
	return func() { exec(t, s, "PRAGMA max_page_count = 1073741823") }
}
