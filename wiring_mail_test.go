package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// OMNISOCIAL_SMTP_URL and OMNISOCIAL_MAIL_FROM: when a Facebook sign-in
// dies, its workspace's owners and admins (not one who turned alerts off)
// get one message for all its accounts, from OMNISOCIAL_MAIL_FROM, through
// the SMTP server of the URL (auth with its user and password), linking to
// the fix and carrying no token; a message the server refused first is
// retried from the outbox. A bad URL or a missing From stops the start.
func wireMail(t *testing.T) {
	for _, kv := range [][]string{{"OMNISOCIAL_SMTP_URL", "http://mail.example.com"}, {"OMNISOCIAL_SMTP_URL", "smtp://mail.example.com:587", "OMNISOCIAL_MAIL_FROM", ""}} {
		if _, err := tryBoot(t, kv...); err == nil || !strings.Contains(err.Error(), kv[len(kv)-2]) {
			t.Fatalf("%v: err = %v", kv, err)
		}
	}
	sink := startSMTPSink(t)
	sink.refuseNext(1)
	db := filepath.Join(t.TempDir(), "mail.db")
	w := boot(t, "OMNISOCIAL_DB", db, "OMNISOCIAL_SANDBOX", "true",
		"OMNISOCIAL_SMTP_URL", "smtp://user:pass@"+sink.Addr, "OMNISOCIAL_MAIL_FROM", "OmniSocial <alerts@example.com>")
	owner := newVisitor(t, w.URL)
	owner.signup("owner@example.com", "Harbor")
	chosen := keepTwoPages(t, owner, w.URL)
	addMailPeople(t, db)
	quietTurnsAlertsOff(t, w.URL)
	// Dana's Facebook sign-in dies; checking one of its accounts finds out.
	controlServer(t, w.URL, "POST", "revoke", `{"persona":"dana"}`).Body.Close()
	first := queryString(t, db, "SELECT id FROM social_accounts WHERE platform = 'facebook' ORDER BY id LIMIT 1")
	owner.do("POST", "/settings/accounts/"+first+"/check", url.Values{})
	n := queryString(t, db, "SELECT count(*) FROM social_accounts WHERE status = 'needs_reauth'")
	if n != fmt.Sprint(chosen) && n < "2" {
		t.Fatalf("%s accounts need re-auth after the check", n)
	}
	m := waitOneMailAfterRetry(t, w, sink, db)
	checkReauthMail(t, w, db, m)
	wireOwnerLinkMail(t, w, sink, owner, first, db)
}

// keepTwoPages connects dana's Facebook and keeps two Pages: the free
// plan has no room for every Page of dana's. It returns how many it kept.
func keepTwoPages(t *testing.T, owner *visitor, base string) int {
	t.Helper()
	res := owner.connect("facebook", base, "dana")
	choose := owner.page(res.Header.Get("Location"))
	form := url.Values{}
	choose.Find("input[name=account]").Slice(0, 2).Each(func(_ int, s *goquery.Selection) { form.Add("account", s.AttrOr("value", "")) })
	if res, _ = owner.do("POST", res.Header.Get("Location"), form); res.StatusCode != http.StatusSeeOther || len(form["account"]) < 2 {
		t.Fatalf("choose %v: %d", form["account"], res.StatusCode)
	}
	return len(form["account"])
}

// addMailPeople adds an admin, a quiet admin and a member to Harbor with
// the operator's command.
func addMailPeople(t *testing.T, db string) {
	t.Helper()
	for _, who := range []string{"admin", "quiet", "member"} {
		role := map[string]string{"admin": "admin", "quiet": "admin", "member": "member"}[who]
		var out bytes.Buffer
		if err := run(context.Background(), []string{"omnisocial", "user", "add", "--email", who + "@example.com", "--workspace", "Harbor", "--role", role,
			"--password-stdin"}, env("OMNISOCIAL_DB", db, "OMNISOCIAL_ENCRYPTION_KEY", testKey, "OMNISOCIAL_SESSION_SECRET", testSecret),
			strings.NewReader("correct horse battery\n"), &out, &out); err != nil {
			t.Fatal(err)
		}
	}
}

