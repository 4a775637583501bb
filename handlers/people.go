package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/auth"
	"omnisocial/store"
	"omnisocial/views"
)

func (s *server) signupPage(c echo.Context, status int, p views.SignupProps) error {
	return s.authPage(c, status, "Create your account", func(ch views.Chrome) templ.Component { return views.SignupPage(ch, p) })
}

func (s *server) loginPage(c echo.Context, status int, p views.LoginProps) error {
	p.SignupOpen = !s.SignupClosed
	return s.authPage(c, status, "Log in", func(ch views.Chrome) templ.Component { return views.LoginPage(ch, p) })
}

// signupAllowed: open sign-up, or a fresh install whose first user must get in.
func (s *server) signupAllowed(c echo.Context) (allowed, first bool, err error) {
	n, err := s.Store.CountUsers(c.Request().Context())
	if err != nil {
		return false, false, err
	}
	return !s.SignupClosed || n == 0, n == 0, nil
}

func (s *server) handleSignupForm(c echo.Context) error {
	if viewerOf(c).loggedIn {
		return redirect(c, "/settings/accounts")
	}
	ok, first, err := s.signupAllowed(c)
	if err != nil {
		return err
	}
	if !ok {
		return echo.NewHTTPError(http.StatusForbidden, "Sign-up is closed on this server. Ask a workspace owner to add you.")
	}
	return s.signupPage(c, http.StatusOK, views.SignupProps{First: first})
}

type signupForm struct{ Name, Email, Password, Workspace string }

func (f signupForm) validate() map[string]string {
	errs := map[string]string{}
	if f.Name == "" {
		errs["name"] = "Tell us your name."
	} else if len(f.Name) > 100 {
		errs["name"] = "Use at most 100 characters."
	}
	if a, err := mail.ParseAddress(f.Email); err != nil || a.Address != f.Email || len(f.Email) > 254 {
		errs["email"] = "Enter an email address such as dana@example.com."
	}
	if msg := auth.CheckPolicy(f.Password); msg != "" {
		errs["password"] = msg
	}
	if f.Workspace == "" {
		errs["workspace"] = "Name your workspace, for example your company or brand."
	} else if len(f.Workspace) > 100 {
		errs["workspace"] = "Use at most 100 characters."
	}
	return errs
}

func (s *server) handleSignup(c echo.Context) error {
	ok, first, err := s.signupAllowed(c)
	if err != nil {
		return err
	}
	if !ok {
		return echo.NewHTTPError(http.StatusForbidden, "Sign-up is closed on this server. Ask a workspace owner to add you.")
	}
	f := signupForm{
		Name:      strings.TrimSpace(c.FormValue("name")),
		Email:     strings.TrimSpace(c.FormValue("email")),
		Password:  c.FormValue("password"),
		Workspace: strings.TrimSpace(c.FormValue("workspace")),
	}
	props := views.SignupProps{Name: f.Name, Email: f.Email, Workspace: f.Workspace, First: first, Errors: f.validate()}
	if len(props.Errors) > 0 {
		return s.signupPage(c, http.StatusUnprocessableEntity, props)
	}
	u, _, err := s.Store.SignUp(c.Request().Context(),
		store.User{Email: f.Email, Name: f.Name, PasswordHash: auth.HashPassword(f.Password)},
		f.Workspace, "free", s.SignupClosed)
	switch {
	case errors.Is(err, store.ErrConflict):
		props.Errors["email"] = "An account with this email already exists. Log in instead."
		return s.signupPage(c, http.StatusUnprocessableEntity, props)
	case errors.Is(err, store.ErrSignupClosed):
		return echo.NewHTTPError(http.StatusForbidden, "Sign-up is closed on this server. Ask a workspace owner to add you.")
	case err != nil:
		return err
	}
	s.Log.Info("user signed up", "user_id", u.ID)
	return s.logIn(c, u, "Welcome to OmniSocial. Connect your first account to get started.")
}

