package providers

// The Instagram API with Instagram Login (PLATFORMS.md §2.2): a professional
// account connects without a Facebook Page. There is no refresh token: the
// long-lived access token (60 days) is swapped for a new one once it is at
// least a day old, well before it ends.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"omnisocial/vault"
)

// InstagramLoginConfig is the Instagram app of the Meta app ("Instagram
// app ID" and secret in the App Dashboard, not the Facebook app's).
type InstagramLoginConfig struct {
	RedirectURL  string       // {base}/oauth/instagram_login/callback, exactly
	HTTPClient   *http.Client // nil: a client with a 20 s timeout
	AppID        string
	AppSecret    vault.Token
	GraphVersion string // default "v26.0"
	AuthBase     string // default "https://www.instagram.com"
	APIBase      string // default "https://api.instagram.com"
	GraphBase    string // default "https://graph.instagram.com"
	// Now is the clock that says when the token is due a refresh; nil is
	// the real one.
	Now func() time.Time
}

// InstagramLogin is the Provider of Instagram accounts signed in with
// Instagram itself.
type InstagramLogin struct {
	caller
	c InstagramLoginConfig
}

// NewInstagramLogin returns the adapter; zero endpoints take the real hosts.
func NewInstagramLogin(c InstagramLoginConfig) *InstagramLogin {
	def(&c.GraphVersion, "v26.0")
	def(&c.AuthBase, "https://www.instagram.com")
	def(&c.APIBase, "https://api.instagram.com")
	def(&c.GraphBase, "https://graph.instagram.com")
	a := &InstagramLogin{caller: newCaller(IGLogin, c.HTTPClient), c: c}
	if c.Now != nil {
		a.now = c.Now
	}
	return a
}

// Lifetimes of the long-lived token (PLATFORMS.md §2.2).
const (
	igTokenLife     = 60 * 24 * time.Hour
	igMinRefreshAge = 24 * time.Hour
	// igRefreshWithin: a token is refreshed once this close to its end,
	// leaving a month of daily checks to retry a refresh that fails.
	igRefreshWithin = 30 * 24 * time.Hour
)

func (a *InstagramLogin) Configured() bool { return a.c.AppID != "" && !a.c.AppSecret.IsZero() }

// UsesPKCE: Instagram Login documents no PKCE.
func (a *InstagramLogin) UsesPKCE() bool   { return false }
func (a *InstagramLogin) AuthBase() string { return a.c.AuthBase }

// AuthCodeURL asks for every scope the product needs, comma separated as
// the platform documents; a re-request asks for the same list again.
func (a *InstagramLogin) AuthCodeURL(r AuthRequest) string {
	scopes := required(IGLogin)
	if len(r.Rerequest) > 0 {
		scopes = r.Rerequest
	}
	q := url.Values{"client_id": {a.c.AppID}, "redirect_uri": {a.c.RedirectURL}, "response_type": {"code"},
		"scope": {strings.Join(scopes, ",")}, "state": {r.State}}
	return a.c.AuthBase + "/oauth/authorize?" + q.Encode()
}

// igShort is the code exchange's answer: documented inside data[], seen
// flat in practice, user_id a string or a (17-digit) number, permissions
// a comma list or an array. Both shapes are read.
type igShort struct {
	AccessToken string          `json:"access_token"`
	UserID      json.Number     `json:"user_id"`
	Permissions json.RawMessage `json:"permissions"`
}

// igOAuthError is api.instagram.com's own error shape.
type igOAuthError struct {
	Type    string `json:"error_type"`
	Code    int    `json:"code"`
	Message string `json:"error_message"`
}

type igProfile struct {
	UserID      json.Number `json:"user_id"`
	Username    string      `json:"username"`
	Name        string      `json:"name"`
	Picture     string      `json:"profile_picture_url"`
	AccountType string      `json:"account_type"`
	Followers   int64       `json:"followers_count"`
	Media       int64       `json:"media_count"`
}

const igProfileFields = "user_id,username,name,profile_picture_url,account_type,followers_count,media_count"

