package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"omnisocial/refresh"
)

// TestAccountListSaysWhenChecked: beside each status the list says how old
// the check behind it is, and a sign-in found dead through one account
// shows on every account it reached (issue 12, point 5), each "Checked"
// at the moment it was found.
func TestAccountListSaysWhenChecked(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	b.choose(b.authorize("instagram", nil).Header.Get("Location"), "17841400000000101")

	k.clock.Add(5 * time.Minute)
	rows := func() map[string][2]string { // name → status, checked
		out := map[string][2]string{}
		parse(t, b.get("/settings/accounts")).Find("[data-testid=account]").Each(func(_ int, s *goquery.Selection) {
			out[strings.TrimSpace(s.Find("[data-testid=account-name]").Text())+"/"+s.AttrOr("data-platform", "")] =
				[2]string{strings.TrimSpace(s.Find("[data-testid=status]").Text()), strings.TrimSpace(s.Find("[data-testid=checked]").Text())}
		})
		return out
	}
	got := rows()
	if len(got) != 3 {
		t.Fatalf("rows %v", got)
	}
	for name, r := range got {
		if r != [2]string{"Active", "Checked 5 minutes ago"} {
			t.Errorf("%s: %q", name, r)
		}
	}

	// Dana removes the app at Facebook. A check of one Page finds it; the
	// other Page and the Instagram account (another sign-in of hers) follow.
	sb.control("POST", "revoke", map[string]any{"persona": "dana"})
	k.clock.Add(time.Hour)
	accts, _ := k.st.Accounts(context.Background(), 1)
	r := refresh.New(refresh.Options{Store: k.st, Providers: k.deps.Providers, Now: k.clock.Now, Rate: 1000})
	if err := r.CheckNow(context.Background(), accts[0].ID); err != nil {
		t.Fatal(err)
	}
	k.clock.Add(3 * time.Minute)
	for name, r := range rows() {
		if r != [2]string{"Needs re-auth", "Checked 3 minutes ago"} {
			t.Errorf("%s after the removal: %q", name, r)
		}
	}
	doc := parse(t, b.get("/settings/accounts"))
	doc.Find("[data-testid=account]").Each(func(_ int, s *goquery.Selection) {
		if p := s.Find("[data-testid=problem]").Text(); !strings.Contains(p, "The app was removed from the Facebook account") {
			t.Errorf("%s: problem %q, want the sign-in's reason", s.Find("[data-testid=account-name]").Text(), p)
		}
	})
}
