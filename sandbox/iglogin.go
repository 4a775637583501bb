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
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
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

// ---- authorize (www.instagram.com/oauth/authorize) ------------------------------

func (s *Sandbox) igAuthorize(w http.ResponseWriter, r *http.Request) {
	if f := s.enter("instagram.authorize"); f != nil {
		if !s.pause(w, r, f) {
			return
		}
		if f.failing() {
			s.dialogFault(w, "instagram", f)
			return
		}
	}
	_ = r.ParseForm()
	req, problem := s.parseIGAuth(r)
	if problem != "" {
		s.errorPage(w, http.StatusBadRequest, "instagram", problem)
		return
	}
	if r.Method == http.MethodPost {
		if r.Form.Get("sb_action") != "allow" {
			igDeny(w, r, req)
			return
		}
		p := igByKey[r.Form.Get("sb_persona")]
		if p == nil {
			s.errorPage(w, http.StatusBadRequest, "instagram", "Choose an account.")
			return
		}
		s.igConsent(w, r, req, p, r.Form["sb_scope"])
		return
	}
	s.mu.Lock()
	ac := s.st.Settings.AutoConsent
	s.mu.Unlock()
	if ac.Enabled {
		if ac.Deny {
			igDeny(w, r, req)
			return
		}
		p := igByKey[ac.Persona]
		if p == nil {
			p = igPersonas[0] // a Meta or TikTok persona was chosen: Instagram uses its default
		}
		allowed := slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool { return slices.Contains(ac.Decline, sc) })
		s.igConsent(w, r, req, p, allowed)
		return
	}
	s.renderConsent(w, r, req)
}

// parseIGAuth checks an authorize request. Every problem is a page on
// Instagram's side (the app is not told), as Facebook's dialog does;
// UNCONFIRMED for Instagram, whose documents do not show these errors.
// "Invalid platform app" is the message developers report for a client_id
// that is not an Instagram app id (e.g. the Facebook app id).
func (s *Sandbox) parseIGAuth(r *http.Request) (*authRequest, string) {
	q := r.Form
	switch {
	case q.Get("client_id") == "":
		return nil, "Invalid Request: Request parameters are invalid: Missing required parameter 'client_id'"
	case q.Get("client_id") != s.opts.InstagramAppID:
		return nil, "Invalid platform app"
	}
	if msg := checkRedirectURI(q.Get("redirect_uri")); msg != "" {
		return nil, "Invalid redirect_uri: " + msg
	}
	if q.Get("response_type") != "code" {
		return nil, "Invalid Request: Request parameters are invalid: response_type must be code"
	}
	scopes, problem := splitIGScopes(q.Get("scope"))
	if problem != "" {
		return nil, problem
	}
	return &authRequest{Platform: "instagram", RedirectURI: q.Get("redirect_uri"), State: q.Get("state"), Scopes: scopes}, ""
}

// splitIGScopes reads the scope list: "A comma-separated list, or URL-encoded
// space-separated list" (OAuth Authorize reference), in which
// instagram_business_basic is required.
func splitIGScopes(v string) ([]string, string) {
	var scopes []string
	for _, sc := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		switch {
		case igOldScopes[sc]:
			return nil, "Invalid Scopes: " + sc + ". The business_* scope values were deprecated on January 27, 2025: use instagram_" + sc + "."
		case !slices.Contains(igLoginScopes, sc):
			return nil, "Invalid Scopes: " + sc + ". Instagram Login takes the instagram_business_* permissions."
		}
		if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if !slices.Contains(scopes, igBasicScope) {
		return nil, "Invalid Scopes: the scope parameter must include " + igBasicScope + "."
	}
	return scopes, ""
}

// igDeny is the documented cancel: error, error_reason, error_description,
// and the "#_" Instagram appends to every redirect.
func igDeny(w http.ResponseWriter, r *http.Request, req *authRequest) {
	redirectWith(w, r, req.RedirectURI, url.Values{"error": {"access_denied"}, "error_reason": {"user_denied"},
		"error_description": {"The user denied your request."}, "state": {req.State}}, "_")
}

// igRefusePersonal answers a personal account. UNCONFIRMED: the real window
// offers to switch the account to a professional one during the login
// (Business Login "allows a person to … convert their Instagram account to
// an Instagram professional account"), and how it ends when the person
// does not is not documented. The sandbox sends the person back with
// access_denied, its own error_reason and a sentence the app can show.
func igRefusePersonal(w http.ResponseWriter, r *http.Request, req *authRequest) {
	const desc = "Only Instagram professional accounts (Business or Creator) can log in with Business Login for Instagram. This is a personal account."
	redirectWith(w, r, req.RedirectURI, url.Values{"error": {"access_denied"}, "error_reason": {"not_professional_account"},
		"error_description": {desc}, "state": {req.State}}, "_")
}

