package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ---- dialog (www.facebook.com/{ver}/dialog/oauth) --------------------------

// metaDialog shows the consent page (GET) and takes its answer (POST). With
// auto-consent on, GET answers at once as the configured persona.
func (s *Sandbox) metaDialog(w http.ResponseWriter, r *http.Request) {
	if v := r.PathValue("ver"); v != "" && !versionRE.MatchString(v) {
		http.NotFound(w, r)
		return
	}
	if f := s.enter("meta.dialog"); f != nil {
		if !s.pause(w, r, f) {
			return
		}
		if f.failing() {
			s.dialogFault(w, "meta", f)
			return
		}
	}
	_ = r.ParseForm()
	req, problem := s.parseMetaAuth(r)
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, "meta", problem)
		return
	}
	if r.Method == http.MethodPost {
		if r.Form.Get("sb_action") != "allow" {
			metaDeny(w, r, req)
			return
		}
		p := metaByKey[r.Form.Get("sb_persona")]
		if p == nil {
			s.errorPage(w, http.StatusBadRequest, "meta", "Choose who is logging in.")
			return
		}
		s.metaConsent(w, r, req, p, r.Form["sb_scope"], r.Form["sb_page"])
		return
	}
	s.mu.Lock()
	ac := s.st.Settings.AutoConsent
	s.mu.Unlock()
	if ac.Enabled {
		if ac.Deny {
			metaDeny(w, r, req)
			return
		}
		p := metaByKey[ac.Persona]
		if p == nil {
			p = metaPersonas[0] // a TikTok persona was chosen: Meta uses its default
		}
		allowed := slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool { return slices.Contains(ac.Decline, sc) })
		pages := ac.Pages
		if len(pages) == 0 {
			for _, pg := range p.Pages {
				pages = append(pages, pg.ID)
			}
		}
		s.metaConsent(w, r, req, p, allowed, pages)
		return
	}
	s.renderConsent(w, r, req)
}

// authRequest is a validated authorize request of either platform.
type authRequest struct {
	Platform    string // "meta" | "tiktok"
	RedirectURI string
	State       string
	Scopes      []string
	AuthType    string
	Challenge   string
}

func (s *Sandbox) parseMetaAuth(r *http.Request) (*authRequest, string) {
	q := r.Form
	if q.Get("client_id") == "" {
		return nil, "The parameter app_id is required"
	}
	if q.Get("client_id") != s.opts.MetaAppID {
		return nil, "Invalid App ID: The provided app ID does not look like a valid app ID."
	}
	if msg := checkRedirectURI(q.Get("redirect_uri")); msg != "" {
		return nil, msg
	}
	if rt := q.Get("response_type"); rt != "" && rt != "code" {
		return nil, "The sandbox only implements the server-side flow: response_type must be code."
	}
	scopes, bad := splitScopes(q.Get("scope"))
	if bad != "" {
		return nil, "Invalid Scopes: " + bad + ". This message is only shown to developers. Users of your app will ignore these permissions if present. Permissions are separated by commas."
	}
	req := &authRequest{Platform: "meta", RedirectURI: q.Get("redirect_uri"), State: q.Get("state"),
		Scopes: scopes, AuthType: q.Get("auth_type")}
	if c := q.Get("code_challenge"); c != "" {
		if m := q.Get("code_challenge_method"); m != "S256" {
			return nil, "code_challenge_method must be S256."
		}
		req.Challenge = c
	}
	return req, ""
}

// checkRedirectURI applies the rules every platform shares: absolute http(s)
// and no fragment. (No registered-URI list: the sandbox accepts any.)
func checkRedirectURI(v string) string {
	if v == "" {
		return "redirect_uri is missing."
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" || strings.Contains(v, "#") {
		return "URL Blocked: This redirect failed because the redirect URI is not absolute or has a fragment."
	}
	return ""
}

// splitScopes splits a comma-separated scope list. Whitespace inside a name
// means the caller used spaces as separators, which is rejected.
func splitScopes(v string) (scopes []string, bad string) {
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.ContainsAny(p, " \t+") {
			return nil, p
		}
		if !slices.Contains(scopes, p) {
			scopes = append(scopes, p)
		}
	}
	return scopes, ""
}

func metaDeny(w http.ResponseWriter, r *http.Request, req *authRequest) {
	redirectWith(w, r, req.RedirectURI, url.Values{
		"error": {"access_denied"}, "error_code": {"200"}, "error_description": {"Permissions error"},
		"error_reason": {"user_denied"}, "state": {req.State},
	}, "_=_")
}

