package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
	"omnisocial/words"
)

// A login's owner (a client, say) has no OmniSocial account: a link lets
// them sign in at the platform once for the workspace that made it. The
// managing side is here; the owner's side is in ownerlink_visit.go.

var errDeadOwnerLink = echo.NewHTTPError(http.StatusNotFound, "This link does not work any more: it was used, revoked, or it expired. Ask whoever sent it for a new one.")

// keyOwnerLink remembers, in the owner's own session, which link their
// choose step belongs to.
const keyOwnerLink = "owner_link"

func (s *server) handleOwnerLinks(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	links, err := s.Store.OwnerLinks(ctx, v.member.ID)
	if err != nil {
		return err
	}
	all, err := s.Store.Accounts(ctx, v.member.ID)
	if err != nil {
		return err
	}
	now := s.Now()
	var p views.OwnerLinksProps
	for _, l := range links {
		lv := views.OwnerLinkView{ID: l.ID, For: "A new connection", PlatformName: providers.Platform(l.Platform).Name(),
			CreatedBy: orDash(l.CreatedByName), Created: views.Ago(l.CreatedAt, now), SentTo: l.SentTo, Live: l.Live(now)}
		if l.Purpose == store.LinkReconnect {
			accounts := l.Renewing(all)
			lv.For = words.JoinAnd(accountNames(accounts))
			if len(accounts) == 0 {
				lv.For = "An account since disconnected"
			}
		}
		switch {
		case !l.UsedAt.IsZero():
			lv.State = "Used " + views.Ago(l.UsedAt, now) + ", signed in as " + orDash(l.UsedBy)
		case !l.RevokedAt.IsZero():
			lv.State = "Revoked " + views.Ago(l.RevokedAt, now)
		case !lv.Live:
			lv.State = "Expired " + views.Ago(l.ExpiresAt, now)
		default:
			lv.State = "Works once, for " + views.In(l.ExpiresAt, now)
		}
		p.Links = append(p.Links, lv)
	}
	return s.page(c, http.StatusOK, "Links for login owners", "accounts", func(ch views.Chrome) templ.Component { return views.OwnerLinksPage(ch, p) })
}

// newLinkProps describes the link the form would make: for the account
// named (which must need reconnecting), or a new connection on platform.
func (s *server) newLinkProps(c echo.Context, accountID, platform string) (views.NewOwnerLinkProps, error) {
	v := viewerOf(c)
	ctx := c.Request().Context()
	p := views.NewOwnerLinkProps{MailOn: s.SendMail != nil, AccountID: accountID}
	if accountID != "" {
		a, err := s.Store.Account(ctx, v.member.ID, accountID)
		if err != nil {
			return p, err
		}
		if a.Status != store.StatusNeedsReauth {
			return p, echo.NewHTTPError(http.StatusConflict, a.DisplayName+" does not need reconnecting; a link is for an account whose login stopped working.")
		}
		platform = string(a.Provider())
		accounts, err := s.Store.LinkAccounts(ctx, store.OwnerLink{WorkspaceID: v.member.ID, Platform: platform, AccountID: a.ID, Subject: a.GrantSubject})
		if err != nil {
			return p, err
		}
		p.Accounts, p.SignInName = accountNames(accounts), a.GrantSubjectName
	}
	pl, ok := providers.ParsePlatform(platform)
	if !ok {
		return p, echo.NewHTTPError(http.StatusBadRequest, "Say which platform the link is for.")
	}
	if prov := s.Providers[pl]; prov == nil || !prov.Configured() {
		return p, echo.NewHTTPError(http.StatusConflict, pl.Name()+" is not configured on this server. "+providers.Describe(pl).Configure)
	}
	p.Platform, p.PlatformName = string(pl), pl.Name()
	return p, nil
}

func (s *server) handleNewOwnerLink(c echo.Context) error {
	p, err := s.newLinkProps(c, c.QueryParam("account"), c.QueryParam("platform"))
	if err != nil {
		return err
	}
	return s.ownerLinkPage(c, http.StatusOK, p)
}

