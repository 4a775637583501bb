package providers

// TikTok Login Kit v2 (PLATFORMS.md §3.1, §3.2). It says client_key where
// OAuth says client_id, so the authorize URL, the exchange and the refresh
// are written by hand (x/oauth2 always sends client_id, and its TokenSource
// can neither send client_key nor tell us about a rotated refresh token).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"omnisocial/vault"
)

// TikTokConfig is the TikTok app and its endpoints. Empty bases take the
// real hosts.
type TikTokConfig struct {
	RedirectURL  string       // {base}/oauth/tiktok/callback, exactly
	HTTPClient   *http.Client // nil: a client with a 20 s timeout
	ClientKey    string
	ClientSecret vault.Token
	AuthBase     string // default "https://www.tiktok.com"
	APIBase      string // default "https://open.tiktokapis.com"
	// PKCE is how the PKCE code_challenge is encoded: PKCEHex (the
	// default: hex of SHA-256, as TikTok's Login Kit documents) or PKCES256
	// (RFC 7636 base64url, for an app TikTok treats the standard way).
	PKCE string
}

// The TikTok code_challenge encodings (PLATFORMS.md §8).
const (
	PKCEHex  = "hex"
	PKCES256 = "s256"
)

// TikTokLogin is TikTok's Provider.
type TikTokLogin struct {
	caller
	c TikTokConfig
}

var _ Provider = (*TikTokLogin)(nil)

// NewTikTokLogin returns TikTok's adapter.
func NewTikTokLogin(c TikTokConfig) *TikTokLogin {
	def(&c.AuthBase, "https://www.tiktok.com")
	def(&c.APIBase, "https://open.tiktokapis.com")
	def(&c.PKCE, PKCEHex)
	return &TikTokLogin{caller: newCaller(TikTok, c.HTTPClient), c: c}
}

// Configured reports whether the app credentials are set.
func (a *TikTokLogin) Configured() bool { return a.c.ClientKey != "" && !a.c.ClientSecret.IsZero() }

// UsesPKCE: TikTok takes an S256 challenge (hex-encoded, see challenge).
func (a *TikTokLogin) UsesPKCE() bool { return true }

func (a *TikTokLogin) AuthCodeURL(r AuthRequest) string { return a.authURL(r) }

func (a *TikTokLogin) AuthBase() string { return a.c.AuthBase }

func (a *TikTokLogin) Exchange(ctx context.Context, code, verifier string) (*Grant, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	return a.exchange(ctx, code, verifier)
}

func (a *TikTokLogin) Check(ctx context.Context, c Credentials) (*Checked, error) {
	if !a.Configured() {
		return nil, a.notConfigured()
	}
	return a.check(ctx, c)
}

func (a *TikTokLogin) Revoke(ctx context.Context, c Credentials) error {
	if !a.Configured() {
		return a.notConfigured()
	}
	return a.revoke(ctx, c)
}

func (a *TikTokLogin) authURL(r AuthRequest) string {
	scopes := required(TikTok)
	if len(r.Rerequest) > 0 {
		scopes = r.Rerequest
	}
	v := url.Values{
		"client_key":    {a.c.ClientKey},
		"scope":         {strings.Join(scopes, ",")},
		"response_type": {"code"},
		"redirect_uri":  {a.c.RedirectURL},
		"state":         {r.State},
	}
	if r.Verifier != "" {
		v.Set("code_challenge", a.challenge(r.Verifier))
		v.Set("code_challenge_method", "S256")
	}
	return a.c.AuthBase + "/v2/auth/authorize/?" + v.Encode()
}

// challenge is SHA-256 of the verifier, hex-encoded as TikTok's
// Login Kit documents ("You must use hex encoding of SHA256 to generate the
// code challenge"; web integrations that sent RFC 7636 base64url were
// refused), unless the operator chose the RFC 7636 form (PLATFORMS.md §8).
func (a *TikTokLogin) challenge(verifier string) string {
	if a.c.PKCE == PKCES256 {
		return oauth2.S256ChallengeFromVerifier(verifier)
	}
	sum := sha256.Sum256([]byte(verifier))
	return hex.EncodeToString(sum[:])
}

type ttToken struct {
	AccessToken      string  `json:"access_token"`
	ExpiresIn        seconds `json:"expires_in"`
	OpenID           string  `json:"open_id"`
	RefreshToken     string  `json:"refresh_token"`
	RefreshExpiresIn seconds `json:"refresh_expires_in"`
	Scope            string  `json:"scope"`
}

type ttUser struct {
	OpenID         string `json:"open_id"`
	UnionID        string `json:"union_id"`
	AvatarURL      string `json:"avatar_url"`
	DisplayName    string `json:"display_name"`
	Username       string `json:"username"`
	FollowerCount  *int64 `json:"follower_count"`
	FollowingCount *int64 `json:"following_count"`
	LikesCount     *int64 `json:"likes_count"`
	VideoCount     *int64 `json:"video_count"`
}

