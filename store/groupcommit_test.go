package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// holdCommitter keeps the committers busy with writes of their own until
// release, so that what is handed over meanwhile waits, all of it, for the
// next group.
func holdCommitter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	loops := 1
	if s.Postgres() {
		loops = pgCommitters
	}
	done := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	t.Cleanup(release)
	// One at a time, so that each goes to a committer of its own.
	for range loops {
		started := make(chan struct{})
		go s.grouped(0, "", func(context.Context, *Tx) (int, error) {
			close(started)
			<-done
			return 0, nil
		})
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the committer did not start")
		}
	}
	return release
}

// waitQueued waits until n writes wait for the committer.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		s.group.mu.Lock()
		got := len(s.group.queue)
		s.group.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("%d writes never queued", n)
}

// recordAll stores an outcome for each claim at once, "at-<i>" / "rt-<i>",
// and returns each call's error and the size of the commit each stored
// outcome was in.
func recordAll(s *Store, cs []Claim) (errs []error, groups []int) {
	errs = make([]error, len(cs))
	var mu sync.Mutex
	s.OnOutcomeStored(func(_ time.Duration, group int) {
		mu.Lock()
		groups = append(groups, group)
		mu.Unlock()
	})
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			errs[i] = s.RecordSuccess(context.Background(), c, result(fmt.Sprint("at-", i), fmt.Sprint("rt-", i)))
		})
	}
	wg.Wait()
	return errs, groups
}

func TestGroupCommit(t *testing.T) {
	tests := []struct {
		name      string
		n         int
		fence     []int // claims fenced off before their outcome arrives
		fail      []int // claims whose row refuses the write
		wantGroup int   // size of the commit every stored outcome was in
	}{
		{"concurrent outcomes share one commit", 40, nil, nil, 40},
		{"a lost lease stays its own", 5, []int{1, 3}, nil, 5},
		{"a failed write falls back to one commit each", 5, nil, []int{2}, 1},
		{"fenced and failing together", 6, []int{0}, []int{4}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "g.db")
			s := openAt(t, path)
			_, ids := seedQueue(t, s, tc.n, t0)
			cs, err := s.ClaimDue(ctx, t0, "me", tc.n, time.Minute)
			if err != nil || len(cs) != tc.n {
				t.Fatalf("claimed %d, %v", len(cs), err)
			}
			before := map[string]int64{}
			for _, c := range cs {
				before[c.ID] = c.Version
			}
			for _, i := range tc.fence {
				exec(t, s, "UPDATE social_accounts SET attempt_id = 'other:1' WHERE id = ?", cs[i].ID)
			}
			for _, i := range tc.fail {
				refuseWrites(t, s, cs[i].ID)
			}
			release := holdCommitter(t, s)
			var errs []error
			var groups []int
			done := make(chan struct{})
			go func() { errs, groups = recordAll(s, cs); close(done) }()
			waitQueued(t, s, tc.n)
			release()
			<-done
			if stored := tc.n - len(tc.fence) - len(tc.fail); len(groups) != stored {
				t.Errorf("%d outcomes reported stored, want %d", len(groups), stored)
			}
			for _, g := range groups {
				if g != tc.wantGroup {
					t.Errorf("an outcome was committed in a group of %d, want %d", g, tc.wantGroup)
				}
			}
			s.Close()
			// Each acknowledged outcome is on disk: a new Store reads it.
			s = openAt(t, path)
			for i, c := range cs {
				tok, _ := s.Tokens(ctx, c.ID)
				q, _ := s.QueueState(ctx, c.ID)
				switch {
				case contains(tc.fence, i):
					if !errors.Is(errs[i], ErrLostLease) || tok.Refresh.Reveal() != fmt.Sprint("rt-", indexOf(ids, c.ID)) {
						t.Errorf("fenced %d: %v, refresh token changed: %v", i, errs[i], tok.Refresh.Reveal() != fmt.Sprint("rt-", indexOf(ids, c.ID)))
					}
				case contains(tc.fail, i):
					if errs[i] == nil || errors.Is(errs[i], ErrLostLease) || q.Version != before[c.ID] || q.LeaseUntil.IsZero() {
						t.Errorf("failing %d: %v, version %d → %d, lease %v: want its own error, the row untouched and leased",
							i, errs[i], before[c.ID], q.Version, q.LeaseUntil)
					}
				default:
					// Written once: the group's rolled-back run and the
					// one-by-one run after it add up to one version.
					if errs[i] != nil || tok.Refresh.Reveal() != fmt.Sprint("rt-", i) || q.Version != before[c.ID]+1 || !q.LeaseUntil.IsZero() {
						t.Errorf("outcome %d: %v, refresh token %q, version %d → %d", i, errs[i], tok.Refresh.Reveal(), before[c.ID], q.Version)
					}
				}
			}
		})
	}
}

// refuseWrites makes the database refuse any update of account id, as a
// full disk or a broken row would.
func refuseWrites(t *testing.T, s *Store, id string) {
	t.Helper()
	name := fmt.Sprintf("refuse_%d", time.Now().UnixNano())
	if s.Postgres() {
		exec(t, s, "CREATE FUNCTION "+name+"() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION USING ERRCODE = ''disk_full''; END'")
		exec(t, s, "CREATE TRIGGER "+name+" BEFORE UPDATE ON social_accounts FOR EACH ROW WHEN (NEW.id = '"+id+"') EXECUTE FUNCTION "+name+"()")
		return
	}
	exec(t, s, "CREATE TRIGGER "+name+" BEFORE UPDATE ON social_accounts WHEN NEW.id = '"+id+"' BEGIN SELECT RAISE(ABORT, 'refused'); END")
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

// Close writes what was handed over before it and refuses what comes
// after, without hanging either way.
func TestCloseDrainsGroupCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	s := openAt(t, path)
	seedQueue(t, s, 8, t0)
	cs, _ := s.ClaimDue(ctx, t0, "me", 8, time.Minute)
	release := holdCommitter(t, s)
	var errs []error
	done := make(chan struct{})
	go func() { errs, _ = recordAll(s, cs); close(done) }()
	waitQueued(t, s, len(cs))
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close hung with outcomes pending")
	}
	<-done
	for i, err := range errs {
		if err != nil {
			t.Errorf("outcome %d handed over before Close: %v", i, err)
		}
	}
	if err := s.RecordSuccess(ctx, cs[0], result("at-late", "rt-late")); err == nil {
		t.Error("an outcome was accepted after Close")
	}
	s = openAt(t, path)
	for i, c := range cs {
		if tok, _ := s.Tokens(ctx, c.ID); tok.Refresh.Reveal() != fmt.Sprint("rt-", i) {
			t.Errorf("outcome %d not stored before Close returned", i)
		}
	}
}
