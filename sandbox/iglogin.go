package sandbox

// The Instagram API with Instagram Login ("Business Login for Instagram"),
// PLATFORMS.md §2.2: an Instagram professional account connects without a
// Facebook Page. Three hosts:
//
//	www.instagram.com/oauth/authorize            consent window → ?code=…&state=…#_
//	api.instagram.com/oauth/access_token         POST form: code → short-lived token (1 h)
//	graph.instagram.com/access_token             ig_exchange_token → long-lived (60 d)
//	graph.instagram.com/refresh_access_token     ig_refresh_token (≥ 24 h old, not expired)
//	graph.instagram.com/{vNN.N}/me               the professional account
//
// There is no refresh token: the long-lived access token refreshes itself.

import (
	"html/template"
	"net/http"
	"slices"
	"time"
)

// Lifetimes (PLATFORMS.md §2.2). Scaled by settings.Scale like the others;
// so is the 24-hour minimum age of a refresh, or a scaled-down token could
// never be refreshed.
const (
	igShortLife     = time.Hour
	igLongLife      = 5183944 * time.Second // the references' expires_in example (≈ 60 days)
	igMinRefreshAge = 24 * time.Hour
)

const igBasicScope = "instagram_business_basic"

// igLoginScopes are the Instagram Login permissions; the first is required.
var igLoginScopes = []string{igBasicScope, "instagram_business_content_publish", "instagram_business_manage_comments",
	"instagram_business_manage_messages", "instagram_business_manage_insights"}

// igOldScopes are the values deprecated on 2025-01-27 ("Failure to do so will
// result in your app being unable to call the Instagram endpoints").
var igOldScopes = map[string]bool{"business_basic": true, "business_content_publish": true,
	"business_manage_comments": true, "business_manage_messages": true}

// igGraphEndpoints are the fault names on graph.instagram.com, where
// graph_error faults apply.
var igGraphEndpoints = map[string]bool{"instagram.exchange": true, "instagram.refresh": true, "instagram.me": true}

func init() {
	for sc, label := range map[string]string{
		igBasicScope:                         "Access your profile info (username, name, picture, follower and media counts)",
		"instagram_business_content_publish": "Publish posts, reels and stories",
		"instagram_business_manage_comments": "Read and manage comments",
		"instagram_business_manage_messages": "Read and send messages",
		"instagram_business_manage_insights": "Read insights about your account and media",
	} {
		scopeLabels[sc] = label
	}
	for _, p := range igPersonas {
		igByKey[p.Key] = p
	}
}

// ---- personas ------------------------------------------------------------------

// igPersona is an Instagram account that logs in with Instagram.
type igPersona struct {
	Key string
	// ScopedID is the Instagram-scoped user id of the app user: user_id of
	// the code exchange and id of /me. user_id of /me is Account.ID, the
	// professional account id (1784…) that /{id}/media takes. UNCONFIRMED:
	// Business Login's page calls the exchange's user_id "an
	// Instagram-scoped user ID for your app user" and its example starts
	// "1020…", while /me's user_id is the professional account id.
	ScopedID string
	Account  *igAccount // Kind BUSINESS, MEDIA_CREATOR or PERSONAL
	// LinkedPage is the Facebook Page the account is also linked to (the
	// Facebook Login path reaches it there), "" if none.
	LinkedPage string
}

var igPersonas = []*igPersona{
	{
		// A creator who never had a Facebook Page.
		Key: "nova", ScopedID: "10200000000000601",
		Account: &igAccount{
			ID: "17841400000000601", Username: "nova.makes", Name: "Nova Reyes",
			Biography: "Ceramics, glazes and studio days.", Website: "https://novamakes.example",
			Followers: 6420, Follows: 388, Media: 173, Kind: "MEDIA_CREATOR", Color: "#d62976",
		},
	},
	{
		// The very account linked to dana's Harbor Coffee Roasters Page:
		// same id, username and name, so one account can arrive both ways.
		Key: "harbor", ScopedID: "10200000000000101",
		Account: linkedIG("104000000000101"), LinkedPage: "104000000000101",
	},
	{
		// A personal (non-professional) account: Instagram Login refuses it.
		Key: "pia", ScopedID: "10200000000000602",
		Account: &igAccount{
			ID: "17841400000000602", Username: "pia.travels", Name: "Pia Lindqvist",
			Followers: 812, Follows: 640, Media: 95, Kind: "PERSONAL", Color: "#4f5bd5",
		},
	},
}

var igByKey = map[string]*igPersona{}

// linkedIG returns the Instagram account of one of the Meta personas' Pages:
// the same pointer, so the two paths can never drift apart.
func linkedIG(pageID string) *igAccount {
	for _, p := range metaPersonas {
		for _, pg := range append(slices.Clone(p.Pages), p.Held...) {
			if pg.ID == pageID && pg.IG != nil {
				return pg.IG
			}
		}
	}
	panic("sandbox: no Page " + pageID + " with a linked Instagram account")
}

func igKindLabel(kind string) string {
	switch kind {
	case "BUSINESS":
		return "Business account"
	case "MEDIA_CREATOR":
		return "Creator account"
	}
	return "Personal account"
}

func igPersonaViews() []personaView {
	var out []personaView
	for i, p := range igPersonas {
		a := p.Account
		detail := "@" + a.Username + " · " + igKindLabel(a.Kind)
		if p.LinkedPage != "" {
			detail += " · linked to the Facebook Page " + pageByID[p.LinkedPage].Name
		}
		out = append(out, personaView{Key: p.Key, Name: a.Name, Detail: detail, Avatar: template.URL(avatar(a.Name, a.Color)), Checked: i == 0})
	}
	return out
}

// igPersonaList is what GET /sandbox/control/personas shows of them.
func igPersonaList() []map[string]any {
	var out []map[string]any
	for _, p := range igPersonas {
		a := p.Account
		m := map[string]any{"key": p.Key, "platform": "instagram", "id": p.ScopedID, "user_id": a.ID,
			"username": a.Username, "name": a.Name, "account_type": a.Kind, "professional": a.Kind != "PERSONAL",
			"followers_count": a.Followers, "follows_count": a.Follows, "media_count": a.Media,
			"profile_picture_url": avatar(a.Name, a.Color)}
		if p.LinkedPage != "" {
			m["linked_page_id"] = p.LinkedPage
		}
		out = append(out, m)
	}
	return out
}

// ---- control ---------------------------------------------------------------------

// ctlInstagram switches the code exchange's answer between its two shapes.
func (s *Sandbox) ctlInstagram(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Shape *string `json:"token_shape"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Shape == nil || *body.Shape != "data" && *body.Shape != "flat" {
		ctlError(w, http.StatusBadRequest, `token_shape must be "data" or "flat"`)
		return
	}
	s.mu.Lock()
	s.st.Settings.InstagramTokenShape = *body.Shape
	out := s.st.Settings
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
