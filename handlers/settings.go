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

func (s *server) membersPage(c echo.Context, status int, form views.MemberForm) error {
	v := viewerOf(c)
	ms, err := s.Store.Members(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	p := views.MembersProps{CanManage: canManage(v), Form: form}
	for _, m := range ms {
		p.Members = append(p.Members, views.MemberView{Email: m.Email, Name: m.Name, Role: m.Role, You: m.UserID == v.user.ID})
	}
	return s.page(c, status, "Members", "members", func(ch views.Chrome) templ.Component { return views.MembersPage(ch, p) })
}

func (s *server) handleMembers(c echo.Context) error {
	return s.membersPage(c, http.StatusOK, views.MemberForm{})
}

// handleAddMember lets owners and admins add people (the way in when
// sign-up is closed). Admins cannot make owners.
func (s *server) handleAddMember(c echo.Context) error {
	v := viewerOf(c)
	f := views.MemberForm{Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")),
		Role: c.FormValue("role"), Errors: map[string]string{}}
	pw := c.FormValue("password")
	if a, err := mail.ParseAddress(f.Email); err != nil || a.Address != f.Email {
		f.Errors["email"] = "Enter an email address such as sam@example.com."
	}
	if f.Name == "" {
		f.Errors["name"] = "Enter their name."
	} else if len(f.Name) > 100 {
		f.Errors["name"] = "Use at most 100 characters."
	}
	if msg := auth.CheckPolicy(pw); msg != "" {
		f.Errors["password"] = msg
	}
	if f.Role != store.RoleMember && f.Role != store.RoleAdmin {
		f.Errors["role"] = "Choose member or admin."
	}
	if len(f.Errors) > 0 {
		return s.membersPage(c, http.StatusUnprocessableEntity, f)
	}
	_, err := s.Store.AddUser(c.Request().Context(), store.User{Email: f.Email, Name: f.Name, PasswordHash: auth.HashPassword(pw)}, v.member.ID, f.Role)
	if errors.Is(err, store.ErrConflict) {
		f.Errors["email"] = "This person is already a member."
		return s.membersPage(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	s.Log.Info("member added", "workspace_id", v.member.ID, "by", v.user.ID, "role", f.Role)
	s.addFlash(c, "success", f.Email+" was added as "+f.Role+".")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/members")
}

func (s *server) apiKeysPage(c echo.Context, status int, p views.APIKeysProps) error {
	v := viewerOf(c)
	keys, err := s.Store.APIKeys(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	now := s.Now()
	p.CanManage = canManage(v)
	for _, k := range keys {
		p.Keys = append(p.Keys, views.APIKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: orDash(k.CreatedBy),
			Created: views.Ago(k.CreatedAt, now), LastUsed: views.Ago(k.LastUsedAt, now)})
	}
	return s.page(c, status, "API keys", "api-keys", func(ch views.Chrome) templ.Component { return views.APIKeysPage(ch, p) })
}

func (s *server) handleAPIKeys(c echo.Context) error {
	return s.apiKeysPage(c, http.StatusOK, views.APIKeysProps{})
}

// handleCreateAPIKey shows the new key once, in the response to the POST
// itself (never stored, never in a redirect or a flash kept in the session).
func (s *server) handleCreateAPIKey(c echo.Context) error {
	v := viewerOf(c)
	name := strings.TrimSpace(c.FormValue("name"))
	if name == "" || len(name) > 80 {
		return s.apiKeysPage(c, http.StatusUnprocessableEntity, views.APIKeysProps{Error: "Name the key (at most 80 characters), for example after the service that uses it."})
	}
	key, err := s.Store.CreateAPIKey(c.Request().Context(), v.member.ID, v.user.ID, name)
	if err != nil {
		return err
	}
	s.Log.Info("api key created", "workspace_id", v.member.ID, "by", v.user.ID)
	return s.apiKeysPage(c, http.StatusOK, views.APIKeysProps{NewKey: key.Reveal(), NewName: name})
}

func (s *server) handleRevokeAPIKey(c echo.Context) error {
	v := viewerOf(c)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such key.")
	}
	if err := s.Store.RevokeAPIKey(c.Request().Context(), v.member.ID, id); err != nil {
		return err
	}
	s.addFlash(c, "success", "The key was revoked; it stops working at once.")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/api-keys")
}
