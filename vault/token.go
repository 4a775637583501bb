// Package vault keeps OAuth tokens secret: a Token type that never prints
// itself, and a Box that seals tokens with AES-256-GCM bound to the row and
// field they belong to.
package vault

import (
	"fmt"
	"log/slog"
)

const redacted = "[REDACTED]"

// Token is a secret credential. Every way Go has of printing, logging or
// marshalling a value shows "[REDACTED]"; only Reveal gives the plaintext, so
// each place that needs it is easy to find.
type Token struct{ s string }

// NewToken wraps a plaintext credential.
func NewToken(s string) Token { return Token{s: s} }

// Reveal returns the plaintext. Call it only where the value leaves for a
// platform or goes into the Box.
func (t Token) Reveal() string { return t.s }

// IsZero reports whether the token is empty.
func (t Token) IsZero() bool { return t.s == "" }

// Equal reports whether two tokens hold the same secret.
func (t Token) Equal(o Token) bool { return t.s == o.s }

func (t Token) String() string   { return t.mask() }
func (t Token) GoString() string { return "vault.Token(" + t.mask() + ")" }

// Format covers every verb, including %q, %x and %#v, which would otherwise
// bypass String.
func (t Token) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, t.GoString())
		return
	}
	fmt.Fprint(f, t.mask())
}

func (t Token) LogValue() slog.Value { return slog.StringValue(t.mask()) }

func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + t.mask() + `"`), nil }
func (t Token) MarshalText() ([]byte, error) { return []byte(t.mask()), nil }

func (t Token) mask() string {
	if t.s == "" {
		return ""
	}
	return redacted
}
