package sandbox

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

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
	Reused    int      `json:"reused,omitempty"` // a rotated refresh token presented again, refused
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
			LongLived: t.LongLived, Scopes: t.Scopes, Reused: t.Reused, seq: t.Seq}
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
