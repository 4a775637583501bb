// Package views renders pages and fragments with templ. Views take plain
// view models built by handlers: no echo.Context, store or session here.
package views

import (
	"fmt"
	"github.com/a-h/templ"
	"strings"
	"time"
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

type BannerGroup struct {
	Label        string // "Reconnect Dana Whitfield's Facebook" or an account's name
	Accounts     []string
	Platform     string
	AccountID    string // the account a Reconnect starts from
	CanReconnect bool   // members see the warning, owners and admins the button
	BySignIn     bool   // Label names the sign-in, so the accounts are listed
}

func (c Chrome) static(path string) string { return "/static/" + path + "?v=" + c.Asset }

func (c Chrome) hxHeaders() string { return fmt.Sprintf(`{"X-CSRF-Token":%q}`, c.CSRF) }

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
	case d < time.Hour-30*time.Second:
		return plural(max(round(time.Minute), 1), "minute")
	case d < 47*time.Hour+30*time.Minute:
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

// cls sets a class attribute from a plain string. templ's class={ }
// parses and sanitises class lists on every render, which showed up as an
// eighth of an accounts page; these classes are built from constants.
func cls(class string) templ.Attributes { return templ.Attributes{"class": class} }

// signInPlatform names where the person signed in: Instagram accounts are
// reached through Facebook Login.
func signInPlatform(platform, name string) string {
	if platform == "instagram" {
		return "Facebook"
	}
	return name
}

func joinEvents(events []string) string { return strings.Join(events, ", ") }
