package sandbox

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestMetaMe(t *testing.T) {
	e := newEnv(t)
	tok := e.metaUserToken("dana", fbScopes)
	tests := []struct {
		name   string
		req    func() resp
		want   map[string]any
		absent []string
	}{
		{"default fields", func() resp { return e.graphGet("me", tok) }, map[string]any{"id": "10229000000001", "name": "Dana Whitfield"}, []string{"email"}},
		{"bearer header", func() resp {
			return e.get("/sandbox/graph.facebook.com/v26.0/me?fields=id,first_name", "Authorization", "Bearer "+tok)
		}, map[string]any{"id": "10229000000001", "first_name": "Dana"}, []string{"name"}},
		{"by id", func() resp { return e.graphGet("10229000000001", tok, "fields", "name") }, map[string]any{"name": "Dana Whitfield"}, nil},
		{"email needs permission", func() resp { return e.graphGet("me", tok, "fields", "id,email") }, map[string]any{"id": "10229000000001"}, []string{"email"}},
		{"unversioned path", func() resp {
			return e.get("/sandbox/graph.facebook.com/me?access_token=" + url.QueryEscape(tok))
		}, map[string]any{"name": "Dana Whitfield"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.req()
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			m := r.JSON(t)
			for k, v := range tt.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := m[k]; ok {
					t.Errorf("%s present", k)
				}
			}
			if r.Header.Get("X-App-Usage") == "" {
				t.Errorf("no X-App-Usage")
			}
		})
	}
	errs := []struct {
		name      string
		r         resp
		code, sub int64
	}{
		{"no token", e.graphGet("me", ""), 104, 0},
		{"garbage token", e.graphGet("me", "EAAgarbage"), 190, 0},
		{"unknown field", e.graphGet("me", tok, "fields", "id,shoe_size"), 100, 0},
		{"other user", e.graphGet("10229000000003", tok), 100, 33},
		{"page not selected", e.graphGet("104000000000301", tok), 100, 33},
		{"unknown edge", e.graphGet("me/feedz", tok), 100, 33},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			if c, s := graphError(t, tt.r); c != tt.code || s != tt.sub {
				t.Errorf("got %d/%d want %d/%d: %s", c, s, tt.code, tt.sub, tt.r.Body)
			}
		})
	}
}

func TestMetaAccounts(t *testing.T) {
	e := newEnv(t)
	tok := e.metaUserToken("dana", igScopes)
	fields := "id,name,access_token,category,tasks,picture.type(large),instagram_business_account{id,username,name,profile_picture_url,followers_count}"
	r := e.graphGet("me/accounts", tok, "fields", fields)
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	checkMetaPages(t, r)
	checkMetaAccountsPaging(t, e, tok)
	checkMetaAccountsSelection(t, e)
}

// checkMetaPages checks dana's four Pages in full: a token, tasks and a
// picture each, and the Instagram account on the two linked ones only.
func checkMetaPages(t *testing.T, r resp) {
	t.Helper()
	m := r.JSON(t)
	data := m["data"].([]any)
	if len(data) != 4 {
		t.Fatalf("want 4 pages, got %d", len(data))
	}
	linked := map[string]bool{}
	for _, d := range data {
		p := d.(map[string]any)
		if tok, _ := p["access_token"].(string); !strings.HasPrefix(tok, "EAA") {
			t.Errorf("page %v has no token", p["id"])
		}
		if _, ok := p["tasks"].([]any); !ok {
			t.Errorf("tasks not an array")
		}
		pic := p["picture"].(map[string]any)["data"].(map[string]any)
		if !strings.HasPrefix(pic["url"].(string), "data:image/svg+xml;base64,") {
			t.Errorf("picture url %v", pic["url"])
		}
		ig, has := p["instagram_business_account"]
		if has {
			igm := ig.(map[string]any)
			linked[p["name"].(string)] = true
			if !strings.HasPrefix(igm["id"].(string), "1784") || igm["username"] == nil {
				t.Errorf("ig %v", igm)
			}
			num(t, igm["followers_count"])
		}
	}
	if len(linked) != 2 || !linked["Harbor Coffee Roasters"] || !linked["Luma Yoga Studio"] {
		t.Errorf("linked pages %v", linked)
	}
	// Not linked ⇒ key absent, not null (checked on the raw JSON too).
	if strings.Contains(string(r.Body), `"instagram_business_account":null`) {
		t.Errorf("null instagram_business_account")
	}
}

