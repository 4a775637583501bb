package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
)

// apiAuth admits a request carrying a workspace API key, or else a
// logged-in session. A key acts on its own workspace with an admin's rights;
// when a key is sent, the session cookie is ignored.
func (s *server) apiAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get("Authorization")
		if auth == "" {
			if !viewerOf(c).loggedIn {
				return echo.NewHTTPError(http.StatusUnauthorized, "Send a workspace API key as 'Authorization: Bearer osk_…', or log in.")
			}
			return next(c)
		}
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "The Authorization header must be 'Bearer' followed by a workspace API key.")
		}
		k, err := s.Store.APIKey(c.Request().Context(), strings.TrimSpace(key))
		if errors.Is(err, store.ErrNotFound) {
			return echo.NewHTTPError(http.StatusUnauthorized, "This API key is not valid or was revoked.")
		}
		if err != nil {
			return err
		}
		m, err := s.Store.WorkspaceMembership(c.Request().Context(), k.WorkspaceID)
		if err != nil {
			return err
		}
		m.Role = store.RoleAdmin
		c.Set(viewerKey, &viewer{member: m, loggedIn: true, apiKey: true})
		return next(c)
	}
}

// skipCSRFForKeys: a request authenticated by an API key carries no cookie
// a forger could borrow, so CSRF does not apply to it.
func apiKeyRequest(c echo.Context) bool {
	return hasPrefix(c.Request().URL.Path, "/api/") && c.Request().Header.Get("Authorization") != ""
}

type apiAccount struct {
	ID             string         `json:"id"`
	Platform       string         `json:"platform"`
	PlatformUserID string         `json:"platform_user_id"`
	Username       string         `json:"username"`
	DisplayName    string         `json:"display_name"`
	AvatarURL      string         `json:"avatar_url"`
	Status         string         `json:"status"`
	StatusReason   string         `json:"status_reason,omitempty"`
	Scopes         []string       `json:"scopes"`
	MissingScopes  []string       `json:"missing_scopes"`
	TokenExpiresAt *time.Time     `json:"token_expires_at"`
	RenewableUntil *time.Time     `json:"renewable_until"`
	LastSyncedAt   *time.Time     `json:"last_synced_at"`
	NextCheckAt    *time.Time     `json:"next_check_at"`
	LastError      string         `json:"last_error,omitempty"`
	ConnectedBy    string         `json:"connected_by"`
	ConnectedAt    time.Time      `json:"connected_at"`
	Metadata       map[string]any `json:"metadata"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (s *server) apiView(a store.Account) apiAccount {
	v := s.accountView(a, false, "")
	missing := missingScopes(providers.Platform(a.Platform), a.Scopes)
	if missing == nil {
		missing = []string{}
	}
	out := apiAccount{
		ID: a.ID, Platform: a.Platform, PlatformUserID: a.PlatformUserID, Username: a.Username, DisplayName: a.DisplayName,
		AvatarURL: v.AvatarURL, Status: v.Status, StatusReason: v.Problem, Scopes: a.Scopes, MissingScopes: missing,
		TokenExpiresAt: timePtr(a.TokenExpiresAt), RenewableUntil: timePtr(renewalDeadline(a)), LastSyncedAt: timePtr(a.LastSyncedAt),
		NextCheckAt: timePtr(a.NextCheckAt), LastError: a.LastError, ConnectedBy: a.ConnectedBy, ConnectedAt: a.ConnectedAt.UTC(),
		Metadata: a.Metadata,
	}
	if out.Scopes == nil {
		out.Scopes = []string{}
	}
	return out
}

func (s *server) handleAPIAccounts(c echo.Context) error {
	v := viewerOf(c)
	accts, err := s.Store.Accounts(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	out := struct {
		Accounts []apiAccount `json:"accounts"`
		Used     int          `json:"used"`
		Max      int          `json:"max"`
	}{Accounts: []apiAccount{}, Used: len(accts), Max: v.member.MaxAccounts}
	for _, a := range accts {
		out.Accounts = append(out.Accounts, s.apiView(a))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *server) handleAPIAccount(c echo.Context) error {
	a, err := s.Store.Account(c.Request().Context(), viewerOf(c).member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.apiView(a))
}

func (s *server) handleAPIDisconnect(c echo.Context) error {
	v := viewerOf(c)
	if !canManage(v) {
		return echo.NewHTTPError(http.StatusForbidden, "Only owners and admins of this workspace can disconnect accounts.")
	}
	ctx := c.Request().Context()
	a, err := s.disconnect(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	s.Log.Info("account disconnected", "account_id", a.ID, "platform", a.Platform, "via", "api")
	return c.NoContent(http.StatusNoContent)
}