// metaConsent records the person's answer in their grant and redirects with a code.
func (s *Sandbox) metaConsent(w http.ResponseWriter, r *http.Request, req *authRequest, p *metaPersona, allowed, pages []string) {
	s.mu.Lock()
	now := s.now()
	g := s.st.grantFor("meta", p.Key, now)
	for _, sc := range req.Scopes {
		if sc == "public_profile" {
			continue // always granted
		}
		// Facebook never asks again for a declined permission unless the app
		// sends auth_type=rerequest.
		if slices.Contains(g.Declined, sc) && req.AuthType != "rerequest" {
			continue
		}
		if slices.Contains(allowed, sc) {
			g.Granted = addOnce(g.Granted, sc)
			g.Declined = slices.DeleteFunc(g.Declined, func(x string) bool { return x == sc })
		} else {
			g.Declined = addOnce(g.Declined, sc)
			g.Granted = slices.DeleteFunc(g.Granted, func(x string) bool { return x == sc })
		}
	}
	g.Pages = g.Pages[:0]
	for _, pg := range p.Pages {
		if slices.Contains(pages, pg.ID) {
			g.Pages = append(g.Pages, pg.ID)
		}
	}
	g.ConsentAt = now
	g.DataAccess = now.Add(s.st.scaled(metaDataAccess))
	c := s.st.addCode(&codeRec{Value: newMetaCode(), Platform: "facebook", Persona: p.Key, Grant: g.ID,
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, IssuedAt: now, ExpiresAt: now.Add(codeLife)})
	s.dirty = true
	granted, shared := len(g.Granted), len(g.Pages) // read under the lock: g is shared state
	s.mu.Unlock()
	s.log.Info("sandbox: facebook consent", "persona", p.Key, "granted", granted, "pages", shared)
	redirectWith(w, r, req.RedirectURI, url.Values{"code": {c.Value}, "state": {req.State}}, "_=_")
}

func addOnce(list []string, v string) []string {
	if slices.Contains(list, v) {
		return list
	}
	return append(list, v)
}

