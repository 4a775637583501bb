package providers

import (
	"errors"
	"net/url"
	"strings"
	"time"
)

// Kind says what a failure means for the account (SECURITY.md §5).
type Kind int

const (
	// Transient: network, timeout, 5xx, rate limit, unreadable answer.
	// Retry later with backoff; the account stays usable.
	Transient Kind = iota
	// Permanent: the authorization is dead or lacks a permission. The person
	// must reconnect; do not retry.
	Permanent
	// Misconfigured: the platform rejected the app's own credentials
	// (invalid_client, bad app secret). No account is at fault: alert ops.
	// (Named so because Config is the adapter's configuration type.)
	Misconfigured
	// Denied: the person cancelled at the platform.
	Denied
)

func (k Kind) String() string {
	switch k {
	case Transient:
		return "transient"
	case Permanent:
		return "permanent"
	case Misconfigured:
		return "misconfigured"
	case Denied:
		return "denied"
	}
	return "unknown"
}

// Reach says how far a Permanent failure reaches beyond the account that
// was checked (PLATFORMS.md §8 "Grant-wide token death").
type Reach int

const (
	// ReachAccount: only the account checked.
	ReachAccount Reach = iota
	// ReachSignIn: the sign-in itself is dead (a Meta user token that
	// expired, was logged out or lost its session): every account obtained
	// through that very sign-in, Pages and Instagram accounts alike.
	ReachSignIn
	// ReachPerson: everything the person authorized this app to do is gone
	// (the app was removed, the password changed, the account must be
	// confirmed; a TikTok authorization revoked): every account connected
	// by that person through any of their sign-ins.
	ReachPerson
)

// ReachOf is how far err reaches; ReachAccount for anything but a
// Permanent *Error that says otherwise.
func ReachOf(err error) Reach {
	if e, ok := errors.AsType[*Error](err); ok && e.Kind == Permanent {
		return e.Reach
	}
	return ReachAccount
}

// Error is every failure against a platform. Its text is safe to log: it
// never holds a token, a query string or raw provider text.
type Error struct {
	Platform   Platform
	Kind       Kind
	Code       string        // platform code: "190/460", "invalid_grant", "timeout"
	Reason     string        // plain words for a person
	RetryAfter time.Duration // platform's hint, 0 if none
	Reach      Reach         // Permanent only: which other accounts die with this one

	detail string // method, scheme+host+path and status, for logs
	cause  error  // only context.Canceled / DeadlineExceeded, for errors.Is
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Platform) + ": " + e.Kind.String() + ": " + e.Reason)
	if e.Code != "" {
		b.WriteString(" (" + e.Code + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString(", retry after " + e.RetryAfter.String())
	}
	if e.detail != "" {
		b.WriteString(" [" + e.detail + "]")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.cause }

// KindOf returns the kind of a classified error. Any other non-nil error
// counts as Transient: an unknown failure must not condemn an account.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Transient
}

// IsTransient reports whether err should be retried later.
func IsTransient(err error) bool { return err != nil && KindOf(err) == Transient }

// IsPermanent reports whether err means the person must reconnect.
func IsPermanent(err error) bool { return err != nil && KindOf(err) == Permanent }

// IsMisconfigured reports whether the app's own credentials were rejected.
func IsMisconfigured(err error) bool { return err != nil && KindOf(err) == Misconfigured }

// IsDenied reports whether the person cancelled at the platform.
func IsDenied(err error) bool { return err != nil && KindOf(err) == Denied }

// CallbackError classifies the error a platform put on the redirect back
// (RFC 6749 §4.1.2.1); nil when q carries none. error_description is never
// used: it is provider text.
func CallbackError(p Platform, q url.Values) error {
	code := q.Get("error")
	if code == "" {
		return nil
	}
	reason := q.Get("error_reason")
	if reason == "not_professional_account" {
		// Instagram Login with a personal account (the sandbox's reading:
		// the documents do not say how the window ends; PLATFORMS.md §2.2).
		return &Error{Platform: p, Kind: Permanent, Code: "not_professional",
			Reason: "Only Instagram professional accounts (Business or Creator) can connect"}
	}
	if code == "access_denied" && (reason == "" || reason == "user_denied") || reason == "user_denied" {
		return &Error{Platform: p, Kind: Denied, Code: "access_denied",
			Reason: "The connection was cancelled at " + p.Name()}
	}
	return &Error{Platform: p, Kind: Permanent, Code: safeCode(code),
		Reason: p.Name() + " did not authorize the connection"}
}

// safeCode keeps a platform code printable and short: it lands in logs and
// the database, so it must not carry arbitrary provider text.
func safeCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./", r) {
			return r
		}
		return -1
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
