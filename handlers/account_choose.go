package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

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
	if direct := s.Providers[providers.IGLogin]; info.LinkedPage && direct != nil && direct.Configured() {
		props.DirectLogin = true
	}
	for _, d := range g.Accounts {
		ch := views.ChoiceView{PlatformUserID: d.PlatformUserID, Name: d.DisplayName, AvatarURL: providers.SafeAvatar(d.AvatarURL),
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
	chosen, form, err := chosenAccounts(c, g)
	if err != nil {
		return err
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

// chosenAccounts reads the accounts ticked on a choose step; each must be
// one the grant offered.
func chosenAccounts(c echo.Context, g store.PendingGrant) ([]store.Discovered, url.Values, error) {
	form, err := c.FormParams()
	if err != nil {
		return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "The form could not be read. Reload the page and try again.")
	}
	var chosen []store.Discovered
	for _, id := range form["account"] {
		i := slices.IndexFunc(g.Accounts, func(d store.Discovered) bool { return d.PlatformUserID == id })
		if i < 0 {
			return nil, nil, echo.NewHTTPError(http.StatusBadRequest, "One of the chosen accounts was not offered by this sign-in.")
		}
		chosen = append(chosen, g.Accounts[i])
	}
	return chosen, form, nil
}
