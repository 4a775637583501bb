// Package setupcheck tells whoever runs OmniSocial whether the install is
// right: the owners' /settings/setup page and `omnisocial doctor` print
// the same lines, each good or bad with the fix in words.
package setupcheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"omnisocial/store"
)

// Line is one finding.
type Line struct {
	OK     bool
	Title  string
	Detail string
	Fix    string   // what to do, when not OK
	Copy   []string // values to copy exactly (callback URLs)
}

// Platform is one platform as configured.
type Platform struct {
	Name       string   // Facebook, Instagram, TikTok
	Slug       string   // facebook, instagram, tiktok
	Configured bool     // credentials set, or the sandbox stands in
	OnSandbox  bool     // talking to the built-in sandbox
	Vars       []string // what to set
}

// Input is what the checks look at.
type Input struct {
	BaseURL *url.URL
	// Reached is how this request reached the server (scheme://host);
	// empty from the command line, where there is no request.
	Reached      string
	Platforms    []Platform
	Store        *store.Store // nil: the database could not be opened
	StoreErr     error        // why not
	DBPath       string
	RefreshEvery time.Duration
	SMTP         bool // OMNISOCIAL_SMTP_URL set
	Now          time.Time
}

// Run makes every check.
func Run(ctx context.Context, in Input) []Line {
	base := strings.TrimRight(in.BaseURL.String(), "/")
	out := platformLines(in, base)

	https := in.BaseURL.Scheme == "https"
	l := Line{OK: https, Title: "Base URL is https", Detail: base}
	if !https {
		l.Title = "Base URL is not https"
		l.Fix = "set OMNISOCIAL_BASE_URL to the https address people use; platforms refuse http callbacks except for localhost"
		if host := in.BaseURL.Hostname(); host == "localhost" || net.ParseIP(host).IsLoopback() {
			// Platforms accept http callbacks to this machine: fine for development.
			l.OK, l.Title = true, "Base URL is http on this machine"
			l.Detail = base + " (fine for development; use the public https address before others use it)"
		}
	}
	out = append(out, l)
	if in.Reached != "" {
		want := in.BaseURL.Scheme + "://" + in.BaseURL.Host
		ok := strings.EqualFold(in.Reached, want)
		l := Line{OK: ok, Title: "Base URL matches how this page was reached", Detail: "reached at " + in.Reached + ", OMNISOCIAL_BASE_URL is " + want}
		if !ok {
			l.Title = "Base URL does not match how this page was reached"
			l.Fix = "set OMNISOCIAL_BASE_URL to " + in.Reached + " (or reach the app at " + want +
				"); a wrong host or port sends every platform sign-in back to the wrong place. Behind a proxy, pass the Host header and X-Forwarded-Proto through"
		}
		out = append(out, l)
	}

	if in.Store == nil && errors.Is(in.StoreErr, store.ErrWrongKey) {
		out = append(out, Line{Title: "The encryption key does not open the database", Detail: store.Shown(in.DBPath),
			Fix: "set OMNISOCIAL_ENCRYPTION_KEY to the key the database was written with (OMNISOCIAL_ENCRYPTION_KEY_OLD only while rotate-key runs)"})
	} else if in.Store == nil {
		out = append(out, Line{Title: "The database cannot be opened", Detail: fmt.Sprint(in.StoreErr),
			Fix: "check OMNISOCIAL_DB, that its folder exists and belongs to the user running omnisocial, and free disk space"})
	} else if err := in.Store.CheckKey(ctx); err != nil {
		out = append(out, Line{Title: "The encryption key does not open the database", Detail: err.Error(),
			Fix: "set OMNISOCIAL_ENCRYPTION_KEY to the key the database was written with"})
	} else {
		out = append(out, Line{OK: true, Title: "The encryption key opens the database (key canary)"})
	}
	out = append(out, dbLines(ctx, in)...)

	if in.Store != nil {
		out = append(out, refreshLine(ctx, in))
	}
	if in.SMTP {
		out = append(out, Line{OK: true, Title: "E-mail alerts: SMTP configured"})
	} else {
		out = append(out, Line{Title: "E-mail alerts: SMTP not configured",
			Fix: "set OMNISOCIAL_SMTP_URL (smtp://user:pass@host:587) and OMNISOCIAL_MAIL_FROM, so owners hear when accounts need reconnecting"})
	}
	return out
}

