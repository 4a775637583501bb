// Package views renders pages and fragments with templ. Views take plain
// view models built by handlers: no echo.Context, store or session here.
package views

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
)

// Chrome is what every page of the app shell needs.
type Chrome struct {
	Title      string
	CSRF       string
	Asset      string // cache-busting version for /static URLs
	User       *UserView
	Workspaces []WorkspaceView
	Workspace  WorkspaceView
	Nav        string // active navigation entry
	Flashes    []Flash
	Banner     Banner
	// Invitations is how many invitations wait for the person's answer.
	Invitations int
}

type UserView struct{ Email, Name string }

type WorkspaceView struct {
	ID      int64
	Name    string
	Role    string
	Current bool
}

type Flash struct{ Kind, Text string } // Kind: success, error, info

// Banner lists the workspace's accounts that need someone to sign in again,
// grouped by the sign-in that would fix them.
type Banner struct {
	Groups []BannerGroup
	Alerts []string // problems of the app itself, for owners and admins
}

// BannerGroup is one sign-in that stopped working and the accounts it
// serves: one sentence, one action.
type BannerGroup struct {
	Who          string // whose sign-in ("Dana Whitfield"); "" when the account is its own sign-in
	SignIn       string // the platform signed in at: Facebook for Pages and Instagram, TikTok
	Accounts     []BannerAccount
	Platform     string // where a Sign in again starts
	AccountID    string // the account a Sign in again starts from
	CanReconnect bool   // members see the warning, owners and admins the button
}

type BannerAccount struct{ Name, Platform string }

// Sentence is the group in words: "Dana Whitfield's Facebook sign-in stopped
// working: Harbor Coffee Roasters (Facebook), @harborcoffee (Instagram)."
func (g BannerGroup) Sentence() string {
	names := ""
	for i, a := range g.Accounts {
		if i > 0 {
			names += ", "
		}
		names += a.Name + " (" + a.Platform + ")"
	}
	if g.Who == "" {
		return names + " stopped working."
	}
	return g.Who + "'s " + g.SignIn + " sign-in stopped working: " + names + "."
}

func (c Chrome) static(path string) string { return "/static/" + path + "?v=" + c.Asset }

// iconHref is c.static("icons.svg") + "#" + name in one concatenation:
// lists draw several icons a row.
func (c Chrome) iconHref(name string) string { return "/static/icons.svg?v=" + c.Asset + "#" + name }

func (c Chrome) hxHeaders() string {
	h, _ := templ.JSONString(map[string]string{"X-CSRF-Token": c.CSRF}) // a map of strings always marshals
	return h
}

// Ago renders a past time as people say it: "5 minutes ago".
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	if d < 0 {
		return In(t, now)
	}
	switch {
	case d < time.Minute:
		return "just now"
	default:
		return span(d) + " ago"
	}
}

// Changes is the first instant after now at which Ago(t, ·) or In(t, ·)
// reads differently from what it reads at now: whatever keeps a rendered
// "5 minutes ago" must render it again then. A zero t ("never") never
// changes.
func Changes(t, now time.Time) time.Time {
	if t.IsZero() {
		return never
	}
	if d := now.Sub(t); d >= 0 {
		return t.Add(agoEnd(d))
	}
	if r := inStart(t.Sub(now)); r > 0 {
		return t.Add(-r + 1)
	}
	return t // Ago's "just now" from t on
}

// never is a time no clock reaches.
var never = time.Unix(1<<62, 0)

// The bounds of span's wording: minutes below the first, hours below the
// second, days above.
const (
	minutesBelow = time.Hour - 30*time.Second
	hoursBelow   = 47*time.Hour + 30*time.Minute
)

// agoEnd is where the wording of an age d (>= 0) changes: its unit's
// rounding steps at the half units, and the units switch at span's bounds.
func agoEnd(d time.Duration) time.Duration {
	step := func(unit, bound time.Duration) time.Duration {
		return min(time.Duration(int((d+unit/2)/unit))*unit+unit/2, bound)
	}
	switch {
	case d < time.Minute:
		return time.Minute
	case d < minutesBelow:
		return step(time.Minute, minutesBelow)
	case d < hoursBelow:
		return step(time.Hour, hoursBelow)
	}
	return step(24*time.Hour, 1<<62)
}

// inStart is the least time left r (>= 0) that still reads as r does; with
// less left the words change (at 0, to Ago's).
func inStart(r time.Duration) time.Duration {
	step := func(unit, bound time.Duration) time.Duration {
		return max(time.Duration(int((r+unit/2)/unit))*unit-unit/2, bound)
	}
	switch {
	case r < time.Minute:
		return 0
	case r < minutesBelow:
		return step(time.Minute, time.Minute)
	case r < hoursBelow:
		return step(time.Hour, minutesBelow)
	}
	return step(24*time.Hour, hoursBelow)
}

// In renders a future time: "in 3 days".
func In(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d < 0:
		return Ago(t, now)
	case d < time.Minute:
		return "in under a minute"
	default:
		return "in " + span(d)
	}
}

// span says a duration of at least a minute the way people round it:
// 1 h 59 min is "2 hours", not "1 hour".
func span(d time.Duration) string {
	round := func(unit time.Duration) int { return int((d + unit/2) / unit) }
	switch {
	case d < minutesBelow:
		return plural(max(round(time.Minute), 1), "minute")
	case d < hoursBelow:
		return plural(round(time.Hour), "hour")
	default:
		return plural(round(24*time.Hour), "day")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func initial(s string) string {
	for _, r := range s {
		return string(r)
	}
	return "?"
}

func idString(id int64) string { return fmt.Sprint(id) }

// num writes a count as people read it: 12,410.
func num(n int) string { return Thousands(int64(n)) }

// Thousands groups digits by three with commas: 12410 is "12,410".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := ""
	if n < 0 {
		neg, s = "-", s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return neg + s
}

// FilterThreshold is how many accounts a workspace has before its list
// offers search, filters and pages; PageSize is how many a page shows.
const (
	FilterThreshold = 20
	PageSize        = 20
)

// query is the filter as a query string ("?q=…&page=2"), "" when empty.
func (f AccountFilter) query(page int) string {
	v := url.Values{}
	if f.Q != "" {
		v.Set("q", f.Q)
	}
	if f.Platform != "" {
		v.Set("platform", f.Platform)
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Query is the filter's query string for the given page.
func (f AccountFilter) Query(page int) string { return f.query(page) }

func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

func joinEvents(events []string) string { return strings.Join(events, ", ") }