// Exchange trades the code for the short-lived token, that at once for the
// long-lived one, and reads the professional account it belongs to.
func (a *InstagramLogin) Exchange(ctx context.Context, code, _ string) (*Grant, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	short, err := a.exchangeCode(ctx, strings.TrimSuffix(code, "#_"))
	if err != nil {
		return nil, err
	}
	creds, err := a.longLived(ctx, vault.NewToken(short.AccessToken))
	if err != nil {
		return nil, err
	}
	prof, err := a.profile(ctx, creds.AccessToken)
	if err != nil {
		return nil, err
	}
	if prof.AccountType != "BUSINESS" && prof.AccountType != "MEDIA_CREATOR" {
		return nil, &Error{Platform: a.p, Kind: Permanent, Code: "not_professional",
			Reason: "Only Instagram professional accounts (Business or Creator) can connect"}
	}
	granted := igPermissions(short.Permissions)
	creds.PlatformUserID = prof.UserID.String()
	acc := prof.account(creds, granted)
	return &Grant{Subject: acc.PlatformUserID, SubjectName: "@" + prof.Username, Scopes: granted,
		Declined: Missing(IGLogin, granted), Accounts: []Account{acc}}, nil
}

func (p igProfile) account(c Credentials, granted []string) Account {
	name := p.Name
	if name == "" {
		name = p.Username
	}
	meta := map[string]any{"account_type": p.AccountType, "followers_count": p.Followers, "media_count": p.Media}
	c.Metadata = meta
	return Account{PlatformUserID: p.UserID.String(), Username: p.Username, DisplayName: name, AvatarURL: p.Picture,
		Credentials: c, Scopes: granted, Metadata: cloneMeta(meta)}
}

func (a *InstagramLogin) exchangeCode(ctx context.Context, code string) (*igShort, error) {
	form := url.Values{"client_id": {a.c.AppID}, "client_secret": {a.c.AppSecret.Reveal()}, "grant_type": {"authorization_code"},
		"redirect_uri": {a.c.RedirectURL}, "code": {code}}
	res, err := a.send(ctx, http.MethodPost, a.c.APIBase+"/oauth/access_token", form, nil)
	if err != nil {
		return nil, err
	}
	if res.status/100 != 2 {
		return nil, a.oauthFailure(res)
	}
	var wrapped struct {
		Data []igShort `json:"data"`
	}
	var flat igShort
	if json.Unmarshal(res.body, &wrapped) == nil && len(wrapped.Data) > 0 {
		flat = wrapped.Data[0]
	} else if json.Unmarshal(res.body, &flat) != nil {
		return nil, a.unreadable(res)
	}
	if flat.AccessToken == "" || flat.UserID == "" {
		return nil, a.failure(res, Transient, "no_access_token", "Instagram's answer held no usable token")
	}
	return &flat, nil
}

// oauthFailure reads api.instagram.com's error: an unusable code or our
// app's credentials, never a reason to retry the same code.
func (a *InstagramLogin) oauthFailure(res *response) error {
	var e igOAuthError
	if json.Unmarshal(res.body, &e) != nil || e.Message == "" {
		if res.status == http.StatusTooManyRequests || res.status >= 500 {
			return a.unreadable(res)
		}
		return a.graphResult(res, nil)
	}
	m := strings.ToLower(e.Message)
	switch {
	case res.status == http.StatusTooManyRequests || res.status >= 500:
		return a.failure(res, Transient, "http_"+e.Type, "Instagram had a temporary problem")
	case strings.Contains(m, "client") || strings.Contains(m, "app") && !strings.Contains(m, "code"):
		return a.failure(res, Misconfigured, e.Type, "Instagram rejected the app ID or app secret")
	}
	return a.failure(res, Permanent, e.Type, "The Instagram authorization code expired or was already used")
}

// longLived swaps a short-lived token for the 60-day one.
func (a *InstagramLogin) longLived(ctx context.Context, short vault.Token) (Credentials, error) {
	q := url.Values{"grant_type": {"ig_exchange_token"}, "client_secret": {a.c.AppSecret.Reveal()}, "access_token": {short.Reveal()}}
	return a.tokenCall(ctx, a.c.GraphBase+"/access_token?"+q.Encode())
}

