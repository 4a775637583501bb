package sandbox

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const accountsDefaultFields = "access_token,category,category_list,name,id,tasks"

func (s *Sandbox) graphAccounts(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	out, gerr := s.accounts(r, id)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) accounts(r *http.Request, id string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	if t.Kind == "page" {
		return nil, errNoField("accounts", "Page")
	}
	p, g := metaByKey[t.Persona], s.st.Grants[t.Grant]
	if id != "me" && id != p.ID {
		return nil, errNoObject(id)
	}
	// Only the Pages ticked in the dialog, and none without pages_show_list.
	// Pages held through a Business portfolio are never listed here.
	var ids []string
	if slices.Contains(g.Granted, "pages_show_list") {
		ids = g.Pages
	}
	return s.pageList(r, t, g, ids, now)
}

// pageList answers a paged list of Pages (me/accounts, owned_pages,
// client_pages) with the requested fields of each. s.mu held.
func (s *Sandbox) pageList(r *http.Request, t *tokenRec, g *grantRec, ids []string, now time.Time) (map[string]any, *graphErr) {
	fs, gerr := fieldsOr(r, accountsDefaultFields)
	if gerr != nil {
		return nil, gerr
	}
	return s.paged(r, ids, func(id string) (map[string]any, *graphErr) {
		return s.pageObject(pageByID[id], t, g, fs, now)
	})
}

// paged answers one page of a Graph list of ids: limit (default 25, at
// most 100, or the control API's page_size), after/before cursors, and
// paging.next/previous links that carry the token. s.mu held.
func (s *Sandbox) paged(r *http.Request, ids []string, object func(id string) (map[string]any, *graphErr)) (map[string]any, *graphErr) {
	limit := 25
	if n, err := strconv.Atoi(r.Form.Get("limit")); err == nil && n > 0 {
		limit = min(n, 100)
	}
	if c := s.st.Settings.PageSize; c > 0 {
		limit = min(limit, c)
	}
	start, end := 0, len(ids)
	if a := r.Form.Get("after"); a != "" {
		i := cursorIndex(ids, a)
		if i < 0 {
			return nil, errParam("(#100) The after cursor is invalid.")
		}
		start = i + 1
	} else if b := r.Form.Get("before"); b != "" {
		i := cursorIndex(ids, b)
		if i < 0 {
			return nil, errParam("(#100) The before cursor is invalid.")
		}
		end, start = i, max(0, i-limit)
	}
	end = min(end, start+limit)
	data := []map[string]any{}
	for _, id := range ids[start:end] {
		obj, gerr := object(id)
		if gerr != nil {
			return nil, gerr
		}
		data = append(data, obj)
	}
	out := map[string]any{"data": data}
	if len(data) == 0 {
		return out, nil
	}
	paging := map[string]any{"cursors": map[string]string{
		"before": pageCursor(ids[start]), "after": pageCursor(ids[end-1])}}
	if end < len(ids) {
		paging["next"] = pagingURL(r, graphToken(r), limit, "after", pageCursor(ids[end-1]))
	}
	if start > 0 {
		paging["previous"] = pagingURL(r, graphToken(r), limit, "before", pageCursor(ids[start]))
	}
	out["paging"] = paging
	return out, nil
}

// Cursors look like Facebook's ("QVFI…" is base64 of "AQH").
func pageCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte("AQH" + id)) }

func cursorIndex(ids []string, c string) int {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), "AQH") {
		return -1
	}
	return slices.Index(ids, string(b[3:]))
}

// graphBusinesses serves the Business Management edges. They need a user
// token with business_management (PLATFORMS.md §8).
func (s *Sandbox) graphBusinesses(w http.ResponseWriter, r *http.Request, id, edge string) {
	s.mu.Lock()
	out, gerr := s.businesses(r, id, edge)
	s.mu.Unlock()
	if gerr != nil {
		writeGraphError(w, gerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sandbox) businesses(r *http.Request, id, edge string) (map[string]any, *graphErr) {
	now := s.now()
	t, gerr := s.metaAuth(r, now)
	if gerr != nil {
		return nil, gerr
	}
	if t.Kind == "page" {
		return nil, errNoField(edge, "Page")
	}
	p, g := metaByKey[t.Persona], s.st.Grants[t.Grant]
	if edge == "businesses" {
		if id != "me" && id != p.ID {
			return nil, errNoObject(id)
		}
		if !slices.Contains(g.Granted, "business_management") {
			return nil, &graphErr{Code: 200, Message: "(#200) Requires business_management permission to manage the object"}
		}
		fs, gerr := fieldsOr(r, "id,name")
		if gerr != nil {
			return nil, gerr
		}
		var ids []string
		for _, b := range p.Businesses {
			ids = append(ids, b.ID)
		}
		return s.paged(r, ids, func(id string) (map[string]any, *graphErr) { return businessObject(bizByID[id], fs) })
	}
	b := bizByID[id]
	if b == nil || bizOwner[id] != p {
		return nil, errNoObject(id)
	}
	if !slices.Contains(g.Granted, "business_management") {
		return nil, &graphErr{Code: 200, Message: "(#200) Requires business_management permission to manage the object"}
	}
	if b.Broken != "" {
		return nil, &graphErr{Code: 200, Message: b.Broken}
	}
	ids := b.Owned
	if edge == "client_pages" {
		ids = b.Client
	}
	return s.pageList(r, t, g, ids, now)
}

func businessObject(b *business, fs []field) (map[string]any, *graphErr) {
	out := map[string]any{}
	for _, f := range fs {
		switch f.Name {
		case "id":
			out["id"] = b.ID
		case "name":
			out["name"] = b.Name
		default:
			return nil, errNoField(f.Name, "Business")
		}
	}
	return out, nil
}

// viaPortfolio reports whether a user token reaches pageID through one of
// the person's readable Business portfolios. s.mu held.
func viaPortfolio(p *metaPersona, g *grantRec, pageID string) bool {
	if p == nil || !slices.Contains(g.Granted, "business_management") {
		return false
	}
	for _, b := range p.Businesses {
		if b.Broken == "" && (slices.Contains(b.Owned, pageID) || slices.Contains(b.Client, pageID)) {
			return true
		}
	}
	return false
}

// portfolioPages lists the Pages the person reaches through readable
// portfolios, in portfolio order. s.mu held.
func portfolioPages(p *metaPersona, g *grantRec) []string {
	var out []string
	if p == nil || !slices.Contains(g.Granted, "business_management") {
		return nil
	}
	for _, b := range p.Businesses {
		if b.Broken != "" {
			continue
		}
		for _, id := range append(slices.Clone(b.Owned), b.Client...) {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// pagingURL is an absolute next/previous link that already carries the token.
func pagingURL(r *http.Request, token string, limit int, dir, cursor string) string {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		q[k] = v
	}
	q.Del("after")
	q.Del("before")
	q.Set("access_token", token)
	q.Set("limit", strconv.Itoa(limit))
	q.Set(dir, cursor)
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
}
