package sandbox

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// The personas are fixed seed data, not state: they are compiled in so that
// their IDs stay a stable contract for tests elsewhere, and a reset cannot
// lose them. Only the authorizations and tokens that refer to them are state.

type metaPersona struct {
	Key   string // "dana"
	ID    string // Facebook user id
	Name  string
	Email string
	Color string
	Pages []page // Pages the person holds a direct role on: what /me/accounts lists
	// Held are Pages reachable only through one of the person's Business
	// portfolios (owned_pages, client_pages), never through /me/accounts.
	Held       []page
	Businesses []business
}

// business is a Business portfolio (Business Manager) the person belongs to.
type business struct {
	ID     string
	Name   string
	Owned  []string // Page ids of owned_pages
	Client []string // Page ids of client_pages
	// Broken, if set, is why its Page lists fail (the message of a
	// permission error), for a portfolio the app cannot read.
	Broken string
}

type page struct {
	ID        string
	Name      string
	Category  string
	Followers int
	Fans      int
	About     string
	Tasks     []string
	Color     string
	IG        *igAccount // nil = no linked Instagram professional account
}

type igAccount struct {
	ID        string
	Username  string
	Name      string
	Biography string
	Website   string
	Followers int
	Follows   int
	Media     int
	Kind      string // "BUSINESS" or "MEDIA_CREATOR", shown on the consent page only
	Color     string
}

type tiktokPersona struct {
	Key       string
	OpenID    string
	UnionID   string
	Username  string
	Name      string
	Bio       string
	Verified  bool
	Business  bool
	Followers int
	Following int
	Likes     int
	Videos    int
	DeepLink  string
	Color     string
}

var allTasks = []string{"ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MESSAGING", "MODERATE", "MANAGE"}

var metaPersonas = []*metaPersona{
	{
		Key: "dana", ID: "10229000000001", Name: "Dana Whitfield", Email: "dana.whitfield@example.com", Color: "#6d4c9f",
		Pages: []page{
			{
				ID: "104000000000101", Name: "Harbor Coffee Roasters", Category: "Coffee Shop",
				Followers: 12840, Fans: 12410, About: "Small-batch roastery on Pier 7.", Tasks: allTasks, Color: "#8d5524",
				IG: &igAccount{
					ID: "17841400000000101", Username: "harborcoffee", Name: "Harbor Coffee Roasters",
					Biography: "Small-batch coffee, roasted daily on Pier 7.", Website: "https://harborcoffee.example",
					Followers: 23817, Follows: 412, Media: 318, Kind: "BUSINESS", Color: "#c2703d",
				},
			},
			{
				ID: "104000000000102", Name: "Northwind Cycling Club", Category: "Sports Club",
				Followers: 3410, Fans: 3288, About: "Saturday rides, all paces welcome.", Tasks: allTasks, Color: "#1f7a8c",
			},
			{
				ID: "104000000000103", Name: "Luma Yoga Studio", Category: "Yoga Studio",
				Followers: 8920, Fans: 8702, About: "Vinyasa, yin and prenatal classes.", Tasks: allTasks, Color: "#b5838d",
				IG: &igAccount{
					ID: "17841400000000103", Username: "luma.yoga", Name: "Luma Yoga",
					Biography: "Breathe in. Classes daily, downtown.", Website: "https://lumayoga.example",
					Followers: 15120, Follows: 280, Media: 540, Kind: "MEDIA_CREATOR", Color: "#e07a5f",
				},
			},
			{
				ID: "104000000000104", Name: "Pine & Pixel Design", Category: "Graphic Designer",
				Followers: 1275, Fans: 1190, About: "Brand identities for small businesses.",
				Tasks: []string{"ANALYZE", "CREATE_CONTENT", "MODERATE"}, Color: "#2d6a4f",
			},
		},
	},
	{Key: "sam", ID: "10229000000002", Name: "Sam Ortega", Email: "sam.ortega@example.com", Color: "#e76f51"},
	{
		Key: "lee", ID: "10229000000003", Name: "Lee Park", Email: "lee.park@example.com", Color: "#264653",
		Pages: []page{
			{
				ID: "104000000000301", Name: "Lee Park Photography", Category: "Photographer",
				Followers: 2210, Fans: 2105, About: "Weddings and portraits.", Tasks: allTasks, Color: "#495057",
			},
		},
	},
	{
		// An agency: no direct Page role at all; every Page comes through
		// the Business portfolio, one of them with a linked Instagram account.
		Key: "avery", ID: "10229000000004", Name: "Avery Brooks", Email: "avery.brooks@example.com", Color: "#3d5a80",
		Held: []page{
			{
				ID: "104000000000401", Name: "Brightline Studio", Category: "Advertising Agency",
				Followers: 5120, Fans: 4980, About: "Campaigns for local brands.", Tasks: allTasks, Color: "#ee6c4d",
				IG: &igAccount{
					ID: "17841400000000401", Username: "brightline.studio", Name: "Brightline Studio",
					Biography: "We make local brands look big.", Website: "https://brightline.example",
					Followers: 9340, Follows: 610, Media: 212, Kind: "BUSINESS", Color: "#f4a259",
				},
			},
			{
				ID: "104000000000402", Name: "Cedar Dental Clinic", Category: "Dentist",
				Followers: 860, Fans: 842, About: "Family dentistry since 1998.", Tasks: allTasks, Color: "#5b8e7d",
			},
			{
				ID: "104000000000403", Name: "Fjord Outdoor Gear", Category: "Outdoor Equipment Store",
				Followers: 14200, Fans: 13900, About: "Gear for the long way round.", Tasks: []string{"ANALYZE"}, Color: "#293241",
			},
		},
		Businesses: []business{
			{ID: "2090000000000401", Name: "Brightline Agency", Owned: []string{"104000000000401"},
				Client: []string{"104000000000402", "104000000000403"}},
		},
	},
	{
		// Direct Pages that work, one also owned by a portfolio that works,
		// and a second portfolio whose Page lists fail.
		Key: "kai", ID: "10229000000005", Name: "Kai Moreau", Email: "kai.moreau@example.com", Color: "#7b2cbf",
		Pages: []page{
			{
				ID: "104000000000501", Name: "Kai's Bakery", Category: "Bakery",
				Followers: 3020, Fans: 2950, About: "Sourdough every morning.", Tasks: allTasks, Color: "#bc6c25",
			},
			{
				ID: "104000000000502", Name: "Moreau Wines", Category: "Winery",
				Followers: 7410, Fans: 7300, About: "Three generations of Loire wine.", Tasks: allTasks, Color: "#6a040f",
				IG: &igAccount{
					ID: "17841400000000502", Username: "moreauwines", Name: "Moreau Wines",
					Biography: "Loire valley, since 1962.", Website: "https://moreauwines.example",
					Followers: 11200, Follows: 301, Media: 402, Kind: "BUSINESS", Color: "#9d0208",
				},
			},
		},
		Held: []page{
			{
				ID: "104000000000503", Name: "Atlas Weekly", Category: "Media/News Company",
				Followers: 40210, Fans: 39800, About: "The week, in print.", Tasks: allTasks, Color: "#1d3557",
			},
		},
		Businesses: []business{
			{ID: "2090000000000501", Name: "Moreau Family Holdings", Owned: []string{"104000000000502"}},
			{ID: "2090000000000502", Name: "Atlas Media Group", Owned: []string{"104000000000503"},
				Broken: "(#200) Access to this business requires two-factor authentication for its members"},
		},
	},
}

