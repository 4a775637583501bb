package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ---- dialog (www.facebook.com/{ver}/dialog/oauth) --------------------------

// metaDialog shows the consent page (GET) and takes its answer (POST). With
// auto-consent on, GET answers at once as the configured persona.
func (s *Sandbox) metaDialog(w http.ResponseWriter, r *http.Request) {
	if v := r.PathValue("ver"); v != "" && !versionRE.MatchString(v) {
		http.NotFound(w, r)
		return
	}
	if s.windowFaulted(w, r, "meta.dialog", "meta") {
		return
	}
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
	ac := s.autoConsent()
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

// ---- debug_token ---------------------------------------------------------------

// ---- nodes: me, {user-id}, {page-id}, {ig-user-id} ------------------------------

// ---- me/accounts ---------------------------------------------------------------------

// ---- Business portfolios: me/businesses, {business-id}/owned_pages|client_pages ----

// ---- me/permissions ------------------------------------------------------------------