// refresh swaps a long-lived token, at least a day old, for a new one.
func (a *InstagramLogin) refresh(ctx context.Context, long vault.Token) (Credentials, error) {
	q := url.Values{"grant_type": {"ig_refresh_token"}, "access_token": {long.Reveal()}}
	return a.tokenCall(ctx, a.c.GraphBase+"/refresh_access_token?"+q.Encode())
}

// tokenCall is a GET whose query holds the token, as the platform
// documents these two calls; errors name the path only (scrubURL).
func (a *InstagramLogin) tokenCall(ctx context.Context, rawURL string) (Credentials, error) {
	res, err := a.send(ctx, http.MethodGet, rawURL, nil, nil)
	if err != nil {
		return Credentials{}, err
	}
	var out struct {
		AccessToken string  `json:"access_token"`
		ExpiresIn   seconds `json:"expires_in"`
	}
	if err := a.graphResult(res, &out); err != nil {
		return Credentials{}, err
	}
	if out.AccessToken == "" {
		return Credentials{}, a.failure(res, Transient, "no_access_token", "Instagram's answer held no usable token")
	}
	return Credentials{AccessToken: vault.NewToken(out.AccessToken), Expiry: out.ExpiresIn.after(a.now())}, nil
}

func (a *InstagramLogin) profile(ctx context.Context, token vault.Token) (*igProfile, error) {
	u := a.c.GraphBase + "/" + a.c.GraphVersion + "/me?fields=" + url.QueryEscape(igProfileFields)
	res, err := a.send(ctx, http.MethodGet, u, nil, http.Header{"Authorization": {"Bearer " + token.Reveal()}})
	if err != nil {
		return nil, err
	}
	var p igProfile
	if err := a.graphResult(res, &p); err != nil {
		return nil, err
	}
	if p.UserID == "" {
		return nil, a.unreadable(res)
	}
	return &p, nil
}

// graphResult reads graph.instagram.com's answers, which carry the Graph
// error object and codes (PLATFORMS.md §2.2).
func (a *InstagramLogin) graphResult(res *response, out any) error {
	return a.graphAnswer(res, out, "Instagram")
}

// Check refreshes the token when it is due (a day old and within a month
// of its end), then reads the profile. A token past its end needs the
// person: Instagram refreshes only live tokens.
func (a *InstagramLogin) Check(ctx context.Context, c Credentials) (*Checked, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	now := a.now()
	if !c.Expiry.IsZero() && !now.Before(c.Expiry) {
		return nil, &Error{Platform: a.p, Kind: Permanent, Code: "expired", Reason: "The Instagram sign-in expired"}
	}
	var refreshed *Checked
	if igRefreshDue(c.Expiry, now) {
		fresh, err := a.refresh(ctx, c.AccessToken)
		if err != nil {
			return nil, err
		}
		c.AccessToken, c.Expiry = fresh.AccessToken, fresh.Expiry
		refreshed = &Checked{Credentials: c, Metadata: cloneMeta(c.Metadata)}
	}
	prof, err := a.profile(ctx, c.AccessToken)
	if err != nil {
		return refreshed, err // a refresh that worked must be kept
	}
	acc := prof.account(c, nil)
	acc.Credentials.PlatformUserID = c.PlatformUserID
	return &Checked{Credentials: acc.Credentials, Username: acc.Username, DisplayName: acc.DisplayName,
		AvatarURL: acc.AvatarURL, Metadata: acc.Metadata}, nil
}

// igRefreshDue: within a month of the end, and at least a day old (a
// token's age is read from its end, 60 days after it was issued).
func igRefreshDue(expiry, now time.Time) bool {
	if expiry.IsZero() {
		return false
	}
	issued := expiry.Add(-igTokenLife)
	return expiry.Sub(now) < igRefreshWithin && now.Sub(issued) >= igMinRefreshAge
}

// Revoke: Instagram Login documents no revocation endpoint; the person
// removes the app in Instagram's settings. Nothing to call.
func (a *InstagramLogin) Revoke(context.Context, Credentials) error { return nil }

// igPermissions reads the granted scopes, a comma list or an array.
func igPermissions(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return splitScopes(s)
	}
	return nil
}