// igConsent issues a code for the ticked permissions (the required one
// cannot be unticked) and redirects with ?code=…&state=…#_.
func (s *Sandbox) igConsent(w http.ResponseWriter, r *http.Request, req *authRequest, p *igPersona, allowed []string) {
	if p.Account.Kind == "PERSONAL" {
		s.log.Info("sandbox: instagram personal account refused", "persona", p.Key)
		igRefusePersonal(w, r, req)
		return
	}
	var granted, declined []string
	for _, sc := range req.Scopes {
		if sc == igBasicScope || slices.Contains(allowed, sc) {
			granted = append(granted, sc)
		} else {
			declined = append(declined, sc)
		}
	}
	s.mu.Lock()
	now := s.now()
	g := s.st.grantFor("instagram", p.Key, now)
	g.Granted, g.Declined, g.ConsentAt = granted, declined, now
	c := s.st.addCode(&codeRec{Value: newMetaCode(), Platform: "instagram", Persona: p.Key, Grant: g.ID,
		RedirectURI: req.RedirectURI, Scopes: granted, IssuedAt: now, ExpiresAt: now.Add(codeLife)})
	s.dirty = true
	s.mu.Unlock()
	s.log.Info("sandbox: instagram consent", "persona", p.Key, "scopes", strings.Join(granted, ","))
	redirectWith(w, r, req.RedirectURI, url.Values{"code": {c.Value}, "state": {req.State}}, "_")
}

// ---- code exchange (api.instagram.com/oauth/access_token) ------------------------

// igOAuthErr is api.instagram.com's own error shape, as Business Login's
// page prints it: {"error_type":"OAuthException","code":400,"error_message":"…"}.
type igOAuthErr struct {
	Status     int
	Type       string
	Message    string
	RetryAfter int
}

func writeIGOAuthError(w http.ResponseWriter, e *igOAuthErr) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	status := cmp.Or(e.Status, http.StatusBadRequest)
	writeJSON(w, status, map[string]any{"error_type": cmp.Or(e.Type, "OAuthException"), "code": status, "error_message": e.Message})
}

func igBadRequest(msg string) *igOAuthErr { return &igOAuthErr{Message: msg} }

// igTokenFault: the documented shape for what the documents show, and
// UNCONFIRMED types for the rest (the legacy Instagram API's APIError and
// OAuthRateLimitException with HTTP 429).
func igTokenFault(f *fault) *igOAuthErr {
	switch f.Kind {
	case "5xx":
		return &igOAuthErr{Status: http.StatusInternalServerError, Type: "APIError", Message: "Oops, an error occurred."}
	case "429", "rate_limit":
		return &igOAuthErr{Status: http.StatusTooManyRequests, Type: "OAuthRateLimitException", RetryAfter: f.retryAfter(),
			Message: "The maximum number of requests per hour has been exceeded."}
	}
	return igBadRequest("Matching code was not found or was already used")
}