func (s *server) handleLoginForm(c echo.Context) error {
	if viewerOf(c).loggedIn {
		return redirect(c, "/settings/accounts")
	}
	return s.loginPage(c, http.StatusOK, views.LoginProps{})
}

func (s *server) handleLogin(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	pw := c.FormValue("password")
	if len(email) > 254 || len(pw) > auth.MaxPassword {
		return s.loginPage(c, http.StatusUnprocessableEntity, views.LoginProps{Error: "Email or password is incorrect."})
	}
	if ok, wait := s.limiter.Allow(email, c.RealIP()); !ok {
		s.Log.Warn("log-in rate limited", "client", c.RealIP())
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		return s.loginPage(c, http.StatusTooManyRequests, views.LoginProps{Email: email,
			Error: fmt.Sprintf("Too many attempts. Wait %d seconds, then try again.", int(wait.Seconds())+1)})
	}
	ctx := c.Request().Context()
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		auth.BurnTime(pw)
	} else if err != nil {
		return err
	}
	if err == nil {
		rehash, perr := auth.CheckPassword(u.PasswordHash, pw)
		if perr == nil {
			if rehash {
				if err := s.Store.SetPasswordHash(ctx, u.ID, auth.HashPassword(pw)); err != nil {
					return err
				}
			}
			s.Log.Info("user logged in", "user_id", u.ID)
			return s.logIn(c, u, "")
		}
	}
	s.Log.Warn("log-in failed", "client", c.RealIP())
	return s.loginPage(c, http.StatusUnprocessableEntity, views.LoginProps{Email: email, Error: "Email or password is incorrect."})
}

// logIn starts a fresh session for u (new id: nothing from before log-in
// carries over) in the workspace they used last, and sends them to their
// accounts, or to their invitations when some wait for an answer or they
// belong to no workspace.
func (s *server) logIn(c echo.Context, u store.User, welcome string) error {
	ctx := c.Request().Context()
	ms, err := s.Store.Memberships(ctx, u.ID)
	if err != nil {
		return err
	}
	invs, err := s.Store.InvitationsFor(ctx, u.Email)
	if err != nil {
		return err
	}
	sess := viewerOf(c).sess
	if err := s.sessions.renew(c.Request(), sess); err != nil {
		return err
	}
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[keyUser] = u.ID
	sess.Values[keyCSRF] = newID() // a token known before log-in is worthless after it
	if len(ms) > 0 {
		last := ms[0]
		for _, m := range ms {
			if m.LastUsedAt.After(last.LastUsedAt) {
				last = m
			}
		}
		sess.Values[keyWorkspace] = last.ID
	}
	if welcome != "" {
		sess.AddFlash(flash{Kind: "success", Text: welcome}, keyFlash)
	}
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	if len(ms) == 0 || len(invs) > 0 {
		return redirect(c, "/invitations")
	}
	return redirect(c, "/settings/accounts")
}

func (s *server) handleLogout(c echo.Context) error {
	v := viewerOf(c)
	if v.sess != nil {
		v.sess.Options.MaxAge = -1
		if err := v.sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
	}
	if v.loggedIn {
		s.Log.Info("user logged out", "user_id", v.user.ID)
	}
	return redirect(c, "/login")
}

func (s *server) handleWorkspaceSwitch(c echo.Context) error {
	v := viewerOf(c)
	id, err := strconv.ParseInt(c.FormValue("workspace"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose a workspace from the list.")
	}
	m, err := s.Store.Membership(c.Request().Context(), v.user.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such workspace.")
	}
	if err != nil {
		return err
	}
	if err := s.Store.UseWorkspace(c.Request().Context(), v.user.ID, m.ID); err != nil {
		return err
	}
	v.sess.Values[keyWorkspace] = m.ID
	v.sess.AddFlash(flash{Kind: "info", Text: "Switched to " + m.Name + "."}, keyFlash)
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
}