func (s *server) ownerLinkPage(c echo.Context, status int, p views.NewOwnerLinkProps) error {
	return s.page(c, status, "Ask the login's owner", "accounts", func(ch views.Chrome) templ.Component { return views.NewOwnerLinkPage(ch, p) })
}

// handleCreateOwnerLink makes a link, shows it once and, if asked, mails
// it. The mail is sent now rather than from the outbox: the person is
// waiting to hand the link over, and the outbox would keep it at rest.
func (s *server) handleCreateOwnerLink(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	p, err := s.newLinkProps(c, c.FormValue("account"), c.FormValue("platform"))
	if err != nil {
		return err
	}
	p.Email = strings.TrimSpace(c.FormValue("email"))
	if p.Email != "" {
		if s.SendMail == nil {
			p.Error = "E-mail is not set up on this server: leave the address empty and send the link yourself."
			return s.ownerLinkPage(c, http.StatusUnprocessableEntity, p)
		}
		addr, err := mail.ParseAddress(p.Email)
		if err != nil || addr.Name != "" || len(p.Email) > 254 {
			p.Error = "That is not an e-mail address. Leave it empty to copy the link yourself."
			return s.ownerLinkPage(c, http.StatusUnprocessableEntity, p)
		}
	}
	purpose := store.LinkConnect
	if p.AccountID != "" {
		purpose = store.LinkReconnect
	}
	l, tok, err := s.Store.CreateOwnerLink(ctx, store.OwnerLink{WorkspaceID: v.member.ID, CreatedBy: v.user.ID,
		Platform: p.Platform, Purpose: purpose, AccountID: p.AccountID, SentTo: p.Email})
	if err != nil {
		return err
	}
	s.Log.Info("owner link created", "workspace_id", v.member.ID, "by", v.user.ID, "platform", l.Platform, "purpose", l.Purpose, "link", l.ID)
	p.URL = strings.TrimRight(s.BaseURL.String(), "/") + "/link/" + tok.Reveal()
	p.Expires = l.ExpiresAt.UTC().Format("2 Jan 2006, 15:04 UTC")
	if p.Email != "" {
		if err := s.SendMail(ctx, p.Email, s.linkMailSubject(v, p), s.linkMailBody(v, p)); err != nil {
			s.Log.Warn("owner link mail failed", "link", l.ID, "err", err)
			p.MailError = "The e-mail could not be sent (" + sentence(err.Error()) + ") Copy the link and send it yourself."
		} else {
			p.SentTo = p.Email
		}
	}
	return s.ownerLinkPage(c, http.StatusOK, p)
}

func (s *server) linkMailSubject(v *viewer, p views.NewOwnerLinkProps) string {
	return fmt.Sprintf("%s asks you to sign in to %s", v.member.Name, p.PlatformName)
}

func (s *server) linkMailBody(v *viewer, p views.NewOwnerLinkProps) string {
	var b strings.Builder
	who := v.user.Name
	if who == "" {
		who = v.user.Email
	}
	if len(p.Accounts) > 0 {
		fmt.Fprintf(&b, "%s, of the OmniSocial workspace %q, asks you to reconnect %s: they stopped working and need your %s login.\r\n\r\n",
			who, v.member.Name, words.JoinAnd(p.Accounts), p.PlatformName)
	} else {
		fmt.Fprintf(&b, "%s, of the OmniSocial workspace %q, asks you to connect your %s accounts.\r\n\r\n", who, v.member.Name, p.PlatformName)
	}
	fmt.Fprintf(&b, "Open this link, sign in at %s, and you are done. You need no OmniSocial account, and OmniSocial never sees your password.\r\n\r\n  %s\r\n\r\n", p.PlatformName, p.URL)
	fmt.Fprintf(&b, "The link works once, until %s. If you did not expect it, ignore this message.\r\n", p.Expires)
	return b.String()
}

