package sandbox

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
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

func (s *Sandbox) ctlFaultAdd(w http.ResponseWriter, r *http.Request) {
	var f fault
	if !decodeBody(w, r, &f) {
		return
	}
	switch {
	case !faultEndpoints[f.Endpoint]:
		ctlError(w, http.StatusBadRequest, "unknown endpoint "+f.Endpoint)
		return
	case !faultKinds[f.Kind]:
		ctlError(w, http.StatusBadRequest, "unknown kind "+f.Kind+" (5xx, 429, timeout, slow, invalid_grant, rate_limit, graph_error)")
		return
	case f.Kind == "graph_error" && (f.Code <= 0 || !igGraphEndpoints[f.Endpoint] && (!strings.HasPrefix(f.Endpoint, "meta.") || f.Endpoint == "meta.dialog")):
		ctlError(w, http.StatusBadRequest, "graph_error needs a Graph endpoint (meta.*, not meta.dialog; instagram.exchange, .refresh, .me) and a positive code")
		return
	case f.Count < 0 || f.Fraction < 0 || f.Fraction > 1 || f.RetryAfter < 0 || f.DelayMS < 0:
		ctlError(w, http.StatusBadRequest, "count, retry_after and delay_ms must be >= 0 and fraction in [0, 1]")
		return
	}
	if f.Count == 0 && f.Fraction == 0 {
		f.Count = 1 // neither given: just the next call
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	out := s.faultList()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": out})
}

func (s *Sandbox) faultList() []fault {
	out := []fault{}
	for _, f := range s.faults {
		out = append(out, *f)
	}
	return out
}

func (s *Sandbox) ctlFaultList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := s.faultList()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": out})
}

func (s *Sandbox) ctlFaultClear(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.faults = nil
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"faults": []fault{}})
}

// tokenView is one row of GET /sandbox/control/tokens.
type tokenView struct {
	Platform  string   `json:"platform"`
	Kind      string   `json:"kind"`
	Token     string   `json:"token"`
	Persona   string   `json:"persona"`
	Valid     bool     `json:"valid"`
	Status    string   `json:"status"` // valid | expired | revoked | rotated | used
	ExpiresAt *string  `json:"expires_at"`
	IssuedAt  string   `json:"issued_at"`
	PageID    string   `json:"page_id,omitempty"`
	LongLived bool     `json:"long_lived,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	seq       int64
}

// ctlTokens lists every token and code ever issued (since the last reset),
// dead ones included, oldest first. Leak scanners depend on completeness.
func (s *Sandbox) ctlTokens(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	now := s.now()
	out := make([]tokenView, 0, len(s.st.Tokens)+len(s.st.Codes))
	for _, t := range s.st.Tokens {
		why := s.st.dead(t, now)
		v := tokenView{Platform: t.Platform, Kind: t.Kind, Token: t.Value, Persona: t.Persona, Valid: why == "",
			Status: cmp.Or(why, "valid"), IssuedAt: t.IssuedAt.UTC().Format(time.RFC3339), PageID: t.PageID,
			LongLived: t.LongLived, Scopes: t.Scopes, seq: t.Seq}
		if !t.ExpiresAt.IsZero() {
			e := t.ExpiresAt.UTC().Format(time.RFC3339)
			v.ExpiresAt = &e
		}
		out = append(out, v)
	}
	for _, c := range s.st.Codes {
		status := "valid"
		switch {
		case c.Used:
			status = "used"
		case s.st.Grants[c.Grant] == nil || s.st.Grants[c.Grant].Revoked:
			status = "revoked"
		case !now.Before(c.ExpiresAt):
			status = "expired"
		}
		e := c.ExpiresAt.UTC().Format(time.RFC3339)
		out = append(out, tokenView{Platform: c.Platform, Kind: "code", Token: c.Value, Persona: c.Persona,
			Valid: status == "valid", Status: status, ExpiresAt: &e, IssuedAt: c.IssuedAt.UTC().Format(time.RFC3339),
			Scopes: c.Scopes, seq: c.Seq})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b tokenView) int { return cmp.Compare(a.seq, b.seq) })
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) ctlPersonas(w http.ResponseWriter, r *http.Request) {
	var out []map[string]any
	for _, p := range metaPersonas {
		pages := []map[string]any{}
		for i, pg := range append(slices.Clone(p.Pages), p.Held...) {
			m := map[string]any{"id": pg.ID, "name": pg.Name, "category": pg.Category, "direct_role": i < len(p.Pages),
				"followers_count": pg.Followers, "fan_count": pg.Fans, "tasks": pg.Tasks, "picture": avatar(pg.Name, pg.Color)}
			if ig := pg.IG; ig != nil {
				m["instagram_business_account"] = map[string]any{"id": ig.ID, "username": ig.Username, "name": ig.Name,
					"account_type": ig.Kind, "followers_count": ig.Followers, "follows_count": ig.Follows,
					"media_count": ig.Media, "profile_picture_url": avatar(ig.Name, ig.Color)}
			}
			pages = append(pages, m)
		}
		bizs := []map[string]any{}
		for _, b := range p.Businesses {
			bizs = append(bizs, map[string]any{"id": b.ID, "name": b.Name, "owned_pages": b.Owned, "client_pages": b.Client,
				"readable": b.Broken == ""})
		}
		out = append(out, map[string]any{"key": p.Key, "platform": "meta", "id": p.ID, "name": p.Name,
			"email": p.Email, "picture": avatar(p.Name, p.Color), "pages": pages, "businesses": bizs})
	}
	for _, p := range tiktokPersonas {
		out = append(out, map[string]any{"key": p.Key, "platform": "tiktok", "open_id": p.OpenID, "union_id": p.UnionID,
			"username": p.Username, "display_name": p.Name, "business": p.Business, "is_verified": p.Verified,
			"follower_count": p.Followers, "following_count": p.Following, "likes_count": p.Likes,
			"video_count": p.Videos, "avatar_url": avatar(p.Name, p.Color)})
	}
	out = append(out, igPersonaList()...)
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) ctlStats(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make(map[string]int64, len(s.stats))
	for k, v := range s.stats {
		out[k] = v
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) ctlStatsClear(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.stats = map[string]int64{}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int64{})
}

func (s *Sandbox) ctlSettings(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := map[string]any{"settings": s.st.Settings, "faults": s.faultList()}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// ctlSignedRequest builds the signed_request Facebook POSTs to the
// deauthorize and data-deletion callbacks (PLATFORMS.md §1.9). It changes no
// state: revoke the persona separately to mimic the removal itself.
func (s *Sandbox) ctlSignedRequest(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Persona   string `json:"persona"`
		ProfileID string `json:"profile_id"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	p := metaByKey[body.Persona]
	if p == nil {
		ctlError(w, http.StatusBadRequest, "persona must be a Meta persona")
		return
	}
	payload := map[string]any{"algorithm": "HMAC-SHA256", "issued_at": s.now().Unix(), "user_id": p.ID}
	if body.ProfileID != "" {
		payload["profile_id"] = body.ProfileID
	}
	pj, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding.EncodeToString(pj)
	mac := hmac.New(sha256.New, []byte(s.opts.MetaAppSecret))
	mac.Write([]byte(enc)) // the signature covers the encoded payload, not the JSON
	sr := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
	writeJSON(w, http.StatusOK, map[string]string{"signed_request": sr})
}
