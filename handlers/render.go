package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/views"
)

// render buffers the whole component before writing, so an error halfway
// becomes a clean 500 instead of half a page behind a 200.
func render(c echo.Context, status int, cmp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := cmp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	c.Response().Header().Add("Vary", "HX-Request")
	return c.HTMLBlob(status, buf.Bytes())
}

// isHX reports whether the request wants a fragment: an htmx request that
// is neither boosted navigation nor a history restore (those need the
// whole document).
func isHX(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-Boosted") != "true" && h.Get("HX-History-Restore-Request") != "true"
}

// redirect answers a plain request with 303 (a POST becomes a GET) and an
// htmx request with HX-Redirect, since XHR would follow a 3xx silently and
// swap the whole next page into the target.
func redirect(c echo.Context, to string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// chrome builds what every page shows around its body. It saves the
// session when flashes were taken from it, before anything is written.
func (s *server) chrome(c echo.Context, title, nav string) (views.Chrome, error) {
	v := viewerOf(c)
	ch := s.fragmentChrome(c)
	ch.Title, ch.Nav = title, nav
	var err error
	if ch.CSRF, err = s.csrfToken(c); err != nil {
		return ch, err
	}
	if v.sess != nil {
		if fs := v.sess.Flashes(keyFlash); len(fs) > 0 {
			for _, f := range fs {
				if f, ok := f.(flash); ok {
					ch.Flashes = append(ch.Flashes, views.Flash{Kind: f.Kind, Text: f.Text})
				}
			}
			if err := v.sess.Save(c.Request(), c.Response()); err != nil {
				return ch, err
			}
		}
	}
	if !v.loggedIn {
		return ch, nil
	}
	ch.User = &views.UserView{Email: v.user.Email, Name: v.user.Name}
	n, err := s.notices(c)
	if err != nil {
		return ch, err
	}
	ch.Invitations = n.Invitations
	for _, m := range v.memberOf {
		w := views.WorkspaceView{ID: m.ID, Name: m.Name, Role: string(m.Role), Current: m.ID == v.member.ID}
		ch.Workspaces = append(ch.Workspaces, w)
		if w.Current {
			ch.Workspace = w
		}
	}
	if ch.Banner, err = s.banner(c, n); err != nil {
		return ch, err
	}
	return ch, nil
}

// fragmentChrome is what a fragment swapped into a page needs of the
// chrome (the CSRF token for its forms, asset URLs), without the session,
// flash and banner work of a whole page.
func (s *server) fragmentChrome(c echo.Context) views.Chrome {
	return views.Chrome{CSRF: sessionToken(viewerOf(c)), Asset: s.Asset}
}

// page renders body inside the app shell, or alone (with any flashes out of
// band) for an htmx request.
func (s *server) page(c echo.Context, status int, title, nav string, body func(views.Chrome) templ.Component) error {
	ch, err := s.chrome(c, title, nav)
	if err != nil {
		return err
	}
	if isHX(c) {
		if c.Request().Header.Get("HX-Target") == "main" {
			// The whole of <main> is replaced, message area included: the
			// messages go in it, where the layout has them.
			return render(c, status, templ.Join(views.Flashes(ch.Flashes), body(ch)))
		}
		return render(c, status, templ.Join(body(ch), views.FlashOOB(ch.Flashes)))
	}
	return render(c, status, views.Layout(ch, body(ch)))
}

// authPage renders body inside the signed-out frame.
func (s *server) authPage(c echo.Context, status int, title string, body func(views.Chrome) templ.Component) error {
	ch, err := s.chrome(c, title, "")
	if err != nil {
		return err
	}
	return render(c, status, views.AuthLayout(ch, body(ch)))
}
