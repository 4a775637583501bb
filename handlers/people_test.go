package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignupLogoutLogin(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor Coffee")

	doc := parse(t, b.get("/settings/accounts"))
	if got := strings.Join(strings.Fields(doc.Find("[data-testid=usage]").Text()), " "); got != "0 of 3 accounts used" {
		t.Fatalf("usage = %q", got)
	}
	if doc.Find("[data-testid=accounts-empty]").Length() != 1 || doc.Find("[data-testid=connect-account]").Length() != 1 {
		t.Fatal("empty state or Connect button missing for the owner")
	}
	if got := doc.Find("[data-testid=workspace-name]").Text(); got != "Harbor Coffee" {
		t.Fatalf("workspace = %q", got)
	}
	if got := doc.Find("[data-testid=flash]").Text(); !strings.Contains(got, "Welcome") {
		t.Fatalf("welcome flash = %q", got)
	}
	// The flash is shown once.
	if parse(t, b.get("/settings/accounts")).Find("[data-testid=flash]").Length() != 0 {
		t.Fatal("flash shown twice")
	}

	stolen := b.c.Jar.Cookies(mustURL(k.srv.URL))
	res := b.form("/settings/accounts", "/logout", url.Values{})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := b.get("/settings/accounts"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d, want redirect to log in", res.StatusCode)
	}
	// A cookie copied before log-out is worthless after it.
	thief := k.browser()
	thief.c.Jar.SetCookies(mustURL(k.srv.URL), stolen)
	if res := thief.get("/settings/accounts"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login" {
		t.Fatalf("replayed cookie after logout: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	res = b.login("dana@example.com")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings/accounts" {
		t.Fatalf("login: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := b.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("after login: %d", res.StatusCode)
	}
}

func TestSessionCookie(t *testing.T) {
	tests := []struct {
		base       string
		name       string
		wantSecure bool
	}{
		{"http://omnisocial.test", "omnisocial", false},
		{"https://omnisocial.test", "__Host-omnisocial", true},
	}
	for _, tc := range tests {
		t.Run(tc.base, func(t *testing.T) {
			k := newKit(t, func(d *Deps) { d.BaseURL = mustURL(tc.base) })
			b := k.browser()
			// Read the Set-Cookie of the sign-up response itself: a cookie
			// jar would hide a Secure cookie over http.
			tok := b.csrf("/signup")
			res := b.post("/signup", url.Values{"_csrf": {tok}, "name": {"D"}, "email": {"d@example.com"}, "password": {"correct horse battery"}, "workspace": {"W"}})
			c := cookieNamed(res, tc.name)
			if c == nil {
				t.Fatalf("no %s cookie in %v", tc.name, res.Header["Set-Cookie"])
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.wantSecure || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie flags: HttpOnly=%v SameSite=%v Secure=%v Path=%q Domain=%q", c.HttpOnly, c.SameSite, c.Secure, c.Path, c.Domain)
			}
			if len(c.Value) > 200 {
				t.Fatalf("cookie carries more than an id: %d bytes", len(c.Value))
			}
		})
	}
}

func TestLoginRenewsSession(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "W")
	b.form("/settings/accounts", "/logout", url.Values{})

	// An attacker plants a session id before the victim logs in.
	b.get("/login")
	b.form("/login", "/login", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password!"}})
	planted := b.c.Jar.Cookies(mustURL(k.srv.URL))
	res := b.login("dana@example.com")
	after := cookieNamed(res, "omnisocial")
	if after == nil {
		t.Fatal("log-in set no session cookie")
	}
	for _, c := range planted {
		if c.Name == "omnisocial" && c.Value == after.Value {
			t.Fatal("session id not renewed at log-in")
		}
	}
	attacker := k.browser()
	attacker.c.Jar.SetCookies(mustURL(k.srv.URL), planted)
	if res := attacker.get("/settings/accounts"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("pre-login session id logs in: %d", res.StatusCode)
	}
}

func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name   string
		steps  []time.Duration // activity at each step
		wantIn bool
	}{
		{"active within idle", []time.Duration{50 * time.Minute, 50 * time.Minute}, true},
		{"idle too long", []time.Duration{61 * time.Minute}, false},
		{"active but past absolute", []time.Duration{55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute,
			55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute,
			55 * time.Minute, 55 * time.Minute, 55 * time.Minute, 55 * time.Minute}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := newKit(t)
			b := k.browser()
			b.signup("dana@example.com", "W")
			var res *http.Response
			for _, d := range tc.steps {
				k.clock.Add(d)
				res = b.get("/settings/accounts")
			}
			if in := res.StatusCode == http.StatusOK; in != tc.wantIn {
				t.Fatalf("logged in = %v (status %d), want %v", in, res.StatusCode, tc.wantIn)
			}
		})
	}
}

func TestStateChangingRequestsNeedCSRF(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "W")
	routes := []string{"/logout", "/login", "/signup", "/workspaces/switch"}
	for _, path := range routes {
		for _, variant := range []struct {
			name    string
			headers []string
			form    url.Values
		}{
			{"no token", nil, url.Values{}},
			{"wrong token", nil, url.Values{"_csrf": {"forged"}}},
			{"wrong header token", []string{"X-CSRF-Token", "forged", "HX-Request", "true"}, url.Values{}},
			{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, url.Values{}},
		} {
			t.Run(path+"/"+variant.name, func(t *testing.T) {
				before, _ := k.st.CountUsers(context.Background())
				f := variant.form
				f.Set("email", "eve@example.com")
				f.Set("password", "correct horse battery")
				f.Set("name", "Eve")
				f.Set("workspace", "1")
				res := b.post(path, f, variant.headers...)
				if res.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403", res.StatusCode)
				}
				after, _ := k.st.CountUsers(context.Background())
				if before != after {
					t.Fatal("a forged request changed the database")
				}
			})
		}
	}
	// Still logged in: the forged log-out did nothing.
	if res := b.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("forged logout logged the user out: %d", res.StatusCode)
	}
	// An htmx request with the header token passes.
	tok := b.csrf("/settings/accounts")
	if res := b.post("/logout", url.Values{}, "X-CSRF-Token", tok, "HX-Request", "true"); res.StatusCode != http.StatusOK || res.Header.Get("HX-Redirect") != "/login" {
		t.Fatalf("htmx logout: %d %q", res.StatusCode, res.Header.Get("HX-Redirect"))
	}
}

