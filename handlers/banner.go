package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/views"
)

// accountsKey holds the workspace's accounts when a handler has loaded
// them all, so the banner can reuse them (store.AccountList reads every
// field the banner uses).
const accountsKey = "accounts"

// banner lists the current workspace's accounts that need re-auth, grouped
// by the sign-in that would fix them: one Facebook login renews every Page
// and Instagram account it granted. Managers also see n's alerts and
// paused webhooks.
func (s *server) banner(c echo.Context, n store.Notices) (views.Banner, error) {
	v := viewerOf(c)
	var b views.Banner
	if !v.loggedIn {
		return b, nil
	}
	var accts []store.Account
	if all, ok := c.Get(accountsKey).([]store.Account); ok {
		// The accounts page loaded them all already: no second query.
		for _, a := range all {
			if a.Status == store.StatusNeedsReauth {
				accts = append(accts, a)
			}
		}
	} else {
		var err error
		if accts, err = s.Store.NeedingReauth(c.Request().Context(), v.member.ID); err != nil {
			return b, err
		}
	}
	// Problems of the app itself (its credentials rejected, the database
	// refusing writes) concern whoever administers it; so does an
	// endpoint paused for failing (notices reads them for managers only).
	for _, a := range n.Alerts {
		b.Alerts = append(b.Alerts, a.Message)
	}
	for _, h := range n.Paused {
		b.Alerts = append(b.Alerts, "The webhook to "+h.URL+" is paused: "+h.PausedReason+
			". Fix the endpoint, then resume it on Settings › Webhooks; its messages wait until then.")
	}
	index := map[string]int{}
	for _, a := range accts {
		p := a.Provider()
		info := providers.Describe(p)
		key := a.ID
		g := views.BannerGroup{SignIn: p.Name(), Platform: string(p), AccountID: a.ID, CanReconnect: canManage(v)}
		if info.SharesSignIn() && a.GrantSubject != "" {
			// Accounts of one sign-in serving several platforms (Facebook
			// and Instagram accounts of one Facebook sign-in).
			key = info.SignIn + ":" + a.GrantSubject
			g.SignIn, g.Who = info.SignIn, a.GrantSubjectName
		}
		i, ok := index[key]
		if !ok {
			i = len(b.Groups)
			index[key] = i
			b.Groups = append(b.Groups, g)
		}
		b.Groups[i].Accounts = append(b.Groups[i].Accounts, views.BannerAccount{Name: bannerName(a), Platform: p.Name()})
	}
	return b, nil
}

// bannerName is how the banner names an account: by its @handle where the
// platform names accounts so (Instagram), else by its name.
func bannerName(a store.Account) string {
	if providers.Describe(a.Provider()).ByHandle && a.Username != "" {
		return "@" + strings.TrimPrefix(a.Username, "@")
	}
	return a.DisplayName
}

// handleBanner is the banner alone, for htmx to poll. It builds no page
// chrome: that would take the session's pending messages and drop them.
func (s *server) handleBanner(c echo.Context) error {
	n, err := s.notices(c)
	if err != nil {
		return err
	}
	b, err := s.banner(c, n)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.BannerSlot(s.fragmentChrome(c), b))
}

// notices reads what the chrome tells the person beside the page.
func (s *server) notices(c echo.Context) (store.Notices, error) {
	v := viewerOf(c)
	if !v.loggedIn {
		return store.Notices{}, nil
	}
	return s.Store.Notices(c.Request().Context(), v.user.Email, v.member.ID, canManage(v))
}
