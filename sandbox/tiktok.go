package sandbox

import (
	"crypto/subtle"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Login Kit scopes the authorize page knows (PLATFORMS.md §3.2); others are
// answered with error=invalid_scope.
var tiktokScopes = []string{"user.info.basic", "user.info.profile", "user.info.stats", "video.list", "video.upload", "video.publish"}

// tiktokFieldScope maps each /v2/user/info/ field to the scope it needs.
var tiktokFieldScope = map[string]string{
	"open_id": "user.info.basic", "union_id": "user.info.basic", "avatar_url": "user.info.basic",
	"avatar_url_100": "user.info.basic", "avatar_large_url": "user.info.basic", "display_name": "user.info.basic",
	"bio_description": "user.info.profile", "profile_deep_link": "user.info.profile",
	"is_verified": "user.info.profile", "username": "user.info.profile",
	"follower_count": "user.info.stats", "following_count": "user.info.stats",
	"likes_count": "user.info.stats", "video_count": "user.info.stats",
}

// ---- authorize (www.tiktok.com/v2/auth/authorize/) ----------------------------

func (s *Sandbox) tiktokAuthorize(w http.ResponseWriter, r *http.Request) {
	if s.windowFaulted(w, r, "tiktok.authorize", "tiktok") {
		return
	}
	q := r.Form
	switch {
	case q.Get("client_key") == "":
		// The Login Kit parameter is client_key; client_id alone is refused.
		s.errorPage(w, http.StatusBadRequest, "tiktok", "Something went wrong. This app's request is missing the client_key parameter (TikTok does not use client_id).")
		return
	case q.Get("client_key") != s.opts.TikTokClientKey:
		s.errorPage(w, http.StatusBadRequest, "tiktok", "Something went wrong. The client_key is not valid.")
		return
	}
	if msg := checkRedirectURI(q.Get("redirect_uri")); msg != "" {
		s.errorPage(w, http.StatusBadRequest, "tiktok", "Something went wrong. The redirect_uri is not valid: "+msg)
		return
	}
	req := &authRequest{Platform: "tiktok", RedirectURI: q.Get("redirect_uri"), State: q.Get("state")}
	if q.Get("response_type") != "code" {
		tiktokRedirectError(w, r, req, "unsupported_response_type", "response_type must be code.")
		return
	}
	scopes, bad := splitScopes(q.Get("scope"))
	for _, sc := range scopes {
		if !slices.Contains(tiktokScopes, sc) {
			bad = sc
		}
	}
	if bad != "" || len(scopes) == 0 {
		tiktokRedirectError(w, r, req, "invalid_scope", "The scope is missing or invalid: "+bad+". Scopes are separated by commas.")
		return
	}
	req.Scopes = scopes
	if c := q.Get("code_challenge"); c != "" {
		if q.Get("code_challenge_method") != "S256" {
			tiktokRedirectError(w, r, req, "invalid_request", "code_challenge_method must be S256.")
			return
		}
		req.Challenge = c
	}

	if r.Method == http.MethodPost {
		if r.Form.Get("sb_action") != "allow" {
			tiktokDeny(w, r, req)
			return
		}
		p := tiktokByKey[r.Form.Get("sb_persona")]
		if p == nil {
			s.errorPage(w, http.StatusBadRequest, "tiktok", "Choose an account.")
			return
		}
		s.tiktokConsent(w, r, req, p, r.Form["sb_scope"])
		return
	}
	ac := s.autoConsent()
	if ac.Enabled {
		if ac.Deny {
			tiktokDeny(w, r, req)
			return
		}
		p := tiktokByKey[ac.Persona]
		if p == nil {
			p = tiktokPersonas[0] // a Meta persona was chosen: TikTok uses its default
		}
		allowed := slices.DeleteFunc(slices.Clone(req.Scopes), func(sc string) bool { return slices.Contains(ac.Decline, sc) })
		s.tiktokConsent(w, r, req, p, allowed)
		return
	}
	s.renderConsent(w, r, req)
}

func tiktokRedirectError(w http.ResponseWriter, r *http.Request, req *authRequest, code, desc string) {
	redirectWith(w, r, req.RedirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {req.State}}, "")
}

func tiktokDeny(w http.ResponseWriter, r *http.Request, req *authRequest) {
	tiktokRedirectError(w, r, req, "access_denied", "The user denied the authorization request.")
}

