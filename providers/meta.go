package providers

// Facebook Pages and Instagram (Instagram API with Facebook Login) share one
// Facebook Login flow (PLATFORMS.md §1, §2.1): code → short-lived user token
// → long-lived user token → Page tokens. Facebook manages each Page;
// Instagram manages each Page's linked professional account with that Page's
// token. There is no refresh token: Check validates with debug_token.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
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

type debugInfo struct {
	AppID               graphID     `json:"app_id"`
	IsValid             bool        `json:"is_valid"`
	ExpiresAt           int64       `json:"expires_at"`
	DataAccessExpiresAt int64       `json:"data_access_expires_at"`
	Scopes              []string    `json:"scopes"`
	Granular            []granular  `json:"granular_scopes"`
	UserID              graphID     `json:"user_id"`
	Error               *graphError `json:"error"`
}

// graphID is an id Graph writes as a string in current documents and as a
// number in older ones (debug_token's app_id and user_id, PLATFORMS.md
// §8): both read as the decimal string. A number is read without floating
// point, so a 15-digit app id keeps every digit.
type graphID string

func (g *graphID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*g = graphID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if _, err := n.Int64(); err != nil {
		return errors.New("graph id is not a whole number")
	}
	*g = graphID(n.String())
	return nil
}

type granular struct {
	Scope     string   `json:"scope"`
	TargetIDs []string `json:"target_ids"`
}

type page struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	AccessToken string          `json:"access_token"`
	Category    string          `json:"category"`
	Tasks       []string        `json:"tasks"`
	Picture     json.RawMessage `json:"picture"`
	FanCount    *int64          `json:"fan_count"`
	IG          *igUser         `json:"instagram_business_account"`

	viaID, viaName string // the Business portfolio it was reached through; "" = a direct role
}

type business struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type igUser struct {
	ID                string `json:"id"`
	Username          string `json:"username"`
	Name              string `json:"name"`
	ProfilePictureURL string `json:"profile_picture_url"`
	FollowersCount    *int64 `json:"followers_count"`
}

const igFields = "id,username,name,profile_picture_url,followers_count"

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
	seen, seenPage := map[string]bool{}, map[string]bool{}
	for _, p := range pages {
		acc, ok := a.metaAccount(p, base, granted, d.Granular)
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
	return g, nil
}

// metaAccount describes what one Page offers: the Page itself (Facebook) or
// its linked Instagram account; ok is false for a Page with none linked.
func (a *FacebookLogin) metaAccount(p page, base map[string]any, granted []string, gran []granular) (acc Account, ok bool) {
	meta := cloneMeta(base)
	if p.viaID != "" {
		meta[MetaBusinessID], meta[MetaBusinessName] = p.viaID, p.viaName
	}
	if a.p == Facebook {
		meta["category"], meta["tasks"] = p.Category, p.Tasks
		if p.FanCount != nil {
			meta["fan_count"] = *p.FanCount
		}
		return Account{PlatformUserID: p.ID, Username: p.Name, DisplayName: p.Name, AvatarURL: pictureURL(p.Picture),
			Scopes: scopesFor(granted, gran, p.ID), Metadata: meta}, true
	}
	if p.IG == nil || p.IG.ID == "" { // absent key = not linked (PLATFORMS.md §2.1)
		return Account{}, false
	}
	meta[MetaPageID], meta[MetaPageName] = p.ID, p.Name
	if p.IG.FollowersCount != nil {
		meta["followers_count"] = *p.IG.FollowersCount
	}
	return Account{PlatformUserID: p.IG.ID, Username: p.IG.Username, DisplayName: cmp.Or(p.IG.Name, p.IG.Username),
		AvatarURL: p.IG.ProfilePictureURL, Scopes: scopesFor(granted, gran, p.ID, p.IG.ID), Metadata: meta}, true
}

// pageFields are the Page fields asked for on every list of Pages.
func (a *FacebookLogin) pageFields() string {
	fields := "id,name,access_token,category,tasks,picture.type(large)"
	if a.p == Facebook {
		return fields + ",fan_count"
	}
	return fields + ",instagram_business_account{" + igFields + "}"
}

