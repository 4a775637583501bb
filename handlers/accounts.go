package handlers

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"omnisocial/providers"
	"omnisocial/views"
)

func (s *server) accountsProps(c echo.Context) (views.AccountsProps, error) {
	v := viewerOf(c)
	l, err := s.accountList(c.Request().Context(), v.member, pageKind(canManage(v)))
	if err != nil {
		return views.AccountsProps{}, err
	}
	c.Set(accountsKey, l.accts)
	// The list's forms take the chrome's token: make sure the session has
	// one before a fragment's chrome reads it.
	token, err := s.csrfToken(c)
	if err != nil {
		return views.AccountsProps{}, err
	}
	token = templ.EscapeString(token)
	p := views.AccountsProps{Used: len(l.accts), Max: v.member.MaxAccounts, Plan: v.member.Plan, CanManage: canManage(v)}
	var shown []int
	shown, p.Filter = filterAccounts(l.views, c.QueryParams())
	p.Rows = make([]templ.Component, len(shown))
	for i, at := range shown {
		p.Rows[i] = l.rows[at].with(token)
	}
	return p, nil
}

var (
	filterPlatforms = platformOptions()
	filterStatuses  = []views.FilterOption{{Value: statusNeedsReauth, Label: "Needs re-auth"}, {Value: statusExpiring, Label: "Expiring soon"},
		{Value: statusLimited, Label: "Limited"}, {Value: statusActive, Label: "Active"}}
)

// filterAccounts narrows a workspace's accounts by the list's search and
// filters (q, platform, status) and cuts out the page asked for, as
// indexes into all. The status is the one shown (expiring soon is worked
// out, not stored), so this happens here rather than in SQL; a workspace
// holds at most a plan's worth of accounts.
func filterAccounts(all []views.AccountView, q url.Values) ([]int, views.AccountFilter) {
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
	matched := make([]int, 0, len(all))
	for i, a := range all {
		if f.Platform != "" && a.Platform != f.Platform || f.Status != "" && a.Status != f.Status {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(a.Name), needle) && !strings.Contains(strings.ToLower(a.Handle), needle) {
			continue
		}
		matched = append(matched, i)
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
	for _, p := range providers.AccountPlatforms() {
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
