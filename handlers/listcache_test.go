package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"omnisocial/internal/pgtest"
	"omnisocial/internal/testrig"
	"omnisocial/store"
	"omnisocial/vault"
)

// The kept account lists are never stale: whatever changes an account in
// one request (or in the refresher, or in another replica) shows on the
// very next request, and so does what the clock changes. Each case reads
// the list (keeping it), makes one change through one server or store, and
// reads the list again through another.
func TestKeptListsAreNeverStale(t *testing.T) {
	t.Run("SQLite, one server", func(t *testing.T) {
		k := newKit(t)
		staleness(t, k, k, k.st)
	})
	t.Run("SQLite, a second process's store on the file", func(t *testing.T) {
		k := newKit(t)
		if pgtest.On() {
			t.Skip("the PostgreSQL pass runs the replicas' case")
		}
		staleness(t, k, k, testrig.StoreAt(t, k.dbPath, k.clock.Now))
	})
	t.Run("PostgreSQL, two replicas", func(t *testing.T) {
		dsn := pgtest.Fresh(t)
		clk := testrig.NewClock(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
		a := kitOn(t, testrig.StoreAt(t, dsn, clk.Now), dsn, clk)
		b := kitOn(t, testrig.StoreAt(t, dsn, clk.Now), dsn, clk)
		staleness(t, a, b, a.st)
	})
}

// staleness reads through reader and changes through writer (a server) or
// st (a store: the refresher's, or another process's).
func staleness(t *testing.T, writer, reader *kit, st *store.Store) {
	ctx := context.Background()
	wb := writer.browser()
	wb.signup("dana@example.com", "Harbor")
	// One person, two replicas: a cookie jar is per host, not per port.
	rb := &browser{k: reader, c: wb.c}
	connect := func(names ...string) {
		var found []store.Discovered
		for _, n := range names {
			found = append(found, store.Discovered{PlatformUserID: n, Username: n, DisplayName: n,
				Tokens:      store.Tokens{Access: vault.NewToken("at-" + n), Refresh: vault.NewToken("rt-" + n), Expiry: writer.clock.Now().Add(24 * time.Hour)},
				NextCheckAt: writer.clock.Now().Add(time.Hour)})
		}
		if _, err := st.Connect(ctx, store.Connect{WorkspaceID: 1, UserID: 1, Platform: "tiktok", Accounts: found}); err != nil {
			t.Fatal(err)
		}
	}
	idOf := func(name string) string {
		accts, err := st.Accounts(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range accts {
			if a.DisplayName == name {
				return a.ID
			}
		}
		t.Fatalf("no account %s", name)
		return ""
	}
	claim := func(name string) store.Claim {
		c, err := st.ClaimOne(ctx, writer.clock.Now(), idOf(name), "test", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	connect("alpha", "bravo", "charlie")
	steps := []struct {
		name   string
		change func()
		want   string // the list after it: each account's name, status and check
	}{
		{"as connected", func() {}, "alpha active just now|bravo active just now|charlie active just now"},
		{"the clock moves", func() { writer.clock.Add(40 * time.Minute) }, "alpha active 40 minutes ago|bravo active 40 minutes ago|charlie active 40 minutes ago"},
		{"disconnected in a request", func() {
			res := wb.form("/settings/accounts", "/settings/accounts/"+idOf("bravo")+"/disconnect", url.Values{})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("disconnect: %d", res.StatusCode)
			}
		}, "alpha active 40 minutes ago|charlie active 40 minutes ago"},
		{"found dead by the refresher", func() {
			err := st.RecordFailure(ctx, claim("alpha"), store.Failure{At: writer.clock.Now(), Permanent: true, Reason: "Token revoked", Outcome: store.OutcomePermanent})
			if err != nil {
				t.Fatal(err)
			}
		}, "alpha needs_reauth just now|charlie active 40 minutes ago"},
		{"renamed by a refresh", func() {
			err := st.RecordSuccess(ctx, claim("charlie"), store.Result{At: writer.clock.Now(), DisplayName: "Charlie & Co",
				Tokens: store.Tokens{Access: vault.NewToken("at-c2")}, NextCheckAt: writer.clock.Now().Add(time.Hour), Outcome: store.OutcomeRefreshed})
			if err != nil {
				t.Fatal(err)
			}
		}, "alpha needs_reauth just now|Charlie & Co active just now"},
		{"connected", func() { connect("delta") }, "alpha needs_reauth just now|Charlie & Co active just now|delta active just now"},
	}
	for _, step := range steps {
		listed(t, rb) // kept now, if it was not
		apiListed(t, rb)
		step.change()
		if got := listed(t, rb); got != step.want {
			t.Errorf("%s: the list reads\n %s\nwant\n %s", step.name, got, step.want)
		}
		if got, want := apiListed(t, rb), checkWords.ReplaceAllString(step.want, ""); got != want {
			t.Errorf("%s: the API lists\n %s\nwant\n %s", step.name, got, want)
		}
	}
}

// checkWords is a row's last check, which the API gives as a time.
var checkWords = regexp.MustCompile(` (just now|\d+ \w+ ago)`)

// apiListed is the API's account list: name and status of each.
func apiListed(t *testing.T, b *browser) string {
	t.Helper()
	res := b.get("/api/v1/accounts")
	var page apiPage
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range page.Accounts {
		out = append(out, a.DisplayName+" "+a.Status)
	}
	return strings.Join(out, "|")
}

// listed is the account list as a person reads it: name, status and last
// check of each row.
func listed(t *testing.T, b *browser) string {
	t.Helper()
	doc := parse(t, b.get("/settings/accounts/list", "HX-Request", "true"))
	out := ""
	doc.Find("[data-testid=account]").Each(func(i int, s *goquerySel) {
		status, _ := s.Find("[data-testid=status]").Attr("class")
		if i > 0 {
			out += "|"
		}
		out += fmt.Sprintf("%s %s %s", s.Find("[data-testid=account-name]").Text(), status[len("badge badge-"):],
			s.Find("[data-testid=checked]").Text()[len("Checked "):])
	})
	return out
}

// viewUntil is never late: an account reads the same at every instant
// before it, across relative times, a deadline's warning and its passing.
func TestViewUntilIsNeverLate(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var now time.Time
	s := &server{Deps: Deps{Now: func() time.Time { return now }, ExpiryWarning: 7 * 24 * time.Hour}}
	var accts []store.Account
	for _, synced := range []time.Duration{0, -time.Second, -7 * time.Minute, -5 * time.Hour, -3 * 24 * time.Hour} {
		for _, ends := range []time.Duration{0, 90 * time.Second, 2 * time.Hour, 7*24*time.Hour + time.Minute, 40 * 24 * time.Hour} {
			for _, st := range []store.Status{store.StatusActive, store.StatusNeedsReauth} {
				a := store.Account{ID: "a", Platform: "facebook", DisplayName: "Harbor", Status: st, UpdatedAt: t0.Add(synced)}
				if synced != 0 {
					a.LastSyncedAt = t0.Add(synced)
				}
				if ends != 0 {
					a.TokenExpiresAt = t0.Add(ends)
				}
				accts = append(accts, a)
			}
		}
	}
	for _, a := range accts {
		for now = t0; now.Before(t0.Add(9 * 24 * time.Hour)); {
			was := s.accountView(a, true)
			until := s.viewUntil(a, now)
			if !until.After(now) {
				t.Fatalf("%+v at %v: viewUntil %v is not ahead", a, now, until)
			}
			at := now
			now = until.Add(-1)
			if got := s.accountView(a, true); !reflect.DeepEqual(got, was) {
				t.Fatalf("account synced %v, ending %v, %s: at %v it reads %+v, but %+v just before %v", a.LastSyncedAt, a.TokenExpiresAt, a.Status, at, was, got, until)
			}
			now = until
		}
	}
}

// The API's list, written from kept JSON, is what json.Marshal makes of
// an apiPage, byte for byte, with and without a next page.
func TestAPIListIsMarshalled(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	seedAccounts(t, k, 7)
	for _, path := range []string{"/api/v1/accounts", "/api/v1/accounts?limit=2", "/api/v1/accounts?platform=instagram", "/api/v1/accounts?status=limited"} {
		body, err := io.ReadAll(b.get(path).Body)
		if err != nil {
			t.Fatal(err)
		}
		var page apiPage
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		again, _ := json.Marshal(page)
		if string(again) != string(body) {
			t.Errorf("%s:\n got %s\nwant %s", path, body, again)
		}
	}
}

// The cache keeps at most its bytes of rows, dropping the lists used
// longest ago, and never the one just kept.
func TestListCacheDropsTheLeastUsed(t *testing.T) {
	c := newListCache(100)
	keep := func(ws int64, size int, used int64) {
		l := &accountList{size: size}
		l.used.Store(used)
		c.put(listKey{ws, listManager}, l)
	}
	keep(1, 40, 3)
	keep(2, 40, 1)
	keep(3, 40, 2) // 120 > 100: workspace 2, used longest ago, goes
	if c.get(listKey{2, listManager}) != nil || c.get(listKey{1, listManager}) == nil || c.get(listKey{3, listManager}) == nil || c.size != 80 {
		t.Fatalf("after a third list: %v lists, %d bytes", len(c.lists), c.size)
	}
	keep(4, 500, 0) // bigger than the cache: kept alone
	if len(c.lists) != 1 || c.get(listKey{4, listManager}) == nil || c.size != 500 {
		t.Fatalf("after an oversized list: %v lists, %d bytes", len(c.lists), c.size)
	}
	keep(4, 30, 5) // replaced: its old size goes
	if c.size != 30 {
		t.Fatalf("after replacing a list: %d bytes, want 30", c.size)
	}
}