// pages lists the Pages the person selected and holds a direct role on.
func (a *FacebookLogin) pages(ctx context.Context, user vault.Token) ([]page, error) {
	return list[page](ctx, a, "me/accounts", url.Values{"fields": {a.pageFields()}, "limit": {"100"}}, user)
}

// portfolioPages lists the Pages held through the person's Business
// portfolios (PLATFORMS.md §8): /me/businesses, then each one's
// owned_pages and client_pages, paged, each Page with its token. Pages are
// a bonus to /me/accounts, so a failure costs only that portfolio's Pages
// and is told in words (notes); it never fails the connection.
func (a *FacebookLogin) portfolioPages(ctx context.Context, user vault.Token) (pages []page, notes []string) {
	bizs, err := list[business](ctx, a, "me/businesses", url.Values{"fields": {"id,name"}, "limit": {"100"}}, user)
	if err != nil {
		return nil, []string{"Pages held through a Business portfolio could not be listed (" + reasonOf(err) +
			"); the Pages you manage directly are shown."}
	}
	for _, b := range bizs {
		if b.ID == "" {
			continue
		}
		var held []page
		for _, edge := range []string{"owned_pages", "client_pages"} {
			var more []page
			if more, err = list[page](ctx, a, url.PathEscape(b.ID)+"/"+edge, url.Values{"fields": {a.pageFields()}, "limit": {"100"}}, user); err != nil {
				break
			}
			held = append(held, more...)
		}
		if err != nil {
			notes = append(notes, "Pages held through the Business portfolio "+cmp.Or(b.Name, b.ID)+" could not be listed ("+
				reasonOf(err)+"); the other Pages are shown.")
			continue
		}
		for _, p := range held {
			p.viaID, p.viaName = b.ID, cmp.Or(b.Name, b.ID)
			pages = append(pages, p)
		}
	}
	return pages, notes
}

func reasonOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Reason != "" {
		return strings.ToLower(e.Reason[:1]) + e.Reason[1:]
	}
	return "an unexpected error"
}

