package handlers

import (
	"net/http"
	"strings"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"omnisocial/store"
)

// viewer is who is asking: their session, and once logged in, their user
// and the workspace they are looking at.
type viewer struct {
	sess     *sessions.Session
	user     store.User         // set once the session names a user, workspace or not
	member   store.Membership   // the current workspace
	memberOf []store.Membership // every workspace of the user
	loggedIn bool
	apiKey   bool // authenticated by a workspace API key, not a person
	keyID    int64
	readOnly bool // the API key may only read
}

const viewerKey = "viewer"

// viewerOf returns who is asking; an error raised before the session was
// read (CSRF, body limit) meets an anonymous viewer.
func viewerOf(c echo.Context) *viewer {
	if v, ok := c.Get(viewerKey).(*viewer); ok {
		return v
	}
	return &viewer{}
}

// loadViewer reads the session and, if it names a user, the user and their
// workspaces, all in one query. A session whose user or workspace has gone
// is treated as logged out or moved to another workspace, never as an
// error.
func (s *server) loadViewer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if p := c.Request().URL.Path; strings.HasPrefix(p, "/static/") || strings.HasPrefix(p, "/sandbox/") || p == "/healthz" {
			return next(c)
		}
		v := &viewer{}
		c.Set(viewerKey, v)
		// load, not the registry's Get: it also hands back the user and
		// workspaces its query read. Nothing else asks for the session
		// (handlers use v.sess), so the registry is not needed.
		sess, su, err := s.sessions.load(c.Request(), s.sessions.cookieName())
		if err != nil {
			return err
		}
		v.sess = sess
		uid, _ := sess.Values[keyUser].(int64)
		if uid == 0 {
			return next(c)
		}
		// The user and their workspaces are read afresh with the session
		// on every request: a member removed a moment ago loses the
		// workspace with their very next request, whatever their session
		// remembers; a user who has gone is logged out. The row's user
		// column is written from the same value as uid, so they differ
		// only if the user has gone.
		if su.user.ID != uid {
			return next(c)
		}
		v.user, v.memberOf = su.user, su.memberOf
		if len(v.memberOf) == 0 {
			return next(c) // no workspace: only their invitations
		}
		ws, _ := sess.Values[keyWorkspace].(int64)
		v.member = v.memberOf[0]
		for _, m := range v.memberOf {
			if m.ID == ws {
				v.member = m
			}
		}
		v.loggedIn = true
		return next(c)
	}
}

// requireUser sends people who are not logged in to the log-in page (HTMX
// requests get a full-page redirect, not a log-in form inside a fragment).
func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		v := viewerOf(c)
		if v.loggedIn {
			return next(c)
		}
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			return echo.NewHTTPError(http.StatusUnauthorized, "Log in or send a workspace API key.")
		}
		if v.user.ID != 0 {
			return redirect(c, "/invitations") // logged in, but in no workspace
		}
		return redirect(c, "/login")
	}
}

// requireAccount lets through anyone logged in, in a workspace or not
// (their invitations are all someone without one can see).
func requireAccount(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if viewerOf(c).user.ID != 0 {
			return next(c)
		}
		return redirect(c, "/login")
	}
}

// requireManager lets through owners and admins of the current workspace.
func requireManager(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !store.CanManage(viewerOf(c).member.Role) {
			return echo.NewHTTPError(http.StatusForbidden, "Only owners and admins of this workspace can do that.")
		}
		return next(c)
	}
}

// addFlash queues a message for the next page the person sees.
func (s *server) addFlash(c echo.Context, kind, text string) {
	viewerOf(c).sess.AddFlash(flash{Kind: kind, Text: text}, keyFlash)
}

func canManage(v *viewer) bool { return store.CanManage(v.member.Role) }
