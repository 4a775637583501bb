package handlers

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/store"
	"omnisocial/views"
	"omnisocial/webhook"
)

// eventLabels say what each webhook event means, for the form.
var eventLabels = map[string]string{
	store.EventConnected:          "an account was connected",
	store.EventReconnected:        "someone signed in again for an account",
	store.EventNeedsReauth:        "an account needs someone to sign in again",
	store.EventRecovered:          "an account works fully again",
	store.EventDisconnected:       "an account was disconnected",
	store.EventPermissionsChanged: "an account's permissions changed",
}

func eventOptions(checked []string) []views.WebhookEventOption {
	var out []views.WebhookEventOption
	for _, e := range store.WebhookEvents {
		out = append(out, views.WebhookEventOption{Name: e, Label: eventLabels[e], Checked: slices.Contains(checked, e)})
	}
	return out
}

func (s *server) webhookView(h store.Webhook) views.WebhookView {
	now := s.Now()
	v := views.WebhookView{ID: h.ID, URL: h.URL, Events: h.Events, Created: views.Ago(h.CreatedAt, now), CreatedBy: orDash(h.CreatedBy),
		Paused: h.Paused(), PausedReason: h.PausedReason}
	if !h.FailingSince.IsZero() {
		v.Failing = "Failing since " + views.Ago(h.FailingSince, now)
	}
	return v
}

func (s *server) webhooksPage(c echo.Context, status int, p views.WebhooksProps) error {
	v := viewerOf(c)
	hooks, err := s.Store.Webhooks(c.Request().Context(), v.member.ID)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		p.Hooks = append(p.Hooks, s.webhookView(h))
	}
	if p.Form.Events == nil {
		p.Form.Events = eventOptions(store.WebhookEvents)
	}
	p.AllowHTTP = s.WebhookAllowHTTP
	return s.page(c, status, "Webhooks", "webhooks", func(ch views.Chrome) templ.Component { return views.WebhooksPage(ch, p) })
}

func (s *server) handleWebhooks(c echo.Context) error {
	return s.webhooksPage(c, http.StatusOK, views.WebhooksProps{})
}

