package handlers

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
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
	all := make([]views.AccountView, 0, len(accts))
	for _, a := range accts {
		all = append(all, s.accountView(a, canManage(v), csrf))
	}
	p.Accounts, p.Filter = filterAccounts(all, c.QueryParams())
	return p, nil
}

var (
	filterPlatforms = platformOptions()
	filterStatuses  = []views.FilterOption{{Value: "needs_reauth", Label: "Needs re-auth"}, {Value: "expiring", Label: "Expiring soon"},
		{Value: "limited", Label: "Limited"}, {Value: "active", Label: "Active"}}
)

// filterAccounts narrows a workspace's accounts by the list's search and
// filters (q, platform, status) and cuts out the page asked for. The
// status is the one shown (expiring soon is worked out, not stored), so
// this happens here rather than in SQL; a workspace holds at most a plan's
// worth of accounts.
func filterAccounts(all []views.AccountView, q url.Values) ([]views.AccountView, views.AccountFilter) {
	f := views.AccountFilter{Show: len(all) > views.FilterThreshold, Q: strings.TrimSpace(q.Get("q")), Page: 1}
	if len(f.Q) > 100 {
		f.Q = f.Q[:100]
	}
	if slices.ContainsFunc(filterPlatforms, func(o views.FilterOption) bool { return o.Value == q.Get("platform") }) {
		f.Platform = q.Get("platform")
	}
	if slices.ContainsFunc(filterStatuses, func(o views.FilterOption) bool { return o.Value == q.Get("status") }) {
		f.Status = q.Get("status")
	}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		f.Page = n
	}
	// A filter given in the address counts even on a short list, so a
	// link to it never shows the wrong accounts.
	f.Show = f.Show || f.Active()
	needle := strings.ToLower(f.Q)
	var matched []views.AccountView
	for _, a := range all {
		if f.Platform != "" && a.Platform != f.Platform || f.Status != "" && a.Status != f.Status {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(a.Name), needle) && !strings.Contains(strings.ToLower(a.Handle), needle) {
			continue
		}
		matched = append(matched, a)
	}
	for _, o := range filterPlatforms {
		o.Count = countFunc(all, func(a views.AccountView) bool { return a.Platform == o.Value })
		o.Selected = o.Value == f.Platform
		f.Platforms = append(f.Platforms, o)
	}
	for _, o := range filterStatuses {
		o.Count = countFunc(all, func(a views.AccountView) bool { return a.Status == o.Value })
		o.Selected = o.Value == f.Status
		f.Statuses = append(f.Statuses, o)
	}
	f.Matched = len(matched)
	if !f.Show {
		return matched, f
	}
	f.Pages = max((len(matched)+views.PageSize-1)/views.PageSize, 1)
	f.Page = min(f.Page, f.Pages)
	from := (f.Page - 1) * views.PageSize
	to := min(from+views.PageSize, len(matched))
	f.From, f.To = min(from+1, to), to
	return matched[from:to], f
}

// platformOptions offers every platform, in chooser order.
func platformOptions() []views.FilterOption {
	var out []views.FilterOption
	for _, p := range providers.Platforms() {
		out = append(out, views.FilterOption{Value: string(p), Label: p.Name()})
	}
	return out
}

func countFunc[T any](xs []T, keep func(T) bool) int {
	n := 0
	for _, x := range xs {
		if keep(x) {
			n++
		}
	}
	return n
}

func (s *server) handleAccountList(c echo.Context) error {
	p, err := s.accountsProps(c)
	if err != nil {
		return err
	}
	// The search form sent without JavaScript names every field, empty
	// ones too: answer with the address a person would write.
	for _, k := range []string{"q", "platform", "status", "page"} {
		if vs, ok := c.QueryParams()[k]; ok && (len(vs) == 0 || strings.TrimSpace(vs[0]) == "") {
			return c.Redirect(http.StatusSeeOther, "/settings/accounts"+p.Filter.Query(p.Filter.Page))
		}
	}
	return s.page(c, http.StatusOK, "Social Accounts", "accounts", func(ch views.Chrome) templ.Component { return views.AccountsPage(ch, p) })
}