// tiktokConsent issues a code for the granted subset. user.info.basic cannot
// be unticked on TikTok's page, so it is granted whenever it was requested.
func (s *Sandbox) tiktokConsent(w http.ResponseWriter, r *http.Request, req *authRequest, p *tiktokPersona, allowed []string) {
	var granted []string
	for _, sc := range req.Scopes {
		if sc == "user.info.basic" || slices.Contains(allowed, sc) {
			granted = append(granted, sc)
		}
	}
	if len(granted) == 0 {
		tiktokDeny(w, r, req)
		return
	}
	s.mu.Lock()
	now := s.now()
	g := s.st.grantFor("tiktok", p.Key, now)
	g.Granted, g.ConsentAt = granted, now
	c := s.st.addCode(&codeRec{Value: newTikTokCode(), Platform: "tiktok", Persona: p.Key, Grant: g.ID,
		RedirectURI: req.RedirectURI, Challenge: req.Challenge, Scopes: granted, IssuedAt: now, ExpiresAt: now.Add(codeLife)})
	s.dirty = true
	s.mu.Unlock()
	s.log.Info("sandbox: tiktok consent", "persona", p.Key, "scopes", strings.Join(granted, ","))
	redirectWith(w, r, req.RedirectURI, url.Values{"code": {c.Value}, "scopes": {strings.Join(granted, ",")}, "state": {req.State}}, "")
}

// ---- oauth/token and oauth/revoke (open.tiktokapis.com) --------------------------

// oauthErr is TikTok's flat OAuth error: {"error","error_description","log_id"}.
type oauthErr struct {
	Status     int
	Code       string
	Desc       string
	RetryAfter int
}

func (s *Sandbox) writeOAuthError(w http.ResponseWriter, e *oauthErr) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": e.Code, "error_description": e.Desc, "log_id": newLogID(s.now())})
}

func (s *Sandbox) tiktokOAuthFault(f *fault) *oauthErr {
	switch f.Kind {
	case "5xx":
		return &oauthErr{Status: http.StatusInternalServerError, Code: "server_error", Desc: "Internal server error. Please try again later."}
	case "429", "rate_limit":
		return &oauthErr{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded", Desc: "Too many requests. Please retry later.", RetryAfter: f.retryAfter()}
	}
	return &oauthErr{Code: "invalid_grant", Desc: "Authorization code or refresh token is expired or revoked."}
}

// tiktokClient checks the form body and the client credentials.
func (s *Sandbox) tiktokClient(r *http.Request) *oauthErr {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return &oauthErr{Code: "invalid_request", Desc: "Content-Type must be application/x-www-form-urlencoded."}
	}
	f := r.PostForm
	switch {
	case f.Get("client_key") == "":
		return &oauthErr{Status: http.StatusUnauthorized, Code: "invalid_client", Desc: "client_key is required (TikTok does not read client_id)."}
	case f.Get("client_key") != s.opts.TikTokClientKey,
		subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(s.opts.TikTokClientSecret)) != 1:
		return &oauthErr{Status: http.StatusUnauthorized, Code: "invalid_client", Desc: "Client key or secret is incorrect."}
	}
	return nil
}