// checkWebhookURL says what is wrong with an endpoint URL, or "". A name
// is checked again, after resolution, at every delivery (webhook.Guard):
// here only what can be known now.
func checkWebhookURL(raw string, dev bool) string {
	u, err := url.Parse(raw)
	switch {
	case raw == "" || err != nil || u.Host == "" || u.Opaque != "":
		return "Enter the endpoint's full URL, such as https://publisher.example.com/hooks/omnisocial."
	case len(raw) > 2000:
		return "The URL is too long (at most 2,000 characters)."
	case u.Scheme != "https" && !(dev && u.Scheme == "http"):
		if dev {
			return "The URL must start with https:// or http://."
		}
		return "The URL must start with https://: messages are signed, not encrypted."
	case u.User != nil:
		return "Leave credentials out of the URL: verify messages by their signature instead."
	case u.Fragment != "":
		return "A URL with a #fragment cannot be sent to; leave it out."
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !dev && !webhook.Public(ip) {
		return "That address is not on the public internet; OmniSocial only sends to public addresses."
	}
	if !dev && (u.Hostname() == "localhost" || strings.HasSuffix(u.Hostname(), ".localhost")) {
		return "That address is not on the public internet; OmniSocial only sends to public addresses."
	}
	return ""
}

// handleCreateWebhook shows the signing secret once, in the answer to the
// POST itself; only its sealed form is kept.
func (s *server) handleCreateWebhook(c echo.Context) error {
	v := viewerOf(c)
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	f := views.WebhookForm{URL: strings.TrimSpace(form.Get("url")), Errors: map[string]string{}}
	var events []string
	for _, e := range form["event"] {
		if !slices.Contains(store.WebhookEvents, e) {
			f.Errors["event"] = "Choose among the events listed."
		} else if !slices.Contains(events, e) {
			events = append(events, e)
		}
	}
	if len(events) == 0 {
		f.Errors["event"] = "Choose at least one event to send."
	}
	if msg := checkWebhookURL(f.URL, s.WebhookAllowHTTP); msg != "" {
		f.Errors["url"] = msg
	}
	f.Events = eventOptions(events)
	if len(f.Errors) > 0 {
		return s.webhooksPage(c, http.StatusUnprocessableEntity, views.WebhooksProps{Form: f})
	}
	secret := webhook.NewSecret()
	id, err := s.Store.CreateWebhook(c.Request().Context(), v.member.ID, v.user.ID, f.URL, sortedEvents(events), secret)
	if err != nil {
		return err
	}
	s.Log.Info("webhook created", "workspace_id", v.member.ID, "by", v.user.ID, "webhook", id)
	return s.webhooksPage(c, http.StatusOK, views.WebhooksProps{NewSecret: secret.Reveal(), NewID: id})
}

// sortedEvents keeps the events in the order they are listed.
func sortedEvents(events []string) []string {
	var out []string
	for _, e := range store.WebhookEvents {
		if slices.Contains(events, e) {
			out = append(out, e)
		}
	}
	return out
}

var deliveryStates = map[string]string{store.DeliveryPending: "Waiting", store.DeliveryDelivered: "Delivered", store.DeliveryFailed: "Given up"}

func (s *server) handleWebhook(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	h, err := s.Store.Webhook(ctx, v.member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	ds, err := s.Store.Deliveries(ctx, v.member.ID, h.ID, 50)
	if err != nil {
		return err
	}
	now := s.Now()
	p := views.WebhookProps{Hook: s.webhookView(h)}
	for _, d := range ds {
		dv := views.DeliveryView{ID: d.ID, Event: d.Event, State: deliveryStates[d.State], Created: d.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
			CanResend: d.State != store.DeliveryPending}
		if d.State == store.DeliveryPending {
			if d.Attempts > 0 {
				dv.State = "Retrying"
			}
			if h.Paused() {
				dv.Next = "held while the webhook is paused"
			} else if d.NextAttemptAt.After(now) {
				dv.Next = "next try " + views.In(d.NextAttemptAt, now)
			}
		}
		for _, a := range d.History {
			av := views.AttemptView{At: a.At.UTC().Format("2006-01-02 15:04:05 UTC"), Error: a.Error, Response: a.Response,
				Took: a.Took.Round(time.Millisecond).String(), OK: a.Error == ""}
			av.Status = "no answer"
			if a.StatusCode != 0 {
				av.Status = fmt.Sprintf("%d %s", a.StatusCode, http.StatusText(a.StatusCode))
			}
			dv.Attempts = append(dv.Attempts, av)
		}
		p.Deliveries = append(p.Deliveries, dv)
	}
	return s.page(c, http.StatusOK, "Webhook", "webhooks", func(ch views.Chrome) templ.Component { return views.WebhookPage(ch, p) })
}

func (s *server) afterWebhookChange(c echo.Context, msg, to string) error {
	s.addFlash(c, "success", msg)
	if err := viewerOf(c).sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, to)
}

func (s *server) handleDeleteWebhook(c echo.Context) error {
	v := viewerOf(c)
	if err := s.Store.DeleteWebhook(c.Request().Context(), v.member.ID, c.Param("id")); err != nil {
		return err
	}
	s.Log.Info("webhook deleted", "workspace_id", v.member.ID, "by", v.user.ID, "webhook", c.Param("id"))
	return s.afterWebhookChange(c, "The webhook was deleted with its secret and messages; nothing more is sent to it.", "/settings/webhooks")
}

func (s *server) handleResumeWebhook(c echo.Context) error {
	v := viewerOf(c)
	id := c.Param("id")
	if err := s.Store.ResumeWebhook(c.Request().Context(), v.member.ID, id); err != nil {
		return err
	}
	s.Log.Info("webhook resumed", "workspace_id", v.member.ID, "by", v.user.ID, "webhook", id)
	return s.afterWebhookChange(c, "The webhook is resumed; what waited is being sent, in order.", "/settings/webhooks/"+id)
}

func (s *server) handleResendDelivery(c echo.Context) error {
	v := viewerOf(c)
	id := c.Param("id")
	if err := s.Store.ResendDelivery(c.Request().Context(), v.member.ID, id, c.Param("delivery")); err != nil {
		return err
	}
	s.Log.Info("webhook message resent", "workspace_id", v.member.ID, "by", v.user.ID, "webhook", id, "message", c.Param("delivery"))
	if s.WebhooksSoon != nil {
		s.WebhooksSoon()
	}
	return s.afterWebhookChange(c, "The message is being sent again, with the same id and body.", "/settings/webhooks/"+id)
}
