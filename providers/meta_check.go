package providers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"omnisocial/vault"
)

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

type granular struct {
	Scope     string   `json:"scope"`
	TargetIDs []string `json:"target_ids"`
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

func unixTime(s int64) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

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
