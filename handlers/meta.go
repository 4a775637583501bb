package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

// Meta's server-to-server callbacks carry no session and no CSRF token:
// they are trusted only through the signed_request, signed with the app
// secret (PLATFORMS.md §1.9). Anything unsigned changes nothing.

// A signed_request must say when Meta issued it: at most a day ago (Meta
// calls at once; a day covers its retries) and not from the future beyond
// five minutes of clock skew. Without issued_at, or dated ahead, a captured
// request could be replayed for ever.
const (
	signedRequestMaxAge = 24 * time.Hour
	signedRequestSkew   = 5 * time.Minute
)

func (s *server) signedRequest(c echo.Context) (providers.SignedRequest, error) {
	sr, err := providers.ParseSignedRequest(c.FormValue("signed_request"), s.MetaAppSecret, s.Now(), signedRequestMaxAge)
	if err != nil {
		s.Log.Warn("meta callback with a bad signed_request", "path", c.Request().URL.Path, "client", c.RealIP())
		return sr, echo.NewHTTPError(http.StatusBadRequest, "The signed_request is missing, malformed or not signed by this app.")
	}
	now := s.Now()
	if sr.IssuedAt <= 0 || time.Unix(sr.IssuedAt, 0).After(now.Add(signedRequestSkew)) || now.Sub(time.Unix(sr.IssuedAt, 0)) > signedRequestMaxAge {
		s.Log.Warn("meta callback with a signed_request out of date", "path", c.Request().URL.Path, "client", c.RealIP())
		return sr, echo.NewHTTPError(http.StatusBadRequest, "The signed_request has no issued_at, or it is too old or in the future.")
	}
	if sr.UserID == "" {
		return sr, echo.NewHTTPError(http.StatusBadRequest, "The signed_request names no user.")
	}
	return sr, nil
}

// handleMetaDeauthorize: the person removed the app at Facebook. Their
// accounts need re-auth; tokens stay until someone reconnects or
// disconnects (they are dead at Facebook anyway).
func (s *server) handleMetaDeauthorize(c echo.Context) error {
	sr, err := s.signedRequest(c)
	if err != nil {
		return err
	}
	n, err := s.Store.MarkMetaDeauthorized(c.Request().Context(), providers.SignInPlatforms(providers.Facebook), sr.UserID,
		"OmniSocial was removed from the Facebook account that connected this.")
	if err != nil {
		return err
	}
	s.Log.Info("meta deauthorize callback", "accounts", n)
	return c.JSON(http.StatusOK, map[string]any{"accounts": n})
}

// handleMetaDataDeletion deletes the person's accounts and tokens at once
// and answers with the confirmation code and status URL Meta expects.
func (s *server) handleMetaDataDeletion(c echo.Context) error {
	sr, err := s.signedRequest(c)
	if err != nil {
		return err
	}
	code := newID()[:20]
	n, err := s.Store.DeleteMetaSubject(c.Request().Context(), providers.SignInPlatforms(providers.Facebook), sr.UserID, code)
	if err != nil {
		return err
	}
	s.Log.Info("meta data deletion callback", "accounts", n)
	return c.JSON(http.StatusOK, map[string]string{
		"url":               s.BaseURL.String() + "/oauth/facebook/data-deletion/" + code,
		"confirmation_code": code,
	})
}

// handleDeletionStatus is the public page the status URL leads to.
func (s *server) handleDeletionStatus(c echo.Context) error {
	n, at, err := s.Store.DeletionRequest(c.Request().Context(), c.Param("code"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "There is no deletion request with this code.")
	}
	if err != nil {
		return err
	}
	p := views.DeletionStatus{Code: c.Param("code"), Accounts: n, At: at.UTC().Format("2 Jan 2006 15:04 UTC")}
	return s.authPage(c, http.StatusOK, "Data deletion", func(views.Chrome) templ.Component { return views.DeletionStatusPage(p) })
}