func TestLoginFailuresAndRateLimit(t *testing.T) {
	k := newKit(t, func(d *Deps) { d.LoginBurst, d.LoginInterval = 3, time.Minute })
	b := k.browser()
	b.signup("dana@example.com", "W")
	b.form("/settings/accounts", "/logout", url.Values{})
	tests := []struct {
		email, pw  string
		wantStatus int
	}{
		{"dana@example.com", "wrong password 1", http.StatusUnprocessableEntity},
		{"nobody@example.com", "wrong password 2", http.StatusUnprocessableEntity},
		{"dana@example.com", "wrong password 3", http.StatusUnprocessableEntity},
		{"dana@example.com", "correct horse battery", http.StatusTooManyRequests},
	}
	for i, tc := range tests {
		res := b.form("/login", "/login", url.Values{"email": {tc.email}, "password": {tc.pw}})
		if res.StatusCode != tc.wantStatus {
			t.Fatalf("attempt %d: %d, want %d", i+1, res.StatusCode, tc.wantStatus)
		}
		doc := parse(t, res)
		msg := doc.Find("[data-testid=form-error]").Text()
		if tc.wantStatus == http.StatusUnprocessableEntity && msg != "Email or password is incorrect." {
			t.Fatalf("attempt %d: message %q must not reveal whether the address exists", i+1, msg)
		}
	}
	// The bucket refills: the real user is delayed, not locked out.
	k.clock.Add(5 * time.Minute)
	if res := b.login("dana@example.com"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the wait the real user is still locked out: %d", res.StatusCode)
	}
}

func TestClosedSignup(t *testing.T) {
	k := newKit(t, func(d *Deps) { d.SignupClosed = true })
	first := k.browser()
	first.signup("owner@example.com", "W") // the first user always gets in
	second := k.browser()
	if res := second.get("/signup"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /signup when closed: %d", res.StatusCode)
	}
	tok := second.csrf("/login")
	res := second.post("/signup", url.Values{"_csrf": {tok}, "name": {"E"}, "email": {"eve@example.com"}, "password": {"correct horse battery"}, "workspace": {"X"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("POST /signup when closed: %d", res.StatusCode)
	}
	if n, _ := k.st.CountUsers(context.Background()); n != 1 {
		t.Fatalf("%d users after a closed sign-up", n)
	}
}

func TestSignupValidation(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	tests := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"bad email", url.Values{"name": {"D"}, "email": {"not-an-email"}, "password": {"correct horse battery"}, "workspace": {"W"}}, "email"},
		{"short password", url.Values{"name": {"D"}, "email": {"d@example.com"}, "password": {"short"}, "workspace": {"W"}}, "password"},
		{"no workspace", url.Values{"name": {"D"}, "email": {"d@example.com"}, "password": {"correct horse battery"}, "workspace": {"  "}}, "workspace"},
		{"no name", url.Values{"name": {""}, "email": {"d@example.com"}, "password": {"correct horse battery"}, "workspace": {"W"}}, "name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := b.form("/signup", "/signup", tc.form)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", res.StatusCode)
			}
			if parse(t, res).Find("[data-testid=error-"+tc.field+"]").Length() != 1 {
				t.Fatalf("no message for %s", tc.field)
			}
			if n, _ := k.st.CountUsers(context.Background()); n != 0 {
				t.Fatal("invalid sign-up stored a user")
			}
		})
	}
}

func TestRolesAndWorkspaceSwitch(t *testing.T) {
	k := newKit(t)
	owner := k.browser()
	owner.signup("owner@example.com", "Acme")
	ctx := context.Background()
	o, _ := k.st.UserByEmail(ctx, "owner@example.com")
	ms, _ := k.st.Memberships(ctx, o.ID)
	k.addUser("member@example.com", ms[0].ID, "member")
	other, _ := k.st.CreateWorkspace(ctx, o.ID, "Beta", "pro")

	member := k.browser()
	member.login("member@example.com")
	doc := parse(t, member.get("/settings/accounts"))
	if doc.Find("[data-testid=connect-account]").Length() != 0 {
		t.Fatal("a member sees Connect account")
	}

	doc = parse(t, owner.get("/settings/accounts"))
	if doc.Find("[data-testid=workspace-switch] option").Length() != 2 {
		t.Fatal("owner of two workspaces has no switcher")
	}
	res := owner.form("/settings/accounts", "/workspaces/switch", url.Values{"workspace": {idStr(other.ID)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch: %d", res.StatusCode)
	}
	doc = parse(t, owner.get("/settings/accounts"))
	if got := strings.Join(strings.Fields(doc.Find("[data-testid=usage]").Text()), " "); got != "0 of 10 accounts used" {
		t.Fatalf("after switching to the pro workspace: %q", got)
	}
	// A member cannot switch into a workspace they do not belong to.
	res = member.form("/settings/accounts", "/workspaces/switch", url.Values{"workspace": {idStr(other.ID)}})
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("switch into a foreign workspace: %d, want 404", res.StatusCode)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func idStr(id int64) string { return strconv.FormatInt(id, 10) }