// checkMetaAccountsPaging: limit 3 ⇒ next, then the last page with
// previous but no next.
func checkMetaAccountsPaging(t *testing.T, e *env, tok string) {
	t.Helper()
	p1 := e.graphGet("me/accounts", tok, "fields", "id,name", "limit", "3").JSON(t)
	paging := p1["paging"].(map[string]any)
	cur := paging["cursors"].(map[string]any)
	if cur["before"] == "" || cur["after"] == "" {
		t.Errorf("cursors %v", cur)
	}
	next, _ := paging["next"].(string)
	nu, err := url.Parse(next)
	if err != nil || !nu.IsAbs() || nu.Query().Get("access_token") != tok || nu.Query().Get("after") == "" {
		t.Fatalf("next %q", next)
	}
	if !strings.HasPrefix(next, e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/accounts?") {
		t.Errorf("next %q", next)
	}
	r2 := e.get(strings.TrimPrefix(next, e.srv.URL)) // the token is carried by the URL
	p2 := r2.JSON(t)
	d2 := p2["data"].([]any)
	if len(d2) != 1 || d2[0].(map[string]any)["name"] != "Pine & Pixel Design" {
		t.Errorf("page 2: %s", r2.Body)
	}
	pg2 := p2["paging"].(map[string]any)
	if _, ok := pg2["next"]; ok {
		t.Errorf("next on last page")
	}
	prev, _ := pg2["previous"].(string)
	p0 := e.get(strings.TrimPrefix(prev, e.srv.URL)).JSON(t)
	if len(p0["data"].([]any)) != 3 {
		t.Errorf("previous page: %v", p0)
	}
}

// checkMetaAccountsSelection: a person without Pages; the Page selection
// honoured; no pages_show_list ⇒ empty.
func checkMetaAccountsSelection(t *testing.T, e *env) {
	t.Helper()
	sam := e.metaUserToken("sam", fbScopes)
	if d := e.graphGet("me/accounts", sam).JSON(t); len(d["data"].([]any)) != 0 || d["paging"] != nil {
		t.Errorf("sam: %v", d)
	}
	code := e.metaCode("dana", fbScopes, nil, []string{"104000000000103"})
	selTok := e.metaExchange(code).JSON(t)["access_token"].(string)
	sel := e.graphGet("me/accounts", selTok).JSON(t)["data"].([]any)
	if len(sel) != 1 || sel[0].(map[string]any)["id"] != "104000000000103" {
		t.Errorf("selection: %v", sel)
	}
	if c, s := graphError(t, e.graphGet("104000000000101", selTok)); c != 100 || s != 33 {
		t.Errorf("unselected page readable: %d/%d", c, s)
	}
	lee := e.metaUserToken("lee", "pages_manage_posts")
	if d := e.graphGet("me/accounts", lee).JSON(t); len(d["data"].([]any)) != 0 {
		t.Errorf("no pages_show_list: %v", d)
	}
}

