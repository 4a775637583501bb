package providers

// Facebook Pages and Instagram (Instagram API with Facebook Login) share one
// Facebook Login flow (PLATFORMS.md §1, §2.1): code → short-lived user token
// → long-lived user token → Page tokens. Facebook manages each Page;
// Instagram manages each Page's linked professional account with that Page's
// token. There is no refresh token: Check validates with debug_token.

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"omnisocial/vault"
)

// MetaConfig is the Meta app and its endpoints. Empty bases take the real
// hosts.
type MetaConfig struct {
	RedirectURL  string       // {base}/oauth/{platform}/callback, exactly
	HTTPClient   *http.Client // nil: a client with a 20 s timeout
	AppID        string
	AppSecret    vault.Token
	GraphVersion string // default "v26.0"
	DialogBase   string // default "https://www.facebook.com"
	GraphBase    string // default "https://graph.facebook.com"
}

// FacebookLogin is the Provider of a platform reached through Facebook
// Login: Facebook (its Pages) or Instagram (the Pages' linked accounts).
type FacebookLogin struct {
	caller
	c MetaConfig
}

var _ Provider = (*FacebookLogin)(nil)

// NewFacebookLogin returns the adapter for p, Facebook or Instagram.
func NewFacebookLogin(p Platform, c MetaConfig) *FacebookLogin {
	def(&c.GraphVersion, "v26.0")
	def(&c.DialogBase, "https://www.facebook.com")
	def(&c.GraphBase, "https://graph.facebook.com")
	return &FacebookLogin{caller: newCaller(p, c.HTTPClient), c: c}
}

// Configured reports whether the app credentials are set.
func (a *FacebookLogin) Configured() bool { return a.c.AppID != "" && !a.c.AppSecret.IsZero() }

// UsesPKCE: Facebook documents PKCE only for its OIDC flow, still in
// testing, so the manual flow goes without.
func (a *FacebookLogin) UsesPKCE() bool { return false }

func (a *FacebookLogin) AuthCodeURL(r AuthRequest) string { return a.authURL(r) }

func (a *FacebookLogin) AuthBase() string { return a.c.DialogBase }

func (a *FacebookLogin) Exchange(ctx context.Context, code, _ string) (*Grant, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	return a.exchange(ctx, code)
}

func (a *FacebookLogin) Check(ctx context.Context, c Credentials) (*Checked, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	return a.check(ctx, c)
}

func (a *FacebookLogin) Revoke(ctx context.Context, c Credentials) error {
	if !a.Configured() {
		return a.notConfigured()
	}
	return a.revoke(ctx, c)
}

// oauthConfig is x/oauth2's view of Facebook Login. The secret is left out
// unless the caller exchanges a code. AuthStyle is explicit: AutoDetect would
// re-send a single-use code after a first failure.
func (a *FacebookLogin) oauthConfig(withSecret bool) *oauth2.Config {
	c := &oauth2.Config{
		ClientID:    a.c.AppID,
		RedirectURL: a.c.RedirectURL,
		Endpoint: oauth2.Endpoint{
			AuthURL:   a.c.DialogBase + "/" + a.c.GraphVersion + "/dialog/oauth",
			TokenURL:  a.graphURL("oauth/access_token"),
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
	if withSecret {
		c.ClientSecret = a.c.AppSecret.Reveal()
	}
	return c
}

// authURL builds the dialog URL. Facebook wants comma-separated scopes,
// x/oauth2 joins with spaces, so scope is set as a parameter.
func (a *FacebookLogin) authURL(r AuthRequest) string {
	scopes := append(required(a.p), optionalScopes[a.p]...)
	var opts []oauth2.AuthCodeOption
	if len(r.Rerequest) > 0 {
		scopes = r.Rerequest
		opts = append(opts, oauth2.SetAuthURLParam("auth_type", "rerequest"))
	}
	opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(scopes, ",")))
	return a.oauthConfig(false).AuthCodeURL(r.State, opts...)
}

