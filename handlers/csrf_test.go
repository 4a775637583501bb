package handlers

import (
	"database/sql"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	_ "modernc.org/sqlite"
)

// TestEveryStateChangingRouteNeedsCSRF walks the route table itself, so a
// route added later is covered without anyone remembering to list it.
func TestEveryStateChangingRouteNeedsCSRF(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	accts, _ := k.st.Accounts(t.Context(), 1)
	id := accts[0].ID

	// Routes verified another way: Meta's signed callbacks (HMAC), the
	// sandbox (another site), and API-key requests (no cookie to borrow).
	exempt := map[string]bool{"/oauth/facebook/deauthorize": true, "/oauth/facebook/data-deletion": true}
	before := snapshot(t, k.dbPath)
	n := 0
	for _, r := range k.echo.Routes() {
		if r.Method == http.MethodGet || r.Method == http.MethodHead || exempt[r.Path] || strings.HasPrefix(r.Path, "/sandbox") ||
			r.Method == echo.RouteNotFound {
			continue
		}
		path := strings.NewReplacer(":platform", "facebook", ":id", id, ":code", "x").Replace(r.Path)
		for _, headers := range [][]string{nil, {"HX-Request", "true", "X-CSRF-Token", "forged"}, {"Sec-Fetch-Site", "cross-site"}} {
			req, _ := http.NewRequest(r.Method, k.srv.URL+path, strings.NewReader(url.Values{"account": {id}, "name": {"x"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			if res := b.do(req); res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s %v: %d, want 403", r.Method, path, headers, res.StatusCode)
			}
		}
		n++
	}
	if n < 12 {
		t.Fatalf("only %d state-changing routes found", n)
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("forged requests changed the database:\nbefore %s\nafter  %s", before, after)
	}
}

// snapshot summarises the rows that matter, to prove nothing changed.
func snapshot(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out strings.Builder
	for _, q := range []string{
		"SELECT count(*) FROM users", "SELECT count(*) FROM memberships", "SELECT count(*) FROM api_keys",
		"SELECT group_concat(id || status || version) FROM social_accounts", "SELECT count(*) FROM oauth_flows",
		"SELECT count(*) FROM account_events", "SELECT count(*) FROM pending_grants",
		"SELECT count(*) FROM invitations", "SELECT group_concat(workspace_id || user_id || role) FROM memberships",
	} {
		var v sql.NullString
		if err := db.QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		out.WriteString(v.String + "|")
	}
	return out.String()
}

// TestCSRFCookieTossingForgesNothing is the finding of issue 11: a page on a
// sibling subdomain (or another port) can set a cookie for this host, so a
// token that is checked only against a cookie the request brings proves
// nothing. The attacker picks the cookie, sends the same value in _csrf and
// comes from the same site; no key may be created.
func TestCSRFCookieTossingForgesNothing(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	const chosen = "attacker-chosen-token-0123456789abcdef"
	for _, name := range []string{"omnisocial-csrf", "_csrf", "csrf"} {
		b.c.Jar.SetCookies(mustURL(k.srv.URL), []*http.Cookie{{Name: name, Value: chosen, Path: "/"}})
	}
	before := snapshot(t, k.dbPath)
	for _, tc := range []struct {
		name    string
		headers []string
		form    url.Values
	}{
		{"form field, same-site", []string{"Sec-Fetch-Site", "same-site"}, url.Values{"_csrf": {chosen}}},
		{"header, same-site", []string{"Sec-Fetch-Site", "same-site", "X-CSRF-Token", chosen, "HX-Request", "true"}, url.Values{}},
		{"form field, no fetch metadata", nil, url.Values{"_csrf": {chosen}}},
		{"form field, cross-site", []string{"Sec-Fetch-Site", "cross-site"}, url.Values{"_csrf": {chosen}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.form
			f.Set("name", "stolen")
			if res := b.post("/settings/api-keys", f, tc.headers...); res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
		})
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("a forged request changed the database:\nbefore %s\nafter  %s", before, after)
	}
	// The session's own token still works, same-site included.
	tok := b.csrf("/settings/api-keys")
	if res := b.post("/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"mine"}}, "Sec-Fetch-Site", "same-site"); res.StatusCode != http.StatusOK {
		t.Fatalf("the session's token, same-site: %d", res.StatusCode)
	}
}

// The token belongs to one session: a new one at log-in (a token seen on
// the log-in page is worthless afterwards) and at log-out, and a token
// from one person's session is refused in another's.
func TestCSRFTokenRenewedAtLogInAndLogOut(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	anon := b.csrf("/signup")
	b.signup("dana@example.com", "Harbor")
	in := b.csrf("/settings/api-keys")
	if in == anon {
		t.Fatal("the pre-session's token survived sign-up")
	}
	other := k.browser()
	other.signup("sam@example.com", "Sam's")
	before := snapshot(t, k.dbPath)
	for name, tok := range map[string]string{"pre-log-in token": anon, "another session's token": other.csrf("/settings/api-keys")} {
		if res := b.post("/settings/api-keys", url.Values{"_csrf": {tok}, "name": {"x"}}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, res.StatusCode)
		}
	}
	if res := b.post("/logout", url.Values{"_csrf": {in}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-out: %d", res.StatusCode)
	}
	if out := b.csrf("/login"); out == in {
		t.Fatal("the token survived log-out")
	}
	b.login("dana@example.com")
	if res := b.post("/settings/api-keys", url.Values{"_csrf": {in}, "name": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("a token from before log-out: %d, want 403", res.StatusCode)
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("refused requests changed the database:\nbefore %s\nafter  %s", before, after)
	}
}
