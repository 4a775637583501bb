package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

func (s *server) accountsProps(c echo.Context) (views.AccountsProps, error) {
	v := viewerOf(c)
	accts, err := s.Store.Accounts(c.Request().Context(), v.member.ID)
	if err != nil {
		return views.AccountsProps{}, err
	}
	c.Set(accountsKey, accts)
	csrf, err := s.csrfToken(c)
	if err != nil {
		return views.AccountsProps{}, err
	}
	p := views.AccountsProps{Used: len(accts), Max: v.member.MaxAccounts, Plan: v.member.Plan, CanManage: canManage(v)}
	for _, a := range accts {
		p.Accounts = append(p.Accounts, s.accountView(a, canManage(v), csrf))
	}
	return p, nil
}

func (s *server) handleAccountList(c echo.Context) error {
	p, err := s.accountsProps(c)
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK, "Social Accounts", "accounts", func(ch views.Chrome) templ.Component { return views.AccountsPage(ch, p) })
}

// handleAccountListFragment is the list alone, for htmx to reload.
func (s *server) handleAccountListFragment(c echo.Context) error {
	p, err := s.accountsProps(c)
	if err != nil {
		return err
	}
	// The usage meter sits outside the list; a list reloaded after a change
	// elsewhere (another tab's disconnect) brings it along.
	return render(c, http.StatusOK, templ.Join(views.AccountsList(s.fragmentChrome(c), p), views.UsageOOB(p.Used, p.Max)))
}

// accountView shapes an account for pages: status in words, times as
// people say them, never a token.
func (s *server) accountView(a store.Account, manage bool, csrf string) views.AccountView {
	now := s.Now()
	p := providers.Platform(a.Platform)
	v := views.AccountView{
		ID: a.ID, Platform: a.Platform, PlatformName: p.Name(), Name: a.DisplayName, AvatarURL: safeAvatar(a.AvatarURL),
		LastSynced: views.Ago(a.LastSyncedAt, now), CanManage: manage, CSRF: csrf,
	}
	if a.Username != "" {
		v.Handle = "@" + strings.TrimPrefix(a.Username, "@")
	}
	if p == providers.Facebook {
		v.Handle = fmt.Sprint(a.Metadata["category"])
		if v.Handle == "<nil>" || v.Handle == "" {
			v.Handle = "Page"
		}
	}
	deadline := renewalDeadline(a)
	v.Expiry = s.expiryText(a, deadline)
	// The status shown was established by the last successful check (or
	// the connection), or, for needs re-auth, by the check or the
	// platform's notice that found the account (or its sign-in) dead:
	// nothing else updates an account waiting to be reconnected.
	checked := a.LastSyncedAt
	if a.Status == store.StatusNeedsReauth {
		checked = a.UpdatedAt
	}
	v.Checked = views.Ago(checked, now)
	switch {
	case a.Status == store.StatusNeedsReauth:
		v.Status, v.StatusLabel = "needs_reauth", "Needs re-auth"
		v.Problem = a.LastError
		if v.Problem == "" {
			v.Problem = "OmniSocial can no longer reach this account."
		}
		v.Problem += " Reconnect it to keep publishing."
	case a.Status == store.StatusLimited:
		v.Status, v.StatusLabel = "limited", "Limited"
		v.Missing = missingScopes(p, a.Scopes)
		v.Problem = a.LastError
		if len(v.Missing) > 0 {
			v.Problem = "Missing permission: " + scopeWords(v.Missing) + ". Grant it to use every feature."
		}
	case !deadline.IsZero() && deadline.Sub(now) < s.ExpiryWarning:
		v.Status, v.StatusLabel = "expiring", "Expiring soon"
		v.Problem = fmt.Sprintf("Access to %s ends %s (%s) and cannot renew itself. Reconnect before then.",
			a.DisplayName, views.In(deadline, now), deadline.Format("2 Jan 2006"))
	default:
		v.Status, v.StatusLabel = "active", "Active"
	}
	return v
}

// renewalDeadline is when an account stops working unless a person signs in
// again: a TikTok refresh token's end, a Meta sign-in's or data access's
// end, or an access token's end when nothing can renew it.
func renewalDeadline(a store.Account) time.Time { return a.RenewalDeadline() }

