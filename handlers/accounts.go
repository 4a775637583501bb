package handlers

import (
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/views"
)

func (s *server) handleAccountList(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	accts, err := s.Store.Accounts(ctx, v.member.ID)
	if err != nil {
		return err
	}
	p := views.AccountsProps{Used: len(accts), Max: v.member.MaxAccounts, CanManage: canManage(v)}
	return s.page(c, http.StatusOK, "Social Accounts", "accounts", func(ch views.Chrome) templ.Component { return views.AccountsPage(ch, p) })
}

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
