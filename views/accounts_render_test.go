package views

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/a-h/templ"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleChrome is what a signed-in owner's page carries.
func sampleChrome() Chrome {
	return Chrome{Title: "Social Accounts", CSRF: "csrf-token-<&\">", Asset: "abc123", Nav: "accounts"}
}

// sampleAccounts is n accounts cycling through every platform, status and
// optional field, with names that need escaping.
func sampleAccounts(n int) []AccountView {
	platforms := []struct{ platform, login, name string }{
		{"facebook", "facebook", "Facebook"},
		{"instagram", "instagram", "Instagram"},
		{"instagram", "instagram_login", "Instagram"},
		{"tiktok", "tiktok", "TikTok"},
	}
	statuses := []struct{ status, label, problem string }{
		{"active", "Active", ""},
		{"expiring", "Expiring soon", "The token expires in 3 days; reconnect before then."},
		{"limited", "Limited", "Publishing videos needs the \"video.publish\" permission."},
		{"needs_reauth", "Needs re-auth", "The password changed & the sign-in <stopped> working."},
	}
	out := make([]AccountView, n)
	for i := range out {
		p := platforms[i%len(platforms)]
		s := statuses[(i/2)%len(statuses)]
		a := AccountView{
			ID:           fmt.Sprint(1000 + i),
			Platform:     p.platform,
			Login:        p.login,
			PlatformName: p.name,
			Name:         fmt.Sprintf("Harbor Coffee & Roasters #%d <\"shop\">", i),
			Status:       s.status,
			StatusLabel:  s.label,
			LastSynced:   "5 minutes ago",
			Checked:      "5 minutes ago",
			Problem:      s.problem,
			CanManage:    i%5 != 4,
		}
		if i%3 != 0 {
			a.Handle = fmt.Sprintf("@harbor_%d", i)
		}
		if i%4 != 1 {
			a.AvatarURL = fmt.Sprintf("https://cdn.example.com/a/%d.jpg?s=44&t=x\"y", i)
		}
		if i%3 == 2 {
			a.LastSynced = "2 hours ago"
		}
		switch i % 3 {
		case 0:
			a.Expiry = "Never expires"
		case 1:
			a.Expiry = "Expires in 3 days"
		}
		if s.status == "limited" {
			a.Missing = []string{"video.publish"}
		}
		out[i] = a
	}
	return out
}

func sampleProps(n int) AccountsProps {
	return AccountsProps{
		Used: n, Max: 100, Plan: "Agency", CanManage: true,
		Rows: AccountRows(sampleChrome(), sampleAccounts(n)),
		Filter: AccountFilter{
			Show: true, Q: "har & bor", Platform: "instagram", Page: 2, Pages: 3, Matched: 50,
			From: 21, To: 40,
			Platforms: []FilterOption{{"facebook", "Facebook", 20, false}, {"instagram", "Instagram", 20, true}, {"tiktok", "TikTok", 10, false}},
			Statuses:  []FilterOption{{"active", "Active", 30, false}, {"needs_reauth", "Needs re-auth", 20, false}},
		},
	}
}

func sampleDetails(kind, status string) DetailsProps {
	a := sampleAccounts(8)
	var acct AccountView
	for _, x := range a {
		if x.Status == status {
			acct = x
			break
		}
	}
	return DetailsProps{
		Account:     acct,
		Health:      "Publishing works until <Dec 3> & then stops.",
		HealthKind:  kind,
		Connection:  []Fact{{"Connected", "3 days ago", "connected"}, {"Token", "Expires in 3 days", ""}},
		Metadata:    [][2]string{{"Page ID", "1234"}, {"Category", "Coffee & tea"}},
		Scopes:      []ScopeView{{"pages_manage_posts", "Publish posts", true}, {"video.publish", "Publish videos", false}},
		Events:      []EventView{{"1 hour ago", "Dana", "Checked", "Active"}, {"2 days ago", "", "Connected", "by <owner>"}},
		HistoryDays: 30,
	}
}

func renderString(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestAccountsGolden pins the accounts pages byte for byte: the golden
// files were rendered by the templates before a change meant to make them
// cheaper, so a rewrite of how they are built must leave every byte alone.
// go test ./views -run Golden -update rewrites them.
func TestAccountsGolden(t *testing.T) {
	c := sampleChrome()
	empty := sampleProps(0)
	empty.Rows, empty.Filter = nil, AccountFilter{}
	member := sampleProps(6)
	member.CanManage, member.Filter = false, AccountFilter{}
	accts := sampleAccounts(6)
	for i := range accts {
		accts[i].CanManage = false
	}
	member.Rows = AccountRows(c, accts)
	noMatch := sampleProps(30)
	noMatch.Rows, noMatch.Filter.Matched = nil, 0
	cases := map[string]templ.Component{
		"accounts_page":    AccountsPage(c, sampleProps(50)),
		"accounts_list":    AccountsList(c, sampleProps(50)),
		"accounts_empty":   AccountsPage(c, empty),
		"accounts_member":  AccountsPage(c, member),
		"accounts_nomatch": AccountsList(c, noMatch),
		"details_ok":       DetailsPage(c, sampleDetails("ok", "active")),
		"details_warn":     DetailsPage(c, sampleDetails("warn", "limited")),
		"details_bad":      DetailsPage(c, sampleDetails("bad", "needs_reauth")),
		"details_expiring": DetailsPage(c, sampleDetails("warn", "expiring")),
		"instagram_guide":  instagramGuide(c, ChooseProps{DirectLogin: true, GrantID: "g1", Unlinked: []string{"Harbor & Co"}}),
	}
	for name, comp := range cases {
		t.Run(name, func(t *testing.T) {
			got := renderString(t, comp)
			path := filepath.Join("testdata", name+".golden.html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				i := firstDiff(got, string(want))
				t.Errorf("%s differs from %s at byte %d:\n got: …%s…\nwant: …%s…", name, path, i, around(got, i), around(string(want), i))
			}
		})
	}
}

// BenchmarkAccountsList renders a page of 50 accounts, as the accounts
// page's list does for an owner.
func BenchmarkAccountsList(b *testing.B) {
	c, p := sampleChrome(), sampleProps(50)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := AccountsList(c, p).Render(ctx, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func firstDiff(a, b string) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// around is up to 120 bytes either side of byte i of s.
func around(s string, i int) string {
	return s[max(i-120, 0):min(i+120, len(s))]
}
