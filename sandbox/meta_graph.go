package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

func (s *Sandbox) graphNode(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	out, gerr := s.node(r, id)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) node(r *http.Request, id string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	g := s.st.Grants[t.Grant]
	p := metaByKey[t.Persona]
	switch {
	case t.Kind == "page" && (id == "me" || id == t.PageID):
		fs, gerr := fieldsOr(r, "id,name")
		if gerr != nil {
			return nil, gerr
		}
		return s.pageObject(pageByID[t.PageID], t, g, fs, now)
	case t.Kind == "access" && (id == "me" || id == p.ID):
		fs, gerr := fieldsOr(r, "id,name")
		if gerr != nil {
			return nil, gerr
		}
		return userObject(p, g, fs)
	}
	if pg := pageByID[id]; pg != nil && canSeePage(t, g, id) {
		fs, gerr := fieldsOr(r, "id,name")
		if gerr != nil {
			return nil, gerr
		}
		return s.pageObject(pg, t, g, fs, now)
	}
	if pg := igByID[id]; pg != nil && canSeePage(t, g, pg.ID) {
		if !slices.Contains(g.Granted, "instagram_basic") {
			return nil, &graphErr{Code: 10, Message: "(#10) Application does not have permission for this action"}
		}
		fs, gerr := fieldsOr(r, "id")
		if gerr != nil {
			return nil, gerr
		}
		return igObject(pg.IG, fs)
	}
	return nil, errNoObject(id)
}

// canSeePage: a user token sees the Pages selected in the dialog and those
// of the person's readable Business portfolios (with business_management);
// a Page token its own Page.
func canSeePage(t *tokenRec, g *grantRec, pageID string) bool {
	if t.Kind == "page" {
		return t.PageID == pageID
	}
	return slices.Contains(g.Pages, pageID) || viaPortfolio(metaByKey[t.Persona], g, pageID)
}

func picture(name, color string, size int) map[string]any {
	return map[string]any{"data": map[string]any{"height": size, "width": size, "is_silhouette": false, "url": avatar(name, color)}}
}

func userObject(p *metaPersona, g *grantRec, fs []field) (map[string]any, *graphErr) {
	out := map[string]any{}
	first, last, _ := strings.Cut(p.Name, " ")
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = p.ID
		case "name":
			out["name"] = p.Name
		case "first_name":
			out["first_name"] = first
		case "last_name":
			out["last_name"] = last
		case "short_name":
			out["short_name"] = first
		case "email":
			if slices.Contains(g.Granted, "email") { // absent without the permission, as on Facebook
				out["email"] = p.Email
			}
		case "picture":
			out["picture"] = picture(p.Name, p.Color, 50)
		default:
			return nil, errNoField(f.Name, "User")
		}
	}
	return out, nil
}

func (s *Sandbox) pageObject(pg *page, t *tokenRec, g *grantRec, fs []field, now time.Time) (map[string]any, *graphErr) {
	out := map[string]any{}
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = pg.ID
		case "name":
			out["name"] = pg.Name
		case "category":
			out["category"] = pg.Category
		case "category_list":
			out["category_list"] = []map[string]any{{"id": "1" + pg.ID[len(pg.ID)-5:], "name": pg.Category}}
		case "tasks":
			out["tasks"] = pg.Tasks
		case "about":
			out["about"] = pg.About
		case "fan_count":
			out["fan_count"] = pg.Fans
		case "followers_count":
			out["followers_count"] = pg.Followers
		case "link":
			out["link"] = "https://www.facebook.com/" + pg.ID
		case "picture":
			out["picture"] = picture(pg.Name, pg.Color, 200)
		case "access_token":
			if slices.Contains(pg.Tasks, "CREATE_CONTENT") || slices.Contains(pg.Tasks, "MANAGE") {
				out["access_token"] = s.pageToken(t, pg.ID, now)
			}
		case "instagram_business_account":
			if pg.IG == nil {
				continue // not linked: the key is absent, not null
			}
			sub := f.Sub
			if len(sub) == 0 {
				sub = []field{{Name: "id"}}
			}
			ig, gerr := igObject(pg.IG, sub)
			if gerr != nil {
				return nil, gerr
			}
			out["instagram_business_account"] = ig
		default:
			return nil, errNoField(f.Name, "Page")
		}
	}
	return out, nil
}