// redirectWith sends a 302 to base with params merged into its query. An empty
// state is left out rather than sent empty.
func redirectWith(w http.ResponseWriter, r *http.Request, base string, params url.Values, fragment string) {
	u, _ := url.Parse(base) // validated by checkRedirectURI
	q := u.Query()
	for k, vs := range params {
		if k == "state" && vs[0] == "" {
			continue
		}
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	u.Fragment = fragment
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// ---- oauth/access_token --------------------------------------------------------

func (s *Sandbox) metaTokenEndpoint(w http.ResponseWriter, r *http.Request) {
	f := r.Form
	switch {
	case f.Get("client_id") == "":
		writeGraphError(w, &graphErr{Code: 101, Message: "Missing client_id parameter."})
		return
	case f.Get("client_id") != s.opts.MetaAppID:
		writeGraphError(w, &graphErr{Code: 101, Message: "Error validating application. Invalid application ID."})
		return
	case subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.MetaAppSecret)) != 1:
		writeGraphError(w, &graphErr{Code: 1, Message: "Error validating client secret."})
		return
	}
	var resp map[string]any
	var gerr *graphErr
	s.mu.Lock()
	switch gt := f.Get("grant_type"); gt {
	case "", "authorization_code": // FB documents none; x/oauth2 sends authorization_code
		resp, gerr = s.metaExchangeCode(r)
	case "fb_exchange_token":
		resp, gerr = s.metaExchangeLong(r)
	default:
		gerr = errParam(fmt.Sprintf("Unsupported grant_type: %s", gt))
	}
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// metaExchangeCode turns a code into a short-lived user token. s.mu held.
func (s *Sandbox) metaExchangeCode(r *http.Request) (map[string]any, *graphErr) {
	f, now := r.Form, s.now()
	if f.Get("redirect_uri") == "" {
		return nil, errParam("Missing redirect_uri parameter.")
	}
	if f.Get("code") == "" {
		return nil, errParam("Missing code parameter.")
	}
	c := s.st.Codes[f.Get("code")]
	switch {
	case c == nil || c.Platform != "facebook":
		return nil, errParam("Invalid verification code format.")
	case c.Used:
		return nil, &graphErr{Code: 100, Subcode: 36009, Message: "This authorization code has been used."}
	case !now.Before(c.ExpiresAt):
		return nil, &graphErr{Code: 100, Subcode: 36007, Message: "This authorization code has expired."}
	case f.Get("redirect_uri") != c.RedirectURI:
		return nil, &graphErr{Code: 100, Subcode: 36008, Message: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"}
	case c.Challenge != "" && !pkceOK(c.Challenge, f.Get("code_verifier")):
		return nil, errParam("Invalid code verifier.")
	}
	c.Used = true
	t := s.st.addToken(&tokenRec{Value: newMetaToken(), Platform: "facebook", Kind: "access", Persona: c.Persona,
		Grant: c.Grant, IssuedAt: now, ExpiresAt: now.Add(s.st.scaled(metaShortLife))})
	s.dirty = true
	return map[string]any{"access_token": t.Value, "token_type": "bearer", "expires_in": secondsLeft(t.ExpiresAt, now)}, nil
}

// metaExchangeLong swaps a live user token for a new 60-day one. s.mu held.
func (s *Sandbox) metaExchangeLong(r *http.Request) (map[string]any, *graphErr) {
	now := s.now()
	v := r.Form.Get("fb_exchange_token")
	if v == "" {
		return nil, errParam("Missing fb_exchange_token parameter.")
	}
	old := s.st.Tokens[v]
	if old == nil || old.Platform != "facebook" {
		return nil, s.errDeadToken("", nil, now)
	}
	if why := s.st.dead(old, now); why != "" {
		return nil, s.errDeadToken(why, old, now)
	}
	if old.Kind != "access" {
		return nil, errParam("(#100) fb_exchange_token must be a user access token.")
	}
	t := s.st.addToken(&tokenRec{Value: newMetaToken(), Platform: "facebook", Kind: "access", Persona: old.Persona,
		Grant: old.Grant, LongLived: true, IssuedAt: now, ExpiresAt: now.Add(s.st.scaled(metaLongLife))})
	s.dirty = true
	return map[string]any{"access_token": t.Value, "token_type": "bearer", "expires_in": secondsLeft(t.ExpiresAt, now)}, nil
}

// ---- debug_token ---------------------------------------------------------------

func (s *Sandbox) metaDebugToken(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	data, gerr := s.debugToken(r)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
}

func (s *Sandbox) debugToken(r *http.Request) (map[string]any, *graphErr) {
	now := s.now()
	appToken := s.opts.MetaAppID + "|" + s.opts.MetaAppSecret
	caller := graphToken(r)
	if subtle.ConstantTimeCompare([]byte(caller), []byte(appToken)) != 1 {
		// A live user token of the app may introspect too.
		if _, gerr := s.metaAuth(r, now); gerr != nil {
			if strings.Contains(caller, "|") {
				return nil, &graphErr{Code: 190, Message: "Invalid OAuth access token signature."}
			}
			return nil, gerr
		}
	}
	in := r.Form.Get("input_token")
	if in == "" {
		return nil, errParam("(#100) The parameter input_token is required")
	}
	if in == appToken {
		return map[string]any{"app_id": s.opts.MetaAppID, "type": "APP", "application": appName, "is_valid": true}, nil
	}
	t := s.st.Tokens[in]
	if t == nil || t.Platform != "facebook" {
		return map[string]any{"error": map[string]any{"code": 190, "message": "Invalid OAuth access token."},
			"is_valid": false, "scopes": []string{}}, nil
	}
	p := metaByKey[t.Persona]
	g := s.st.Grants[t.Grant]
	scopes := append([]string{"public_profile"}, g.Granted...)
	d := map[string]any{
		"app_id": s.opts.MetaAppID, "type": "USER", "application": appName,
		"data_access_expires_at": g.DataAccess.Unix(), "expires_at": int64(0), "is_valid": true,
		"issued_at": t.IssuedAt.Unix(), "scopes": scopes, "granular_scopes": granularScopes(g), "user_id": p.ID,
	}
	if !t.ExpiresAt.IsZero() {
		d["expires_at"] = t.ExpiresAt.Unix()
	}
	if t.Kind == "page" {
		d["type"] = "PAGE"
		d["profile_id"] = t.PageID
	}
	if s.st.Settings.DebugTokenIDs == "number" {
		// Older documents show the ids as JSON numbers.
		d["app_id"], d["user_id"] = json.Number(s.opts.MetaAppID), json.Number(p.ID)
	}
	if why := s.st.dead(t, now); why != "" {
		e := s.errDeadToken(why, t, now)
		d["is_valid"] = false
		d["error"] = map[string]any{"code": e.Code, "message": e.Message, "subcode": e.Subcode}
	}
	return d, nil
}

// granularScopes lists the Page and Instagram targets a permission covers.
func granularScopes(g *grantRec) []map[string]any {
	out := []map[string]any{}
	p := metaByKey[g.Persona]
	pages := slices.Clone(g.Pages)
	for _, id := range portfolioPages(p, g) {
		if !slices.Contains(pages, id) {
			pages = append(pages, id)
		}
	}
	for _, sc := range g.Granted {
		var ids []string
		switch {
		case sc == "business_management" && p != nil:
			for _, b := range p.Businesses {
				ids = append(ids, b.ID)
			}
		case strings.HasPrefix(sc, "pages_") || sc == "read_insights":
			ids = slices.Clone(pages)
		case strings.HasPrefix(sc, "instagram_"):
			for _, id := range pages {
				if pg := pageByID[id]; pg.IG != nil {
					ids = append(ids, pg.IG.ID)
				}
			}
		default:
			out = append(out, map[string]any{"scope": sc})
			continue
		}
		out = append(out, map[string]any{"scope": sc, "target_ids": ids})
	}
	return out
}

// ---- nodes: me, {user-id}, {page-id}, {ig-user-id} ------------------------------

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

// ---- me/accounts ---------------------------------------------------------------------

const accountsDefaultFields = "access_token,category,category_list,name,id,tasks"

func (s *Sandbox) graphAccounts(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	out, gerr := s.accounts(r, id)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) accounts(r *http.Request, id string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	if t.Kind == "page" {
		return nil, errNoField("accounts", "Page")
	}
	p, g := metaByKey[t.Persona], s.st.Grants[t.Grant]
	if id != "me" && id != p.ID {
		return nil, errNoObject(id)
	}
	// Only the Pages ticked in the dialog, and none without pages_show_list.
	// Pages held through a Business portfolio are never listed here.
	var ids []string
	if slices.Contains(g.Granted, "pages_show_list") {
		ids = g.Pages
	}
	return s.pageList(r, t, g, ids, now)
}

// pageList answers a paged list of Pages (me/accounts, owned_pages,
// client_pages) with the requested fields of each. s.mu held.
func (s *Sandbox) pageList(r *http.Request, t *tokenRec, g *grantRec, ids []string, now time.Time) (map[string]any, *graphErr) {
	fs, gerr := fieldsOr(r, accountsDefaultFields)
	if gerr != nil {
		return nil, gerr
	}
	return s.paged(r, ids, func(id string) (map[string]any, *graphErr) {
		return s.pageObject(pageByID[id], t, g, fs, now)
	})
}

// paged answers one page of a Graph list of ids: limit (default 25, at
// most 100, or the control API's page_size), after/before cursors, and
// paging.next/previous links that carry the token. s.mu held.
func (s *Sandbox) paged(r *http.Request, ids []string, object func(id string) (map[string]any, *graphErr)) (map[string]any, *graphErr) {
	limit := 25
	if n, err := strconv.Atoi(r.Form.Get("limit")); err == nil && n > 0 {
		limit = min(n, 100)
	}
	if c := s.st.Settings.PageSize; c > 0 {
		limit = min(limit, c)
	}
	start, end := 0, len(ids)
	if a := r.Form.Get("after"); a != "" {
		i := cursorIndex(ids, a)
		if i < 0 {
			return nil, errParam("(#100) The after cursor is invalid.")
		}
		start = i + 1
	} else if b := r.Form.Get("before"); b != "" {
		i := cursorIndex(ids, b)
		if i < 0 {
			return nil, errParam("(#100) The before cursor is invalid.")
		}
		end, start = i, max(0, i-limit)
	}
	end = min(end, start+limit)
	data := []map[string]any{}
	for _, id := range ids[start:end] {
		obj, gerr := object(id)
		if gerr != nil {
			return nil, gerr
		}
		data = append(data, obj)
	}
	out := map[string]any{"data": data}
	if len(data) == 0 {
		return out, nil
	}
	paging := map[string]any{"cursors": map[string]string{
		"before": pageCursor(ids[start]), "after": pageCursor(ids[end-1])}}
	if end < len(ids) {
		paging["next"] = pagingURL(r, graphToken(r), limit, "after", pageCursor(ids[end-1]))
	}
	if start > 0 {
		paging["previous"] = pagingURL(r, graphToken(r), limit, "before", pageCursor(ids[start]))
	}
	out["paging"] = paging
	return out, nil
}

// Cursors look like Facebook's ("QVFI…" is base64 of "AQH").
func pageCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte("AQH" + id)) }