// list returns every item of a paged Graph edge, following paging.next
// back to the Graph host only: the next URL carries the token.
func list[T any](ctx context.Context, a *FacebookLogin, path string, q url.Values, user vault.Token) ([]T, error) {
	next := a.graphURL(path)
	var all []T
	for range 100 {
		var res struct {
			Data   []T `json:"data"`
			Paging struct {
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := a.graph(ctx, http.MethodGet, next, q, user, &res); err != nil {
			return nil, err
		}
		all = append(all, res.Data...)
		if res.Paging.Next == "" || len(res.Data) == 0 {
			return all, nil
		}
		if !a.isGraphURL(res.Paging.Next) {
			return nil, &Error{Platform: a.p, Kind: Transient, Code: "bad_paging",
				Reason: "Facebook's list pointed somewhere unexpected"}
		}
		next, q = res.Paging.Next, nil
	}
	return nil, &Error{Platform: a.p, Kind: Transient, Code: "bad_paging", Reason: "Facebook's list did not end"}
}

func (a *FacebookLogin) isGraphURL(raw string) bool {
	u, err1 := url.Parse(raw)
	base, err2 := url.Parse(a.c.GraphBase)
	return err1 == nil && err2 == nil && u.Scheme == base.Scheme && u.Host == base.Host &&
		strings.HasPrefix(u.Path, strings.TrimSuffix(base.Path, "/")+"/")
}

// permissions returns the granted scopes from /me/permissions.
func (a *FacebookLogin) permissions(ctx context.Context, user vault.Token) ([]string, error) {
	var res struct {
		Data []struct{ Permission, Status string } `json:"data"`
	}
	if err := a.graph(ctx, http.MethodGet, a.graphURL("me/permissions"), nil, user, &res); err != nil {
		return nil, err
	}
	var granted []string
	for _, p := range res.Data {
		if p.Status == "granted" {
			granted = append(granted, p.Permission)
		}
	}
	return granted, nil
}

// debugToken introspects t with the app token.
func (a *FacebookLogin) debugToken(ctx context.Context, t vault.Token) (*debugInfo, error) {
	q := url.Values{"input_token": {t.Reveal()}, "access_token": {a.c.AppID + "|" + a.c.AppSecret.Reveal()}}
	var res struct {
		Data *debugInfo `json:"data"`
	}
	err := a.graph(ctx, http.MethodGet, a.graphURL("debug_token"), q, vault.Token{}, &res)
	if e, ok := errors.AsType[*Error](err); ok && (e.Code == "190" || e.Code == "102") {
		// A bare token error on the call itself is about our app token: the
		// account's token is judged in data.is_valid. A subcode such as 460
		// can only be about a person's token, so that stays Permanent.
		e.Kind, e.Reason = Misconfigured, "Facebook rejected the app credentials (app ID or secret)"
	}
	if err != nil {
		return nil, err
	}
	if res.Data == nil {
		return nil, &Error{Platform: a.p, Kind: Transient, Code: "no_data", Reason: "Facebook's token check was empty"}
	}
	return res.Data, nil
}

// invalidToken explains debug_token's is_valid:false; always Permanent.
func (a *FacebookLogin) invalidToken(d *debugInfo) *Error {
	g := graphError{Code: 190}
	if d.Error != nil {
		g = *d.Error
		g.Subcode = cmp.Or(g.Subcode, g.DebugSub)
		g.Code = cmp.Or(g.Code, 190)
	}
	_, reason := graphClass(g)
	if g.Code != 190 && g.Code != 102 {
		reason = "Facebook no longer accepts the sign-in (expired or revoked)"
	}
	return &Error{Platform: a.p, Kind: Permanent, Code: graphCode(g), Reason: reason, detail: "debug_token: is_valid false"}
}

// signInDead is the error for a user token debug_token calls dead with one
// of the subcodes that kill it for every Page and Instagram account
// obtained through it (PLATFORMS.md §8: 190 with 458, 460, 463, 464, 467,
// 492); nil for any other death, which is left to the Page token's own
// check. Removing the app (458), changing the password (460) and an
// unconfirmed account (464) are the person's, so they reach every sign-in
// of that person; an expired token (463), a log-out (467) and a lost
// session (492) are this sign-in's, so they reach the accounts holding
// this very user token. A person's later sign-in holds a new token.
func (a *FacebookLogin) signInDead(u *debugInfo) *Error {
	if u.Error == nil {
		return nil
	}
	g := *u.Error
	g.Subcode = cmp.Or(g.Subcode, g.DebugSub)
	if cmp.Or(g.Code, 190) != 190 {
		return nil
	}
	g.Code = 190
	var reach Reach
	switch g.Subcode {
	case 458, 460, 464:
		reach = ReachPerson
	case 463, 467, 492:
		reach = ReachSignIn
	default:
		return nil
	}
	return &Error{Platform: a.p, Kind: Permanent, Code: graphCode(g), Reason: reasons190[g.Subcode], Reach: reach,
		detail: "debug_token of the user token: is_valid false"}
}

func (a *FacebookLogin) check(ctx context.Context, c Credentials) (*Checked, error) {
	if c.AccessToken.IsZero() || c.PlatformUserID == "" {
		return nil, &Error{Platform: a.p, Kind: Permanent, Code: "no_token", Reason: "No Facebook token is stored for this account"}
	}
	d, err := a.debugToken(ctx, c.AccessToken)
	if err != nil {
		return nil, err
	}
	var u *debugInfo
	if !c.UserToken.IsZero() {
		// The user token feeds the expiry warnings, and tells whether the
		// sign-in itself died. A failed call about it is not the account's
		// failure: the Page token is what works.
		if u, err = a.debugToken(ctx, c.UserToken); err != nil {
			u = nil
		}
	}
	if u != nil && !u.IsValid {
		if e := a.signInDead(u); e != nil {
			return nil, e
		}
	}
	if !d.IsValid {
		return nil, a.invalidToken(d)
	}
	meta := cloneMeta(c.Metadata)
	setTime(meta, MetaDataAccessUntil, unixTime(d.DataAccessExpiresAt))
	if u != nil {
		meta["user_token_valid"] = u.IsValid
		setTime(meta, MetaUserTokenExpiry, unixTime(u.ExpiresAt))
		setTime(meta, MetaDataAccessUntil, unixTime(u.DataAccessExpiresAt))
	}
	out := &Checked{Credentials: c, Metadata: meta}
	out.Credentials.Expiry = unixTime(d.ExpiresAt) // 0 for a Page token: never

	id := url.PathEscape(c.PlatformUserID)
	if a.p == Facebook {
		var p page
		q := url.Values{"fields": {"id,name,category,picture,fan_count"}}
		if err := a.graph(ctx, http.MethodGet, a.graphURL(id), q, c.AccessToken, &p); err != nil {
			return nil, err
		}
		out.Username, out.DisplayName, out.AvatarURL = p.Name, p.Name, pictureURL(p.Picture)
		meta["category"] = p.Category
		if p.FanCount != nil {
			meta["fan_count"] = *p.FanCount
		}
		out.Scopes = scopesFor(d.Scopes, d.Granular, c.PlatformUserID)
	} else {
		var ig igUser
		if err := a.graph(ctx, http.MethodGet, a.graphURL(id), url.Values{"fields": {igFields}}, c.AccessToken, &ig); err != nil {
			return nil, err
		}
		out.Username, out.DisplayName, out.AvatarURL = ig.Username, cmp.Or(ig.Name, ig.Username), ig.ProfilePictureURL
		if ig.FollowersCount != nil {
			meta["followers_count"] = *ig.FollowersCount
		}
		pageID, _ := c.Metadata[MetaPageID].(string)
		out.Scopes = scopesFor(d.Scopes, d.Granular, c.PlatformUserID, pageID)
	}
	out.Credentials.Metadata = cloneMeta(meta)
	return out, nil
}

// revoke removes the app from the person's Facebook account. Without a
// user token there is nothing to call: a Page token cannot do it. Success
// is documented as the bare JSON true; some answers carry
// {"success":true} instead (PLATFORMS.md §8): both are success.
func (a *FacebookLogin) revoke(ctx context.Context, c Credentials) error {
	if c.UserToken.IsZero() {
		return nil
	}
	var ok graphSuccess
	if err := a.graph(ctx, http.MethodDelete, a.graphURL("me/permissions"), nil, c.UserToken, &ok); err != nil {
		return err
	}
	if !ok {
		return &Error{Platform: a.p, Kind: Transient, Code: "not_revoked", Reason: "Facebook did not confirm the removal of the app"}
	}
	return nil
}

// graphSuccess reads a Graph write's answer: a bare boolean, or an object
// with a "success" boolean.
type graphSuccess bool

func (g *graphSuccess) UnmarshalJSON(b []byte) error {
	var bare bool
	if err := json.Unmarshal(b, &bare); err == nil {
		*g = graphSuccess(bare)
		return nil
	}
	var obj struct {
		Success *bool `json:"success"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	if obj.Success == nil {
		return errors.New("no success field")
	}
	*g = graphSuccess(*obj.Success)
	return nil
}

// scopesFor filters granted scopes to those that apply to one of ids: a
// scope granted for specific targets (granular_scopes) applies only to them.
func scopesFor(granted []string, gran []granular, ids ...string) []string {
	var out []string
	for _, s := range granted {
		i := slices.IndexFunc(gran, func(g granular) bool { return g.Scope == s && len(g.TargetIDs) > 0 })
		if i >= 0 && !slices.ContainsFunc(ids, func(id string) bool { return id != "" && slices.Contains(gran[i].TargetIDs, id) }) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// pictureURL reads a picture field sent as {"data":{"url":…}} or a string.
func pictureURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var p struct {
		Data struct {
			URL string `json:"url"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &p)
	return p.Data.URL
}

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}
