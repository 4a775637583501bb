package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
	"omnisocial/words"
)

const (
	flowLifetime  = 10 * time.Minute // an authorization must come back within this
	grantLifetime = 30 * time.Minute // the choose step must be confirmed within this
)

// platformParam resolves :platform to a configured provider, or 404.
func (s *server) platformParam(c echo.Context) (providers.Provider, error) {
	p, ok := providers.ParsePlatform(c.Param("platform"))
	if !ok {
		return nil, echo.NewHTTPError(http.StatusNotFound, "OmniSocial does not connect to that platform.")
	}
	prov := s.Providers[p]
	if prov == nil || !prov.Configured() {
		return nil, notConfigured(p)
	}
	return prov, nil
}

func notConfigured(p providers.Platform) error {
	return echo.NewHTTPError(http.StatusConflict, p.Name()+" is not configured on this server. "+providers.Describe(p).Configure)
}

// handleConnectChooser shows the platforms (SPEC §3 step 2).
func (s *server) handleConnectChooser(c echo.Context) error {
	v := viewerOf(c)
	used, err := s.Store.CountAccounts(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	p := views.ConnectProps{Used: used, Max: v.member.MaxAccounts, Plan: v.member.Plan}
	for _, pl := range providers.Platforms() {
		info := providers.Describe(pl)
		choice := views.PlatformChoice{Platform: string(pl), Brand: string(providers.StoredAs(pl)), Name: info.Name, Way: info.Way,
			AccountType: info.AccountType, Requirements: info.Requirements, HowTo: info.Configure}
		for _, sc := range info.Scopes {
			choice.Permissions = append(choice.Permissions, sc.Description)
		}
		choice.Configured = s.Providers[pl] != nil && s.Providers[pl].Configured()
		p.Platforms = append(p.Platforms, choice)
	}
	return s.page(c, http.StatusOK, "Connect an account", "accounts", func(ch views.Chrome) templ.Component { return views.ConnectPage(ch, p) })
}

// handleConnectStart begins an authorization: a new connection, a
// reconnect of an account, or a request for permissions it lacks.
func (s *server) handleConnectStart(c echo.Context) error {
	prov, err := s.platformParam(c)
	if err != nil {
		return err
	}
	v := viewerOf(c)
	ctx := c.Request().Context()
	flow := store.Flow{UserID: v.user.ID, WorkspaceID: v.member.ID, Platform: string(prov.Platform()), Purpose: store.PurposeConnect,
		SessionHash: hashID(v.sess.ID), ExpiresAt: s.Now().Add(flowLifetime)}
	var rerequest []string
	if id := c.FormValue("account"); id != "" {
		a, err := s.Store.Account(ctx, v.member.ID, id)
		if err != nil {
			return err
		}
		if a.Platform != string(providers.StoredAs(prov.Platform())) {
			return echo.NewHTTPError(http.StatusBadRequest, "That account is not on "+prov.Platform().Name()+".")
		}
		flow.Purpose, flow.AccountID = store.PurposeReconnect, a.ID
		if c.FormValue("rerequest") != "" {
			flow.Purpose, rerequest = store.PurposeRerequest, providers.Missing(prov.Platform(), a.Scopes)
			if len(rerequest) == 0 {
				return echo.NewHTTPError(http.StatusConflict, a.DisplayName+" already has every permission it needs.")
			}
		}
	}
	if flow.Purpose == store.PurposeConnect {
		// A new connection with the plan full would only end in a refusal
		// after the whole consent: say it before the platform.
		used, err := s.Store.CountAccounts(ctx, v.member.ID)
		if err != nil {
			return err
		}
		if used >= v.member.MaxAccounts {
			return echo.NewHTTPError(http.StatusConflict, "Your plan is full: disconnect an account or change plan. Reconnecting an account already here stays possible from its card.")
		}
	}
	state := newID()
	flow.StateHash = hashID(state)
	var verifier string
	if prov.UsesPKCE() {
		verifier = oauth2.GenerateVerifier()
		flow.Verifier = vault.NewToken(verifier)
	}
	if err := s.Store.CreateFlow(ctx, flow); err != nil {
		return err
	}
	return redirect(c, prov.AuthCodeURL(providers.AuthRequest{State: state, Verifier: verifier, Rerequest: rerequest}))
}

// handleOAuthCallback is where the platform sends the person back. It
// checks the state (bound to this session, single use, not expired, and
// started for this very platform: the mix-up defence of RFC 9700 §4.4),
// exchanges the code once, and always ends with a 303 to a clean URL so no
// code or state stays in history, a Referer or a log.
func (s *server) handleOAuthCallback(c echo.Context) error {
	p, ok := providers.ParsePlatform(c.Param("platform"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "OmniSocial does not connect to that platform.")
	}
	v := viewerOf(c)
	ctx := c.Request().Context()
	q := c.QueryParams()
	flow, err := s.takeFlow(c, v, p)
	if err != nil {
		return err
	}
	prov := s.Providers[p]
	if prov == nil || !prov.Configured() {
		return notConfigured(p)
	}
	done := func(kind, msg, to string) error {
		s.addFlash(c, kind, msg)
		if err := v.sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
	if err := providers.CallbackError(p, q); err != nil {
		if providers.IsDenied(err) {
			return done("info", "You cancelled connecting "+p.Name()+". Nothing was changed.", "/settings/accounts")
		}
		s.Log.Warn("oauth callback error", "platform", p, "err", err)
		if pe, ok := errors.AsType[*providers.Error](err); ok && pe.Code == "not_professional" {
			return done("error", pe.Reason+". Switch the account to Business or Creator in Instagram's settings, then connect again. Nothing was connected.", "/settings/accounts")
		}
		return done("error", p.Name()+" did not authorize the connection. Try again; if it keeps failing, check the app's settings at "+p.Name()+".", "/settings/accounts")
	}
	code := q.Get("code")
	if code == "" {
		return done("error", p.Name()+" sent no authorization. Try again.", "/settings/accounts")
	}
	grant, err := prov.Exchange(ctx, code, flow.Verifier.Reveal())
	if err != nil {
		s.Log.Warn("oauth exchange failed", "platform", p, "err", err)
		return done("error", exchangeFailure(p, err), "/settings/accounts")
	}
	found := store.FromGrant(p, grant, s.Now())
	switch flow.Purpose {
	case store.PurposeReconnect, store.PurposeRerequest:
		return s.finishReconnect(c, v, flow, p, grant, found, done)
	}
	if providers.Describe(p).OneAccount && len(found) == 1 {
		// A sign-in yielding exactly one account (TikTok's): confirm it directly.
		res, err := s.Store.Connect(ctx, store.Connect{WorkspaceID: v.member.ID, UserID: v.user.ID, Platform: string(p),
			Subject: grant.Subject, SubjectName: grant.SubjectName, Accounts: found, SignIn: signInPlatforms(string(p))})
		if err != nil {
			return err
		}
		s.revokeSoon() // in case the plan had no room
		kind, msg := connectSummary(res)
		return done(kind, msg, "/settings/accounts")
	}
	id, err := s.Store.SavePendingGrant(ctx, store.PendingGrant{SessionHash: hashID(v.sess.ID), UserID: v.user.ID,
		WorkspaceID: v.member.ID, Platform: string(p), Subject: grant.Subject, SubjectName: grant.SubjectName,
		Scopes: grant.Scopes, Declined: grant.Declined, Accounts: found, Unlinked: grant.Unlinked, Notes: grant.Notes,
		ExpiresAt: s.Now().Add(grantLifetime)})
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/accounts/choose/"+id)
}

// takeFlow takes the flow the callback's state names: bound to this
// session, single use, not expired, started for this very platform, and
// still the person's to finish. v.member becomes the flow's workspace.
func (s *server) takeFlow(c echo.Context, v *viewer, p providers.Platform) (store.Flow, error) {
	ctx := c.Request().Context()
	q := c.QueryParams()
	state := q.Get("state")
	if state == "" || len(state) > 512 || len(q.Get("code")) > 2048 {
		return store.Flow{}, echo.NewHTTPError(http.StatusBadRequest, "This sign-in response is not valid. Start again from Social Accounts.")
	}
	flow, err := s.Store.TakeFlow(ctx, hashID(state), hashID(v.sess.ID))
	if errors.Is(err, store.ErrNotFound) {
		return flow, echo.NewHTTPError(http.StatusBadRequest, "This sign-in has expired, was already used, or was started in another browser. Start again from Social Accounts.")
	}
	if err != nil {
		return flow, err
	}
	if flow.Platform != string(p) {
		s.Log.Warn("oauth callback on the wrong platform", "started", flow.Platform, "callback", p)
		return flow, echo.NewHTTPError(http.StatusBadRequest, "This sign-in response arrived for the wrong platform and was refused. Start again from Social Accounts.")
	}
	if flow.WorkspaceID != v.member.ID {
		// The person switched workspace meanwhile: act on the flow's own,
		// if they may still manage it.
		m, err := s.Store.Membership(ctx, v.user.ID, flow.WorkspaceID)
		if err != nil || !store.CanManage(m.Role) {
			return flow, echo.NewHTTPError(http.StatusForbidden, "You can no longer connect accounts in that workspace.")
		}
		v.member = m
	}
	if !store.CanManage(v.member.Role) {
		// Demoted (or removed and moved on) while at the platform.
		return flow, echo.NewHTTPError(http.StatusForbidden, "You can no longer connect accounts in that workspace.")
	}
	return flow, nil
}

// finishReconnect renews the account the flow was for, and every other
// account of the workspace the same sign-in can manage. A sign-in as
// somebody who cannot manage the account is reported and changes nothing.
func (s *server) finishReconnect(c echo.Context, v *viewer, flow store.Flow, p providers.Platform, grant *providers.Grant,
	found []store.Discovered, done func(kind, msg, to string) error) error {
	ctx := c.Request().Context()
	a, err := s.Store.Account(ctx, v.member.ID, flow.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return done("error", "The account you were reconnecting was disconnected meanwhile. Connect it again if you need it.", "/settings/accounts")
	}
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(found, func(d store.Discovered) bool { return d.PlatformUserID == a.PlatformUserID }) {
		who := grant.SubjectName
		if who == "" {
			who = "another account"
		}
		// The tokens just received are not kept: owe their revocation, so
		// the stranger's sign-in does not stay authorized for nothing.
		if err := s.revokeUnkept(c, p, grant.Subject, found, "reconnect signed in as somebody else"); err != nil {
			return err
		}
		return done("error", fmt.Sprintf("You signed in to %s as %s, who cannot manage %s. Nothing was changed: reconnect again and sign in as someone who manages it.",
			p.Name(), who, a.DisplayName), "/settings/accounts/"+a.ID)
	}
	res, err := s.Store.Connect(ctx, store.Connect{WorkspaceID: v.member.ID, UserID: v.user.ID, Platform: string(p),
		Subject: grant.Subject, SubjectName: grant.SubjectName, Accounts: found, OnlyExisting: true, SignIn: signInPlatforms(string(p))})
	if err != nil {
		return err
	}
	msg := "Reconnected " + words.JoinAnd(res.Renewed) + "."
	if flow.Purpose == store.PurposeRerequest {
		if missing := providers.Missing(p, scopesOf(found, a.PlatformUserID)); len(missing) > 0 {
			return done("error", "Declined again: "+providers.ScopeWords(missing)+". "+a.DisplayName+" stays limited.", "/settings/accounts/"+a.ID)
		}
		msg = "Permissions granted. " + msg
	}
	return done("success", msg, "/settings/accounts")
}

func scopesOf(found []store.Discovered, puid string) []string {
	for _, d := range found {
		if d.PlatformUserID == puid {
			return d.Scopes
		}
	}
	return nil
}

func exchangeFailure(p providers.Platform, err error) string {
	var pe *providers.Error
	switch {
	case providers.IsMisconfigured(err):
		return p.Name() + " rejected this server's app credentials. Ask the administrator to check the " + p.Name() + " app settings. Nothing was connected."
	case providers.IsTransient(err):
		return p.Name() + " did not answer in time. Nothing was connected; try again in a moment."
	case errors.As(err, &pe) && pe.Reason != "":
		return sentence(pe.Reason) + " Nothing was connected; try again."
	}
	return p.Name() + " did not complete the sign-in. Nothing was connected; try again."
}

func connectSummary(res store.ConnectResult) (kind, msg string) {
	var parts []string
	if len(res.Added) > 0 {
		parts = append(parts, "Connected "+words.JoinAnd(res.Added)+".")
	}
	if len(res.Renewed) > 0 {
		parts = append(parts, "Renewed "+words.JoinAnd(res.Renewed)+".")
	}
	for _, r := range res.Rejected {
		parts = append(parts, "Not connected: "+r.Name+", because "+r.Reason+".")
	}
	kind = "success"
	if len(res.Rejected) > 0 {
		kind = "error"
	}
	if len(parts) == 0 {
		return "info", "Nothing was connected."
	}
	return kind, strings.Join(parts, " ")
}

// revokeUnkept owes the platform the revocation of a sign-in's tokens that
// nothing keeps (a refused or dead-ended sign-in), so it does not stay
// authorized for nothing.
func (s *server) revokeUnkept(c echo.Context, p providers.Platform, subject string, found []store.Discovered, why string) error {
	if len(found) == 0 {
		return nil
	}
	err := s.Store.RevokeUnused(c.Request().Context(), string(p), store.SignIn{Subject: subject, Platforms: signInPlatforms(string(p))},
		found[0].PlatformUserID, found[0].Tokens, why)
	if err == nil {
		s.revokeSoon()
	}
	return err
}