func cursorIndex(ids []string, c string) int {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "AQH") {
		return -1
	}
	return slices.Index(ids, string(b[3:]))
}

// ---- Business portfolios: me/businesses, {business-id}/owned_pages|client_pages ----

// graphBusinesses serves the Business Management edges. They need a user
// token with business_management (PLATFORMS.md §8).
func (s *Sandbox) graphBusinesses(w http.ResponseWriter, r *http.Request, id, edge string) {
	s.mu.Lock()
	out, gerr := s.businesses(r, id, edge)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) businesses(r *http.Request, id, edge string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	if t.Kind == "page" {
		return nil, errNoField(edge, "Page")
	}
	p, g := metaByKey[t.Persona], s.st.Grants[t.Grant]
	if edge == "businesses" {
		if id != "me" && id != p.ID {
			return nil, errNoObject(id)
		}
		if !slices.Contains(g.Granted, "business_management") {
			return nil, &graphErr{Code: 200, Message: "(#200) Requires business_management permission to manage the object"}
		}
		fs, gerr := fieldsOr(r, "id,name")
		if gerr != nil {
			return nil, gerr
		}
		var ids []string
		for _, b := range p.Businesses {
			ids = append(ids, b.ID)
		}
		return s.paged(r, ids, func(id string) (map[string]any, *graphErr) { return businessObject(bizByID[id], fs) })
	}
	b := bizByID[id]
	if b == nil || bizOwner[id] != p {
		return nil, errNoObject(id)
	}
	if !slices.Contains(g.Granted, "business_management") {
		return nil, &graphErr{Code: 200, Message: "(#200) Requires business_management permission to manage the object"}
	}
	if b.Broken != "" {
		return nil, &graphErr{Code: 200, Message: b.Broken}
	}
	ids := b.Owned
	if edge == "client_pages" {
		ids = b.Client
	}
	return s.pageList(r, t, g, ids, now)
}