// platformLines say which platforms are configured, and list the
// callback URLs to register with them.
func platformLines(in Input, base string) []Line {
	var out []Line
	for _, p := range in.Platforms {
		l := Line{OK: p.Configured, Title: p.Name + ": configured"}
		switch {
		case p.OnSandbox:
			l.Detail = "talking to the built-in sandbox, not the real " + p.Name
		case p.Configured:
			l.Detail = "credentials set"
		default:
			l.Title = p.Name + ": not configured"
			l.Fix = "set " + strings.Join(p.Vars, " and ") + ", then restart"
		}
		out = append(out, l)
	}
	var cbs []string
	for _, p := range in.Platforms {
		cbs = append(cbs, base+"/oauth/"+p.Slug+"/callback")
	}
	if len(in.Platforms) > 1 {
		cbs = append(cbs, base+"/oauth/facebook/deauthorize", base+"/oauth/facebook/data-deletion")
	}
	out = append(out, Line{OK: true, Title: "Callback URLs to register with the platforms",
		Detail: "register these exactly: the callbacks as redirect URIs (Meta app: Valid OAuth Redirect URIs; TikTok: Redirect URI), then Meta's deauthorize and data-deletion URLs", Copy: cbs})
	return out
}

// refreshLine says whether the refresh job ran in the last interval.
func refreshLine(ctx context.Context, in Input) Line {
	last, err := in.Store.LastRefreshRun(ctx)
	l := Line{Title: "Refresh job ran in the last interval"}
	switch {
	case err != nil:
		l.Title, l.Detail, l.Fix = "Refresh job: unknown", err.Error(), "check that the database is readable"
	case last.IsZero():
		l.Title, l.Fix = "Refresh job has never run", "start `omnisocial serve`; it runs the job at start and every OMNISOCIAL_REFRESH_INTERVAL"
	case in.Now.Sub(last) <= 2*in.RefreshEvery+5*time.Second:
		l.OK, l.Detail = true, fmt.Sprintf("last run %s ago (every %s)", in.Now.Sub(last).Round(time.Second), in.RefreshEvery)
	default:
		l.Title = "Refresh job has not run in the last interval"
		l.Detail = fmt.Sprintf("last run %s ago, every %s expected", in.Now.Sub(last).Round(time.Second), in.RefreshEvery)
		l.Fix = "make sure `omnisocial serve` is running against this database and its log shows no refresh errors"
	}
	return l
}

func dbLines(ctx context.Context, in Input) []Line {
	var out []Line
	shown := store.Shown(in.DBPath)
	if in.Store != nil {
		if err := in.Store.CheckWritable(ctx); err != nil {
			fix := "check free disk space and that the user running omnisocial owns " + shown
			if store.IsPostgres(in.DBPath) {
				fix = "check that PostgreSQL is up, has free disk space, and lets this role write"
			}
			out = append(out, Line{Title: "Database is not writable", Detail: err.Error(), Fix: fix})
		} else {
			out = append(out, Line{OK: true, Title: "Database is writable", Detail: shown})
		}
	}
	if store.IsPostgres(in.DBPath) {
		return out // its files are PostgreSQL's to keep
	}
	var size int64
	var loose []string
	for _, p := range []string{in.DBPath, in.DBPath + "-wal", in.DBPath + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		size += fi.Size()
		if fi.Mode().Perm()&0o077 != 0 {
			loose = append(loose, fmt.Sprintf("%s is %04o", p, fi.Mode().Perm()))
		}
	}
	out = append(out, Line{OK: true, Title: "Database size", Detail: fmt.Sprintf("%.1f MiB", float64(size)/(1<<20))})
	if len(loose) > 0 {
		out = append(out, Line{Title: "Database files are readable by others", Detail: strings.Join(loose, ", "),
			Fix: "chmod 600 the database files (they hold ciphertexts, password hashes and e-mails)"})
	} else {
		out = append(out, Line{OK: true, Title: "Database files are the owner's alone (0600)"})
	}
	if dir, open := store.WorldReadable(in.DBPath); open {
		out = append(out, Line{Title: "Database folder is readable by others", Detail: dir, Fix: "chmod 700 " + dir})
	}
	return out
}

// Text prints the lines as `omnisocial doctor` does.
func Text(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		mark := "ok  "
		if !l.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "[%s] %s", mark, l.Title)
		if l.Detail != "" {
			fmt.Fprintf(&b, ": %s", l.Detail)
		}
		b.WriteString("\n")
		for _, c := range l.Copy {
			fmt.Fprintf(&b, "       %s\n", c)
		}
		if !l.OK && l.Fix != "" {
			fmt.Fprintf(&b, "       fix: %s\n", l.Fix)
		}
	}
	return b.String()
}