// handleAccountListFragment is the list alone, for htmx to reload.
func (s *server) handleAccountListFragment(c echo.Context) error {
	p, err := s.accountsProps(c)
	if err != nil {
		return err
	}
	// The address follows the search and page shown, so reload, back and a
	// shared link show the same accounts.
	c.Response().Header().Set("HX-Replace-Url", "/settings/accounts"+p.Filter.Query(p.Filter.Page))
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
	if providers.Describe(p).Handle == providers.HandleCategory {
		v.Handle = "Page"
		if c := a.Metadata["category"]; c != nil && fmt.Sprint(c) != "" {
			v.Handle = fmt.Sprint(c)
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
		v.Expiry = "" // it works until nothing: the problem says what to do
		v.Problem = sentence(a.LastError)
		if v.Problem == "" {
			v.Problem = "OmniSocial can no longer reach this account."
		}
		v.Problem += " Reconnect it to keep publishing."
	case a.Status == store.StatusLimited:
		v.Status, v.StatusLabel = "limited", "Limited"
		v.Missing = providers.Missing(p, a.Scopes)
		v.Problem = sentence(a.LastError)
		if len(v.Missing) > 0 {
			v.Problem = missingWords(v.Missing) + " " + grantAdvice(len(v.Missing))
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
	case renews(a) && !a.RefreshExpiresAt.IsZero():
		return "Renews automatically until " + a.RefreshExpiresAt.Format("2 Jan 2006")
	case deadline.IsZero():
		return "Never expires"
	case deadline.Before(now):
		return "Expired " + views.Ago(deadline, now)
	}
	return "Works until " + deadline.Format("2 Jan 2006")
}

// sentence ends a message with a full stop when it has none, so another
// sentence can follow it.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") {
		return s
	}
	return s + "."
}

// missingWords names missing permissions in one sentence:
// "Missing permissions: publish posts and read engagement."
func missingWords(scopes []string) string {
	if len(scopes) == 1 {
		return "Missing permission: " + scopeWords(scopes) + "."
	}
	return "Missing permissions: " + scopeWords(scopes) + "."
}

func grantAdvice(n int) string {
	if n == 1 {
		return "Grant it to use every feature."
	}
	return "Grant them to use every feature."
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
		Metadata:    metadataRows(a.Metadata),
		HistoryDays: s.HistoryDays,
	}
	p.Health, p.HealthKind, p.Connection = s.connectionHealth(a, p.Account, now)
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
	case "needs_reauth":
		kind = "bad"
		reason := sentence(a.LastError)
		if reason == "" {
			reason = "OmniSocial can no longer reach it."
		}
		health = "Stopped working " + av.Checked + ". " + reason + " Nothing is retried until it is reconnected: choose Reconnect and sign in as someone who manages it."
	case "expiring":
		kind = "warn"
		health = fmt.Sprintf("Working until %s (%s). %s cannot renew this access on its own: reconnect before then.",
			day(deadline), views.In(deadline, now), av.PlatformName)
	case "limited":
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
				plural(a.Failures, "check"), lowerFirst(outcomeWords(a.LastOutcome)))
		}
	}
	add := func(label, value, testid string) {
		rows = append(rows, views.Fact{Label: label, Value: value, TestID: testid})
	}
	if av.Status != "needs_reauth" {
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
	if a.Failures > 0 && av.Status != "needs_reauth" {
		add("Failed checks", fmt.Sprintf("%d in a row; retrying with backoff", a.Failures), "")
	}
	if a.LastError != "" && av.Status != "needs_reauth" {
		add("Last error", a.LastError, "last-error")
	}
	add("Connected", a.ConnectedAt.UTC().Format("2 Jan 2006 15:04 UTC")+" by "+orDash(a.ConnectedBy), "")
	return health, kind, rows
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return views.Thousands(int64(n)) + " " + unit + "s"
}

// signInName is where the person signs in for an account: Instagram
// accounts are reached through Facebook Login.
func signInName(a store.Account) string {
	return providers.Describe(providers.Platform(a.Platform)).SignIn
}