func (s *Sandbox) igToken(w http.ResponseWriter, r *http.Request) {
	// The documents' curl example sends multipart (-F); url-encoded works too.
	// Only the body counts, not the query string.
	_ = r.ParseMultipartForm(1 << 20)
	if f := s.enter("instagram.token"); f != nil {
		if !s.pause(w, r, f) {
			return
		}
		if f.failing() {
			writeIGOAuthError(w, igTokenFault(f))
			return
		}
	}
	f := r.PostForm
	switch {
	case f.Get("client_id") == "":
		writeIGOAuthError(w, igBadRequest("Missing required field client_id"))
		return
	case f.Get("client_id") != s.opts.InstagramAppID:
		writeIGOAuthError(w, igBadRequest("Invalid platform app"))
		return
	case subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.InstagramAppSecret)) != 1:
		writeIGOAuthError(w, igBadRequest("Error validating client secret."))
		return
	case f.Get("grant_type") != "authorization_code":
		writeIGOAuthError(w, igBadRequest("Invalid grant_type: it must be authorization_code"))
		return
	case f.Get("redirect_uri") == "":
		writeIGOAuthError(w, igBadRequest("Missing required field redirect_uri"))
		return
	case f.Get("code") == "":
		writeIGOAuthError(w, igBadRequest("Missing required field code"))
		return
	}
	s.mu.Lock()
	out, e := s.igExchangeCode(f)
	s.mu.Unlock()
	if e != nil {
		writeIGOAuthError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// igExchangeCode redeems a code for a short-lived token. s.mu held.
func (s *Sandbox) igExchangeCode(f url.Values) (any, *igOAuthErr) {
	now := s.now()
	// A code pasted with the redirect's "#_" is not found: adapters strip it.
	c := s.st.Codes[f.Get("code")]
	switch {
	case c == nil || c.Platform != "instagram" || c.Used:
		return nil, igBadRequest("Matching code was not found or was already used")
	case s.st.Grants[c.Grant] == nil || s.st.Grants[c.Grant].Revoked:
		return nil, igBadRequest("Matching code was not found or was already used")
	case !now.Before(c.ExpiresAt):
		// UNCONFIRMED message; the code lifetime is the sandbox's usual 10 min.
		return nil, igBadRequest("This authorization code has expired.")
	case f.Get("redirect_uri") != c.RedirectURI:
		// As on Facebook, the code is not consumed: a retry with the right URI works.
		return nil, igBadRequest("Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
	}
	c.Used = true
	t := s.st.addToken(&tokenRec{Value: newIGToken(), Platform: "instagram", Kind: "access", Persona: c.Persona,
		Grant: c.Grant, Scopes: slices.Clone(c.Scopes), IssuedAt: now, ExpiresAt: now.Add(s.st.scaled(igShortLife))})
	s.dirty = true
	p := igByKey[c.Persona]
	if s.st.Settings.InstagramTokenShape == "flat" {
		// The shape seen in practice and in the older reference: user_id a
		// JSON number (17 digits: more than a float64 holds exactly) and
		// permissions an array. UNCONFIRMED in detail.
		return map[string]any{"access_token": t.Value, "user_id": json.Number(p.ScopedID), "permissions": t.Scopes}, nil
	}
	// Business Login's documented answer.
	return map[string]any{"data": []map[string]any{{"access_token": t.Value, "user_id": p.ScopedID,
		"permissions": strings.Join(t.Scopes, ",")}}}, nil
}

// newIGToken looks like an Instagram User token (PLATFORMS.md §0: "IGAA…").
func newIGToken() string { return "IGAA" + randomFrom(alnum, 150) + "ZD" }

// ---- graph.instagram.com ------------------------------------------------------------

// igGraph serves graph.instagram.com: the unversioned exchange and refresh at
// the host root, and /me (or the account's own ids) under any vNN.N or none.
func (s *Sandbox) igGraph(w http.ResponseWriter, r *http.Request) {
	var segs []string
	for _, p := range strings.Split(strings.TrimPrefix(r.URL.Path, "/sandbox/graph.instagram.com/"), "/") {
		if p != "" {
			segs = append(segs, p)
		}
	}
	versioned := len(segs) > 0 && versionRE.MatchString(segs[0])
	if versioned {
		segs = segs[1:]
	}
	_ = r.ParseForm()
	w.Header().Set("X-App-Usage", `{"call_count":1,"total_cputime":1,"total_time":1}`)

	endpoint := "instagram.me"
	switch {
	case len(segs) == 1 && segs[0] == "access_token":
		endpoint = "instagram.exchange"
	case len(segs) == 1 && segs[0] == "refresh_access_token":
		endpoint = "instagram.refresh"
	}
	if f := s.enter(endpoint); f != nil {
		if !s.pause(w, r, f) {
			return
		}
		if f.failing() {
			writeGraphError(w, s.graphFault(r, f, endpoint))
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Developers report this message for a POST to refresh_access_token.
		writeGraphError(w, errParam("Unsupported request - method type: "+strings.ToLower(r.Method)))
		return
	}

	var out map[string]any
	var gerr *graphErr
	s.mu.Lock()
	switch {
	case endpoint == "instagram.exchange" && !versioned:
		out, gerr = s.igExchangeLong(r)
	case endpoint == "instagram.refresh" && !versioned:
		out, gerr = s.igRefresh(r)
	case len(segs) == 1 && endpoint == "instagram.me":
		out, gerr = s.igNode(r, segs[0])
	case len(segs) == 0:
		gerr = errParam("Unsupported get request.")
	default:
		// Includes a versioned access_token or refresh_access_token: the
		// references give them only at the host root (PLATFORMS.md §0).
		gerr = &graphErr{Code: 100, Subcode: 33, Message: fmt.Sprintf(
			"Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", strings.Join(segs, "/"))}
	}
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// igLookup finds a live Instagram Login token. s.mu held.
func (s *Sandbox) igLookup(v string, now time.Time) (*tokenRec, *graphErr) {
	if v == "" {
		return nil, &graphErr{Code: 104, Message: "An access token is required to request this resource."}
	}
	t := s.st.Tokens[v]
	if t == nil || t.Platform != "instagram" {
		return nil, s.errDeadToken("", nil, now)
	}
	if why := s.st.dead(t, now); why != "" {
		e := s.errDeadToken(why, t, now)
		if why == "revoked" {
			e.Message = fmt.Sprintf("Error validating access token: The user has not authorized application %s.", s.opts.InstagramAppID)
		}
		return nil, e
	}
	return t, nil
}

// igLongToken mints a 60-day token of the same authorization. s.mu held.
func (s *Sandbox) igLongToken(old *tokenRec, now time.Time) map[string]any {
	t := s.st.addToken(&tokenRec{Value: newIGToken(), Platform: "instagram", Kind: "access", Persona: old.Persona,
		Grant: old.Grant, Scopes: slices.Clone(old.Scopes), LongLived: true, IssuedAt: now, ExpiresAt: now.Add(s.st.scaled(igLongLife))})
	s.dirty = true
	return map[string]any{"access_token": t.Value, "token_type": "bearer", "expires_in": secondsLeft(t.ExpiresAt, now)}
}

// igExchangeLong is GET /access_token?grant_type=ig_exchange_token. s.mu held.
// The short-lived token keeps working until its hour is over (as
// fb_exchange_token's does; UNCONFIRMED).
func (s *Sandbox) igExchangeLong(r *http.Request) (map[string]any, *graphErr) {
	now := s.now()
	q := r.Form
	switch {
	case q.Get("grant_type") != "ig_exchange_token":
		return nil, errParam("(#100) Unsupported grant_type: /access_token takes grant_type=ig_exchange_token")
	case subtle.ConstantTimeCompare([]byte(q.Get("client_secret")), []byte(s.opts.InstagramAppSecret)) != 1:
		// Facebook's answer for a wrong secret (the sandbox's Graph choice).
		return nil, &graphErr{Code: 1, Message: "Error validating client secret."}
	}
	t, gerr := s.igLookup(q.Get("access_token"), now)
	if gerr != nil {
		return nil, gerr
	}
	if t.LongLived {
		// UNCONFIRMED: the reference only says the token must be a valid
		// short-lived one; the sandbox refuses a long-lived one.
		return nil, errParam("(#100) ig_exchange_token takes a short-lived Instagram User access token; this one is already long-lived (use refresh_access_token)")
	}
	return s.igLongToken(t, now), nil
}

// igRefresh is GET /refresh_access_token?grant_type=ig_refresh_token. s.mu
// held. The answer is a new token value valid 60 days from now; the old one
// keeps working until its own expiry (UNCONFIRMED: the documents do not say
// whether the value changes, so adapters must store what they get).
func (s *Sandbox) igRefresh(r *http.Request) (map[string]any, *graphErr) {
	now := s.now()
	q := r.Form
	if q.Get("grant_type") != "ig_refresh_token" {
		return nil, errParam("(#100) Unsupported grant_type: /refresh_access_token takes grant_type=ig_refresh_token")
	}
	t, gerr := s.igLookup(q.Get("access_token"), now)
	if gerr != nil {
		return nil, gerr
	}
	// UNCONFIRMED codes and messages for these two refusals: code 100 (a
	// request the app should not have made), never 190, which would make
	// an adapter ask the person to reconnect.
	if !t.LongLived {
		return nil, errParam("(#100) refresh_access_token takes a long-lived Instagram User access token; exchange the short-lived one with ig_exchange_token first")
	}
	if age, min := now.Sub(t.IssuedAt), s.st.scaled(igMinRefreshAge); age < min {
		return nil, errParam(fmt.Sprintf("(#100) The access token can be refreshed only when it is at least 24 hours old; this one was issued %s ago", age.Round(time.Second)))
	}
	if !slices.Contains(t.Scopes, igBasicScope) {
		return nil, &graphErr{Code: 10, Message: "(#10) Application does not have permission for this action"}
	}
	return s.igLongToken(t, now), nil
}

// igNode answers /me or /{id} for the token's own account. s.mu held.
func (s *Sandbox) igNode(r *http.Request, id string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.igLookup(graphToken(r), now)
	if gerr != nil {
		return nil, gerr
	}
	p := igByKey[t.Persona]
	a := p.Account
	if id != "me" && id != a.ID && id != p.ScopedID {
		return nil, errNoObject(id)
	}
	fs, gerr := fieldsOr(r, "id")
	if gerr != nil {
		return nil, gerr
	}
	out := map[string]any{}
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = p.ScopedID
		case "user_id":
			out["user_id"] = a.ID
		case "username":
			out["username"] = a.Username
		case "name":
			out["name"] = a.Name
		case "account_type":
			out["account_type"] = a.Kind
		case "profile_picture_url":
			out["profile_picture_url"] = avatar(a.Name, a.Color)
		case "followers_count":
			out["followers_count"] = a.Followers
		case "follows_count":
			out["follows_count"] = a.Follows
		case "media_count":
			out["media_count"] = a.Media
		case "biography":
			out["biography"] = a.Biography
		case "website":
			out["website"] = a.Website
		default:
			return nil, errNoField(f.Name, "User")
		}
	}
	return out, nil
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