// quietTurnsAlertsOff: the quiet admin logs in and turns alerts off; a
// value other than on or off is refused.
func quietTurnsAlertsOff(t *testing.T, base string) {
	t.Helper()
	quiet := newVisitor(t, base)
	if res, _ := quiet.do("POST", "/login", url.Values{"email": {"quiet@example.com"}, "password": {"correct horse battery"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("log-in: %d", res.StatusCode)
	}
	if res, _ := quiet.do("POST", "/settings/alerts", url.Values{"alerts": {"off"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("alerts off: %d", res.StatusCode)
	}
	if res, _ := quiet.do("POST", "/settings/alerts", url.Values{"alerts": {"maybe"}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("alerts=maybe: %d", res.StatusCode)
	}
}

// controlServer calls the control API of the sandbox the server mounts.
func controlServer(t *testing.T, base, method, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/sandbox/control/"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testControlToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode >= 300 {
		t.Fatalf("%s %s: %v %v", method, path, res, err)
	}
	return res
}

// waitOneMailAfterRetry: the relay refused the first try, so the message
// waits in the outbox; past its backoff it is sent, once.
func waitOneMailAfterRetry(t *testing.T, w *wired, sink *smtpSink, db string) sunkMail {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for queryString(t, db, "SELECT coalesce(max(attempts), 0) FROM mail_outbox WHERE kind = 'reauth'") != "1" {
		if time.Now().After(deadline) {
			t.Fatalf("no failed attempt recorded; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	openRaw(t, db).Exec("UPDATE mail_outbox SET next_attempt_at = 0") // past its backoff
	for len(sink.messages()) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no mail received; logs:\n%s", w.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(6 * time.Second) // a second message would have come by now
	msgs := sink.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want one for the sign-in", len(msgs))
	}
	return msgs[0]
}

// checkReauthMail: m goes from the From address to the owner and the admin
// who kept alerts on, links to an account to reconnect, names the sign-in
// and every account, and carries no token nor the SMTP password; the
// outbox is empty.
func checkReauthMail(t *testing.T, w *wired, db string, m sunkMail) {
	t.Helper()
	slices.Sort(m.To)
	if m.From != "alerts@example.com" || !slices.Equal(m.To, []string{"admin@example.com", "owner@example.com"}) {
		t.Errorf("from %s to %v; want alerts@example.com to the owner and the admin who kept alerts on", m.From, m.To)
	}
	body := string(m.Data)
	_, link, _ := strings.Cut(body, w.URL+"/settings/accounts/")
	link, _, _ = strings.Cut(link, "\r\n")
	if queryString(t, db, "SELECT status FROM social_accounts WHERE id = '"+link+"'") != "needs_reauth" {
		t.Errorf("the link does not lead to an account to reconnect: %q", link)
	}
	for _, want := range []string{"From: \"OmniSocial\" <alerts@example.com>", `workspace "Harbor", Dana Whitfield's Facebook sign-in stopped working`} {
		if !strings.Contains(body, want) {
			t.Errorf("mail lacks %q:\n%s", want, body)
		}
	}
	names := strings.Split(queryString(t, db, "SELECT group_concat(display_name, '|') FROM social_accounts WHERE status = 'needs_reauth'"), "|")
	for _, name := range names {
		if !strings.Contains(body, "  - "+name+" on ") {
			t.Errorf("mail does not list %q:\n%s", name, body)
		}
	}
	// No token, in any byte: every token the sandbox ever issued.
	res := controlServer(t, w.URL, "GET", "tokens", "")
	var toks []struct{ Token string }
	json.NewDecoder(res.Body).Decode(&toks)
	res.Body.Close()
	if len(toks) == 0 {
		t.Fatal("the sandbox listed no tokens")
	}
	for _, tok := range toks {
		if len(tok.Token) >= 8 && bytes.Contains(m.Data, []byte(tok.Token)) {
			t.Errorf("a token is in the mail")
		}
	}
	if strings.Contains(w.logs.String(), "pass@") {
		t.Error("the SMTP password reached the log")
	}
	if left := queryString(t, db, "SELECT count(*) FROM mail_outbox WHERE kind = 'reauth'"); left != "0" {
		t.Errorf("%s messages left in the outbox after sending", left)
	}
}
