package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/store"
	"omnisocial/views"
)

const notHere = "There is nothing here. It may have been removed, or the link is wrong."

// errorHandler turns every error into a page (or, for htmx, a message in
// the flash area) that says what happened and what to do. People never see
// err.Error() of an internal failure; it goes to the log with the request id.
func (s *server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment; if it keeps happening, tell your administrator the request id "+c.Response().Header().Get(echo.HeaderXRequestID)+"."
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		status = he.Code
		m, ok := he.Message.(string)
		switch {
		case ok && status < 500:
			msg = m
		case status < 500:
			msg = http.StatusText(status)
		case ok && he.Internal == nil && m != http.StatusText(status):
			// A 5xx a handler chose to explain ("Checks are not
			// running on this server."): its words, not the generic ones.
			msg = m
		}
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, notHere
	}
	if status >= 500 {
		s.Log.Error("request failed", "err", err, "path", logPath(c.Request().URL.Path),
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID))
	}
	if status == http.StatusNotFound && msg == http.StatusText(http.StatusNotFound) {
		msg = notHere
	}

	if strings.HasPrefix(c.Request().URL.Path, "/api/") || strings.HasPrefix(c.Request().URL.Path, "/sandbox/") {
		c.JSON(status, map[string]string{"error": msg})
		return
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		// htmx: the message goes to the page's message area, whatever the
		// request's own target (htmxConfig swaps 4xx/5xx for this; app.js
		// closes a dialog the request came from, since a modal covers the
		// message area). A 404 means something the page shows is gone:
		// accountsChanged reloads the accounts list and the banner.
		if status == http.StatusNotFound && msg == notHere {
			msg = "That is no longer here: it may have been removed in another tab or by someone else."
		}
		h := c.Response().Header()
		h.Set("HX-Retarget", "#flash")
		h.Set("HX-Reswap", "innerHTML")
		if status == http.StatusNotFound {
			h.Set("HX-Trigger", "accountsChanged")
		}
		render(c, status, views.FlashItems([]views.Flash{{Kind: "error", Text: msg}}))
		return
	}
	p := views.ErrorProps{Status: status, Title: errorTitle(status), Message: msg, Action: "/settings/accounts", ActionLabel: "Back to Social Accounts"}
	if v, ok := c.Get(viewerKey).(*viewer); !ok || !v.loggedIn {
		p.Action, p.ActionLabel = "/login", "Go to log in"
	}
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if rerr := s.authPage(c, status, p.Title, func(views.Chrome) templ.Component { return views.ErrorPage(p) }); rerr != nil {
		s.Log.Error("rendering error page", "err", rerr)
		c.String(status, msg)
	}
}

func errorTitle(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "That request did not make sense"
	case http.StatusUnauthorized:
		return "Please log in"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusRequestEntityTooLarge:
		return "That was too much to send"
	case http.StatusTooManyRequests:
		return "Slow down a little"
	case http.StatusConflict:
		return "That cannot be done now"
	}
	return "Something went wrong"
}