func (s *server) expiryText(a store.Account, deadline time.Time) string {
	now := s.Now()
	switch {
	case a.Platform == string(providers.TikTok) && !a.RefreshExpiresAt.IsZero():
		return "Renews automatically until " + a.RefreshExpiresAt.Format("2 Jan 2006")
	case deadline.IsZero():
		return "Never expires"
	case deadline.Before(now):
		return "Expired " + views.Ago(deadline, now)
	}
	return "Sign-in valid until " + deadline.Format("2 Jan 2006")
}

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
	csrf, err := s.csrfToken(c)
	if err != nil {
		return err
	}
	now := s.Now()
	p := views.DetailsProps{
		Account:     s.accountView(a, canManage(v), csrf),
		TokenExpiry: tokenExpiry(a, now),
		LastSynced:  views.Ago(a.LastSyncedAt, now),
		NextCheck:   views.In(a.NextCheckAt, now),
		LastError:   orDash(a.LastError),
		LastOutcome: outcomeWords(a.LastOutcome),
		Failures:    a.Failures,
		ConnectedBy: a.ConnectedBy,
		ConnectedAt: a.ConnectedAt.UTC().Format("2 Jan 2006 15:04 UTC"),
		Metadata:    metadataRows(a.Metadata),
		HistoryDays: s.HistoryDays,
	}
	if a.Status == store.StatusNeedsReauth {
		p.NextCheck = "Paused until the account is reconnected"
	}
	if !a.RefreshExpiresAt.IsZero() {
		p.RefreshExpiry = a.RefreshExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	required := providers.Describe(providers.Platform(a.Platform)).Scopes
	for _, sc := range required {
		p.Scopes = append(p.Scopes, views.ScopeView{Name: sc.Name, Description: sc.Description, Granted: slices.Contains(a.Scopes, sc.Name)})
	}
	for _, sc := range a.Scopes {
		if !slices.ContainsFunc(required, func(r providers.Scope) bool { return r.Name == sc }) {
			p.Scopes = append(p.Scopes, views.ScopeView{Name: sc, Description: providers.ScopeDescription(sc), Granted: true})
		}
	}
	for _, e := range events {
		ev := views.EventView{When: views.Ago(e.At, now), Kind: eventWords(e.Kind), Detail: e.Detail}
		if e.Actor != "" {
			ev.Actor = " by " + e.Actor
		}
		p.Events = append(p.Events, ev)
	}
	return s.page(c, http.StatusOK, a.DisplayName, "accounts", func(ch views.Chrome) templ.Component { return views.DetailsPage(ch, p) })
}

func tokenExpiry(a store.Account, now time.Time) string {
	if a.TokenExpiresAt.IsZero() {
		return "Does not expire"
	}
	return a.TokenExpiresAt.UTC().Format("2 Jan 2006 15:04 UTC") + " (" + views.In(a.TokenExpiresAt, now) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func eventWords(kind string) string {
	switch kind {
	case "needs_reauth":
		return "Needs re-auth"
	}
	return strings.ToUpper(kind[:1]) + strings.ReplaceAll(kind[1:], "_", " ")
}

var metadataLabels = map[string]string{
	"category": "Category", "fan_count": "Page likes", "followers_count": "Followers", "follower_count": "Followers",
	"following_count": "Following", "likes_count": "Likes", "video_count": "Videos", "media_count": "Posts",
	providers.MetaPageID: "Linked Page id", providers.MetaPageName: "Linked Page", providers.MetaFacebookUser: "Signed in as",
	providers.MetaFacebookUserID: "Facebook user id", providers.MetaUserTokenExpiry: "Sign-in valid until",
	providers.MetaDataAccessUntil: "Data access until", "tasks": "Page roles", "union_id": "Union id",
	"account_type": "Account type", "user_token_valid": "Sign-in valid",
}

// metadataRows lists platform metadata as label/value pairs, known keys
// with their names, the rest by their key.
func metadataRows(m map[string]any) [][2]string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows [][2]string
	for _, k := range keys {
		label, ok := metadataLabels[k]
		if !ok {
			label = strings.ToUpper(k[:1]) + strings.ReplaceAll(k[1:], "_", " ")
		}
		var val string
		switch x := m[k].(type) {
		case float64:
			val = fmt.Sprintf("%.0f", x)
		case []any:
			var parts []string
			for _, p := range x {
				if w := strings.ToLower(strings.ReplaceAll(fmt.Sprint(p), "_", " ")); w != "" {
					parts = append(parts, strings.ToUpper(w[:1])+w[1:])
				}
			}
			val = strings.Join(parts, ", ")
		case string:
			val = x
			if t, err := time.Parse(time.RFC3339, x); err == nil {
				val = t.UTC().Format("2 Jan 2006 15:04 UTC")
			}
		default:
			val = fmt.Sprint(x)
		}
		rows = append(rows, [2]string{label, val})
	}
	return rows
}

