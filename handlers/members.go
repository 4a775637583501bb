package handlers

import (
	"errors"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/auth"
	"omnisocial/store"
	"omnisocial/views"
)

// Membership (SPEC §14): people join by invitation only. An owner or admin
// invites an e-mail with a role and gets a one-time link to pass on; what
// they see never depends on whether the e-mail has an account here (no
// name, no "already registered"). The invited person either creates their
// account through the link or, having one, logs in and accepts or declines.

// mayActOn: owners act on anyone and give any role; admins act on admins
// and members and give those roles, never touching owners.
func mayActOn(actor, target store.Role) bool {
	return actor == store.RoleOwner || (actor == store.RoleAdmin && target != store.RoleOwner)
}

// rolesFor lists, for the page, the roles actor may give.
func rolesFor(actor store.Role) []string {
	if actor == store.RoleOwner {
		return []string{string(store.RoleOwner), string(store.RoleAdmin), string(store.RoleMember)}
	}
	return []string{string(store.RoleAdmin), string(store.RoleMember)}
}

var errOwnersOnly = echo.NewHTTPError(http.StatusForbidden, "Only owners can invite, change or remove owners.")

func (s *server) membersPage(c echo.Context, status int, p views.MembersProps) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	ms, err := s.Store.Members(ctx, v.member.ID)
	if err != nil {
		return err
	}
	owners := 0
	for _, m := range ms {
		if m.Role == store.RoleOwner {
			owners++
		}
	}
	p.CanManage = canManage(v)
	p.CanLeave = v.member.Role != store.RoleOwner || owners > 1
	p.MailOn, p.MailEligible = s.MailOn, canManage(v)
	if p.MailAlerts, err = s.Store.MailAlerts(ctx, v.user.ID); err != nil {
		return err
	}
	p.Members = nil
	for _, m := range ms {
		mv := views.MemberView{UserID: m.UserID, Email: m.Email, Name: m.Name, Role: string(m.Role), You: m.UserID == v.user.ID}
		if p.CanManage && mayActOn(v.member.Role, m.Role) {
			mv.CanEdit, mv.Roles = true, rolesFor(v.member.Role)
			mv.CanRemove = !mv.You
		}
		p.Members = append(p.Members, mv)
	}
	if p.CanManage {
		p.InviteRoles = rolesFor(v.member.Role)
		invs, err := s.Store.Invitations(ctx, v.member.ID)
		if err != nil {
			return err
		}
		now := s.Now()
		for _, i := range invs {
			p.Invitations = append(p.Invitations, views.InvitationView{ID: i.ID, Email: i.Email, Role: string(i.Role),
				InvitedBy: orDash(i.InvitedBy), Expires: views.In(i.ExpiresAt, now)})
		}
	}
	return s.page(c, status, "Members", "members", func(ch views.Chrome) templ.Component { return views.MembersPage(ch, p) })
}

func (s *server) handleMembers(c echo.Context) error {
	return s.membersPage(c, http.StatusOK, views.MembersProps{})
}

// membersDone ends a change on the members page: htmx gets the page in
// place with the message out of band, a plain form a 303 back to it.
func (s *server) membersDone(c echo.Context, kind, msg string) error {
	s.addFlash(c, kind, msg)
	if isHX(c) {
		return s.membersPage(c, http.StatusOK, views.MembersProps{})
	}
	if err := viewerOf(c).sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/members")
}

// handleInvite creates an invitation and shows its link once, in the answer
// to this POST (never stored, never in a redirect or a flash). The answer
// is the same for an e-mail with an account and one without.
func (s *server) handleInvite(c echo.Context) error {
	v := viewerOf(c)
	f := views.InviteForm{Email: strings.TrimSpace(c.FormValue("email")), Role: c.FormValue("role"), Errors: map[string]string{}}
	if a, err := mail.ParseAddress(f.Email); err != nil || a.Address != f.Email || len(f.Email) > 254 {
		f.Errors["email"] = "Enter an email address such as sam@example.com."
	}
	role := store.Role(f.Role)
	if !store.ValidRole(role) {
		f.Errors["role"] = "Choose owner, admin or member."
	} else if !mayActOn(v.member.Role, role) {
		f.Errors["role"] = "Only owners can invite owners."
	}
	if len(f.Errors) > 0 {
		return s.membersPage(c, http.StatusUnprocessableEntity, views.MembersProps{Form: f})
	}
	inv, tok, err := s.Store.CreateInvitation(c.Request().Context(), v.member.ID, v.user.ID, f.Email, role)
	if errors.Is(err, store.ErrAlreadyMember) {
		// The members list shows every member's e-mail already: this says
		// nothing the inviter cannot read above.
		f.Errors["email"] = "This person is already a member of this workspace."
		return s.membersPage(c, http.StatusUnprocessableEntity, views.MembersProps{Form: f})
	}
	if err != nil {
		return err
	}
	s.Log.Info("invitation created", "workspace_id", v.member.ID, "by", v.user.ID, "invitation_id", inv.ID, "role", f.Role)
	return s.membersPage(c, http.StatusOK, views.MembersProps{NewLink: s.BaseURL.String() + "/join/" + tok.Reveal(),
		NewEmail: inv.Email, NewRole: string(inv.Role)})
}

