package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

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