func TestMetaPageAndInstagramNodes(t *testing.T) {
	e := newEnv(t)
	tok := e.metaLongToken(e.metaUserToken("dana", igScopes))
	r := e.graphGet("104000000000101", tok, "fields", "instagram_business_account{id,username,name,profile_picture_url,followers_count,follows_count,media_count}")
	m := r.JSON(t)
	ig := m["instagram_business_account"].(map[string]any)
	if m["id"] != nil {
		t.Errorf("id not requested but present")
	}
	if ig["id"] != "17841400000000101" || ig["username"] != "harborcoffee" || num(t, ig["media_count"]) != 318 {
		t.Errorf("ig %v", ig)
	}
	if nl := e.graphGet("104000000000102", tok, "fields", "id,name,instagram_business_account").JSON(t); nl["instagram_business_account"] != nil || nl["name"] != "Northwind Cycling Club" {
		t.Errorf("unlinked page %v", nl)
	}
	u := e.graphGet("17841400000000103", tok, "fields", "id,username,name,profile_picture_url,followers_count,follows_count,media_count").JSON(t)
	if u["username"] != "luma.yoga" || num(t, u["followers_count"]) != 15120 || num(t, u["follows_count"]) != 280 {
		t.Errorf("ig user %v", u)
	}
	// The Page token reads its own Page and its IG account, and "me" is the Page.
	pt := e.graphGet("104000000000103", tok, "fields", "access_token").JSON(t)["access_token"].(string)
	if me := e.graphGet("me", pt).JSON(t); me["id"] != "104000000000103" {
		t.Errorf("me with page token %v", me)
	}
	if r := e.graphGet("17841400000000103", pt, "fields", "username"); r.Status != 200 {
		t.Errorf("ig via page token: %s", r.Body)
	}
	if c, _ := graphError(t, e.graphGet("me/accounts", pt)); c != 100 {
		t.Errorf("accounts with page token: %d", c)
	}
	if c, _ := graphError(t, e.graphGet("17841400000000101", tok, "fields", "id,wingspan")); c != 100 {
		t.Errorf("unknown ig field: %d", c)
	}
	// Without instagram_basic the IG node is a permission error. (Permissions
	// accumulate on one authorization, so start a fresh one.)
	e.control("revoke", map[string]any{"persona": "dana"})
	fbDana := e.metaUserToken("dana", "pages_show_list,pages_manage_posts")
	if c, _ := graphError(t, e.graphGet("17841400000000101", fbDana, "fields", "id")); c != 10 {
		t.Errorf("ig without instagram_basic: %d", c)
	}
}

func TestMetaPermissions(t *testing.T) {
	e := newEnv(t)
	tok := e.metaUserToken("dana", fbScopes, "pages_messaging")
	long := e.metaLongToken(tok)
	pt := e.graphGet("104000000000101", long, "fields", "access_token").JSON(t)["access_token"].(string)

	perms := func(tok string) map[string]string {
		r := e.graphGet("me/permissions", tok)
		out := map[string]string{}
		for _, d := range r.JSON(t)["data"].([]any) {
			m := d.(map[string]any)
			out[m["permission"].(string)] = m["status"].(string)
		}
		return out
	}
	p := perms(long)
	if p["pages_show_list"] != "granted" || p["pages_messaging"] != "declined" || p["public_profile"] != "granted" {
		t.Errorf("permissions %v", p)
	}

	// Re-consent without rerequest does not ask again for the declined one…
	e.metaCode("dana", fbScopes, nil, nil)
	if perms(long)["pages_messaging"] != "declined" {
		t.Errorf("declined permission re-granted without rerequest")
	}
	// …with auth_type=rerequest it does.
	e.metaCode("dana", "pages_messaging", nil, nil, "auth_type", "rerequest")
	if perms(long)["pages_messaging"] != "granted" {
		t.Errorf("rerequest did not grant")
	}

	// DELETE one permission.
	r := e.method("DELETE", "/sandbox/graph.facebook.com/v26.0/me/permissions/pages_manage_posts?access_token="+url.QueryEscape(long))
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != "true" { // the documented bare true
		t.Fatalf("delete one: %d %s", r.Status, r.Body)
	}
	if perms(long)["pages_manage_posts"] != "declined" {
		t.Errorf("not declined after delete")
	}

	// DELETE all: the app is removed; user and Page tokens now fail with 190/458.
	e.control("meta", map[string]any{"revoke_body": "object"}) // the other form seen in answers
	r = e.method("DELETE", "/sandbox/graph.facebook.com/v26.0/me/permissions?access_token="+url.QueryEscape(long))
	if r.JSON(t)["success"] != true {
		t.Fatalf("delete all: %s", r.Body)
	}
	for name, tk := range map[string]string{"short": tok, "long": long, "page": pt} {
		if c, s := graphError(t, e.graphGet("me", tk)); c != 190 || s != 458 {
			t.Errorf("%s after removal: %d/%d", name, c, s)
		}
	}
	// A new consent starts a fresh authorization with new tokens.
	fresh := e.metaUserToken("dana", fbScopes)
	if r := e.graphGet("me", fresh); r.Status != 200 {
		t.Errorf("fresh token: %s", r.Body)
	}
	if c, s := graphError(t, e.graphGet("me", long)); c != 190 || s != 458 {
		t.Errorf("old token revived: %d/%d", c, s)
	}
}