func pathID(c echo.Context, what string) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "There is no such "+what+".")
	}
	return id, nil
}

func (s *server) handleRevokeInvitation(c echo.Context) error {
	v := viewerOf(c)
	id, err := pathID(c, "invitation")
	if err != nil {
		return err
	}
	inv, err := s.Store.RevokeInvitation(c.Request().Context(), v.member.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such invitation: it was accepted, declined or revoked already.")
	}
	if err != nil {
		return err
	}
	s.Log.Info("invitation revoked", "workspace_id", v.member.ID, "by", v.user.ID, "invitation_id", id)
	return s.membersDone(c, "success", "The invitation for "+inv.Email+" was revoked; its link no longer works.")
}

// memberError puts the store's refusals into words.
func memberError(err error) error {
	switch {
	case errors.Is(err, store.ErrLastOwner):
		return echo.NewHTTPError(http.StatusConflict, "A workspace needs an owner: make someone else owner first.")
	case errors.Is(err, store.ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "There is no such member of this workspace.")
	}
	return err
}

func (s *server) handleSetRole(c echo.Context) error {
	v := viewerOf(c)
	id, err := pathID(c, "member")
	if err != nil {
		return err
	}
	role := store.Role(c.FormValue("role"))
	if !store.ValidRole(role) {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "Choose owner, admin or member.")
	}
	err = s.Store.SetRole(c.Request().Context(), v.member.ID, id, role, func(current store.Role) error {
		if !mayActOn(v.member.Role, current) || !mayActOn(v.member.Role, role) {
			return errOwnersOnly
		}
		return nil
	})
	if err != nil {
		return memberError(err)
	}
	s.Log.Info("member role changed", "workspace_id", v.member.ID, "by", v.user.ID, "user_id", id, "role", role)
	if id == v.user.ID && !store.CanManage(role) {
		// They gave up managing: the members page they see changes.
		s.addFlash(c, "success", "You are now a "+string(role)+" of "+v.member.Name+".")
		if err := v.sess.Save(c.Request(), c.Response()); err != nil {
			return err
		}
		return redirect(c, "/settings/members")
	}
	return s.membersDone(c, "success", "The role was changed to "+string(role)+".")
}

func (s *server) handleRemoveMember(c echo.Context) error {
	v := viewerOf(c)
	id, err := pathID(c, "member")
	if err != nil {
		return err
	}
	if id == v.user.ID {
		return s.handleLeave(c)
	}
	err = s.Store.RemoveMember(c.Request().Context(), v.member.ID, id, func(current store.Role) error {
		if !mayActOn(v.member.Role, current) {
			return errOwnersOnly
		}
		return nil
	})
	if err != nil {
		return memberError(err)
	}
	s.Log.Info("member removed", "workspace_id", v.member.ID, "by", v.user.ID, "user_id", id)
	return s.membersDone(c, "success", "The member was removed; they lose access at once.")
}

// handleLeave takes the person out of the current workspace, unless they
// are its last owner, and sends them to another workspace (or to their
// invitations when none is left).
func (s *server) handleLeave(c echo.Context) error {
	v := viewerOf(c)
	if err := s.Store.RemoveMember(c.Request().Context(), v.member.ID, v.user.ID, nil); err != nil {
		return memberError(err)
	}
	s.Log.Info("member left", "workspace_id", v.member.ID, "user_id", v.user.ID)
	delete(v.sess.Values, keyWorkspace)
	s.addFlash(c, "success", "You left "+v.member.Name+".")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	if len(v.memberOf) <= 1 {
		return redirect(c, "/invitations")
	}
	return redirect(c, "/settings/accounts")
}

// handleInvitations lists the invitations addressed to the person, who may
// belong to no workspace at all.
func (s *server) handleInvitations(c echo.Context) error {
	v := viewerOf(c)
	invs, err := s.Store.InvitationsFor(c.Request().Context(), v.user.Email)
	if err != nil {
		return err
	}
	p := views.InvitationsProps{Email: v.user.Email, NoWorkspace: len(v.memberOf) == 0}
	now := s.Now()
	for _, i := range invs {
		p.Invitations = append(p.Invitations, views.PendingInvitation{ID: i.ID, Workspace: i.WorkspaceName, Role: string(i.Role),
			InvitedBy: orDash(i.InvitedBy), Expires: views.In(i.ExpiresAt, now)})
	}
	return s.authPage(c, http.StatusOK, "Invitations", func(ch views.Chrome) templ.Component { return views.InvitationsPage(ch, p) })
}

