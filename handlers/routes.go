package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes is the whole web surface in one place.
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.handleHealth)
	e.StaticFS("/static", s.Static)
	if s.Sandbox != nil {
		e.Any("/sandbox/*", echo.WrapHandler(s.Sandbox))
	}

	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/accounts") })
	e.GET("/signup", s.handleSignupForm)
	e.POST("/signup", s.handleSignup)
	e.GET("/login", s.handleLoginForm)
	e.POST("/login", s.handleLogin)
	e.POST("/logout", s.handleLogout)

	app := e.Group("", requireUser)
	app.GET("/accounts", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/accounts") })
	app.GET("/settings/accounts", s.handleAccountList)
	app.GET("/banner", s.handleBanner)
	app.POST("/workspaces/switch", s.handleWorkspaceSwitch)
}