func (s *server) handleDisconnectConfirm(c echo.Context) error {
	v := viewerOf(c)
	a, err := s.Store.Account(c.Request().Context(), v.member.ID, c.Param("id"))
	if err != nil {
		return err
	}
	av := s.accountView(a, true, "")
	if isHX(c) {
		return render(c, http.StatusOK, views.DisconnectDialog(s.fragmentChrome(c), av))
	}
	return s.page(c, http.StatusOK, "Disconnect "+a.DisplayName, "accounts", func(ch views.Chrome) templ.Component { return views.DisconnectPage(ch, av) })
}

// handleDisconnect removes the account and its tokens at once; the
// revocation at the platform is owed in the same commit and done by the
// outbox worker, never blocking the person.
func (s *server) handleDisconnect(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	a, err := s.disconnect(ctx, v, c.Param("id"))
	if err != nil {
		return err
	}
	s.Log.Info("account disconnected", "account_id", a.ID, "platform", a.Platform, "user_id", v.user.ID)
	msg := a.DisplayName + " was disconnected and its tokens deleted."
	if isHX(c) {
		used, err := s.Store.CountAccounts(ctx, v.member.ID)
		if err != nil {
			return err
		}
		c.Response().Header().Set("HX-Trigger", "accountsChanged")
		return render(c, http.StatusOK, views.AccountRemoved(used, v.member.MaxAccounts, []views.Flash{{Kind: "success", Text: msg}}))
	}
	s.addFlash(c, "success", msg)
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
}

func (s *server) disconnect(ctx context.Context, v *viewer, id string) (store.Account, error) {
	a, err := s.Store.DeleteAccount(ctx, v.member.ID, id, v.user.ID, signInPlatforms)
	if err == nil {
		s.revokeSoon()
	}
	return a, err
}

func signInPlatforms(platform string) []string {
	return providers.SignInPlatforms(providers.Platform(platform))
}

// revokeSoon wakes the revocation outbox, if one runs; otherwise its next
// round picks the work up.
func (s *server) revokeSoon() {
	if s.RevokeSoon != nil {
		s.RevokeSoon()
	}
}

func (s *server) handleChooseForm(c echo.Context) error {
	return s.renderChoose(c, http.StatusOK, "")
}

func (s *server) pendingGrant(c echo.Context) (store.PendingGrant, error) {
	v := viewerOf(c)
	g, err := s.Store.PendingGrant(c.Request().Context(), c.Param("id"), hashID(v.sess.ID))
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.WorkspaceID != v.member.ID) {
		return g, echo.NewHTTPError(http.StatusNotFound, "This choice has expired or was already made. Start again with Connect account.")
	}
	return g, err
}

func (s *server) renderChoose(c echo.Context, status int, formError string) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	g, err := s.pendingGrant(c)
	if err != nil {
		return err
	}
	existing, err := s.Store.Accounts(ctx, v.member.ID)
	if err != nil {
		return err
	}
	p := providers.Platform(g.Platform)
	props := views.ChooseProps{GrantID: g.ID, Platform: g.Platform, PlatformName: p.Name(), SignedInAs: g.SubjectName,
		Unlinked: g.Unlinked, Notes: g.Notes, Room: max(v.member.MaxAccounts-len(existing), 0), Plan: v.member.Plan, Error: formError}
	for _, d := range g.Accounts {
		ch := views.ChoiceView{PlatformUserID: d.PlatformUserID, Name: d.DisplayName, AvatarURL: safeAvatar(d.AvatarURL),
			Detail: choiceDetail(p, d), Limited: d.Problem}
		if via, ok := d.Metadata[providers.MetaBusinessName].(string); ok && via != "" {
			ch.Via = "via Business portfolio " + via
		}
		if d.Username != "" && p != providers.Facebook {
			ch.Handle = "@" + d.Username
		}
		ch.Connected = slices.ContainsFunc(existing, func(a store.Account) bool {
			return a.Platform == g.Platform && a.PlatformUserID == d.PlatformUserID
		})
		props.Choices = append(props.Choices, ch)
	}
	return s.page(c, status, "Choose what to manage", "accounts", func(ch views.Chrome) templ.Component { return views.ChoosePage(ch, props) })
}