func (s *server) handleAcceptInvitation(c echo.Context) error {
	v := viewerOf(c)
	id, err := pathID(c, "invitation")
	if err != nil {
		return err
	}
	ws, err := s.Store.AcceptInvitation(c.Request().Context(), v.user.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "This invitation is no longer open: it was revoked, expired or answered already.")
	}
	if err != nil {
		return err
	}
	s.Log.Info("invitation accepted", "workspace_id", ws.ID, "user_id", v.user.ID)
	v.sess.Values[keyWorkspace] = ws.ID
	s.addFlash(c, "success", "You joined "+ws.Name+".")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
}

func (s *server) handleDeclineInvitation(c echo.Context) error {
	v := viewerOf(c)
	id, err := pathID(c, "invitation")
	if err != nil {
		return err
	}
	inv, err := s.Store.DeclineInvitation(c.Request().Context(), v.user.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "This invitation is no longer open: it was revoked, expired or answered already.")
	}
	if err != nil {
		return err
	}
	s.Log.Info("invitation declined", "workspace_id", inv.WorkspaceID, "user_id", v.user.ID)
	s.addFlash(c, "info", "Invitation declined.")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/invitations")
}

// joinInvitation finds the invitation a link names; a dead link is a 404
// in words.
func (s *server) joinInvitation(c echo.Context) (store.Invitation, error) {
	tok := c.Param("token")
	if len(tok) > 100 {
		return store.Invitation{}, errDeadLink
	}
	inv, err := s.Store.InvitationByToken(c.Request().Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		return inv, errDeadLink
	}
	return inv, err
}

var errDeadLink = echo.NewHTTPError(http.StatusNotFound, "This invitation link does not work any more: it was used, revoked or replaced, or it expired. Ask for a new one.")

func (s *server) joinPage(c echo.Context, status int, inv store.Invitation, p views.JoinProps) error {
	p.Token, p.Workspace, p.Role, p.InvitedBy, p.Email = c.Param("token"), inv.WorkspaceName, string(inv.Role), orDash(inv.InvitedBy), inv.Email
	return s.authPage(c, status, "Join "+inv.WorkspaceName, func(ch views.Chrome) templ.Component { return views.JoinPage(ch, p) })
}

// handleJoinForm is where an invitation link leads.
func (s *server) handleJoinForm(c echo.Context) error {
	inv, err := s.joinInvitation(c)
	if err != nil {
		return err
	}
	if v := viewerOf(c); v.user.ID != 0 {
		if strings.EqualFold(v.user.Email, inv.Email) {
			return redirect(c, "/invitations")
		}
		return s.joinPage(c, http.StatusOK, inv, views.JoinProps{OtherUser: v.user.Email})
	}
	return s.joinPage(c, http.StatusOK, inv, views.JoinProps{})
}

// handleJoin creates the invited person's account with the invitation's
// e-mail and logs them in. An e-mail that already has an account is told
// to log in: the link never sets the password of an existing account.
func (s *server) handleJoin(c echo.Context) error {
	inv, err := s.joinInvitation(c)
	if err != nil {
		return err
	}
	if viewerOf(c).user.ID != 0 {
		return echo.NewHTTPError(http.StatusConflict, "Log out first: this link creates a new account.")
	}
	f := signupForm{Name: strings.TrimSpace(c.FormValue("name")), Email: inv.Email, Password: c.FormValue("password"), Workspace: inv.WorkspaceName}
	p := views.JoinProps{Name: f.Name, Errors: f.validate()}
	if len(p.Errors) > 0 {
		return s.joinPage(c, http.StatusUnprocessableEntity, inv, p)
	}
	u, ws, err := s.Store.AcceptInvitationAsNewUser(c.Request().Context(), c.Param("token"), store.User{Name: f.Name, PasswordHash: auth.HashPassword(f.Password)})
	switch {
	case errors.Is(err, store.ErrConflict):
		p.Errors[""] = "An account with this email already exists. Log in to accept the invitation."
		return s.joinPage(c, http.StatusUnprocessableEntity, inv, p)
	case errors.Is(err, store.ErrNotFound):
		return errDeadLink
	case err != nil:
		return err
	}
	s.Log.Info("invitation accepted by a new user", "workspace_id", ws.ID, "user_id", u.ID)
	return s.logIn(c, u, "Welcome to "+ws.Name+".")
}

// handleMailAlerts turns the viewer's own e-mail alerts on or off.
func (s *server) handleMailAlerts(c echo.Context) error {
	v := viewerOf(c)
	var on bool
	switch c.FormValue("alerts") {
	case "on":
		on = true
	case "off":
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Say alerts=on or alerts=off.")
	}
	if err := s.Store.SetMailAlerts(c.Request().Context(), v.user.ID, on); err != nil {
		return err
	}
	msg := "Your e-mail alerts are off. Others in the workspace still get theirs."
	if on {
		msg = "Your e-mail alerts are on."
	}
	return s.membersDone(c, "success", msg)
}
