// Package providers talks OAuth and HTTP to Facebook, Instagram (through
// Facebook Login) and TikTok (Login Kit v2): authorization URLs, the code
// exchange, discovery of the accounts an authorization can manage, validity
// checks or refreshes, and revocation. It knows nothing about storage: every
// secret it hands out is a vault.Token, and every failure is an *Error
// classified for the refresh queue (PLATFORMS.md §5, SECURITY.md §5).
package providers

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"omnisocial/vault"
)

// Platform names a supported platform; the value is used in URLs and the DB.
type Platform string

const (
	Facebook  Platform = "facebook"
	Instagram Platform = "instagram"
	TikTok    Platform = "tiktok"
)

// Platforms lists the supported platforms in chooser order.
func Platforms() []Platform { return []Platform{Facebook, Instagram, TikTok} }

// ParsePlatform accepts only the known platform names (from a URL path, say).
func ParsePlatform(s string) (Platform, bool) {
	p := Platform(s)
	return p, slices.Contains(Platforms(), p)
}

// Name is the platform's name for people.
func (p Platform) Name() string {
	switch p {
	case Facebook:
		return "Facebook"
	case Instagram:
		return "Instagram"
	case TikTok:
		return "TikTok"
	}
	return string(p)
}

// SignInPlatforms lists, as stored, the platforms whose accounts one sign-in
// at p authorizes: a Facebook sign-in serves its Pages and their Instagram
// accounts alike, so revoking it is owed only when the last of them goes.
func SignInPlatforms(p Platform) []string {
	if p == TikTok {
		return []string{string(TikTok)}
	}
	return []string{string(Facebook), string(Instagram)}
}

// Provider is what the handlers and the refresh queue use. *Adapter
// implements it for every platform.
type Provider interface {
	Platform() Platform
	Configured() bool
	AuthCodeURL(r AuthRequest) string
	UsesPKCE() bool
	// Exchange trades the code (exactly once, never retried) and discovers
	// what the authorization can manage.
	Exchange(ctx context.Context, code, verifier string) (*Grant, error)
	// Check refreshes (TikTok) or validates (Meta) the credentials and
	// returns the fresh profile. When it returns a non-nil *Checked together
	// with an error, the refresh succeeded and rotated the tokens but a later
	// step failed: persist Checked.Credentials first (the old refresh token
	// is dead), then handle the error.
	Check(ctx context.Context, c Credentials) (*Checked, error)
	// Revoke is best effort. For Facebook and Instagram it removes the whole
	// Facebook authorization of the person behind c.UserToken, so every Page
	// and Instagram account connected through that sign-in stops working:
	// call it only when the last such account goes.
	Revoke(ctx context.Context, c Credentials) error
}

// AuthRequest is one authorization attempt.
type AuthRequest struct {
	State string
	// Verifier is the PKCE verifier (oauth2.GenerateVerifier()); its S256
	// challenge is sent only where the platform supports PKCE (UsesPKCE).
	Verifier string
	// Rerequest, if non-empty, asks again for exactly these scopes.
	Rerequest []string
}

// Grant is the result of a successful code exchange.
type Grant struct {
	Subject          string   // who signed in: Facebook user id / TikTok open_id
	SubjectName      string   //
	Scopes           []string // granted
	Declined         []string // required scopes not granted, in request order
	UserTokenExpiry  time.Time
	DataAccessExpiry time.Time
	Accounts         []Account
	Unlinked         []string // Instagram: names of Pages with no linked Instagram account
	// Notes are things the person should know about what was found, in
	// words: a Business portfolio whose Pages could not be listed, say.
	Notes []string
}

// Account is one manageable account found by Exchange.
type Account struct {
	PlatformUserID                   string
	Username, DisplayName, AvatarURL string
	Credentials                      Credentials
	Scopes                           []string
	Metadata                         map[string]any
}

// Credentials are what is stored for an account. Times are zero when the
// token does not expire.
type Credentials struct {
	AccessToken, RefreshToken vault.Token
	Expiry, RefreshExpiry     time.Time
	UserToken                 vault.Token // Meta: long-lived user token
	PlatformUserID            string
	Metadata                  map[string]any
}

// Checked is the result of a successful Check.
type Checked struct {
	Credentials                      Credentials
	Username, DisplayName, AvatarURL string
	Scopes                           []string
	Metadata                         map[string]any
}

// Metadata keys shared with callers.
const (
	MetaPageID          = "page_id"   // Instagram: the linked Facebook Page
	MetaPageName        = "page_name" // Instagram: its name
	MetaFacebookUserID  = "facebook_user_id"
	MetaFacebookUser    = "facebook_user_name"
	MetaUserTokenExpiry = "user_token_expires_at"  // RFC 3339
	MetaDataAccessUntil = "data_access_expires_at" // RFC 3339
	// A Page reached through a Business portfolio rather than a direct
	// role: the portfolio's id and name (absent for direct Pages).
	MetaBusinessID   = "business_id"
	MetaBusinessName = "business_name"
)