func igObject(ig *igAccount, fs []field) (map[string]any, *graphErr) {
	out := map[string]any{}
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = ig.ID
		case "ig_id":
			n, _ := strconv.ParseInt(ig.ID[len(ig.ID)-9:], 10, 64)
			out["ig_id"] = 5000000000 + n
		case "username":
			out["username"] = ig.Username
		case "name":
			out["name"] = ig.Name
		case "biography":
			out["biography"] = ig.Biography
		case "website":
			out["website"] = ig.Website
		case "profile_picture_url":
			out["profile_picture_url"] = avatar(ig.Name, ig.Color)
		case "followers_count":
			out["followers_count"] = ig.Followers
		case "follows_count":
			out["follows_count"] = ig.Follows
		case "media_count":
			out["media_count"] = ig.Media
		default:
			return nil, errNoField(f.Name, "IGUser")
		}
	}
	return out, nil
}

// pageToken returns the Page token derived from t, minting it on first use.
// From a long-lived user token it never expires; from a short-lived one it
// lives an hour. s.mu held.
func (s *Sandbox) pageToken(t *tokenRec, pageID string, now time.Time) string {
	if t.Kind == "page" {
		return t.Value
	}
	if v, ok := t.PageTokens[pageID]; ok && s.st.dead(s.st.Tokens[v], now) == "" {
		return v
	}
	var exp time.Time
	if !t.LongLived {
		exp = now.Add(s.st.scaled(metaPageLife))
	}
	pt := s.st.addToken(&tokenRec{Value: newMetaToken(), Platform: "facebook", Kind: "page", Persona: t.Persona,
		Grant: t.Grant, PageID: pageID, LongLived: t.LongLived, IssuedAt: now, ExpiresAt: exp})
	if t.PageTokens == nil {
		t.PageTokens = map[string]string{}
	}
	t.PageTokens[pageID] = pt.Value
	s.dirty = true
	return pt.Value
}

func (s *Sandbox) graphPermissions(w http.ResponseWriter, r *http.Request, id, perm string) {
	s.mu.Lock()
	out, gerr := s.permissions(r, id, perm)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) permissions(r *http.Request, id, perm string) (any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	if t.Kind == "page" {
		return nil, errNoField("permissions", "Page")
	}
	p, g := metaByKey[t.Persona], s.st.Grants[t.Grant]
	if id != "me" && id != p.ID {
		return nil, errNoObject(id)
	}
	switch {
	case r.Method == http.MethodDelete && perm == "":
		// The person removes the app: every user and Page token of this
		// authorization dies (190/458 from now on).
		g.Revoked = true
		s.dirty = true
		s.log.Info("sandbox: facebook app removed", "persona", p.Key)
		return s.deleteAnswer(), nil
	case r.Method == http.MethodDelete:
		if slices.Contains(g.Granted, perm) {
			g.Granted = slices.DeleteFunc(g.Granted, func(x string) bool { return x == perm })
			g.Declined = addOnce(g.Declined, perm)
			s.dirty = true
		}
		return s.deleteAnswer(), nil
	}
	data := []map[string]string{{"permission": "public_profile", "status": "granted"}}
	for _, sc := range g.Granted {
		data = append(data, map[string]string{"permission": sc, "status": "granted"})
	}
	for _, sc := range g.Declined {
		data = append(data, map[string]string{"permission": sc, "status": "declined"})
	}
	return map[string]any{"data": data}, nil
}

// deleteAnswer is a successful DELETE on permissions: the bare JSON true of
// the User permissions reference, or {"success":true} when the control API
// asked for the form some answers carry. s.mu held.
func (s *Sandbox) deleteAnswer() any {
	if s.st.Settings.MetaRevokeBody == "object" {
		return map[string]any{"success": true}
	}
	return true
}
