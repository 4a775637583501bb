package providers

// Info is the static description of a platform for the chooser (SPEC §4,
// required scopes from PLATFORMS.md §7).
type Info struct {
	Platform     Platform
	Name         string
	AccountType  string
	Requirements string
	Scopes       []Scope // required, in request order
}

// Scope is a permission with its meaning in plain words.
type Scope struct{ Name, Description string }

var requiredScopes = map[Platform][]string{
	Facebook:  {"pages_show_list", "pages_manage_posts", "pages_read_engagement", "pages_messaging"},
	Instagram: {"instagram_basic", "instagram_content_publish", "instagram_manage_comments", "pages_show_list", "pages_read_engagement"},
	TikTok:    {"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"},
}

// optionalScopes are asked for too, but an account without them is not
// limited: business_management reaches the Pages a person holds through a
// Business portfolio (and their Instagram accounts), which /me/accounts
// leaves out (PLATFORMS.md §8).
var optionalScopes = map[Platform][]string{
	Facebook:  {"business_management"},
	Instagram: {"business_management"},
}

var scopeWords = map[string]string{
	// Facebook
	"pages_show_list":           "See the list of Pages you manage",
	"pages_manage_posts":        "Publish posts to your Pages",
	"pages_read_engagement":     "Read your Pages' posts, followers and engagement",
	"pages_messaging":           "Send and receive messages as your Pages",
	"pages_manage_engagement":   "Manage comments on your Pages",
	"pages_manage_metadata":     "Manage your Pages' settings and webhooks",
	"pages_read_user_content":   "Read what visitors post on your Pages",
	"read_insights":             "Read your Pages' insights",
	"business_management":       "Reach Pages you manage through Business Manager",
	"public_profile":            "See your public Facebook profile",
	"instagram_basic":           "See your Instagram profile and posts",
	"instagram_content_publish": "Publish posts to your Instagram account",
	"instagram_manage_comments": "Read and reply to comments on Instagram",
	"instagram_manage_insights": "Read your Instagram insights",
	"instagram_manage_messages": "Send and receive Instagram messages",
	// TikTok
	"user.info.basic":   "See your TikTok name and avatar",
	"user.info.profile": "See your TikTok username and profile",
	"user.info.stats":   "See your TikTok follower, like and video counts",
	"video.list":        "See your public TikTok videos",
	"video.upload":      "Upload videos to your TikTok drafts",
	"video.publish":     "Publish videos to your TikTok account",
}

// Describe returns the chooser facts for p (zero Info for an unknown platform).
func Describe(p Platform) Info {
	info := Info{Platform: p, Name: p.Name()}
	switch p {
	case Facebook:
		info.AccountType, info.Requirements = "Page", "Admin access to the Page"
	case Instagram:
		info.AccountType, info.Requirements = "Business or Creator account", "Linked to a Facebook Page"
	case TikTok:
		info.AccountType, info.Requirements = "Business account", "A TikTok Business account"
	default:
		return Info{}
	}
	for _, s := range requiredScopes[p] {
		info.Scopes = append(info.Scopes, Scope{Name: s, Description: ScopeDescription(s)})
	}
	return info
}

// ScopeDescription gives plain words for a scope we know, else the name itself.
func ScopeDescription(name string) string {
	if w, ok := scopeWords[name]; ok {
		return w
	}
	return name
}