func (s *Sandbox) tiktokToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	gt := r.PostForm.Get("grant_type")
	var extra []string
	if gt == "authorization_code" || gt == "refresh_token" {
		extra = append(extra, "tiktok.token."+gt)
	}
	if s.faulted(w, r, func(f *fault) { s.writeOAuthError(w, s.tiktokOAuthFault(f)) }, "tiktok.token", extra...) {
		return
	}
	if e := s.tiktokClient(r); e != nil {
		s.writeOAuthError(w, e)
		return
	}
	var resp map[string]any
	var e *oauthErr
	s.mu.Lock()
	switch gt {
	case "authorization_code":
		resp, e = s.tiktokExchange(r.PostForm)
	case "refresh_token":
		resp, e = s.tiktokRefresh(r.PostForm)
	case "":
		e = &oauthErr{Code: "invalid_request", Desc: "grant_type is required."}
	default:
		e = &oauthErr{Code: "unsupported_grant_type", Desc: "The grant_type is not supported."}
	}
	s.mu.Unlock()
	if e != nil {
		s.writeOAuthError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

// tiktokExchange redeems a code. s.mu held.
func (s *Sandbox) tiktokExchange(f url.Values) (map[string]any, *oauthErr) {
	now := s.now()
	if f.Get("code") == "" || f.Get("redirect_uri") == "" {
		return nil, &oauthErr{Code: "invalid_request", Desc: "code and redirect_uri are required."}
	}
	c := s.st.Codes[f.Get("code")]
	switch {
	case c == nil || c.Platform != "tiktok":
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Authorization code is invalid."}
	case c.Used:
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Authorization code has been used."}
	case !now.Before(c.ExpiresAt):
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Authorization code is expired."}
	case f.Get("redirect_uri") != c.RedirectURI:
		return nil, &oauthErr{Code: "invalid_grant", Desc: "redirect_uri does not match the one in the authorization request."}
	case c.Challenge != "" && f.Get("code_verifier") == "":
		return nil, &oauthErr{Code: "invalid_request", Desc: "code_verifier is required."}
	case c.Challenge != "" && !tiktokPKCEOK(s.st.Settings.TikTokPKCE, c.Challenge, f.Get("code_verifier")):
		return nil, &oauthErr{Code: "invalid_grant", Desc: "code_verifier does not match the code_challenge."}
	}
	c.Used = true
	accessLife, refreshLife := s.st.tiktokLives()
	rt := s.st.addToken(&tokenRec{Value: newTikTokRefresh(), Platform: "tiktok", Kind: "refresh", Persona: c.Persona,
		Grant: c.Grant, Scopes: c.Scopes, IssuedAt: now, ExpiresAt: now.Add(refreshLife)})
	at := s.st.addToken(&tokenRec{Value: newTikTokAccess(), Platform: "tiktok", Kind: "access", Persona: c.Persona,
		Grant: c.Grant, Scopes: c.Scopes, IssuedAt: now, ExpiresAt: now.Add(accessLife)})
	s.dirty = true
	return tiktokTokenResponse(at, rt, now), nil
}

// tiktokRefresh uses a refresh token. With rotation on, it is replaced and
// stops working; in classic mode its expiry never moves. s.mu held.
func (s *Sandbox) tiktokRefresh(f url.Values) (map[string]any, *oauthErr) {
	now := s.now()
	v := f.Get("refresh_token")
	if v == "" {
		return nil, &oauthErr{Code: "invalid_request", Desc: "refresh_token is required."}
	}
	old := s.st.Tokens[v]
	if old == nil || old.Platform != "tiktok" || old.Kind != "refresh" {
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Refresh token is invalid."}
	}
	switch s.st.dead(old, now) {
	case "rotated":
		// Counted, per token and in all: a client that presents a spent
		// token has refreshed twice or lost an answer (replica tests).
		old.Reused++
		s.stats["tiktok.refresh_token.reused"]++
		s.dirty = true
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Refresh token is invalid: a newer refresh token has replaced it."}
	case "revoked":
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Refresh token has been revoked."}
	case "expired":
		return nil, &oauthErr{Code: "invalid_grant", Desc: "Refresh token is expired."}
	}
	accessLife, refreshLife := s.st.tiktokLives()
	rt := old
	if s.st.Settings.Rotation {
		exp := now.Add(refreshLife)
		if s.st.Settings.Mode == "classic" {
			exp = old.ExpiresAt
		}
		old.Dead = "rotated"
		rt = s.st.addToken(&tokenRec{Value: newTikTokRefresh(), Platform: "tiktok", Kind: "refresh", Persona: old.Persona,
			Grant: old.Grant, Scopes: old.Scopes, IssuedAt: now, ExpiresAt: exp})
	}
	at := s.st.addToken(&tokenRec{Value: newTikTokAccess(), Platform: "tiktok", Kind: "access", Persona: old.Persona,
		Grant: old.Grant, Scopes: old.Scopes, IssuedAt: now, ExpiresAt: now.Add(accessLife)})
	s.dirty = true
	return tiktokTokenResponse(at, rt, now), nil
}

func tiktokTokenResponse(at, rt *tokenRec, now time.Time) map[string]any {
	return map[string]any{
		"access_token": at.Value, "expires_in": secondsLeft(at.ExpiresAt, now),
		"open_id":       tiktokByKey[at.Persona].OpenID,
		"refresh_token": rt.Value, "refresh_expires_in": secondsLeft(rt.ExpiresAt, now),
		"scope": strings.Join(at.Scopes, ","), "token_type": "Bearer",
	}
}

// ---- v2 API: user/info ------------------------------------------------------------
