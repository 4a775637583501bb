package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"omnisocial/views"
)

// banner lists what needs re-authorising in the current workspace.
func (s *server) banner(c echo.Context) (views.Banner, error) {
	return views.Banner{}, nil
}

func (s *server) handleBanner(c echo.Context) error {
	b, err := s.banner(c)
	if err != nil {
		return err
	}
	ch, err := s.chrome(c, "", "")
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.BannerSlot(ch, b))
}
