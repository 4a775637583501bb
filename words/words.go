// Package words holds the small text helpers that messages for people
// share. They work on runes, so any UTF-8 text, and "", is safe.
package words

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// UpperFirst returns s with its first letter in upper case.
func UpperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// LowerFirst returns s with its first letter in lower case.
func LowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// Humanize writes an identifier such as "needs_reauth" as words with a
// capital first: "Needs reauth".
func Humanize(id string) string {
	return UpperFirst(strings.ReplaceAll(id, "_", " "))
}