func (a *TikTokLogin) exchange(ctx context.Context, code, verifier string) (*Grant, error) {
	form := url.Values{"code": {code}, "grant_type": {"authorization_code"}, "redirect_uri": {a.c.RedirectURL}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	t, err := a.tiktokToken(ctx, form, false)
	if err != nil {
		return nil, err
	}
	if t.OpenID == "" {
		return nil, &Error{Platform: TikTok, Kind: Transient, Code: "no_open_id", Reason: "TikTok did not say who signed in"}
	}
	creds := a.tiktokCreds(t, "")
	scopes := splitScopes(t.Scope)
	u, err := a.tiktokUser(ctx, creds.AccessToken, t.OpenID, scopes)
	if err != nil {
		return nil, err
	}
	meta := userMeta(u, nil)
	creds.Metadata = cloneMeta(meta)
	acc := Account{PlatformUserID: t.OpenID, Username: cmp.Or(u.Username, u.DisplayName), DisplayName: u.DisplayName,
		AvatarURL: u.AvatarURL, Credentials: creds, Scopes: scopes, Metadata: meta}
	return &Grant{Subject: t.OpenID, SubjectName: acc.DisplayName, Scopes: scopes,
		Declined: Missing(TikTok, scopes), Accounts: []Account{acc}}, nil
}

// check refreshes, then fetches the profile with the new token. With
// rotation the old refresh token is dead from here on, so a profile failure
// returns the new credentials together with the error.
func (a *TikTokLogin) check(ctx context.Context, c Credentials) (*Checked, error) {
	if c.RefreshToken.IsZero() {
		return nil, &Error{Platform: TikTok, Kind: Permanent, Code: "no_token", Reason: "No TikTok refresh token is stored for this account"}
	}
	t, err := a.tiktokToken(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken.Reveal()}}, true)
	if e, ok := errors.AsType[*Error](err); ok && e.Code == "invalid_grant" && (c.RefreshExpiry.IsZero() || c.RefreshExpiry.After(a.now())) {
		// A refresh token that has not run out is refused: TikTok revoked
		// the authorization, and revoking "disconnects the app" from the
		// person's TikTok account, every sign-in alike. (A token rotated by
		// somebody else is the caller's to rule out: it holds the storage.)
		e.Reach = ReachPerson
	}
	if err != nil {
		return nil, err
	}
	out := &Checked{Credentials: a.tiktokCreds(t, c.PlatformUserID), Scopes: splitScopes(t.Scope), Metadata: cloneMeta(c.Metadata)}
	out.Credentials.Metadata = cloneMeta(c.Metadata)
	u, err := a.tiktokUser(ctx, out.Credentials.AccessToken, out.Credentials.PlatformUserID, out.Scopes)
	if err != nil {
		return out, err
	}
	out.Metadata = userMeta(u, c.Metadata)
	out.Credentials.Metadata = cloneMeta(out.Metadata)
	out.Username, out.DisplayName, out.AvatarURL = cmp.Or(u.Username, u.DisplayName), u.DisplayName, u.AvatarURL
	return out, nil
}

func (a *TikTokLogin) revoke(ctx context.Context, c Credentials) error {
	if c.AccessToken.IsZero() {
		return nil
	}
	form := url.Values{"client_key": {a.c.ClientKey}, "client_secret": {a.c.ClientSecret.Reveal()},
		"token": {c.AccessToken.Reveal()}}
	res, err := a.send(ctx, http.MethodPost, a.c.APIBase+"/v2/oauth/revoke/", form, nil)
	if err != nil {
		return err
	}
	// TikTok "returns an empty response body" on success, and its example
	// shows {} (PLATFORMS.md §8): an empty 2xx is success, and so is any
	// 2xx JSON without an error.
	if res.status/100 == 2 && len(bytes.TrimSpace(res.body)) == 0 {
		return nil
	}
	return a.tiktokResult(res, false, false, nil)
}

// tiktokToken posts to the token endpoint and insists on both tokens: a 200
// without them must not pass for a refresh (it would wipe the stored one).
func (a *TikTokLogin) tiktokToken(ctx context.Context, form url.Values, refresh bool) (*ttToken, error) {
	form.Set("client_key", a.c.ClientKey)
	form.Set("client_secret", a.c.ClientSecret.Reveal())
	res, err := a.send(ctx, http.MethodPost, a.c.APIBase+"/v2/oauth/token/", form, nil)
	if err != nil {
		return nil, err
	}
	var t ttToken
	if err := a.tiktokResult(res, false, refresh, &t); err != nil {
		return nil, err
	}
	if t.AccessToken == "" || t.RefreshToken == "" {
		return nil, a.failure(res, Transient, "no_access_token", "TikTok's answer held no usable token")
	}
	return &t, nil
}

