package sandbox

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// www.instagram.com/oauth/authorize: the consent window.

func (s *Sandbox) igAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.windowFaulted(w, r, "instagram.authorize", "instagram") {
		return
	}
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
	ac := s.autoConsent()
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

// api.instagram.com/oauth/access_token: the code for a short-lived token.

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
	if s.faulted(w, r, func(f *fault) { writeIGOAuthError(w, igTokenFault(f)) }, "instagram.token") {
		return
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
