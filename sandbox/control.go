package sandbox

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
)

// The control API is for tests and demos: JSON in, JSON out, errors as
// {"error":"words"} with a 4xx status.

// guardControl stands before every control endpoint. It refuses, in every
// mode, what a page of another site can send without a CORS preflight: a
// POST or DELETE that is not JSON (text/plain, a form) and anything the
// browser marks cross-site. Then, when locked, the bearer token decides,
// compared in constant time.
func (s *Sandbox) guardControl(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.ControlOff {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			ctlError(w, http.StatusForbidden, "the control API does not answer other sites")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
				ctlError(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json")
				return
			}
		}
		if want := s.opts.ControlToken; want != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sandbox control"`)
				ctlError(w, http.StatusUnauthorized, "the control API needs Authorization: Bearer <OMNISOCIAL_SANDBOX_CONTROL_TOKEN>")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// decodeBody reads a JSON body strictly (typos in field names are errors).
// An empty body leaves v untouched.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		ctlError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return false
	}
	return true
}

func (s *Sandbox) ctlReset(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.st = newState()
	s.faults = nil
	s.stats = map[string]int64{}
	s.rng = rand.New(rand.NewPCG(1, 2))
	s.dirty = true
	s.mu.Unlock()
	s.log.Info("sandbox: reset")
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Sandbox) ctlAutoConsent(w http.ResponseWriter, r *http.Request) {
	var ac autoConsent
	if !decodeBody(w, r, &ac) {
		return
	}
	if ac.Persona != "" && personaPlatform(ac.Persona) == "" {
		ctlError(w, http.StatusBadRequest, "unknown persona "+ac.Persona)
		return
	}
	owner := metaByKey[ac.Persona]
	if owner == nil {
		owner = metaPersonas[0]
	}
	for _, id := range ac.Pages {
		if pageOwner[id] != owner {
			ctlError(w, http.StatusBadRequest, "page "+id+" is not a Page of "+owner.Key)
			return
		}
	}
	if !ac.Enabled {
		ac = autoConsent{}
	}
	s.mu.Lock()
	s.st.Settings.AutoConsent = ac
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, ac)
}

func (s *Sandbox) ctlRevoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token   string `json:"token"`
		Persona string `json:"persona"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	n := 0
	s.mu.Lock()
	switch {
	case body.Token != "":
		if t := s.st.Tokens[body.Token]; t != nil {
			t.Dead, n = "revoked", 1
		} else if c := s.st.Codes[body.Token]; c != nil {
			c.Used, n = true, 1
		}
	case body.Persona != "":
		// Every authorization of that person, on every platform.
		for _, g := range s.st.Grants {
			if g.Persona == body.Persona && !g.Revoked {
				g.Revoked = true
				n++
			}
		}
	}
	s.dirty = s.dirty || n > 0
	s.mu.Unlock()
	switch {
	case body.Token == "" && body.Persona == "":
		ctlError(w, http.StatusBadRequest, "give token or persona")
	case body.Token != "" && n == 0:
		ctlError(w, http.StatusNotFound, "no such token")
	case body.Persona != "" && personaPlatform(body.Persona) == "":
		ctlError(w, http.StatusNotFound, "no such persona")
	default:
		s.log.Info("sandbox: revoked", "persona", body.Persona, "count", n)
		writeJSON(w, http.StatusOK, map[string]int{"revoked": n})
	}
}

// ctlExpire ends every live access and Page token now, of one persona or
// just one token if given (refresh tokens stay usable, so a TikTok refresh
// can follow).
func (s *Sandbox) ctlExpire(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Persona string `json:"persona"`
		Token   string `json:"token"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Persona != "" && personaPlatform(body.Persona) == "" {
		ctlError(w, http.StatusNotFound, "no such persona")
		return
	}
	n := 0
	s.mu.Lock()
	now := s.now()
	if body.Token != "" && s.st.Tokens[body.Token] == nil {
		s.mu.Unlock()
		ctlError(w, http.StatusNotFound, "no such token")
		return
	}
	for _, t := range s.st.Tokens {
		if t.Kind == "refresh" || (body.Persona != "" && t.Persona != body.Persona) || (body.Token != "" && t.Value != body.Token) ||
			s.st.dead(t, now) != "" {
			continue
		}
		t.ExpiresAt = now
		n++
	}
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"expired": n})
}

func (s *Sandbox) ctlTikTok(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Rotation *bool   `json:"rotation"`
		Mode     *string `json:"mode"`
		PKCE     *string `json:"pkce"`
		Revoke   *string `json:"revoke_body"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Mode != nil && *body.Mode != "current" && *body.Mode != "classic" {
		ctlError(w, http.StatusBadRequest, `mode must be "current" or "classic"`)
		return
	}
	if body.PKCE != nil && *body.PKCE != "hex" && *body.PKCE != "s256" {
		ctlError(w, http.StatusBadRequest, `pkce must be "hex" or "s256"`)
		return
	}
	if body.Revoke != nil && *body.Revoke != "empty" && *body.Revoke != "object" {
		ctlError(w, http.StatusBadRequest, `revoke_body must be "empty" or "object"`)
		return
	}
	s.mu.Lock()
	st := &s.st.Settings
	if body.Mode != nil {
		st.Mode = *body.Mode
		st.Rotation = *body.Mode == "current" // each mode brings its own rotation default
	}
	if body.Rotation != nil {
		st.Rotation = *body.Rotation
	}
	if body.PKCE != nil {
		st.TikTokPKCE = *body.PKCE
	}
	if body.Revoke != nil {
		st.TikTokRevokeBody = *body.Revoke
	}
	out := *st
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// ctlMeta switches Meta answers between their documented forms.
func (s *Sandbox) ctlMeta(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Revoke   *string `json:"revoke_body"`
		DebugIDs *string `json:"debug_token_ids"`
		PageSize *int    `json:"page_size"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Revoke != nil && *body.Revoke != "true" && *body.Revoke != "object" {
		ctlError(w, http.StatusBadRequest, `revoke_body must be "true" or "object"`)
		return
	}
	if body.DebugIDs != nil && *body.DebugIDs != "string" && *body.DebugIDs != "number" {
		ctlError(w, http.StatusBadRequest, `debug_token_ids must be "string" or "number"`)
		return
	}
	if body.PageSize != nil && (*body.PageSize < 0 || *body.PageSize > 100) {
		ctlError(w, http.StatusBadRequest, "page_size must be in [0, 100] (0: no cap)")
		return
	}
	s.mu.Lock()
	st := &s.st.Settings
	if body.PageSize != nil {
		st.PageSize = *body.PageSize
	}
	if body.Revoke != nil {
		st.MetaRevokeBody = *body.Revoke
	}
	if body.DebugIDs != nil {
		st.DebugTokenIDs = *body.DebugIDs
	}
	out := *st
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) ctlLifetimes(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scale float64 `json:"scale"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Scale <= 0 || body.Scale > 1000 {
		ctlError(w, http.StatusBadRequest, "scale must be in (0, 1000]")
		return
	}
	s.mu.Lock()
	s.st.Settings.Scale = body.Scale
	out := s.st.Settings
	s.dirty = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
