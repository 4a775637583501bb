package handlers

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/store"
)

// owned signs up an owner of "Acme" and returns the browser and workspace id.
func owned(t *testing.T, k *kit) (*browser, int64) {
	t.Helper()
	b := k.browser()
	b.signup("owner@example.com", "Acme")
	return b, 1
}

// invite creates an invitation through the form and returns the response body.
func (b *browser) invite(email, role string, headers ...string) (*http.Response, string) {
	b.k.t.Helper()
	tok := b.csrf("/settings/members")
	res := b.post("/settings/invitations", url.Values{"_csrf": {tok}, "email": {email}, "role": {role}}, headers...)
	body, _ := io.ReadAll(res.Body)
	return res, string(body)
}

var linkRE = regexp.MustCompile(`http://omnisocial\.test/join/[A-Za-z0-9_-]+`)

func inviteLink(t *testing.T, body string) string {
	t.Helper()
	l := linkRE.FindString(body)
	if l == "" {
		t.Fatalf("no invitation link in:\n%s", body)
	}
	return strings.TrimPrefix(l, "http://omnisocial.test")
}

// Finding 1: inviting an e-mail joins nobody and tells the inviter nothing
// about it (whether it has an account, its name). The old form that added
// an existing user at once is gone.
func TestInviteRevealsNothingAndJoinsNobody(t *testing.T) {
	k := newKit(t)
	owner, _ := owned(t, k)
	victim := k.browser()
	victim.signup("sam@example.com", "Sam's Shop") // a name the inviter must never see
	execDB(t, k, "UPDATE users SET name = 'Samantha Secret' WHERE email = 'sam@example.com'")
	before := snapshot(t, k.dbPath)

	// The old way in: an existing user's e-mail, a name and a password.
	for _, path := range []string{"/settings/members", "/settings/members/add"} {
		tok := owner.csrf("/settings/members")
		res := owner.post(path, url.Values{"_csrf": {tok}, "email": {"sam@example.com"}, "name": {"x"}, "password": {"correct horse battery"}, "role": {"admin"}})
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode < 400 || strings.Contains(string(body), "Samantha") {
			t.Fatalf("POST %s: %d, body names the user: %v", path, res.StatusCode, strings.Contains(string(body), "Samantha"))
		}
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("the old form changed the database:\nbefore %s\nafter  %s", before, after)
	}

	norm := func(body, email string) string {
		body = linkRE.ReplaceAllString(body, "LINK")
		body = strings.ReplaceAll(body, email, "EMAIL")
		return regexp.MustCompile(`value="[A-Za-z0-9_-]{43}"|"X-CSRF-Token":"[A-Za-z0-9_-]{43}"`).ReplaceAllString(body, "TOKEN")
	}
	for _, hx := range [][]string{nil, {"HX-Request", "true"}} {
		resKnown, known := owner.invite("sam@example.com", "admin", hx...)
		resNew, unknown := owner.invite("nobody-yet@example.com", "admin", hx...)
		if resKnown.StatusCode != http.StatusOK || resNew.StatusCode != http.StatusOK {
			t.Fatalf("invite: %d and %d", resKnown.StatusCode, resNew.StatusCode)
		}
		if strings.Contains(known, "Samantha") {
			t.Fatal("the answer names the invited user")
		}
		// The pending list differs by the rows already invited; compare the
		// answers with that list taken out.
		cut := func(s string) string {
			if i := strings.Index(s, `<table class="table" data-testid="invitations">`); i >= 0 {
				if j := strings.Index(s[i:], "</table>"); j >= 0 {
					return s[:i] + s[i+j:]
				}
			}
			return s
		}
		if a, b := cut(norm(known, "sam@example.com")), cut(norm(unknown, "nobody-yet@example.com")); a != b {
			t.Fatalf("the answers differ for a registered and an unregistered e-mail (hx=%v):\n%s\n----\n%s", hx != nil, a, b)
		}
		inviteLink(t, known)
	}
	// Nobody joined: Sam's memberships are what they were.
	if ms, _ := k.st.Memberships(context.Background(), 2); len(ms) != 1 || ms[0].Name != "Sam's Shop" {
		t.Fatalf("sam's workspaces: %+v", ms)
	}
	if ms, _ := k.st.Members(context.Background(), 1); len(ms) != 1 {
		t.Fatalf("Acme has %d members after invitations", len(ms))
	}
}

