package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/store"
	"omnisocial/views"
)

// handleSetup shows the setup check to owners. How the page was reached
// (scheme and Host header) is compared with the base URL: a wrong host or
// port is the most common broken install.
func (s *server) handleSetup(c echo.Context) error {
	if viewerOf(c).member.Role != store.RoleOwner {
		return echo.NewHTTPError(http.StatusForbidden, "Only owners of this workspace can see the setup check.")
	}
	if s.SetupCheck == nil {
		return echo.NewHTTPError(http.StatusNotFound, "The setup check is not available on this server.")
	}
	reached := c.Scheme() + "://" + c.Request().Host
	lines := s.SetupCheck(c.Request().Context(), reached)
	return s.page(c, http.StatusOK, "Setup check", "setup", func(ch views.Chrome) templ.Component { return views.SetupPage(ch, lines) })
}
