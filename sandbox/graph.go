package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// graphErr is a Graph API error object (PLATFORMS.md §1.7).
type graphErr struct {
	Status    int
	Code      int
	Subcode   int
	Message   string
	Transient bool
	Header    map[string]string
}

type graphErrBody struct {
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode,omitempty"`
	IsTransient *bool  `json:"is_transient,omitempty"`
	FBTraceID   string `json:"fbtrace_id"`
}

func writeGraphError(w http.ResponseWriter, e *graphErr) {
	for k, v := range e.Header {
		w.Header().Set(k, v)
	}
	if e.Code == 190 {
		// Facebook adds this on token errors; harmless and faithful.
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`OAuth "Facebook Platform" "invalid_token" %q`, e.Message))
	}
	body := graphErrBody{Message: e.Message, Type: "OAuthException", Code: e.Code, Subcode: e.Subcode, FBTraceID: newTraceID()}
	if e.Transient {
		t := true
		body.IsTransient = &t
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func errParam(msg string) *graphErr { return &graphErr{Code: 100, Message: msg} }

func errNoObject(id string) *graphErr {
	return &graphErr{Code: 100, Subcode: 33, Message: fmt.Sprintf(
		"Unsupported get request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", id)}
}

func errNoField(field, nodeType string) *graphErr {
	return errParam(fmt.Sprintf("(#100) Tried accessing nonexisting field (%s) on node type (%s)", field, nodeType))
}

// errDeadToken builds the 190-family error for a token that stopped working.
func (s *Sandbox) errDeadToken(why string, t *tokenRec, now time.Time) *graphErr {
	switch why {
	case "expired":
		return &graphErr{Code: 190, Subcode: 463, Message: fmt.Sprintf(
			"Error validating access token: Session has expired on %s. The current time is %s.",
			fbTime(t.ExpiresAt), fbTime(now))}
	case "revoked":
		return &graphErr{Code: 190, Subcode: 458, Message: fmt.Sprintf(
			"Error validating access token: The user has not authorized application %s.", s.opts.MetaAppID)}
	}
	return &graphErr{Code: 190, Message: "Invalid OAuth access token - Cannot parse access token"}
}

func fbTime(t time.Time) string {
	pst := time.FixedZone("PST", -8*3600)
	return t.In(pst).Format("Monday, 02-Jan-06 15:04:05 MST")
}

var versionRE = regexp.MustCompile(`^v\d+\.\d+$`)

// graph serves graph.facebook.com. Graph paths are node ids and edges, so this
// parses them itself instead of registering fixed routes.
func (s *Sandbox) graph(w http.ResponseWriter, r *http.Request) {
	var segs []string
	for _, p := range strings.Split(strings.TrimPrefix(r.URL.Path, "/sandbox/graph.facebook.com/"), "/") {
		if p != "" {
			segs = append(segs, p)
		}
	}
	if len(segs) > 0 && versionRE.MatchString(segs[0]) {
		segs = segs[1:] // any version is served, as expired versions are by the real API
	}
	_ = r.ParseForm()
	w.Header().Set("X-App-Usage", `{"call_count":1,"total_cputime":1,"total_time":1}`)

	endpoint, extra := graphEndpoint(segs, r)
	if s.faulted(w, r, func(f *fault) { writeGraphError(w, s.graphFault(r, f, endpoint)) }, endpoint, extra...) {
		return
	}

	get, del := r.Method == http.MethodGet || r.Method == http.MethodHead, r.Method == http.MethodDelete
	switch {
	case len(segs) == 2 && segs[0] == "oauth" && segs[1] == "access_token" && (get || r.Method == http.MethodPost):
		s.metaTokenEndpoint(w, r)
	case len(segs) == 1 && segs[0] == "debug_token" && get:
		s.metaDebugToken(w, r)
	case len(segs) == 1 && get:
		s.graphNode(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "accounts" && get:
		s.graphAccounts(w, r, segs[0])
	case len(segs) == 2 && (segs[1] == "businesses" || segs[1] == "owned_pages" || segs[1] == "client_pages") && get:
		s.graphBusinesses(w, r, segs[0], segs[1])
	case len(segs) == 2 && segs[1] == "permissions" && (get || del):
		s.graphPermissions(w, r, segs[0], "")
	case len(segs) == 3 && segs[1] == "permissions" && del:
		s.graphPermissions(w, r, segs[0], segs[2])
	case len(segs) == 0:
		writeGraphError(w, errParam("Unsupported get request."))
	default:
		id := segs[0]
		writeGraphError(w, &graphErr{Code: 100, Message: fmt.Sprintf(
			"Unsupported %s request. Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
			strings.ToLower(r.Method), id), Subcode: 33})
	}
}

// graphEndpoint names a Graph request for faults and stats.
func graphEndpoint(segs []string, r *http.Request) (string, []string) {
	switch {
	case len(segs) == 2 && segs[0] == "oauth" && segs[1] == "access_token":
		if r.Form.Get("grant_type") == "fb_exchange_token" {
			return "meta.token", []string{"meta.token.fb_exchange_token"}
		}
		return "meta.token", []string{"meta.token.code"}
	case len(segs) == 1 && segs[0] == "debug_token":
		return "meta.debug_token", nil
	case len(segs) == 1 && segs[0] == "me":
		return "meta.me", nil
	case len(segs) >= 2 && segs[1] == "accounts":
		return "meta.accounts", nil
	case len(segs) >= 2 && (segs[1] == "businesses" || segs[1] == "owned_pages" || segs[1] == "client_pages"):
		return "meta.businesses", []string{"meta.businesses." + segs[1]}
	case len(segs) >= 2 && segs[1] == "permissions":
		return "meta.permissions", nil
	}
	return "meta.node", nil
}

// graphFault turns an injected fault into the error Facebook would send.
func (s *Sandbox) graphFault(r *http.Request, f *fault, endpoint string) *graphErr {
	switch f.Kind {
	case "5xx":
		return &graphErr{Status: http.StatusInternalServerError, Code: 2, Transient: true,
			Message: "An unexpected error has occurred. Please retry your request later."}
	case "429", "rate_limit":
		// A Page token hits the Page's BUC limit (32); otherwise "429" is the
		// app-level limit (4) and "rate_limit" the per-user one (17).
		if pageID := s.pageOfRequestToken(r); pageID != "" {
			minutes := (f.retryAfter() + 59) / 60
			buc, _ := json.Marshal(map[string]any{pageID: []map[string]any{{
				"type": "pages", "call_count": 100, "total_cputime": 12, "total_time": 31,
				"estimated_time_to_regain_access": minutes,
			}}})
			return &graphErr{Code: 32, Transient: true, Message: "(#32) Page request limit reached",
				Header: map[string]string{"X-Business-Use-Case-Usage": string(buc)}}
		}
		hdr := map[string]string{"X-App-Usage": `{"call_count":100,"total_cputime":24,"total_time":41}`}
		if f.Kind == "429" {
			return &graphErr{Code: 4, Transient: true, Message: "(#4) Application request limit reached", Header: hdr}
		}
		return &graphErr{Code: 17, Transient: true, Message: "(#17) User request limit reached", Header: hdr}
	case "graph_error":
		// Any code of Facebook's error table, as Facebook sends it: HTTP 400
		// and the code's message; is_transient only on the throttling codes,
		// where Facebook was seen to set it.
		return &graphErr{Code: f.Code, Subcode: f.Subcode, Message: graphMessage(f.Code),
			Transient: f.Code == 4 || f.Code == 17 || f.Code == 32 || f.Code == 613}
	case "invalid_grant":
		if endpoint == "meta.token" {
			if r.Form.Get("grant_type") == "fb_exchange_token" {
				return s.errDeadToken("expired", &tokenRec{ExpiresAt: s.now()}, s.now())
			}
			return &graphErr{Code: 100, Subcode: 36007, Message: "This authorization code has expired."}
		}
		return &graphErr{Code: 190, Subcode: 460, Message: "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."}
	}
	return &graphErr{Status: 500, Code: 1, Message: "An unknown error occurred", Transient: true}
}

func (s *Sandbox) pageOfRequestToken(r *http.Request) string {
	v := graphToken(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.st.Tokens[v]; t != nil && t.Kind == "page" {
		return t.PageID
	}
	return ""
}

// graphToken takes the token from access_token (query or form) or from an
// Authorization header ("Bearer" or Facebook's older "OAuth").
func graphToken(r *http.Request) string {
	if v := r.Form.Get("access_token"); v != "" {
		return v
	}
	h := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "OAuth "} {
		if strings.HasPrefix(h, p) {
			return strings.TrimSpace(h[len(p):])
		}
	}
	return ""
}

// metaAuth finds the request's live Facebook token. Call with s.mu held.
func (s *Sandbox) metaAuth(r *http.Request, now time.Time) (*tokenRec, *graphErr) {
	v := graphToken(r)
	if v == "" {
		return nil, &graphErr{Code: 104, Message: "An access token is required to request this resource."}
	}
	t := s.st.Tokens[v]
	if t == nil || t.Platform != "facebook" {
		return nil, s.errDeadToken("", nil, now)
	}
	if why := s.st.dead(t, now); why != "" {
		return nil, s.errDeadToken(why, t, now)
	}
	return t, nil
}

// ---- fields= ---------------------------------------------------------------

// field is one entry of a Graph `fields` list: `name.mod(x){sub,fields}`.
// Modifiers such as picture.type(large) are accepted and ignored.
type field struct {
	Name string
	Sub  []field
}

func parseFields(s string) ([]field, error) {
	var out []field
	depth, start := 0, 0
	flush := func(end int) error {
		part := strings.TrimSpace(s[start:end])
		if part == "" {
			return nil
		}
		f := field{Name: part}
		if i := strings.IndexAny(part, ".{("); i >= 0 {
			f.Name = part[:i]
		}
		if i := strings.IndexByte(part, '{'); i >= 0 {
			if !strings.HasSuffix(part, "}") {
				return fmt.Errorf("syntax error in fields: %q", part)
			}
			sub, err := parseFields(part[i+1 : len(part)-1])
			if err != nil {
				return err
			}
			f.Sub = sub
		}
		out = append(out, f)
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '(':
			depth++
		case '}', ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("syntax error in fields: unbalanced %q", s[i])
			}
		case ',':
			if depth == 0 {
				if err := flush(i); err != nil {
					return nil, err
				}
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("syntax error in fields: unbalanced braces")
	}
	if err := flush(len(s)); err != nil {
		return nil, err
	}
	return out, nil
}

func fieldsOr(r *http.Request, def string) ([]field, *graphErr) {
	v := r.Form.Get("fields")
	if v == "" {
		v = def
	}
	fs, err := parseFields(v)
	if err != nil {
		return nil, errParam("(#100) " + err.Error())
	}
	return fs, nil
}