// execDB changes rows behind the store's back, for set-up.
func execDB(t *testing.T, k *kit, q string) {
	t.Helper()
	db, err := sql.Open("sqlite", k.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

// A new e-mail: the link's page, the account made through it, and a link
// that works once.
func TestJoinThroughLink(t *testing.T) {
	k := newKit(t, func(d *Deps) { d.SignupClosed = true })
	owner, _ := owned(t, k)
	_, body := owner.invite("new@example.com", "member")
	link := inviteLink(t, body)

	b := k.browser()
	doc := parse(t, b.get(link))
	if doc.Find("[data-testid=join-page]").Length() != 1 || !strings.Contains(doc.Text(), "new@example.com") {
		t.Fatal("the link does not lead to the join page")
	}
	before := snapshot(t, k.dbPath)
	for _, tc := range []struct {
		name string
		form url.Values
		want int
	}{
		{"short password", url.Values{"name": {"Nia"}, "password": {"short"}}, http.StatusUnprocessableEntity},
		{"no name", url.Values{"name": {""}, "password": {"correct horse battery"}}, http.StatusUnprocessableEntity},
		{"no CSRF token", nil, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var res *http.Response
			if tc.form == nil {
				res = b.post(link, url.Values{"name": {"Nia"}, "password": {"correct horse battery"}})
			} else {
				res = b.form(link, link, tc.form)
			}
			if res.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want)
			}
		})
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("refused joins changed the database:\nbefore %s\nafter  %s", before, after)
	}
	res := b.form(link, link, url.Values{"name": {"Nia"}, "password": {"correct horse battery"}, "email": {"evil@example.com"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("join: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc = parse(t, b.get("/settings/accounts"))
	if got := doc.Find("[data-testid=workspace-name]").Text(); got != "Acme" {
		t.Fatalf("landed in %q", got)
	}
	if u, err := k.st.UserByEmail(context.Background(), "new@example.com"); err != nil || u.Name != "Nia" {
		t.Fatalf("the account: %+v %v (the form's e-mail must not count)", u, err)
	}
	// Once.
	if res := k.browser().get(link); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a used link: %d", res.StatusCode)
	}
	if strings.Contains(k.logs.String(), strings.TrimPrefix(link, "/join/")) {
		t.Fatal("the link's token is in the log")
	}
}

// A link for an e-mail that has an account never sets its password, and
// an expired link is dead.
func TestJoinLinkCannotTakeOverAnAccount(t *testing.T) {
	k := newKit(t)
	owner, _ := owned(t, k)
	k.browser().signup("sam@example.com", "Sam's")
	hashBefore, _ := k.st.UserByEmail(context.Background(), "sam@example.com")
	_, body := owner.invite("sam@example.com", "admin")
	link := inviteLink(t, body)
	b := k.browser()
	before := snapshot(t, k.dbPath)
	res := b.form(link, link, url.Values{"name": {"Eve"}, "password": {"eve's own password"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("join with a registered e-mail: %d", res.StatusCode)
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatal("the refused join changed the database")
	}
	if u, _ := k.st.UserByEmail(context.Background(), "sam@example.com"); u.PasswordHash != hashBefore.PasswordHash || u.Name != hashBefore.Name {
		t.Fatal("the link changed the existing account")
	}
	k.clock.Add(store.InvitationTTL + time.Minute)
	if res := k.browser().get(link); res.StatusCode != http.StatusNotFound {
		t.Fatalf("an expired link: %d", res.StatusCode)
	}
}

// An existing user sees the invitation after log-in and accepts or
// declines it; nobody else can answer it.
func TestAcceptAndDeclineAfterLogIn(t *testing.T) {
	k := newKit(t)
	owner, _ := owned(t, k)
	sam := k.browser()
	sam.signup("sam@example.com", "Sam's")
	other := k.browser()
	other.signup("eve@example.com", "Eve's")
	owner.invite("sam@example.com", "admin")
	// A second workspace invites Sam too.
	beta := k.browser()
	beta.signup("beta@example.com", "Beta")
	beta.invite("sam@example.com", "member")

	sam.form("/settings/accounts", "/logout", url.Values{})
	res := sam.login("sam@example.com")
	if res.Header.Get("Location") != "/invitations" {
		t.Fatalf("log-in with invitations waiting went to %q", res.Header.Get("Location"))
	}
	doc := parse(t, sam.get("/invitations"))
	if n := doc.Find("[data-testid=pending-invitation]").Length(); n != 2 {
		t.Fatalf("%d invitations listed, want 2", n)
	}
	invs, _ := k.st.InvitationsFor(context.Background(), "sam@example.com")
	acme, betaInv := invs[0], invs[1]

	// Eve cannot answer Sam's invitations.
	before := snapshot(t, k.dbPath)
	for _, verb := range []string{"accept", "decline"} {
		if res := other.form("/settings/accounts", "/invitations/"+idStr(acme.ID)+"/"+verb, url.Values{}); res.StatusCode != http.StatusNotFound {
			t.Fatalf("%s by someone else: %d, want 404", verb, res.StatusCode)
		}
	}
	if res := sam.form("/invitations", "/invitations/x/accept", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("a malformed id: %d", res.StatusCode)
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatal("refused answers changed the database")
	}

	for _, hx := range []bool{false, true} {
		id, verb := acme.ID, "accept"
		if hx {
			id, verb = betaInv.ID, "decline"
		}
		tok := sam.csrf("/invitations")
		var res *http.Response
		if hx {
			res = sam.post("/invitations/"+idStr(id)+"/"+verb, url.Values{}, "X-CSRF-Token", tok, "HX-Request", "true")
			if res.StatusCode != http.StatusOK || res.Header.Get("HX-Redirect") != "/invitations" {
				t.Fatalf("htmx %s: %d %q", verb, res.StatusCode, res.Header.Get("HX-Redirect"))
			}
		} else {
			res = sam.post("/invitations/"+idStr(id)+"/"+verb, url.Values{"_csrf": {tok}})
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
				t.Fatalf("%s: %d %q", verb, res.StatusCode, res.Header.Get("Location"))
			}
			if got := parse(t, sam.get("/settings/accounts")).Find("[data-testid=workspace-switch] option[selected]").Text(); got != "Acme" {
				t.Fatalf("after accepting, looking at %q", got)
			}
		}
	}
	ms, _ := k.st.Memberships(context.Background(), 2)
	if len(ms) != 2 || ms[0].Name != "Acme" || ms[0].Role != "admin" {
		t.Fatalf("sam's workspaces: %+v", ms)
	}
	if left, _ := k.st.InvitationsFor(context.Background(), "sam@example.com"); len(left) != 0 {
		t.Fatalf("%d invitations left", len(left))
	}
}

// Removal, role change and leave, with htmx and without, and the last
// owner protected. A removed member's session loses the workspace with its
// very next request.
func TestRemoveChangeRoleLeave(t *testing.T) {
	k := newKit(t)
	owner, ws := owned(t, k)
	k.addUser("admin@example.com", ws, "admin")
	k.addUser("member@example.com", ws, "member")
	k.addUser("gone@example.com", ws, "member")
	ids := map[string]string{}
	for _, m := range mustMembers(t, k, ws) {
		ids[m.Email] = idStr(m.UserID)
	}
	admin, member, gone := k.browser(), k.browser(), k.browser()
	admin.login("admin@example.com")
	member.login("member@example.com")
	gone.login("gone@example.com")
	if res := gone.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("gone's page before removal: %d", res.StatusCode)
	}

	steps := []memberStep{
		{"a member cannot remove", member, "/settings/members/" + ids["gone@example.com"] + "/remove", nil, false, 403, false},
		{"a member cannot change roles", member, "/settings/members/" + ids["member@example.com"] + "/role", url.Values{"role": {"owner"}}, false, 403, false},
		{"a member cannot invite", member, "/settings/invitations", url.Values{"email": {"x@example.com"}, "role": {"member"}}, false, 403, false},
		{"an admin cannot demote the owner", admin, "/settings/members/" + ids["owner@example.com"] + "/role", url.Values{"role": {"member"}}, true, 403, false},
		{"an admin cannot remove the owner", admin, "/settings/members/" + ids["owner@example.com"] + "/remove", nil, false, 403, false},
		{"an admin cannot make owners", admin, "/settings/members/" + ids["member@example.com"] + "/role", url.Values{"role": {"owner"}}, false, 403, false},
		{"an admin cannot invite owners", admin, "/settings/invitations", url.Values{"email": {"x@example.com"}, "role": {"owner"}}, false, 422, false},
		{"the last owner cannot leave", owner, "/settings/members/leave", nil, false, 409, false},
		{"the last owner cannot step down", owner, "/settings/members/" + ids["owner@example.com"] + "/role", url.Values{"role": {"admin"}}, true, 409, false},
		{"bad role", owner, "/settings/members/" + ids["member@example.com"] + "/role", url.Values{"role": {"king"}}, false, 422, false},
		{"a stranger", owner, "/settings/members/999/remove", nil, false, 404, false},
		{"a malformed id", owner, "/settings/members/abc/role", url.Values{"role": {"admin"}}, false, 404, false},
		{"the admin removes a member (htmx)", admin, "/settings/members/" + ids["gone@example.com"] + "/remove", nil, true, 200, true},
		{"the owner promotes the member (plain)", owner, "/settings/members/" + ids["member@example.com"] + "/role", url.Values{"role": {"admin"}}, false, 303, true},
		{"the owner makes the admin owner (htmx)", owner, "/settings/members/" + ids["admin@example.com"] + "/role", url.Values{"role": {"owner"}}, true, 200, true},
		{"now the first owner may leave (plain)", owner, "/settings/members/leave", nil, false, 303, true},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { s.run(t, k, ws) })
	}
	// Gone's session lost Acme at once: no workspace left, so only invitations.
	if res := gone.get("/settings/accounts"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/invitations" {
		t.Fatalf("the removed member's next request: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := gone.get("/api/v1/accounts"); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the removed member's API call: %d", res.StatusCode)
	}
	if doc := parse(t, gone.get("/invitations")); doc.Find("[data-testid=no-workspace]").Length() != 1 {
		t.Fatal("no word for someone in no workspace")
	}
	got := roles(t, k, ws)
	if got != "admin@example.com=owner,member@example.com=admin," {
		t.Fatalf("roles at the end: %s", got)
	}
}

// memberStep is one request of TestRemoveChangeRoleLeave: who sends it,
// with htmx or as a plain form, and whether it may change the database.
type memberStep struct {
	name    string
	b       *browser
	path    string
	form    url.Values
	hx      bool
	want    int
	changes bool
}

func (s memberStep) run(t *testing.T, k *kit, ws int64) {
	t.Helper()
	before := snapshot(t, k.dbPath) + roles(t, k, ws)
	f := s.form
	if f == nil {
		f = url.Values{}
	}
	tok := s.b.csrf("/settings/accounts")
	var res *http.Response
	if s.hx {
		res = s.b.post(s.path, f, "X-CSRF-Token", tok, "HX-Request", "true")
	} else {
		f.Set("_csrf", tok)
		res = s.b.post(s.path, f)
	}
	if res.StatusCode != s.want {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("status %d, want %d\n%s", res.StatusCode, s.want, body)
	}
	if changed := snapshot(t, k.dbPath)+roles(t, k, ws) != before; changed != s.changes {
		t.Fatalf("changed = %v, want %v", changed, s.changes)
	}
	if s.hx && s.want == 200 {
		body, _ := io.ReadAll(res.Body)
		doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
		if doc.Find("#members-page").Length() != 1 || strings.Contains(string(body), "<html") || doc.Find("#flash[hx-swap-oob]").Length() != 1 {
			t.Fatal("htmx answer is not the members fragment with its message")
		}
	}
}

func mustMembers(t *testing.T, k *kit, ws int64) []store.Member {
	ms, err := k.st.Members(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func roles(t *testing.T, k *kit, ws int64) string {
	var b strings.Builder
	for _, m := range mustMembers(t, k, ws) {
		b.WriteString(m.Email + "=" + string(m.Role) + ",")
	}
	return b.String()
}
