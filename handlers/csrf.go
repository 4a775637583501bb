package handlers

import (
	"crypto/subtle"
	"net/http"

	"github.com/labstack/echo/v4"
)

// keyCSRF holds the session's synchronizer token.
const keyCSRF = "csrf"

var errCSRF = echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from OmniSocial. Reload the page and try again.")

// csrfCheck guards every state-changing request with a synchronizer token
// kept in the server-side session (OWASP CSRF cheat sheet; ASVS 3.5.1). The
// token lives only in the session row: nothing the request brings along (a
// cookie, a header) can vouch for itself, which is what let a cookie set by
// a sibling subdomain forge actions under echo's double-submit middleware.
//
// Sec-Fetch-Site, which no page can set for a request it makes:
//   - cross-site: refused outright, token or not.
//   - same-origin: let through. Only our own pages can send it, and a script
//     running on our origin could read the token from the page anyway.
//   - same-site (a sibling subdomain, another port): must present the
//     session's token. Such a site can set cookies for this host, so it is
//     exactly the attacker the token must stop. Under https the session
//     cookie is __Host-, which a sibling cannot set, so it cannot plant a
//     session whose token it knows either.
//   - none (older browsers, plain-http origins, curl): the token decides.
//
// It runs after loadViewer, which read the session.
func (s *server) csrfCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		if skipCSRF(c) {
			return next(c)
		}
		switch c.Request().Header.Get("Sec-Fetch-Site") {
		case "cross-site":
			return errCSRF
		case "same-origin":
			return next(c)
		}
		want := sessionToken(viewerOf(c))
		got := c.Request().Header.Get("X-CSRF-Token")
		if got == "" {
			got = c.FormValue("_csrf")
		}
		if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			return errCSRF
		}
		return next(c)
	}
}

func sessionToken(v *viewer) string {
	if v.sess == nil {
		return ""
	}
	tok, _ := v.sess.Values[keyCSRF].(string)
	return tok
}

// csrfToken is the token for the forms of the page being rendered. A
// visitor without one (an anonymous first visit to the log-in page) gets a
// pre-session here, saved before anything is written; pages without forms
// never call it, so crawlers of the error pages create no rows.
func (s *server) csrfToken(c echo.Context) (string, error) {
	v := viewerOf(c)
	if v.sess == nil {
		return "", nil // a route that reads no session (static, sandbox)
	}
	if tok := sessionToken(v); tok != "" {
		return tok, nil
	}
	tok := newID()
	v.sess.Values[keyCSRF] = tok
	return tok, v.sess.Save(c.Request(), c.Response())
}