func TestGraphErrorShape(t *testing.T) {
	e := newEnv(t)
	r := e.graphGet("me", "EAAunknown")
	var raw struct {
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"message", "type", "code", "fbtrace_id"} {
		if raw.Error[k] == nil {
			t.Errorf("missing %s", k)
		}
	}
	if string(raw.Error["code"]) != "190" {
		t.Errorf("code must be a JSON number: %s", raw.Error["code"])
	}
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no WWW-Authenticate on 190")
	}
}

// TestMetaBusinessPortfolios: Pages held through a Business portfolio are
// listed by /{business-id}/owned_pages and client_pages (with their Page
// tokens when asked), never by /me/accounts, and only with
// business_management (PLATFORMS.md §8).
func TestMetaBusinessPortfolios(t *testing.T) {
	e := newEnv(t)
	tok := e.metaUserToken("avery", fbScopes+",instagram_basic,business_management")
	if d := e.graphGet("me/accounts", tok).JSON(t)["data"].([]any); len(d) != 0 {
		t.Errorf("me/accounts lists portfolio Pages: %v", d)
	}
	bz := e.graphGet("me/businesses", tok).JSON(t)["data"].([]any)
	if len(bz) != 1 || bz[0].(map[string]any)["name"] != "Brightline Agency" {
		t.Fatalf("businesses %v", bz)
	}
	id := bz[0].(map[string]any)["id"].(string)
	owned := e.graphGet(id+"/owned_pages", tok, "fields", "id,name,access_token,instagram_business_account{id,username}").JSON(t)["data"].([]any)
	if len(owned) != 1 {
		t.Fatalf("owned %v", owned)
	}
	pg := owned[0].(map[string]any)
	pt, _ := pg["access_token"].(string)
	if pt == "" || pg["instagram_business_account"].(map[string]any)["username"] != "brightline.studio" {
		t.Errorf("owned page %v", pg)
	}
	if r := e.graphGet("me", pt); r.Status != 200 || r.JSON(t)["id"] != "104000000000401" {
		t.Errorf("Page token of a portfolio Page: %s", r.Body)
	}
	// Paged one at a time; the Page without CREATE_CONTENT or MANAGE has no token.
	e.control("meta", map[string]any{"page_size": 1})
	first := e.graphGet(id+"/client_pages", tok, "fields", "id,access_token").JSON(t)
	next, _ := first["paging"].(map[string]any)["next"].(string)
	if len(first["data"].([]any)) != 1 || next == "" {
		t.Fatalf("client_pages page 1: %v", first)
	}
	second := e.getAbs(next).JSON(t)["data"].([]any)
	if len(second) != 1 || second[0].(map[string]any)["access_token"] != nil {
		t.Errorf("client_pages page 2: %v", second)
	}
	// Without business_management: a permission error.
	bare := e.metaUserToken("kai", fbScopes)
	if c, _ := graphError(t, e.graphGet("me/businesses", bare)); c != 200 {
		t.Errorf("businesses without business_management: %d", c)
	}
	// Kai's second portfolio cannot be read; another person's is not there.
	kai := e.metaUserToken("kai", fbScopes+",business_management")
	if c, _ := graphError(t, e.graphGet("2090000000000502/owned_pages", kai)); c != 200 {
		t.Errorf("broken portfolio: %d", c)
	}
	if c, s := graphError(t, e.graphGet(id+"/owned_pages", kai)); c != 100 || s != 33 {
		t.Errorf("another person's portfolio: %d/%d", c, s)
	}
}
