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

// JoinAnd lists names as a sentence does: "a", "a and b", "a, b and c".
func JoinAnd(names []string) string {
	switch len(names) {
	case 0:
		return "nothing"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}
