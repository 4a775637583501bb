package main

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The same SMTP server carries a reconnect link to the login's owner, who
// has no account here: the link in the mail renews the accounts.
func wireOwnerLinkMail(t *testing.T, w *wired, sink *smtpSink, owner *visitor, account, db string) {
	res, body := owner.do("POST", "/settings/links", url.Values{"account": {account}, "email": {"client@example.com"}})
	if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("Sent to client@example.com")) {
		t.Fatalf("create link: %d %.300s", res.StatusCode, body)
	}
	var mail *sunkMail
	for deadline := time.Now().Add(10 * time.Second); mail == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, m := range sink.messages() {
			if slices.Equal(m.To, []string{"client@example.com"}) {
				mail = &m
			}
		}
	}
	if mail == nil {
		t.Fatalf("no link mail; logs:\n%s", w.logs)
	}
	_, link, _ := strings.Cut(string(mail.Data), w.URL+"/link/")
	link, _, _ = strings.Cut(link, "\r\n")
	if !strings.Contains(string(mail.Data), "Subject: Harbor asks you to sign in to Facebook") || len(link) < 40 {
		t.Fatalf("link mail:\n%s", mail.Data)
	}
	client := newVisitor(t, w.URL)
	client.page("/link/" + link)
	res, body = client.do("POST", "/link/"+link, url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("continue: %d %.300s", res.StatusCode, body)
	}
	if res = client.follow(res.Header.Get("Location")); res.Header.Get("Location") != "/link/done" {
		t.Fatalf("callback: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if got := queryString(t, db, "SELECT status FROM social_accounts WHERE id = '"+account+"'"); got != "active" {
		t.Fatalf("after the owner's sign-in the account is %s", got)
	}
}
