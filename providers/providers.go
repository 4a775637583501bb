// Package providers talks OAuth and HTTP to Facebook, Instagram (through
// Facebook Login) and TikTok (Login Kit v2): authorization URLs, the code
// exchange, discovery of the accounts an authorization can manage, validity
// checks or refreshes, and revocation. It knows nothing about storage: every
// secret it hands out is a vault.Token, and every failure is an *Error
// classified for the refresh queue (PLATFORMS.md §5, SECURITY.md §5).
package providers

import (
	"context"
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
	// IGLogin is Instagram reached with Instagram's own login, no
	// Facebook Page needed; its accounts are Instagram accounts.
	IGLogin Platform = "instagram_login"
)

// Platforms lists the ways to connect, in chooser order: each is a provider
// with its own sign-in and callback.
func Platforms() []Platform { return []Platform{Facebook, Instagram, IGLogin, TikTok} }

// AccountPlatforms lists the platforms accounts are on: an account
// connected through Instagram Login is an Instagram account.
func AccountPlatforms() []Platform { return []Platform{Facebook, Instagram, TikTok} }

// StoredAs is the platform of the accounts p connects.
func StoredAs(p Platform) Platform {
	if p == IGLogin {
		return Instagram
	}
	return p
}

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
	case Instagram, IGLogin:
		return "Instagram"
	case TikTok:
		return "TikTok"
	}
	return string(p)
}

// Provider is what the handlers and the refresh queue use. Each sign-in
// implements it: *FacebookLogin (Facebook and Instagram) and *TikTokLogin.
type Provider interface {
	Platform() Platform
	Configured() bool
	AuthCodeURL(r AuthRequest) string
	// AuthBase is where AuthCodeURL sends the person's browser.
	AuthBase() string
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