// tiktokCreds turns a token answer into credentials. Lifetimes come from
// the answer, never from a constant: they differ between TikTok's rules.
func (a *TikTokLogin) tiktokCreds(t *ttToken, openID string) Credentials {
	now := a.now()
	return Credentials{AccessToken: vault.NewToken(t.AccessToken), RefreshToken: vault.NewToken(t.RefreshToken),
		Expiry: t.ExpiresIn.after(now), RefreshExpiry: t.RefreshExpiresIn.after(now), PlatformUserID: cmp.Or(t.OpenID, openID)}
}

// tiktokUser reads the profile, asking only for fields the scopes allow
// (TikTok refuses the whole call otherwise).
func (a *TikTokLogin) tiktokUser(ctx context.Context, t vault.Token, openID string, scopes []string) (*ttUser, error) {
	has := func(s string) bool { return slices.Contains(scopes, s) }
	if len(scopes) > 0 && !has("user.info.basic") {
		return &ttUser{OpenID: openID}, nil
	}
	fields := "open_id,union_id,avatar_url,display_name"
	if has("user.info.profile") {
		fields += ",username"
	}
	if has("user.info.stats") {
		fields += ",follower_count,following_count,likes_count,video_count"
	}
	res, err := a.send(ctx, http.MethodGet, a.c.APIBase+"/v2/user/info/?fields="+url.QueryEscape(fields), nil,
		http.Header{"Authorization": {"Bearer " + t.Reveal()}})
	if err != nil {
		return nil, err
	}
	var env struct {
		Data struct {
			User *ttUser `json:"user"`
		} `json:"data"`
	}
	if err := a.tiktokResult(res, true, false, &env); err != nil {
		return nil, err
	}
	if env.Data.User == nil || env.Data.User.OpenID == "" {
		return nil, a.unreadable(res)
	}
	return env.Data.User, nil
}

func userMeta(u *ttUser, old map[string]any) map[string]any {
	m := cloneMeta(old)
	if u.UnionID != "" {
		m["union_id"] = u.UnionID
	}
	for k, v := range map[string]*int64{"follower_count": u.FollowerCount, "following_count": u.FollowingCount,
		"likes_count": u.LikesCount, "video_count": u.VideoCount} {
		if v != nil {
			m[k] = *v
		}
	}
	return m
}

// tiktokResult decodes an answer. The OAuth endpoints put a string in
// "error" (at 200 or 4xx); the v2 API wraps every answer in an envelope
// whose error.code must be "ok", even on HTTP 200 (envelope=true).
func (a *TikTokLogin) tiktokResult(res *response, envelope, refresh bool, out any) error {
	code, ok := ttErrorCode(res.body)
	switch {
	case res.status == http.StatusTooManyRequests || code == "rate_limit_exceeded":
		return a.failure(res, Transient, cmp.Or(code, "http_429"), "TikTok's rate limit was reached")
	case res.status >= 500:
		return a.failure(res, Transient, cmp.Or(code, "http_"+strconv.Itoa(res.status)), "TikTok had a temporary problem")
	case !ok:
		return a.unreadable(res)
	case code != "" && code != "ok":
		kind, reason := tiktokClass(code, refresh)
		return a.failure(res, kind, code, reason)
	case envelope && code != "ok", res.status/100 != 2:
		return a.unreadable(res)
	case out != nil && json.Unmarshal(res.body, out) != nil:
		return a.unreadable(res)
	}
	return nil
}

// ttErrorCode reads "error" as a string or as {"code":…}; "" when absent.
// ok is false when the body is not JSON we can read.
func ttErrorCode(body []byte) (code string, ok bool) {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil {
		return "", false
	}
	if len(env.Error) == 0 || string(env.Error) == "null" {
		return "", true
	}
	if json.Unmarshal(env.Error, &code) == nil {
		return code, true
	}
	var obj struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(env.Error, &obj) == nil {
		return obj.Code, true
	}
	return "", false
}

// tiktokClass maps TikTok's error codes (PLATFORMS.md §3, §5). Unknown
// codes are Transient: an account is condemned only on a known answer.
func tiktokClass(code string, refresh bool) (Kind, string) {
	switch code {
	case "invalid_grant":
		if refresh {
			return Permanent, "TikTok rejected the refresh token (expired or revoked)"
		}
		return Permanent, "TikTok rejected the authorization code (expired or already used)"
	case "access_token_invalid":
		return Permanent, "TikTok no longer accepts the access token (revoked or expired)"
	case "scope_not_authorized", "scope_permission_missed":
		return Permanent, "A TikTok permission the app needs was removed or not granted"
	case "access_denied":
		return Permanent, "The TikTok account refused access"
	case "invalid_client", "unauthorized_client":
		return Misconfigured, "TikTok rejected the app's client key or secret"
	case "invalid_request", "invalid_scope", "invalid_params", "unsupported_grant_type", "unsupported_response_type":
		return Permanent, "TikTok rejected the request"
	}
	return Transient, "TikTok had a temporary problem"
}