// Config holds the app credentials and endpoints. Empty bases take the real
// platform hosts.
type Config struct {
	RedirectURL string       // {base}/oauth/{platform}/callback, exactly
	HTTPClient  *http.Client // nil: a client with a 20 s timeout

	MetaAppID        string
	MetaAppSecret    vault.Token
	MetaGraphVersion string // default "v26.0"
	MetaDialogBase   string // default "https://www.facebook.com"
	MetaGraphBase    string // default "https://graph.facebook.com"

	TikTokClientKey    string
	TikTokClientSecret vault.Token
	TikTokAuthBase     string // default "https://www.tiktok.com"
	TikTokAPIBase      string // default "https://open.tiktokapis.com"
	// TikTokPKCE is how the PKCE code_challenge is encoded: PKCEHex (the
	// default: hex of SHA-256, as TikTok's Login Kit documents) or PKCES256
	// (RFC 7636 base64url, for an app TikTok treats the standard way).
	TikTokPKCE string
}

// The TikTok code_challenge encodings (PLATFORMS.md §8).
const (
	PKCEHex  = "hex"
	PKCES256 = "s256"
)

// Adapter implements Provider for one platform.
type Adapter struct {
	p   Platform
	c   Config
	now func() time.Time
}

var _ Provider = (*Adapter)(nil)

// New returns the adapter for p. Facebook and Instagram share the Meta fields.
func New(p Platform, c Config) *Adapter {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.MetaGraphVersion, "v26.0")
	def(&c.MetaDialogBase, "https://www.facebook.com")
	def(&c.MetaGraphBase, "https://graph.facebook.com")
	def(&c.TikTokAuthBase, "https://www.tiktok.com")
	def(&c.TikTokAPIBase, "https://open.tiktokapis.com")
	def(&c.TikTokPKCE, PKCEHex)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	return &Adapter{p: p, c: c, now: time.Now}
}

// Format and LogValue keep the adapter's Config out of every print: fmt
// cannot call vault.Token's redacting methods through an unexported field,
// so it would show the app secrets.
func (a Adapter) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "providers.Adapter(%s)", a.p) }
func (a Adapter) LogValue() slog.Value {
	return slog.StringValue("providers.Adapter(" + string(a.p) + ")")
}

func (a *Adapter) Platform() Platform { return a.p }

// Configured reports whether the app credentials for the platform are set.
func (a *Adapter) Configured() bool {
	switch a.p {
	case Facebook, Instagram:
		return a.c.MetaAppID != "" && !a.c.MetaAppSecret.IsZero()
	case TikTok:
		return a.c.TikTokClientKey != "" && !a.c.TikTokClientSecret.IsZero()
	}
	return false
}

// UsesPKCE: TikTok takes an S256 challenge (hex-encoded, see
// tiktokChallenge); Facebook documents PKCE only
// for its OIDC flow, still in testing, so the manual flow goes without.
func (a *Adapter) UsesPKCE() bool { return a.p == TikTok }

func (a *Adapter) AuthCodeURL(r AuthRequest) string {
	if a.p == TikTok {
		return a.tiktokAuthURL(r)
	}
	return a.metaAuthURL(r)
}

func (a *Adapter) Exchange(ctx context.Context, code, verifier string) (*Grant, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if a.p == TikTok {
		return a.tiktokExchange(ctx, code, verifier)
	}
	return a.metaExchange(ctx, code)
}

func (a *Adapter) Check(ctx context.Context, c Credentials) (*Checked, error) {
	if err := a.ready(); err != nil {
		return nil, err
	}
	if a.p == TikTok {
		return a.tiktokCheck(ctx, c)
	}
	return a.metaCheck(ctx, c)
}

func (a *Adapter) Revoke(ctx context.Context, c Credentials) error {
	if err := a.ready(); err != nil {
		return err
	}
	if a.p == TikTok {
		return a.tiktokRevoke(ctx, c)
	}
	return a.metaRevoke(ctx, c)
}

func (a *Adapter) ready() error {
	if a.Configured() {
		return nil
	}
	return &Error{Platform: a.p, Kind: Misconfigured, Code: "not_configured",
		Reason: "The " + a.p.Name() + " app credentials are not configured"}
}

// required lists the scopes the product needs, in request order.
func required(p Platform) []string { return slices.Clone(requiredScopes[p]) }

// missing returns the required scopes not in granted, in request order.
func missing(p Platform, granted []string) []string {
	var out []string
	for _, s := range required(p) {
		if !slices.Contains(granted, s) {
			out = append(out, s)
		}
	}
	return out
}