func (s *server) handleRevokeOwnerLink(c echo.Context) error {
	v := viewerOf(c)
	err := s.Store.RevokeOwnerLink(c.Request().Context(), v.member.ID, v.user.ID, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "That link was already used, revoked or removed.")
	}
	if err != nil {
		return err
	}
	s.Log.Info("owner link revoked", "workspace_id", v.member.ID, "by", v.user.ID, "link", c.Param("id"))
	s.addFlash(c, "success", "The link was revoked; it stops working at once.")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/links")
}

func accountNames(accounts []store.Account) []string {
	var names []string
	for _, a := range accounts {
		names = append(names, a.DisplayName)
	}
	return names
}

// ownerLinkParam finds the live link the URL's token names.
func (s *server) ownerLinkParam(c echo.Context) (store.OwnerLink, error) {
	tok := c.Param("token")
	if len(tok) > 100 {
		return store.OwnerLink{}, errDeadOwnerLink
	}
	l, err := s.Store.OwnerLinkByToken(c.Request().Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		return l, errDeadOwnerLink
	}
	return l, err
}

// handleOwnerLink is where a link leads: who asks, for what.
func (s *server) handleOwnerLink(c echo.Context) error {
	l, err := s.ownerLinkParam(c)
	if err != nil {
		return err
	}
	pl := providers.Platform(l.Platform)
	p := views.LinkLandingProps{Token: c.Param("token"), Workspace: l.WorkspaceName, AskedBy: orDash(l.CreatedByName),
		PlatformName: pl.Name(), SignInName: l.SubjectName, Expires: l.ExpiresAt.UTC().Format("2 Jan 2006, 15:04 UTC")}
	if l.Purpose == store.LinkReconnect {
		accounts, err := s.Store.LinkAccounts(c.Request().Context(), l)
		if err != nil {
			return err
		}
		if len(accounts) == 0 {
			return errDeadOwnerLink // every account it was for was disconnected
		}
		p.Accounts = accountNames(accounts)
	}
	return s.authPage(c, http.StatusOK, l.WorkspaceName+" asks for your "+pl.Name()+" login", func(ch views.Chrome) templ.Component {
		return views.LinkLandingPage(ch, p)
	})
}

// handleOwnerLinkStart sends the owner to the platform, the state bound to
// their browser session like any other sign-in.
func (s *server) handleOwnerLinkStart(c echo.Context) error {
	l, err := s.ownerLinkParam(c)
	if err != nil {
		return err
	}
	prov := s.Providers[providers.Platform(l.Platform)]
	if prov == nil || !prov.Configured() {
		return echo.NewHTTPError(http.StatusConflict, providers.Platform(l.Platform).Name()+" is not configured on this server any more. Tell whoever sent the link.")
	}
	v := viewerOf(c)
	if v.sess.ID == "" {
		// A state must be bound to a session that exists.
		if err := v.sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
	}
	state := newID()
	var verifier string
	if prov.UsesPKCE() {
		verifier = oauth2.GenerateVerifier()
	}
	err = s.Store.StartOwnerLink(c.Request().Context(), l.ID, hashID(state), hashID(v.sess.ID), vault.NewToken(verifier), s.Now().Add(flowLifetime))
	if errors.Is(err, store.ErrNotFound) {
		return errDeadOwnerLink
	}
	if err != nil {
		return err
	}
	return redirect(c, prov.AuthCodeURL(providers.AuthRequest{State: state, Verifier: verifier}))
}

// signedInAsNamed: the sign-in is the one a reconnect link names. Accounts
// connected before sign-ins were recorded are matched by what it manages.
func signedInAsNamed(l store.OwnerLink, g *providers.Grant, found []store.Discovered, accounts []store.Account) bool {
	if l.Subject != "" {
		return g.Subject == l.Subject
	}
	return slices.ContainsFunc(accounts, func(a store.Account) bool {
		return slices.ContainsFunc(found, func(d store.Discovered) bool { return d.PlatformUserID == a.PlatformUserID })
	})
}
