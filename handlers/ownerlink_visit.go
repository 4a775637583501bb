package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
	"omnisocial/words"
)

// handleCallback is the one callback URL registered at each platform. A
// state that belongs to an owner link finishes that link, for a visitor
// with no account; any other is a signed-in person's own flow.
func (s *server) handleCallback(c echo.Context) error {
	v := viewerOf(c)
	if state := c.QueryParam("state"); state != "" && len(state) <= 512 && v.sess != nil && v.sess.ID != "" {
		l, verifier, err := s.Store.TakeOwnerLinkState(c.Request().Context(), hashID(state), hashID(v.sess.ID))
		switch {
		case err == nil:
			return s.finishOwnerLink(c, l, verifier)
		case errors.Is(err, store.ErrExpired):
			return s.linkDone(c, "error", "This sign-in took too long, or the link stopped working meanwhile. Nothing was changed; open the link again, or ask for a new one.")
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	return requireUser(s.handleOAuthCallback)(c)
}

// linkDone ends an owner's visit on a clean URL, as every callback does.
func (s *server) linkDone(c echo.Context, kind, msg string) error {
	s.addFlash(c, kind, msg)
	if err := viewerOf(c).sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/link/done")
}

func (s *server) handleOwnerLinkDone(c echo.Context) error {
	return s.authPage(c, http.StatusOK, "OmniSocial", func(ch views.Chrome) templ.Component { return views.LinkDonePage(ch) })
}

// finishOwnerLink exchanges the owner's code and acts for the workspace
// that made the link, in the name of the person who made it.
func (s *server) finishOwnerLink(c echo.Context, l store.OwnerLink, verifier vault.Token) error {
	p := providers.Platform(l.Platform)
	if c.Param("platform") != l.Platform {
		s.Log.Warn("owner link callback on the wrong platform", "started", l.Platform, "callback", c.Param("platform"))
		return echo.NewHTTPError(http.StatusBadRequest, "This sign-in response arrived for the wrong platform and was refused. Open the link again.")
	}
	prov := s.Providers[p]
	if prov == nil || !prov.Configured() {
		return echo.NewHTTPError(http.StatusConflict, p.Name()+" is not configured on this server any more. Tell whoever sent the link.")
	}
	q := c.QueryParams()
	if err := providers.CallbackError(p, q); err != nil {
		if providers.IsDenied(err) {
			return s.linkDone(c, "info", "You cancelled at "+p.Name()+". Nothing was changed; the link still works if you change your mind.")
		}
		s.Log.Warn("owner link callback error", "platform", p, "err", err)
		return s.linkDone(c, "error", p.Name()+" did not complete the sign-in. Nothing was changed; open the link again.")
	}
	if q.Get("code") == "" || len(q.Get("code")) > 2048 {
		return s.linkDone(c, "error", p.Name()+" sent no authorization. Nothing was changed; open the link again.")
	}
	ctx := c.Request().Context()
	grant, err := prov.Exchange(ctx, q.Get("code"), verifier.Reveal())
	if err != nil {
		s.Log.Warn("owner link exchange failed", "platform", p, "err", err)
		return s.linkDone(c, "error", exchangeFailure(p, err)+" The link still works.")
	}
	found := store.FromGrant(p, grant, s.Now())
	if l.Purpose == store.LinkReconnect {
		return s.finishOwnerReconnect(c, l, grant, found)
	}
	if providers.Describe(p).OneAccount && len(found) == 1 {
		kind, msg, err := s.connectThroughLink(c, l, grant.Subject, grant.SubjectName, found)
		if err != nil {
			return err
		}
		return s.linkDone(c, kind, msg)
	}
	id, err := s.Store.SavePendingGrant(ctx, store.PendingGrant{SessionHash: hashID(viewerOf(c).sess.ID), UserID: l.CreatedBy,
		WorkspaceID: l.WorkspaceID, Platform: l.Platform, Subject: grant.Subject, SubjectName: grant.SubjectName,
		Scopes: grant.Scopes, Declined: grant.Declined, Accounts: found, Unlinked: grant.Unlinked, Notes: grant.Notes,
		ExpiresAt: s.Now().Add(grantLifetime)})
	if err != nil {
		return err
	}
	v := viewerOf(c)
	v.sess.Values[keyOwnerLink] = l.ID
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/link/choose/"+id)
}

// finishOwnerReconnect renews the accounts of the sign-in the link names.
// Any other sign-in is refused, its tokens revoked, and nothing changes
// but the account's history, which says so.
func (s *server) finishOwnerReconnect(c echo.Context, l store.OwnerLink, grant *providers.Grant, found []store.Discovered) error {
	ctx := c.Request().Context()
	p := providers.Platform(l.Platform)
	accounts, err := s.Store.LinkAccounts(ctx, l)
	if err != nil {
		return err
	}
	if !signedInAsNamed(l, grant, found, accounts) {
		who := orDash(grant.SubjectName)
		if err := s.revokeUnkept(c, p, grant.Subject, found, "owner link signed in as somebody else"); err != nil {
			return err
		}
		if err := s.Store.RecordOwnerLinkRefusal(ctx, l, who); err != nil {
			return err
		}
		s.Log.Warn("owner link refused a different sign-in", "link", l.ID, "workspace_id", l.WorkspaceID)
		named := "the login that manages " + words.JoinAnd(accountNames(accounts))
		if l.SubjectName != "" {
			named = "the " + p.Name() + " login of " + l.SubjectName
		}
		return s.linkDone(c, "error", fmt.Sprintf("You signed in to %s as %s, but this link is for %s. Nothing was changed: open the link again and sign in with that login.",
			p.Name(), who, named))
	}
	res, err := s.Store.Connect(ctx, store.Connect{WorkspaceID: l.WorkspaceID, UserID: l.CreatedBy, Platform: l.Platform,
		Subject: grant.Subject, SubjectName: grant.SubjectName, Accounts: found, OnlyExisting: true,
		SignIn: signInPlatforms(l.Platform), Link: l.ID})
	if errors.Is(err, store.ErrNotFound) {
		if err := s.revokeUnkept(c, p, grant.Subject, found, "owner link already used"); err != nil {
			return err
		}
		return errDeadOwnerLink
	}
	if err != nil {
		return err
	}
	if len(res.Renewed) == 0 {
		s.revokeSoon() // Connect owed the unkept grant's revocation
		return s.linkDone(c, "error", fmt.Sprintf("Your %s login no longer manages %s. Nothing was changed; the link still works if that changes.",
			p.Name(), words.JoinAnd(accountNames(accounts))))
	}
	s.Log.Info("owner link used", "link", l.ID, "workspace_id", l.WorkspaceID, "renewed", len(res.Renewed))
	return s.linkDone(c, "success", fmt.Sprintf("Done: %s %s connected again for %s. Thank you.", words.JoinAnd(res.Renewed), isAre(len(res.Renewed)), l.WorkspaceName))
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// connectThroughLink connects what the owner chose, spending the link.
// A dead link keeps nothing and owes the grant's revocation.
func (s *server) connectThroughLink(c echo.Context, l store.OwnerLink, subject, subjectName string, chosen []store.Discovered) (kind, msg string, err error) {
	res, err := s.Store.Connect(c.Request().Context(), store.Connect{WorkspaceID: l.WorkspaceID, UserID: l.CreatedBy, Platform: l.Platform,
		Subject: subject, SubjectName: subjectName, Accounts: chosen, SignIn: signInPlatforms(l.Platform), Link: l.ID})
	if errors.Is(err, store.ErrNotFound) {
		if err := s.revokeUnkept(c, providers.Platform(l.Platform), subject, chosen, "owner link already used"); err != nil {
			return "", "", err
		}
		return "", "", errDeadOwnerLink
	}
	if err != nil {
		return "", "", err
	}
	s.revokeSoon() // in case nothing was kept
	s.Log.Info("owner link used", "link", l.ID, "workspace_id", l.WorkspaceID, "added", len(res.Added), "renewed", len(res.Renewed))
	kind, msg = connectSummary(res)
	if kind == "success" {
		msg += " Thank you."
	}
	return kind, msg, nil
}

// linkGrant loads the owner's choose step: their pending grant, and the
// link it came through, still live.
func (s *server) linkGrant(c echo.Context) (store.OwnerLink, store.PendingGrant, error) {
	v := viewerOf(c)
	ctx := c.Request().Context()
	id, _ := v.sess.Values[keyOwnerLink].(string)
	if id == "" {
		return store.OwnerLink{}, store.PendingGrant{}, errDeadOwnerLink
	}
	l, err := s.Store.OwnerLink(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return l, store.PendingGrant{}, errDeadOwnerLink
	}
	if err != nil {
		return l, store.PendingGrant{}, err
	}
	g, err := s.Store.PendingGrant(ctx, c.Param("grant"), hashID(v.sess.ID))
	if errors.Is(err, store.ErrNotFound) || (err == nil && (g.WorkspaceID != l.WorkspaceID || g.Platform != l.Platform)) {
		return l, g, echo.NewHTTPError(http.StatusNotFound, "This choice has expired or was already made. Open the link again.")
	}
	return l, g, err
}

func (s *server) handleOwnerLinkChooseForm(c echo.Context) error {
	return s.renderLinkChoose(c, http.StatusOK, "")
}

func (s *server) renderLinkChoose(c echo.Context, status int, formError string) error {
	l, g, err := s.linkGrant(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	existing, err := s.Store.Accounts(ctx, l.WorkspaceID)
	if err != nil {
		return err
	}
	ws, err := s.Store.WorkspaceMembership(ctx, l.WorkspaceID)
	if err != nil {
		return err
	}
	p := providers.Platform(g.Platform)
	props := views.LinkChooseProps{GrantID: g.ID, Workspace: l.WorkspaceName, PlatformName: p.Name(), SignedInAs: g.SubjectName,
		Room: max(ws.MaxAccounts-len(existing), 0), Error: formError}
	for _, d := range g.Accounts {
		props.Choices = append(props.Choices, views.LinkChoice{PlatformUserID: d.PlatformUserID, Name: d.DisplayName,
			AvatarURL: providers.SafeAvatar(d.AvatarURL), Detail: choiceDetail(p, d),
			Connected: slices.ContainsFunc(existing, func(a store.Account) bool { return a.Platform == g.Platform && a.PlatformUserID == d.PlatformUserID })})
	}
	return s.authPage(c, status, "Choose what "+l.WorkspaceName+" manages", func(ch views.Chrome) templ.Component { return views.LinkChoosePage(ch, props) })
}

func (s *server) handleOwnerLinkChoose(c echo.Context) error {
	l, g, err := s.linkGrant(c)
	if err != nil {
		return err
	}
	chosen, _, err := chosenAccounts(c, g)
	if err != nil {
		return err
	}
	if len(chosen) == 0 {
		return s.renderLinkChoose(c, http.StatusUnprocessableEntity, "Tick at least one account.")
	}
	kind, msg, err := s.connectThroughLink(c, l, g.Subject, g.SubjectName, chosen)
	if err != nil {
		return err
	}
	if err := s.Store.DeletePendingGrant(c.Request().Context(), g.ID); err != nil {
		return err
	}
	return s.linkDone(c, kind, msg)
}
