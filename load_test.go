package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/handlers/apitest"
)

// person is one browser-less user of a running server: a cookie jar that
// does not follow redirects, and the CSRF token its pages carry.
type person struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newPerson(t *testing.T, base string) *person {
	jar, _ := cookiejar.New(nil)
	// Answers of the API are checked against its OpenAPI description.
	return &person{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: apitest.Transport(t, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (p *person) do(method, path string, form url.Values) (*http.Response, []byte, error) {
	u := path
	if !strings.HasPrefix(path, "http") {
		u = p.base + path
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := p.c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// submit posts a form with the CSRF token scraped from page.
func (p *person) submit(page, path string, form url.Values) (*http.Response, error) {
	_, body, err := p.do("GET", page, nil)
	if err != nil {
		return nil, err
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	tok, _ := doc.Find(`input[name=_csrf]`).First().Attr("value")
	form.Set("_csrf", tok)
	res, _, err := p.do("POST", path, form)
	return res, err
}

// connect runs a whole authorization with the sandbox auto-consenting.
func (p *person) connect(platform string) (*http.Response, error) {
	res, err := p.submit("/settings/accounts/connect", "/connect/"+platform, url.Values{})
	if err != nil {
		return nil, err
	}
	res, _, err = p.do("GET", res.Header.Get("Location"), nil)
	if err != nil {
		return nil, err
	}
	res, _, err = p.do("GET", res.Header.Get("Location"), nil)
	return res, err
}

// TestLoadWhileRefreshStormRuns: people browse and act while every account
// is being refreshed at once; no request may fail on a busy database.
func TestLoadWhileRefreshStormRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const people = 12
	db := t.TempDir() + "/load.db"
	ts := startServer(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_REFRESH_INTERVAL", "1s", "OMNISOCIAL_REFRESH_RATE", "1000",
		"OMNISOCIAL_REFRESH_WORKERS", "8", "OMNISOCIAL_PLAN_LIMITS", "free=50,pro=50,business=50")
	sandboxControl(t, ts.URL, "autoconsent", `{"enabled":true,"persona":"dana"}`)
	ps := make([]*person, people)
	for i := range ps {
		ps[i] = signUpWithPages(t, ts.URL, i)
	}
	raw, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var accounts int
	raw.QueryRow("SELECT count(*) FROM social_accounts").Scan(&accounts)

	// Every account due at once, while everybody clicks around for a while.
	raw.Exec("UPDATE social_accounts SET next_check_at = ?", time.Now().Unix()-1)
	requests, failures := clickAround(t, ps, 6*time.Second)
	var synced int
	raw.QueryRow("SELECT count(*) FROM social_accounts WHERE last_outcome IN ('checked', 'refreshed', 'reconnected')").Scan(&synced)
	if failures > 0 {
		t.Fatalf("%d of %d requests failed", failures, requests)
	}
	if logs := ts.logs.String(); strings.Contains(logs, "SQLITE_BUSY") || strings.Contains(logs, "database is locked") || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("the server logged errors:\n%s", logs)
	}
	t.Logf("%d people, %d accounts due at once: %d requests in 6 s, 0 failed; %d accounts checked or renewed meanwhile",
		people, accounts, requests, synced)
}

// signUpWithPages signs person i up in a workspace of their own and
// connects Facebook and Instagram, keeping every account offered.
func signUpWithPages(t *testing.T, base string, i int) *person {
	t.Helper()
	p := newPerson(t, base)
	res, err := p.submit("/signup", "/signup", url.Values{"name": {"P"}, "email": {fmt.Sprintf("p%d@example.com", i)},
		"password": {"correct horse battery"}, "workspace": {fmt.Sprint("W", i)}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-up %d: %v", i, err)
	}
	for _, platform := range []string{"facebook", "instagram"} {
		res, err := p.connect(platform)
		if err != nil {
			t.Fatal(err)
		}
		grant := res.Header.Get("Location")
		_, body, _ := p.do("GET", grant, nil)
		doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
		form := url.Values{}
		doc.Find(`input[name=account]`).Each(func(_ int, s *goquery.Selection) { v, _ := s.Attr("value"); form.Add("account", v) })
		if res, err := p.submit(grant, grant, form); err != nil || res.StatusCode != http.StatusSeeOther {
			t.Fatalf("choose: %v", err)
		}
	}
	return p
}

// clickAround has everybody browse, call the API, reconnect and poll the
// banner at once for d; it counts the requests and those that failed (no
// answer, or a 5xx).
func clickAround(t *testing.T, ps []*person, d time.Duration) (requests, failures int64) {
	var nreq, nfail atomic.Int64
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				var res *http.Response
				var err error
				switch i % 5 {
				case 0, 1:
					res, _, err = p.do("GET", "/settings/accounts", nil)
				case 2:
					res, _, err = p.do("GET", "/api/v1/accounts", nil)
				case 3:
					res, err = p.connect("facebook") // reconnects every Page in place
				case 4:
					res, _, err = p.do("GET", "/banner", nil)
				}
				nreq.Add(1)
				if err != nil || res.StatusCode >= 500 {
					nfail.Add(1)
					t.Logf("request failed: %v %v", err, res)
				}
			}
		}()
	}
	wg.Wait()
	return nreq.Load(), nfail.Load()
}
