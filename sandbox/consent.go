package sandbox

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

//go:embed consent.html consent.css favicon.svg
var assets embed.FS

// scopeLabels are the human sentences the dialogs show next to a permission.
var scopeLabels = map[string]string{
	"public_profile":            "Your name and profile picture",
	"email":                     "Your email address",
	"pages_show_list":           "Show a list of the Pages you manage",
	"pages_manage_posts":        "Create and manage content on your Page",
	"pages_read_engagement":     "Read content posted on the Page",
	"pages_manage_engagement":   "Manage comments on your Page",
	"pages_messaging":           "Manage and access Page conversations in Messenger",
	"read_insights":             "Read Page insights",
	"business_management":       "Manage your business",
	"instagram_basic":           "Access profile and posts from the Instagram account connected to your Page",
	"instagram_content_publish": "Create and publish content on the Instagram account connected to your Page",
	"instagram_manage_comments": "Manage comments for the Instagram account connected to your Page",
	"instagram_manage_insights": "Read insights for the Instagram account connected to your Page",
	"user.info.basic":           "Read your profile info (avatar and display name)",
	"user.info.profile":         "Read your profile details (username, bio, verification)",
	"user.info.stats":           "Read your follower, like and video counts",
	"video.list":                "Read your public videos",
	"video.upload":              "Upload content to your TikTok drafts",
	"video.publish":             "Post content to your TikTok account",
}

type consentView struct {
	Meta      bool
	IG        bool // Instagram Login; Meta and IG both false = TikTok
	AppName   string
	Action    string
	Hidden    []hiddenField
	Personas  []personaView
	Scopes    []scopeView
	Rerequest bool
	Message   string
}

type hiddenField struct{ Name, Value string }

type personaView struct {
	Key, Name, Detail string
	Avatar            template.URL // data: URLs must be marked safe for html/template
	Checked           bool
	Pages             []pageView
}

type pageView struct {
	ID, Name, Category, Detail, IG string
	Avatar                         template.URL
}

type scopeView struct {
	Name, Label string
	Locked      bool
}

// renderConsent shows the dialog. The original request travels in hidden
// fields, so the POST back needs no server-side session.
func (s *Sandbox) renderConsent(w http.ResponseWriter, r *http.Request, req *authRequest) {
	v := consentView{Meta: req.Platform == "meta", IG: req.Platform == "instagram", AppName: appName, Action: r.URL.Path, Rerequest: req.AuthType == "rerequest"}
	keys := make([]string, 0, len(r.Form))
	for k := range r.Form {
		if !strings.HasPrefix(k, "sb_") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Hidden = append(v.Hidden, hiddenField{k, r.Form.Get(k)})
	}
	if v.Meta {
		for i, p := range metaPersonas {
			pv := personaView{Key: p.Key, Name: p.Name, Detail: pagesDetail(len(p.Pages)) + portfoliosDetail(len(p.Businesses)), Avatar: template.URL(avatar(p.Name, p.Color)), Checked: i == 0}
			for _, pg := range p.Pages {
				view := pageView{ID: pg.ID, Name: pg.Name, Category: pg.Category, Detail: followers(pg.Followers), Avatar: template.URL(avatar(pg.Name, pg.Color))}
				if pg.IG != nil {
					view.IG = pg.IG.Username
				}
				pv.Pages = append(pv.Pages, view)
			}
			v.Personas = append(v.Personas, pv)
		}
	} else if v.IG {
		v.Personas = igPersonaViews()
	} else {
		for i, p := range tiktokPersonas {
			detail := "@" + p.Username
			if p.Business {
				detail += " · Business account"
			}
			v.Personas = append(v.Personas, personaView{Key: p.Key, Name: p.Name, Detail: detail, Avatar: template.URL(avatar(p.Name, p.Color)), Checked: i == 0})
		}
	}
	for _, sc := range req.Scopes {
		label := scopeLabels[sc]
		if label == "" {
			label = sc
		}
		v.Scopes = append(v.Scopes, scopeView{Name: sc, Label: label, Locked: sc == "public_profile" || sc == "user.info.basic" || sc == igBasicScope})
	}
	s.renderPage(w, http.StatusOK, "consent", v)
}

func pagesDetail(n int) string {
	switch n {
	case 0:
		return "No Pages"
	case 1:
		return "1 Page"
	}
	return strconv.Itoa(n) + " Pages"
}

func portfoliosDetail(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " · 1 Business portfolio"
	}
	return " · " + strconv.Itoa(n) + " Business portfolios"
}

func followers(n int) string {
	if n >= 1000 {
		return fmt.Sprintf("%.1fK followers", float64(n)/1000)
	}
	return fmt.Sprintf("%d followers", n)
}

func (s *Sandbox) errorPage(w http.ResponseWriter, status int, platform, msg string) {
	s.renderPage(w, status, "error", consentView{Meta: platform == "meta", IG: platform == "instagram", Message: msg})
}

// dialogFault answers an authorize request with the injected failure.
func (s *Sandbox) dialogFault(w http.ResponseWriter, platform string, f *fault) {
	switch f.Kind {
	case "5xx":
		s.errorPage(w, http.StatusInternalServerError, platform, "Sorry, something went wrong. We're working on getting this fixed as soon as we can.")
	case "429", "rate_limit":
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter()))
		s.errorPage(w, http.StatusTooManyRequests, platform, "You're doing that too often. Please try again later.")
	default:
		s.errorPage(w, http.StatusBadRequest, platform, "This login link is no longer valid. Please start again.")
	}
}

// renderPage buffers the template so a render error can still become a 500.
func (s *Sandbox) renderPage(w http.ResponseWriter, status int, name string, v consentView) {
	var buf bytes.Buffer
	if err := s.tmpl.ExecuteTemplate(&buf, name, v); err != nil {
		s.log.Error("sandbox: rendering "+name, "err", err)
		http.Error(w, "sandbox: template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// No form-action: the POST's redirect goes to the app, which Chrome would
	// check against form-action.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func serveCSS(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("consent.css")
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}

// serveFavicon is the sandbox's own tab icon: a striped "S", so its tabs are
// never taken for the real platforms' or the app's.
func serveFavicon(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("favicon.svg")
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(b)
}
