package handlers

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestChooseShowsWherePagesCameFrom: the choose step says which Pages came
// through a Business portfolio (issue 12, point 6), and says so when a
// portfolio could not be read while the direct Pages still can be chosen.
func TestChooseShowsWherePagesCameFrom(t *testing.T) {
	tests := []struct {
		platform, persona string
		want              map[string]string // choice name → via text ("" = direct role)
		note              string            // a grant note must contain this; "" = none
	}{
		{"facebook", "avery", map[string]string{"Brightline Studio": "via Business portfolio Brightline Agency",
			"Cedar Dental Clinic": "via Business portfolio Brightline Agency"}, ""},
		{"instagram", "avery", map[string]string{"Brightline Studio": "via Business portfolio Brightline Agency"}, ""},
		{"facebook", "kai", map[string]string{"Kai's Bakery": "", "Moreau Wines": ""}, "Atlas Media Group could not be listed"},
	}
	for _, tc := range tests {
		t.Run(tc.platform+"/"+tc.persona, func(t *testing.T) {
			k, sb := newFlowKit(t)
			b := k.browser()
			b.signup("a@example.com", "Agency")
			sb.consent(tc.persona)
			grant := b.authorize(tc.platform, nil).Header.Get("Location")
			doc := parse(t, b.get(grant))
			got := map[string]string{}
			doc.Find("[data-testid=choice]").Each(func(_ int, s *goquery.Selection) {
				got[strings.TrimSpace(s.Find("strong").First().Text())] = strings.TrimSpace(s.Find("[data-testid=via]").Text())
			})
			if len(got) != len(tc.want) {
				t.Fatalf("choices %v, want %v", got, tc.want)
			}
			for name, via := range tc.want {
				if g, ok := got[name]; !ok || g != via {
					t.Errorf("%s: via %q, want %q", name, g, via)
				}
			}
			notes := doc.Find("[data-testid=grant-note]")
			if tc.note == "" && notes.Length() != 0 || tc.note != "" && !strings.Contains(notes.Text(), tc.note) {
				t.Errorf("notes %q, want %q", notes.Text(), tc.note)
			}
			// What came through the portfolio connects like any Page.
			var ids []string
			doc.Find("input[name=account]").Each(func(_ int, s *goquery.Selection) { ids = append(ids, s.AttrOr("value", "")) })
			b.choose(grant, ids...)
			if names := k.accountNames(b); len(names) != len(tc.want) {
				t.Errorf("connected %v", names)
			}
		})
	}
}
