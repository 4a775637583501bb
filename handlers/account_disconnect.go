package handlers

import (
	"context"
	"net/http"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

func (s *server) handleDisconnectConfirm(c echo.Context) error {
	v := viewerOf(c)
	a, err := s.Store.Account(c.Request().Context(), v.member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	av := s.accountView(a, true)
	if isHX(c) {
		return render(c, http.StatusOK, views.DisconnectDialog(s.fragmentChrome(c), av))
	}
	return s.page(c, http.StatusOK, "Disconnect "+a.DisplayName, "accounts", func(ch views.Chrome) templ.Component { return views.DisconnectPage(ch, av) })
}

// handleDisconnect removes the account and its tokens at once; the
// revocation at the platform is owed in the same commit and done by the
// outbox worker, never blocking the person.
func (s *server) handleDisconnect(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	a, err := s.disconnect(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	s.Log.Info("account disconnected", "account_id", a.ID, "platform", a.Platform, "user_id", v.user.ID)
	msg := a.DisplayName + " was disconnected and its tokens deleted."
	if isHX(c) {
		used, err := s.Store.CountAccounts(ctx, v.member.ID)
		if err != nil {
			return err
		}
		c.Response().Header().Set("HX-Trigger", "accountsChanged")
		// app.js moves focus to the message (or the list's heading), not
		// leaving it on <body> where the dialog was.
		c.Response().Header().Set("HX-Trigger-After-Settle", "focusMessage")
		return render(c, http.StatusOK, views.AccountRemoved(used, v.member.MaxAccounts, []views.Flash{{Kind: "success", Text: msg}}))
	}
	s.addFlash(c, "success", msg)
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
}

func (s *server) disconnect(ctx context.Context, v *viewer, id string) (store.Account, error) {
	a, err := s.Store.DeleteAccount(ctx, v.member.ID, id, v.user.ID, signInPlatforms)
	if err == nil {
		s.revokeSoon()
	}
	return a, err
}

func signInPlatforms(platform string) []string {
	return providers.SignInPlatforms(providers.Platform(platform))
}

// revokeSoon wakes the revocation outbox, if one runs; otherwise its next
// round picks the work up.
func (s *server) revokeSoon() {
	if s.RevokeSoon != nil {
		s.RevokeSoon()
	}
}