var tiktokPersonas = []*tiktokPersona{
	{
		Key: "bloom", OpenID: "b1003a7e-0c5d-4f3b-9e2a-6b1000000001", UnionID: "c2a7e0b1-0c5d-4f3b-9e2a-6b1000000001",
		Username: "bloombotanics", Name: "Bloom Botanics", Bio: "Houseplants, propagation tips and weekly plant-care lives.",
		Business: true, Followers: 48210, Following: 312, Likes: 903400, Videos: 286,
		DeepLink: "https://vm.tiktok.com/ZMbloom01/", Color: "#2a9d8f",
	},
	{
		Key: "river", OpenID: "7e5a0c2d-4b1f-4d8e-a6c3-6b1000000002", UnionID: "c2a7e0b1-0c5d-4f3b-9e2a-6b1000000002",
		Username: "rivertan", Name: "River Tan", Bio: "Trail runs and camp food.",
		Followers: 1520, Following: 488, Likes: 20330, Videos: 64,
		DeepLink: "https://vm.tiktok.com/ZMriver02/", Color: "#f4a261",
	},
}

// Indexes built once: lookups by id must not scan.
var (
	metaByKey   = map[string]*metaPersona{}
	tiktokByKey = map[string]*tiktokPersona{}
	tiktokByOID = map[string]*tiktokPersona{}
	pageByID    = map[string]*page{}
	pageOwner   = map[string]*metaPersona{}
	igByID      = map[string]*page{} // IG id → the Page it is linked to
	metaByID    = map[string]*metaPersona{}
	bizByID     = map[string]*business{}
	bizOwner    = map[string]*metaPersona{}
)

func init() {
	for _, p := range metaPersonas {
		metaByKey[p.Key] = p
		metaByID[p.ID] = p
		for _, list := range [][]page{p.Pages, p.Held} {
			for i := range list {
				pg := &list[i]
				pageByID[pg.ID] = pg
				pageOwner[pg.ID] = p
				if pg.IG != nil {
					igByID[pg.IG.ID] = pg
				}
			}
		}
		for i := range p.Businesses {
			b := &p.Businesses[i]
			bizByID[b.ID] = b
			bizOwner[b.ID] = p
		}
	}
	for _, p := range tiktokPersonas {
		tiktokByKey[p.Key] = p
		tiktokByOID[p.OpenID] = p
	}
}

// personaPlatform tells which platform a persona key belongs to ("" if none).
func personaPlatform(key string) string {
	if metaByKey[key] != nil {
		return "meta"
	}
	if tiktokByKey[key] != nil {
		return "tiktok"
	}
	if igByKey[key] != nil {
		return "instagram"
	}
	return ""
}

// avatar draws coloured initials as an SVG data URL, so pages look real offline.
func avatar(name, color string) string {
	svg := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" viewBox="0 0 100 100">`+
		`<rect width="100" height="100" rx="50" fill="%s"/>`+
		`<text x="50" y="50" dy=".35em" text-anchor="middle" font-family="Helvetica,Arial,sans-serif" font-size="40" font-weight="bold" fill="#fff">%s</text></svg>`,
		color, initials(name))
	return "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(svg))
}

func initials(name string) string {
	var b strings.Builder
	for _, w := range strings.Fields(name) {
		r := []rune(w)[0]
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			b.WriteString(strings.ToUpper(string(r)))
		}
		if b.Len() == 2 {
			break
		}
	}
	return b.String()
}