func choiceDetail(p providers.Platform, d store.Discovered) string {
	var parts []string
	if p == providers.Instagram {
		if page, ok := d.Metadata[providers.MetaPageName].(string); ok {
			parts = append(parts, "linked to "+page)
		}
	} else if cat, ok := d.Metadata["category"].(string); ok {
		parts = append(parts, cat)
	}
	for _, k := range []string{"followers_count", "follower_count", "fan_count"} {
		if n, ok := d.Metadata[k].(float64); ok {
			parts = append(parts, fmt.Sprintf("%.0f followers", n))
			break
		}
	}
	return strings.Join(parts, " · ")
}

func (s *server) handleChoose(c echo.Context) error {
	v := viewerOf(c)
	ctx := c.Request().Context()
	g, err := s.pendingGrant(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	var chosen []store.Discovered
	for _, id := range form["account"] {
		i := slices.IndexFunc(g.Accounts, func(d store.Discovered) bool { return d.PlatformUserID == id })
		if i < 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "One of the chosen accounts was not offered by this sign-in.")
		}
		chosen = append(chosen, g.Accounts[i])
	}
	if len(chosen) == 0 {
		return s.renderChoose(c, http.StatusUnprocessableEntity, "Tick at least one account, or choose Cancel.")
	}
	res, err := s.Store.Connect(ctx, store.Connect{WorkspaceID: v.member.ID, UserID: v.user.ID, Platform: g.Platform,
		Subject: g.Subject, SubjectName: g.SubjectName, Accounts: chosen, SignIn: signInPlatforms(g.Platform)})
	if err != nil {
		return err
	}
	if err := s.Store.DeletePendingGrant(ctx, g.ID); err != nil {
		return err
	}
	s.Log.Info("accounts connected", "platform", g.Platform, "added", len(res.Added), "renewed", len(res.Renewed), "rejected", len(res.Rejected))
	kind, msg := connectSummary(res)
	s.addFlash(c, kind, msg)
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
}

func (s *server) handleChooseCancel(c echo.Context) error {
	v := viewerOf(c)
	g, err := s.pendingGrant(c)
	if err != nil {
		return err
	}
	if err := s.Store.DiscardPendingGrant(c.Request().Context(), g, signInPlatforms(g.Platform)); err != nil {
		return err
	}
	s.revokeSoon()
	s.addFlash(c, "info", "Nothing was connected.")
	if err := v.sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/settings/accounts")
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
			kind, msg = "error", a.DisplayName+" needs to be reconnected: "+after.LastError
		default:
			msg = a.DisplayName + ": " + strings.ToLower(outcomeWords(after.LastOutcome)[:1]) + outcomeWords(after.LastOutcome)[1:] + "."
			if after.LastError != "" {
				kind, msg = "error", a.DisplayName+": "+after.LastError+" OmniSocial will retry on its own."
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

// outcomeWords turns the queue's outcome codes ("transient:http_503") into
// words for the details page.
func outcomeWords(o string) string {
	kind, code, _ := strings.Cut(o, ":")
	switch kind {
	case "":
		return "—"
	case "refreshed":
		return "Tokens refreshed"
	case "checked":
		return "Checked: working"
	case "reconnected":
		return "Reconnected"
	case "deauthorized":
		return "The app was removed at Facebook"
	case "transient":
		return "Temporary problem (" + code + "); retrying"
	case "permanent":
		return "Rejected by the platform (" + code + ")"
	case "misconfigured":
		return "The platform rejected this server's app credentials (" + code + ")"
	}
	return o
}
