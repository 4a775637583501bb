package sandbox

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// graph.instagram.com: the long-lived exchange, the refresh and the
// profile, answering with Graph error objects.

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
	if s.faulted(w, r, func(f *fault) { writeGraphError(w, s.graphFault(r, f, endpoint)) }, endpoint) {
		return
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