func (a *FacebookLogin) exchange(ctx context.Context, code string) (*Grant, error) {
	cfg := a.oauthConfig(true)
	tok, err := cfg.Exchange(context.WithValue(ctx, oauth2.HTTPClient, a.hc), code)
	if err != nil {
		return nil, a.exchangeError(cfg.Endpoint.TokenURL, err)
	}

	// Long-lived user token (about 60 days). The query carries the short token
	// and the app secret, as documented; every error drops the query.
	var long struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   seconds `json:"expires_in"`
	}
	q := url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {a.c.AppID},
		"client_secret": {a.c.AppSecret.Reveal()}, "fb_exchange_token": {tok.AccessToken}}
	if err := a.graph(ctx, http.MethodGet, a.graphURL("oauth/access_token"), q, vault.Token{}, &long); err != nil {
		return nil, err
	}
	if long.AccessToken == "" {
		return nil, &Error{Platform: a.p, Kind: Transient, Code: "no_access_token",
			Reason: "Facebook's answer held no long-lived token"}
	}
	user := vault.NewToken(long.AccessToken)
	userExpiry := long.ExpiresIn.after(a.now())

	var me struct{ ID, Name string }
	if err := a.graph(ctx, http.MethodGet, a.graphURL("me"), url.Values{"fields": {"id,name"}}, user, &me); err != nil {
		return nil, err
	}
	if me.ID == "" {
		return nil, &Error{Platform: a.p, Kind: Transient, Code: "no_user_id", Reason: "Facebook did not say who signed in"}
	}
	pages, err := a.pages(ctx, user)
	if err != nil {
		return nil, err
	}
	granted, err := a.permissions(ctx, user)
	if err != nil {
		return nil, err
	}
	var notes []string
	if slices.Contains(granted, "business_management") {
		held, n := a.portfolioPages(ctx, user)
		pages, notes = append(pages, held...), n // after the direct ones: a direct role wins on the same id
	}
	d, err := a.debugToken(ctx, user)
	if err != nil {
		return nil, err
	}
	switch {
	case !d.IsValid:
		return nil, a.invalidToken(d)
	case d.AppID != "" && string(d.AppID) != a.c.AppID, d.UserID != "" && string(d.UserID) != me.ID:
		// A token minted for another app or person was injected (SECURITY.md §1.1, 4.5.4).
		return nil, &Error{Platform: a.p, Kind: Permanent, Code: "token_mismatch",
			Reason: "Facebook issued the sign-in for another app or person"}
	}
	if d.ExpiresAt > 0 {
		userExpiry = time.Unix(d.ExpiresAt, 0).UTC()
	}

	g := &Grant{Subject: me.ID, SubjectName: me.Name, Scopes: granted, Declined: Missing(a.p, granted),
		UserTokenExpiry: userExpiry, DataAccessExpiry: unixTime(d.DataAccessExpiresAt), Notes: notes}
	base := map[string]any{MetaFacebookUserID: me.ID, MetaFacebookUser: me.Name}
	setTime(base, MetaUserTokenExpiry, g.UserTokenExpiry)
	setTime(base, MetaDataAccessUntil, g.DataAccessExpiry)
	a.addAccounts(g, pages, base, user, d.Granular)
	return g, nil
}

// addAccounts adds to g what each Page offers (see metaAccount), each
// with its Page token, once, the direct role first.
func (a *FacebookLogin) addAccounts(g *Grant, pages []page, base map[string]any, user vault.Token, gran []granular) {
	granted := g.Scopes
	seen, seenPage := map[string]bool{}, map[string]bool{}
	for _, p := range pages {
		acc, ok := a.metaAccount(p, base, granted, gran)
		first := !seenPage[p.ID]
		seenPage[p.ID] = true
		switch {
		// Not manageable (no Page token), or listed twice: the direct role
		// comes first, so it wins over a Business portfolio's listing.
		case p.AccessToken == "", !first, seen[acc.PlatformUserID]:
		case !ok:
			g.Unlinked = append(g.Unlinked, p.Name)
		default:
			seen[acc.PlatformUserID] = true
			// A Page token taken from a long-lived user token does not expire.
			acc.Credentials = Credentials{AccessToken: vault.NewToken(p.AccessToken), UserToken: user,
				PlatformUserID: acc.PlatformUserID, Metadata: cloneMeta(acc.Metadata)}
			g.Accounts = append(g.Accounts, acc)
		}
	}
}
