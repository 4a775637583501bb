package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// routes is the whole web surface in one place.
func (s *server) routes(e *echo.Echo) {
	e.GET("/healthz", s.handleHealth)
	e.GET("/metrics", s.handleMetrics) // 404 unless OMNISOCIAL_METRICS_TOKEN is set
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
	e.POST("/oauth/facebook/deauthorize", s.handleMetaDeauthorize)
	e.POST("/oauth/facebook/data-deletion", s.handleMetaDataDeletion)
	e.GET("/oauth/facebook/data-deletion/:code", s.handleDeletionStatus)
	e.GET("/join/:token", s.handleJoinForm)
	e.POST("/join/:token", s.handleJoin)
	e.GET("/oauth/:platform/callback", s.handleCallback) // a person's own flow, or an owner link's
	e.GET("/link/done", s.handleOwnerLinkDone)
	e.GET("/link/choose/:grant", s.handleOwnerLinkChooseForm)
	e.POST("/link/choose/:grant", s.handleOwnerLinkChoose)
	e.GET("/link/:token", s.handleOwnerLink)
	e.POST("/link/:token", s.handleOwnerLinkStart)

	account := e.Group("", requireAccount)
	account.GET("/invitations", s.handleInvitations)
	account.POST("/invitations/:id/accept", s.handleAcceptInvitation)
	account.POST("/invitations/:id/decline", s.handleDeclineInvitation)

	e.GET("/api/v1/openapi.json", handleOpenAPI)
	api := e.Group("/api/v1", s.apiAuth)
	api.GET("/accounts", s.handleAPIAccounts)
	api.GET("/accounts/:id", s.handleAPIAccount)
	api.DELETE("/accounts/:id", s.handleAPIDisconnect)

	app := e.Group("", requireUser)
	app.GET("/accounts", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/accounts") })
	app.GET("/settings/accounts", s.handleAccountList)
	app.GET("/settings/accounts/list", s.handleAccountListFragment)
	app.GET("/settings/accounts/:id", s.handleAccountDetails)
	app.GET("/banner", s.handleBanner)
	app.POST("/workspaces/switch", s.handleWorkspaceSwitch)
	app.GET("/settings/members", s.handleMembers)
	app.POST("/settings/members/leave", s.handleLeave)
	app.GET("/settings/api-keys", s.handleAPIKeys)

	manage := app.Group("", requireManager)
	manage.GET("/settings/accounts/connect", s.handleConnectChooser)
	manage.POST("/connect/:platform", s.handleConnectStart)
	manage.GET("/settings/accounts/choose/:id", s.handleChooseForm)
	manage.POST("/settings/accounts/choose/:id", s.handleChoose)
	manage.POST("/settings/accounts/choose/:id/cancel", s.handleChooseCancel)
	manage.GET("/settings/accounts/:id/disconnect", s.handleDisconnectConfirm)
	manage.POST("/settings/accounts/:id/disconnect", s.handleDisconnect)
	manage.POST("/settings/accounts/:id/check", s.handleCheckNow)
	manage.DELETE("/settings/accounts/:id", s.handleDisconnect)
	manage.GET("/settings/links", s.handleOwnerLinks)
	manage.GET("/settings/links/new", s.handleNewOwnerLink)
	manage.POST("/settings/links", s.handleCreateOwnerLink)
	manage.POST("/settings/links/:id/revoke", s.handleRevokeOwnerLink)
	manage.POST("/settings/invitations", s.handleInvite)
	manage.POST("/settings/invitations/:id/revoke", s.handleRevokeInvitation)
	manage.POST("/settings/members/:id/role", s.handleSetRole)
	manage.POST("/settings/members/:id/remove", s.handleRemoveMember)
	manage.POST("/settings/api-keys", s.handleCreateAPIKey)
	manage.POST("/settings/api-keys/:id/revoke", s.handleRevokeAPIKey)
	app.GET("/settings/setup", s.handleSetup)
	app.POST("/settings/alerts", s.handleMailAlerts)
	manage.GET("/settings/webhooks", s.handleWebhooks)
	manage.POST("/settings/webhooks", s.handleCreateWebhook)
	manage.GET("/settings/webhooks/:id", s.handleWebhook)
	manage.POST("/settings/webhooks/:id/delete", s.handleDeleteWebhook)
	manage.POST("/settings/webhooks/:id/resume", s.handleResumeWebhook)
	manage.POST("/settings/webhooks/:id/deliveries/:delivery/resend", s.handleResendDelivery)
}
