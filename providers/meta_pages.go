package providers

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"omnisocial/vault"
	"omnisocial/words"
)

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
		return words.LowerFirst(e.Reason)
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
