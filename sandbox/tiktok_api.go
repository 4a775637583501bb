package sandbox

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// tiktokRevoke disconnects the app: every token of that authorization dies.
// An unknown token still gets {} (RFC 7009 behaviour).
func (s *Sandbox) tiktokRevoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if s.faulted(w, r, func(f *fault) { s.writeOAuthError(w, s.tiktokOAuthFault(f)) }, "tiktok.revoke") {
		return
	}
	if e := s.tiktokClient(r); e != nil {
		s.writeOAuthError(w, e)
		return
	}
	v := r.PostForm.Get("token")
	if v == "" {
		s.writeOAuthError(w, &oauthErr{Code: "invalid_request", Desc: "token is required."})
		return
	}
	s.mu.Lock()
	if t := s.st.Tokens[v]; t != nil && t.Platform == "tiktok" {
		if g := s.st.Grants[t.Grant]; g != nil {
			g.Revoked = true
			s.dirty = true
		}
	}
	body := s.st.Settings.TikTokRevokeBody
	s.mu.Unlock()
	if body == "object" {
		writeJSON(w, http.StatusOK, map[string]any{}) // the doc's example
		return
	}
	// "returns an empty response body": a 200 with nothing in it.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// writeV2 writes the v2 envelope {"data":…,"error":{"code","message","log_id"}}.
func (s *Sandbox) writeV2(w http.ResponseWriter, status int, data any, code, msg string) {
	if data == nil {
		data = map[string]any{}
	}
	writeJSON(w, status, map[string]any{"data": data,
		"error": map[string]string{"code": code, "message": msg, "log_id": newLogID(s.now())}})
}

func (s *Sandbox) tiktokUserInfo(w http.ResponseWriter, r *http.Request) {
	if f := s.enter("tiktok.userinfo"); f != nil {
		if !s.pause(w, r, f) {
			return
		}
		if f.failing() {
			switch f.Kind {
			case "5xx":
				s.writeV2(w, http.StatusInternalServerError, nil, "internal_error", "Something went wrong. Please try again later.")
			case "429", "rate_limit":
				w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter()))
				s.writeV2(w, http.StatusTooManyRequests, nil, "rate_limit_exceeded", "The API rate limit was exceeded. Please try again later.")
			default:
				s.writeV2(w, http.StatusUnauthorized, nil, "access_token_invalid", "The access token is invalid or not found in the request.")
			}
			return
		}
	}
	v, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	t := s.st.Tokens[strings.TrimSpace(v)]
	ok := t != nil && t.Platform == "tiktok" && t.Kind == "access" && s.st.dead(t, s.now()) == ""
	var scopes []string
	if ok {
		scopes = t.Scopes
	}
	s.mu.Unlock()
	if !ok {
		s.writeV2(w, http.StatusUnauthorized, nil, "access_token_invalid", "The access token is invalid or not found in the request.")
		return
	}
	p := tiktokByKey[t.Persona]
	fields := r.URL.Query().Get("fields")
	if fields == "" {
		s.writeV2(w, http.StatusBadRequest, nil, "invalid_params", "The fields parameter is required.")
		return
	}
	user := map[string]any{}
	for _, fl := range strings.Split(fields, ",") {
		fl = strings.TrimSpace(fl)
		scope, known := tiktokFieldScope[fl]
		switch {
		case fl == "":
			continue
		case !known:
			s.writeV2(w, http.StatusBadRequest, nil, "invalid_params", "Invalid field: "+fl)
			return
		case !slices.Contains(scopes, scope):
			s.writeV2(w, http.StatusUnauthorized, nil, "scope_not_authorized", "The user did not authorize the scope required for field "+fl+": "+scope)
			return
		}
		user[fl] = tiktokField(p, fl)
	}
	s.writeV2(w, http.StatusOK, map[string]any{"user": user}, "ok", "")
}

func tiktokField(p *tiktokPersona, f string) any {
	switch f {
	case "open_id":
		return p.OpenID
	case "union_id":
		return p.UnionID
	case "avatar_url", "avatar_url_100", "avatar_large_url":
		return avatar(p.Name, p.Color)
	case "display_name":
		return p.Name
	case "bio_description":
		return p.Bio
	case "profile_deep_link":
		return p.DeepLink
	case "is_verified":
		return p.Verified
	case "username":
		return p.Username
	case "follower_count":
		return p.Followers
	case "following_count":
		return p.Following
	case "likes_count":
		return p.Likes
	case "video_count":
		return p.Videos
	}
	return nil
}
