package sandbox

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

type htmlForm struct {
	action string
	fields []formField
}

func parseForm(t *testing.T, body []byte) htmlForm {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var f htmlForm
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := map[string]string{}
			has := map[string]bool{}
			for _, a := range n.Attr {
				attr[a.Key] = a.Val
				has[a.Key] = true
			}
			switch n.Data {
			case "form":
				f.action = attr["action"]
			case "input", "button":
				typ := attr["type"]
				if n.Data == "button" {
					typ = "submit"
				}
				f.fields = append(f.fields, formField{typ, attr["name"], attr["value"], has["checked"], has["disabled"]})
			case "script":
				t.Errorf("consent page contains a script")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if f.action == "" {
		t.Fatalf("no form in page")
	}
	return f
}

// submit builds what a browser would send: hidden fields, the checked
// boxes after toggles, the chosen radio and the clicked button.
func (f htmlForm) submit(persona string, untick map[string]bool, button string) url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		switch {
		case fl.disabled:
		case fl.typ == "hidden":
			v.Add(fl.name, fl.value)
		case fl.typ == "radio" && (persona == "" && fl.checked || fl.value == persona):
			v.Set(fl.name, fl.value)
		case fl.typ == "checkbox" && fl.checked && !untick[fl.value]:
			v.Add(fl.name, fl.value)
		case fl.typ == "submit" && fl.value == button:
			v.Set(fl.name, fl.value)
		}
	}
	return v
}

func TestConsentFormFacebook(t *testing.T) {
	e := newEnv(t)
	cfg := e.fbConfig()
	page := e.getAbs(cfg.AuthCodeURL("form-st", oauth2.SetAuthURLParam("scope", fbScopes)))
	if page.Status != 200 {
		t.Fatalf("consent page %d", page.Status)
	}
	for _, want := range []string{"Dana Whitfield", "Harbor Coffee Roasters", "Pine &amp; Pixel Design", "Create and manage content on your Page",
		`href="/sandbox/static/consent.css"`, `src="data:image/svg`, "Continue", "Cancel"} {
		if !bytes.Contains(page.Body, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if css := e.get("/sandbox/static/consent.css"); css.Status != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet %d", css.Status)
	}
	form := parseForm(t, page.Body)
	// Untick one Page and one permission, then Continue.
	vals := form.submit("dana", map[string]bool{"104000000000102": true, "pages_messaging": true}, "allow")
	r := e.postForm(form.action, vals)
	q := location(t, r)
	if q.Get("state") != "form-st" {
		t.Fatalf("redirect %v", q)
	}
	if !strings.HasSuffix(r.Header.Get("Location"), "#_=_") {
		t.Errorf("Facebook appends #_=_: %s", r.Header.Get("Location"))
	}
	tok, err := cfg.Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	var accts struct{ Data []map[string]any }
	getJSON(t, cfg.Client(e.ctx(), tok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/accounts", &accts)
	if len(accts.Data) != 3 {
		t.Errorf("pages after unticking one: %d", len(accts.Data))
	}
	for _, p := range accts.Data {
		if p["id"] == "104000000000102" {
			t.Errorf("unticked Page returned")
		}
	}
	var perms struct{ Data []map[string]string }
	getJSON(t, cfg.Client(e.ctx(), tok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me/permissions", &perms)
	status := map[string]string{}
	for _, p := range perms.Data {
		status[p["permission"]] = p["status"]
	}
	if status["pages_messaging"] != "declined" || status["pages_manage_posts"] != "granted" {
		t.Errorf("permissions %v", status)
	}

	// Another persona, and Cancel.
	form = parseForm(t, e.getAbs(cfg.AuthCodeURL("c", oauth2.SetAuthURLParam("scope", fbScopes))).Body)
	lee := location(t, e.postForm(form.action, form.submit("lee", nil, "allow")))
	ltok, err := cfg.Exchange(e.ctx(), lee.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	getJSON(t, cfg.Client(e.ctx(), ltok), e.srv.URL+"/sandbox/graph.facebook.com/v26.0/me", &me)
	if me["name"] != "Lee Park" {
		t.Errorf("persona picker: %v", me)
	}
	cancel := location(t, e.postForm(form.action, form.submit("", nil, "cancel")))
	if cancel.Get("error") != "access_denied" || cancel.Get("error_reason") != "user_denied" || cancel.Get("state") != "c" {
		t.Errorf("cancel %v", cancel)
	}
}

func TestConsentFormTikTok(t *testing.T) {
	e := newEnv(t)
	page := e.getAbs(e.tiktokAuthURL("tf"))
	if page.Status != 200 || !bytes.Contains(page.Body, []byte("River Tan")) || !bytes.Contains(page.Body, []byte("Allow")) {
		t.Fatalf("consent page %d", page.Status)
	}
	form := parseForm(t, page.Body)
	// user.info.basic is locked; untick video.publish; pick river.
	q := location(t, e.postForm(form.action, form.submit("river", map[string]bool{"video.publish": true, "user.info.basic": true}, "allow")))
	if q.Get("scopes") != "user.info.basic,user.info.profile,user.info.stats,video.list,video.upload" {
		t.Errorf("scopes %q", q.Get("scopes"))
	}
	tok, err := e.tiktokConfig().Exchange(e.ctx(), q.Get("code"), oauth2.SetAuthURLParam("client_key", DevTikTokClientKey))
	if err != nil {
		t.Fatal(err)
	}
	if tok.Extra("open_id") != "7e5a0c2d-4b1f-4d8e-a6c3-6b1000000002" || tok.Extra("scope") != q.Get("scopes") {
		t.Errorf("token extras %v %v", tok.Extra("open_id"), tok.Extra("scope"))
	}
	cancel := location(t, e.postForm(form.action, form.submit("", nil, "cancel")))
	if cancel.Get("error") != "access_denied" || cancel.Get("state") != "tf" {
		t.Errorf("cancel %v", cancel)
	}
}
