package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
	"omnisocial/words"
)

func (s *server) handleAccountDetails(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	a, err := s.Store.Account(ctx, v.member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	events, err := s.Store.Events(ctx, v.member.ID, a.ID, 50)
	if err != nil {
		return err
	}
	now := s.Now()
	p := views.DetailsProps{
		Account:     s.accountView(a, canManage(v)),
		Metadata:    metadataRows(a.Metadata),
		HistoryDays: s.HistoryDays,
	}
	p.Health, p.HealthKind, p.Connection = s.connectionHealth(a, p.Account, now)
	required := providers.Describe(a.Provider()).Scopes
	for _, sc := range required {
		p.Scopes = append(p.Scopes, views.ScopeView{Name: sc.Name, Description: sc.Description, Granted: slices.Contains(a.Scopes, sc.Name)})
	}
	for _, sc := range a.Scopes {
		if !slices.ContainsFunc(required, func(r providers.Scope) bool { return r.Name == sc }) {
			p.Scopes = append(p.Scopes, views.ScopeView{Name: sc, Description: providers.ScopeDescription(sc), Granted: true})
		}
	}
	for _, e := range events {
		p.Events = append(p.Events, views.EventView{When: views.Ago(e.At, now), Kind: eventWords(e.Kind), Detail: e.Detail, Actor: e.Actor})
	}
	return s.page(c, http.StatusOK, a.DisplayName, "accounts", func(ch views.Chrome) templ.Component { return views.DetailsPage(ch, p) })
}

// connectionHealth says in one sentence what works, until when, and what the
// person must do by when; then lists only the facts that apply now.
func (s *server) connectionHealth(a store.Account, av views.AccountView, now time.Time) (health, kind string, rows []views.Fact) {
	deadline := renewalDeadline(a)
	day := func(t time.Time) string { return t.UTC().Format("2 Jan 2006") }
	renewing := renews(a)
	switch av.Status {
	case statusNeedsReauth:
		kind = "bad"
		reason := sentence(a.LastError)
		if reason == "" {
			reason = "OmniSocial can no longer reach it."
		}
		health = "Stopped working " + av.Checked + ". " + reason + " Nothing is retried until it is reconnected: choose Reconnect and sign in as someone who manages it."
	case statusExpiring:
		kind = "warn"
		health = fmt.Sprintf("Working until %s (%s). %s cannot renew this access on its own: reconnect before then.",
			day(deadline), views.In(deadline, now), av.PlatformName)
	case statusLimited:
		kind = "warn"
		health = "Working, with limits. " + av.Problem
	default:
		kind = "ok"
		switch {
		case renewing && !deadline.IsZero():
			health = "Working. OmniSocial renews its access on its own until " + day(deadline) + "; sign in again before then to keep it going."
		case deadline.IsZero():
			health = "Working. Its access does not expire; there is nothing to do."
		default:
			health = "Working until " + day(deadline) + " (" + views.In(deadline, now) + "), when " + signInName(a) + " asks you to sign in again. OmniSocial warns you ahead of time."
		}
		if a.Failures > 0 {
			kind = "warn"
			health = fmt.Sprintf("Working, but the last %s failed (%s). OmniSocial retries on its own; nothing to do yet.",
				plural(a.Failures, "check"), words.LowerFirst(outcomeWords(a.LastOutcome)))
		}
	}
	add := func(label, value, testid string) {
		rows = append(rows, views.Fact{Label: label, Value: value, TestID: testid})
	}
	if av.Status != statusNeedsReauth {
		switch {
		case renewing && !a.TokenExpiresAt.IsZero():
			add("Access token", "Renewed automatically; the current one ends "+views.In(a.TokenExpiresAt, now), "token-expiry")
			if !a.RefreshExpiresAt.IsZero() {
				add("Renewal possible until", a.RefreshExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC"), "")
			}
		case deadline.IsZero():
			add("Access", "Does not expire", "token-expiry")
		default:
			add("Access until", deadline.UTC().Format("2 Jan 2006 15:04 UTC")+" ("+views.In(deadline, now)+")", "token-expiry")
		}
		add("Next check", views.In(a.NextCheckAt, now), "next-check")
	}
	add("Last synced", views.Ago(a.LastSyncedAt, now), "")
	add("Last outcome", outcomeWords(a.LastOutcome), "last-outcome")
	if a.Failures > 0 && av.Status != statusNeedsReauth {
		add("Failed checks", fmt.Sprintf("%d in a row; retrying with backoff", a.Failures), "")
	}
	if a.LastError != "" && av.Status != statusNeedsReauth {
		add("Last error", a.LastError, "last-error")
	}
	add("Connected", a.ConnectedAt.UTC().Format("2 Jan 2006 15:04 UTC")+" by "+orDash(a.ConnectedBy), "")
	return health, kind, rows
}

func eventWords(kind string) string {
	switch kind {
	case "needs_reauth":
		return "Needs re-auth"
	}
	return words.Humanize(kind)
}

var metadataLabels = map[string]string{
	"category": "Category", "fan_count": "Page likes", "followers_count": "Followers", "follower_count": "Followers",
	"following_count": "Following", "likes_count": "Likes", "video_count": "Videos", "media_count": "Posts",
	providers.MetaPageID: "Linked Page id", providers.MetaPageName: "Linked Page", providers.MetaFacebookUser: "Signed in as",
	providers.MetaFacebookUserID: "Facebook user id", "tasks": "Page roles", "union_id": "Union id",
	"account_type": "Account type",
}

// countKeys are metadata that count something, written as people read
// counts (12,410); other numbers (ids) keep their digits.
var countKeys = map[string]bool{"fan_count": true, "followers_count": true, "follower_count": true, "following_count": true,
	"likes_count": true, "video_count": true, "media_count": true}

// connectionKeys are metadata the Connection health summary already says
// in words (when the sign-in and data access end, whether the sign-in still
// works): listed raw beside it they would contradict it.
var connectionKeys = map[string]bool{
	providers.MetaUserTokenExpiry: true, providers.MetaDataAccessUntil: true, "user_token_valid": true,
}

// metadataRows lists platform metadata as label/value pairs, known keys
// with their names, the rest by their key.
func metadataRows(m map[string]any) [][2]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !connectionKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var rows [][2]string
	for _, k := range keys {
		label, ok := metadataLabels[k]
		if !ok {
			label = words.Humanize(k)
		}
		var val string
		switch x := m[k].(type) {
		case float64:
			val = strconv.FormatFloat(x, 'f', -1, 64)
			if countKeys[k] {
				val = number(x)
			}
		case []any:
			var parts []string
			for _, p := range x {
				if w := strings.ToLower(strings.ReplaceAll(fmt.Sprint(p), "_", " ")); w != "" {
					parts = append(parts, words.UpperFirst(w))
				}
			}
			val = strings.Join(parts, ", ")
		case string:
			val = x
			if t, err := time.Parse(time.RFC3339, x); err == nil {
				val = t.UTC().Format("2 Jan 2006 15:04 UTC")
			}
		case bool:
			val = map[bool]string{true: "Yes", false: "No"}[x]
		default:
			val = fmt.Sprint(x)
		}
		rows = append(rows, [2]string{label, val})
	}
	return rows
}

// handleCheckNow refreshes or validates an account at once and reports
// the outcome on its details page.
func (s *server) handleCheckNow(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	a, err := s.Store.Account(ctx, v.member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	if s.Checker == nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Checks are not running on this server.")
	}
	kind, msg := "success", ""
	switch err := s.Checker.CheckNow(ctx, a.ID); {
	case errors.Is(err, store.ErrLeased):
		kind, msg = "info", "A check of "+a.DisplayName+" is already running. Reload in a moment."
	case errors.Is(err, store.ErrNeedsReauth):
		kind, msg = "error", a.DisplayName+" needs to be reconnected before it can be checked."
	case err != nil:
		s.Log.Warn("check now failed", "account_id", a.ID, "err", err)
		kind, msg = "error", "The check could not be completed. Try again in a moment."
	default:
		after, err := s.Store.Account(ctx, v.member.ID, a.ID)
		if err != nil {
			return err
		}
		switch after.Status {
		case store.StatusNeedsReauth:
			kind, msg = "error", a.DisplayName+" needs to be reconnected: "+sentence(after.LastError)
		default:
			msg = a.DisplayName + " is working."
			if after.LastOutcome.Kind() == store.OutcomeRefreshed {
				msg = a.DisplayName + " is working: tokens refreshed."
			}
			if after.LastError != "" {
				kind, msg = "error", "The check of "+a.DisplayName+" failed: "+sentence(after.LastError)+" OmniSocial will retry on its own."
			}
		}
	}
	s.addFlash(c, kind, msg)
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	if isHX(c) {
		// In place: the refreshed details, with the message out of band.
		c.Response().Header().Set("HX-Trigger", "accountsChanged")
		return s.handleAccountDetails(c)
	}
	return redirect(c, "/settings/accounts/"+a.ID)
}
