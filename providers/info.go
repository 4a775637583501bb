package providers

// Info is what the rest of the program knows of a platform: the chooser's
// facts (SPEC §4, required scopes from PLATFORMS.md §7) and the traits
// handlers and the refresh queue read instead of comparing platforms.
type Info struct {
	Platform     Platform
	Name         string
	AccountType  string
	Requirements string
	Scopes       []Scope // required, in request order

	// SignIn names where a person signs in for these accounts: Instagram
	// accounts are reached through Facebook Login.
	SignIn string
	// SignInFamily lists, in chooser order, the platforms whose accounts one
	// sign-in authorizes alike: a Facebook sign-in serves its Pages and
	// their Instagram accounts, so revoking it is owed only when the last
	// of them goes, and its death takes them all down.
	SignInFamily []Platform
	// App names the platform app whose rate limits the platform's calls
	// share (Facebook and Instagram share the Meta app).
	App string
	// OneAccount: a sign-in yields exactly one account, so connecting
	// needs no choose step.
	OneAccount bool
	// Configure tells the administrator how to set the platform up.
	Configure string
	// Renewal is how credentials are kept alive.
	Renewal Renewal
	// Handle is what stands beside an account's name.
	Handle Handle
	// ByHandle: short lists name an account by its @handle, as the
	// platform itself does, rather than by its display name.
	ByHandle bool
	// LinkedPage: each account is reached through a Facebook Page it is
	// linked to, whose name its metadata carries (MetaPageName).
	LinkedPage bool
	// Way says how it connects, where a platform has two ways (Instagram).
	Way string
}

// Renewal is how a platform's credentials are kept alive.
type Renewal int

const (
	// Validated credentials do not renew: the queue checks them and warns
	// before the sign-in's own end (Meta).
	Validated Renewal = iota
	// Rotated credentials renew with a refresh token that each refresh
	// replaces, until the refresh token's own end (TikTok). A refresh cut
	// off halfway may have spent the stored refresh token.
	Rotated
	// SelfRefreshed credentials have no refresh token: the access token,
	// once a day old and before it ends, is swapped for a new one
	// (Instagram Login). An ended token needs the person.
	SelfRefreshed
)

// Handle is what stands beside an account's name.
type Handle int

const (
	// HandleUsername: @username, as the platform shows it.
	HandleUsername Handle = iota
	// HandleCategory: the Page's category; a Page has no @handle.
	HandleCategory
)

// Title names the platform in a list of them: its name, and where it has
// two ways to connect, which login this one is ("Instagram (Facebook login)").
func (i Info) Title() string {
	if i.Way == "" {
		return i.Name
	}
	return i.Name + " (" + i.SignIn + " login)"
}

// SharesSignIn reports whether one sign-in serves more than this platform.
func (i Info) SharesSignIn() bool { return len(i.SignInFamily) > 1 }

// Scope is a permission with its meaning in plain words.
type Scope struct{ Name, Description string }

var infos = map[Platform]Info{
	Facebook: {
		AccountType: "Page", Requirements: "Admin access to the Page",
		SignIn: "Facebook", SignInFamily: []Platform{Facebook, Instagram}, App: "meta",
		Configure: metaConfigure, Renewal: Validated, Handle: HandleCategory,
	},
	Instagram: {
		AccountType: "Business or Creator account", Requirements: "Linked to a Facebook Page",
		SignIn: "Facebook", SignInFamily: []Platform{Facebook, Instagram}, App: "meta",
		Configure: metaConfigure, Renewal: Validated, Handle: HandleUsername, ByHandle: true, LinkedPage: true,
		Way: "Through a Facebook Page: for accounts linked to a Page you manage",
	},
	IGLogin: {
		AccountType: "Business or Creator account", Requirements: "A professional account; no Facebook Page needed",
		SignIn: "Instagram", SignInFamily: []Platform{IGLogin}, App: "instagram", OneAccount: true,
		Configure: "The administrator sets OMNISOCIAL_INSTAGRAM_APP_ID and OMNISOCIAL_INSTAGRAM_APP_SECRET (the Instagram app of the Meta app).",
		Renewal:   SelfRefreshed, Handle: HandleUsername, ByHandle: true,
		Way: "With Instagram login: for accounts without a Facebook Page",
	},
	TikTok: {
		AccountType: "Business account", Requirements: "A TikTok Business account",
		SignIn: "TikTok", SignInFamily: []Platform{TikTok}, App: "tiktok", OneAccount: true,
		Configure: "The administrator sets OMNISOCIAL_TIKTOK_CLIENT_KEY and OMNISOCIAL_TIKTOK_CLIENT_SECRET.",
		Renewal:   Rotated, Handle: HandleUsername,
	},
}

const metaConfigure = "The administrator sets OMNISOCIAL_FACEBOOK_APP_ID and OMNISOCIAL_FACEBOOK_APP_SECRET."

var requiredScopes = map[Platform][]string{
	Facebook:  {"pages_show_list", "pages_manage_posts", "pages_read_engagement", "pages_messaging"},
	Instagram: {"instagram_basic", "instagram_content_publish", "instagram_manage_comments", "pages_show_list", "pages_read_engagement"},
	TikTok:    {"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"},
	IGLogin:   {"instagram_business_basic", "instagram_business_content_publish", "instagram_business_manage_comments"},
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
	// Instagram Login
	"instagram_business_basic":           "See your Instagram profile and posts",
	"instagram_business_content_publish": "Publish posts to your Instagram account",
	"instagram_business_manage_comments": "Read and reply to comments on Instagram",
	"instagram_business_manage_insights": "Read your Instagram insights",
	"instagram_business_manage_messages": "Send and receive Instagram messages",
	// TikTok
	"user.info.basic":   "See your TikTok name and avatar",
	"user.info.profile": "See your TikTok username and profile",
	"user.info.stats":   "See your TikTok follower, like and video counts",
	"video.list":        "See your public TikTok videos",
	"video.upload":      "Upload videos to your TikTok drafts",
	"video.publish":     "Publish videos to your TikTok account",
}

// Describe returns what is known of p (zero Info for an unknown platform).
func Describe(p Platform) Info {
	info, ok := infos[p]
	if !ok {
		return Info{}
	}
	info.Platform, info.Name = p, p.Name()
	info.SignInFamily = append([]Platform(nil), info.SignInFamily...)
	for _, s := range requiredScopes[p] {
		info.Scopes = append(info.Scopes, Scope{Name: s, Description: ScopeDescription(s)})
	}
	return info
}

// SignInPlatforms lists, as stored, the platforms whose accounts one sign-in
// at p authorizes (Info.SignInFamily).
func SignInPlatforms(p Platform) []string {
	var out []string
	for _, q := range Describe(p).SignInFamily {
		out = append(out, string(q))
	}
	return out
}

// ScopeDescription gives plain words for a scope we know, else the name itself.
func ScopeDescription(name string) string {
	if w, ok := scopeWords[name]; ok {
		return w
	}
	return name
}
