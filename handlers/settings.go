package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/views"
)

func (s *server) apiKeysPage(c echo.Context, status int, p views.APIKeysProps) error {
	v := viewerOf(c)
	keys, err := s.Store.APIKeys(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	now := s.Now()
	p.CanManage = canManage(v)
	p.RateLimit = fmt.Sprintf("%d requests at once and %g a second after that", s.APIBurst, s.APIRate)
	for _, k := range keys {
		kv := views.APIKeyView{ID: k.ID, Name: k.Name, Prefix: k.Prefix, CreatedBy: orDash(k.CreatedBy),
			Created: views.Ago(k.CreatedAt, now), LastUsed: views.Ago(k.LastUsedAt, now), ReadOnly: k.ReadOnly}
		if !k.LastUsedAt.IsZero() {
			kv.LastUsedAt = k.LastUsedAt.UTC().Format("2006-01-02 15:04 UTC")
		}
		p.Keys = append(p.Keys, kv)
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
	readOnly := c.FormValue("access") != "read_write" // the safer choice unless asked
	key, err := s.Store.CreateAPIKey(c.Request().Context(), v.member.ID, v.user.ID, name, readOnly)
	if err != nil {
		return err
	}
	s.Log.Info("api key created", "workspace_id", v.member.ID, "by", v.user.ID, "read_only", readOnly)
	return s.apiKeysPage(c, http.StatusOK, views.APIKeysProps{NewKey: key.Reveal(), NewName: name, NewRead: readOnly})
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