func businessObject(b *business, fs []field) (map[string]any, *graphErr) {
	out := map[string]any{}
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = b.ID
		case "name":
			out["name"] = b.Name
		default:
			return nil, errNoField(f.Name, "Business")
		}
	}
	return out, nil
}

// viaPortfolio reports whether a user token reaches pageID through one of
// the person's readable Business portfolios. s.mu held.
func viaPortfolio(p *metaPersona, g *grantRec, pageID string) bool {
	if p == nil || !slices.Contains(g.Granted, "business_management") {
		return false
	}
	for _, b := range p.Businesses {
		if b.Broken == "" && (slices.Contains(b.Owned, pageID) || slices.Contains(b.Client, pageID)) {
			return true
		}
	}
	return false
}

// portfolioPages lists the Pages the person reaches through readable
// portfolios, in portfolio order. s.mu held.
func portfolioPages(p *metaPersona, g *grantRec) []string {
	var out []string
	if p == nil || !slices.Contains(g.Granted, "business_management") {
		return nil
	}
	for _, b := range p.Businesses {
		if b.Broken != "" {
			continue
		}
		for _, id := range append(slices.Clone(b.Owned), b.Client...) {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// pagingURL is an absolute next/previous link that already carries the token.
func pagingURL(r *http.Request, token string, limit int, dir, cursor string) string {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		q[k] = v
	}
	q.Del("after")
	q.Del("before")
	q.Set("access_token", token)
	q.Set("limit", strconv.Itoa(limit))
	q.Set(dir, cursor)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
}

// ---- me/permissions ------------------------------------------------------------------

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

// pkceOK checks an RFC 7636 S256 verifier: the challenge is
// BASE64URL(SHA256(verifier)) without padding, and only that form.
func pkceOK(challenge, verifier string) bool {
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(base64.RawURLEncoding.EncodeToString(sum[:]))) == 1
}

// tiktokPKCEOK checks a TikTok S256 verifier. TikTok's Login Kit documents
// the challenge as the hex encoding of SHA-256 ("You must use hex encoding
// of SHA256 to generate the code challenge"), so only hex is accepted,
// unless the control API switched the sandbox to RFC 7636 base64url
// (mode "s256"). Never both: a lenient check would hide an adapter bug.
func tiktokPKCEOK(mode, challenge, verifier string) bool {
	if mode == "s256" {
		return pkceOK(challenge, verifier)
	}
	if verifier == "" {
		return false
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(challenge), []byte(hex.EncodeToString(sum[:]))) == 1
}
