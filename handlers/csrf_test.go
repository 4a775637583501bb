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
	} {
		var v sql.NullString
		if err := db.QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		out.WriteString(v.String + "|")
	}
	return out.String()
}
