// Package auth holds what logging in needs beyond storage: password hashing
// and the log-in rate limiter.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters from OWASP ASVS 5.0 appendix C / the Password Storage
// cheat sheet: 19 MiB, 2 passes, 1 lane.
const (
	memoryKiB = 19 * 1024
	passes    = 2
	lanes     = 1
	keyLen    = 32
	saltLen   = 16
)

// Password length rules (ASVS 6.2.1, 6.2.9): at least 8, long passphrases
// welcome, nothing truncated.
const (
	MinPassword = 8
	MaxPassword = 1024
)

// ErrMismatch means the password does not match the hash.
var ErrMismatch = errors.New("auth: wrong password")

// CheckPolicy returns a sentence for a person if the password is unusable.
func CheckPolicy(pw string) string {
	switch {
	case len(pw) < MinPassword:
		return fmt.Sprintf("Use at least %d characters.", MinPassword)
	case len(pw) > MaxPassword:
		return fmt.Sprintf("Use at most %d characters.", MaxPassword)
	}
	return ""
}

// HashPassword returns a PHC-format argon2id hash.
func HashPassword(pw string) string {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	releaseMemory()
	b64 := base64.RawStdEncoding.EncodeToString
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes, b64(salt), b64(key))
}

// CheckPassword compares pw with a hash from HashPassword in constant time.
// It reports whether the hash should be upgraded to current parameters.
func CheckPassword(hash, pw string) (rehash bool, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("auth: unknown hash format")
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil {
		return false, errors.New("auth: bad hash version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, errors.New("auth: bad hash parameters")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, errors.New("auth: bad hash encoding")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	releaseMemory()
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, ErrMismatch
	}
	return m != memoryKiB || t != passes || p != lanes || v != argon2.Version, nil
}

// dummyHash lets a log-in for an unknown e-mail cost the same as a real
// one, so timing does not tell which addresses have accounts.
var dummyHash = HashPassword("omnisocial timing equaliser")

// BurnTime does the work of one password check and discards it.
func BurnTime(pw string) { CheckPassword(dummyHash, pw) }

var releasing atomic.Bool

// releaseMemory hands argon2id's 19 MiB working set back to the operating
// system once a hash is done. Log-ins are rare, and without this an idle
// server would keep the memory of its last log-in resident for minutes.
// One release at a time covers any number of hashes that finished meanwhile.
func releaseMemory() {
	if releasing.CompareAndSwap(false, true) {
		go func() {
			defer releasing.Store(false)
			debug.FreeOSMemory()
		}()
	}
}