// renews reports whether the account's platform renews its access on its
// own with a refresh token (TikTok), rather than only validating it.
func renews(a store.Account) bool {
	return providers.Describe(providers.Platform(a.Platform)).Renewal == providers.Rotated
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
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
			label = strings.ToUpper(k[:1]) + strings.ReplaceAll(k[1:], "_", " ")
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
					parts = append(parts, strings.ToUpper(w[:1])+w[1:])
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

// number writes a count from JSON as people read it (12,410); ids and
// other large values keep their digits.
func number(x float64) string {
	if x != math.Trunc(x) || math.Abs(x) >= 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return views.Thousands(int64(x))
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
		// app.js moves focus to the message (or the list's heading), not
		// leaving it on <body> where the dialog was.
		c.Response().Header().Set("HX-Trigger-After-Settle", "focusMessage")
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
	return s.renderChooseWith(c, status, formError, nil)
}

// renderChooseWith shows the choose step. selected, when not nil, is what
// the person ticked (kept when the form comes back with a message);
// otherwise the accounts already connected are ticked, and new ones in
// order while the plan has room for them.
func (s *server) renderChooseWith(c echo.Context, status int, formError string, selected []string) error {
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
	info := providers.Describe(p)
	props := views.ChooseProps{GrantID: g.ID, Platform: g.Platform, PlatformName: p.Name(), SignIn: info.SignIn,
		LinkedPage: info.LinkedPage, SignedInAs: g.SubjectName,
		Unlinked: g.Unlinked, Notes: g.Notes, Room: max(v.member.MaxAccounts-len(existing), 0), Plan: v.member.Plan, Error: formError}
	for _, d := range g.Accounts {
		ch := views.ChoiceView{PlatformUserID: d.PlatformUserID, Name: d.DisplayName, AvatarURL: safeAvatar(d.AvatarURL),
			Detail: choiceDetail(p, d), Limited: d.Problem}
		if via, ok := d.Metadata[providers.MetaBusinessName].(string); ok && via != "" {
			ch.Via = "via Business portfolio " + via
		}
		if d.Username != "" && info.Handle == providers.HandleUsername {
			ch.Handle = "@" + d.Username
		}
		ch.Connected = slices.ContainsFunc(existing, func(a store.Account) bool {
			return a.Platform == g.Platform && a.PlatformUserID == d.PlatformUserID
		})
		switch {
		case selected != nil:
			ch.Checked = slices.Contains(selected, d.PlatformUserID) && (ch.Connected || props.Room > 0)
		case ch.Connected:
			ch.Checked = true
		default:
			ch.Checked = props.Selected < props.Room
		}
		if ch.Checked && !ch.Connected {
			props.Selected++
		}
		props.Choices = append(props.Choices, ch)
	}
	return s.page(c, status, "Choose what to manage", "accounts", func(ch views.Chrome) templ.Component { return views.ChoosePage(ch, props) })
}

func choiceDetail(p providers.Platform, d store.Discovered) string {
	var parts []string
	if providers.Describe(p).LinkedPage {
		if page, ok := d.Metadata[providers.MetaPageName].(string); ok {
			parts = append(parts, "linked to "+page)
		}
	} else if cat, ok := d.Metadata["category"].(string); ok {
		parts = append(parts, cat)
	}
	for _, k := range []string{"followers_count", "follower_count", "fan_count"} {
		if n, ok := d.Metadata[k].(float64); ok {
			parts = append(parts, number(n)+" followers")
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
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Reload the page and try again.")
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
		return s.renderChooseWith(c, http.StatusUnprocessableEntity, "Tick at least one account, or choose Cancel.", []string{})
	}
	// More new accounts than the plan has room for: say so before anything
	// is connected, keeping the selection, so the person decides which.
	existing, err := s.Store.Accounts(ctx, v.member.ID)
	if err != nil {
		return err
	}
	added := countFunc(chosen, func(d store.Discovered) bool {
		return !slices.ContainsFunc(existing, func(a store.Account) bool { return a.Platform == g.Platform && a.PlatformUserID == d.PlatformUserID })
	})
	if room := max(v.member.MaxAccounts-len(existing), 0); added > room {
		msg := fmt.Sprintf("You selected %s, but your %s plan has room for %s. Untick %d, or disconnect an account or change plan first.",
			plural(added, "new account"), v.member.Plan, plural(room, "more"), added-room)
		if room == 0 {
			msg = fmt.Sprintf("Your %s plan is full: disconnect an account or change plan to add one. Accounts already connected can still be renewed.", v.member.Plan)
		}
		return s.renderChooseWith(c, http.StatusUnprocessableEntity, msg, form["account"])
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
			kind, msg = "error", a.DisplayName+" needs to be reconnected: "+sentence(after.LastError)
		default:
			msg = a.DisplayName + " is working."
			if strings.HasPrefix(after.LastOutcome, "refreshed") {
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
		return "Checked, working"
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
