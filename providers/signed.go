package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"omnisocial/vault"
)

// SignedRequest is the payload Meta posts to the deauthorize and
// data-deletion callbacks (PLATFORMS.md §1.9).
type SignedRequest struct {
	Algorithm string `json:"algorithm"`
	IssuedAt  int64  `json:"issued_at"`
	UserID    string `json:"user_id"`
	ProfileID string `json:"profile_id"`
}

// ErrBadSignedRequest covers every way a signed_request can be wrong; the
// caller answers all of them the same way.
var ErrBadSignedRequest = errors.New("providers: signed_request is malformed or not signed by our app")

// ParseSignedRequest verifies "<sig>.<payload>" (both base64url without
// padding): HMAC-SHA256 of the payload as sent, keyed with the app secret,
// compared in constant time, with the algorithm named inside checked too.
// A request older than maxAge is refused, so a captured one cannot be
// replayed later (zero maxAge skips that check).
func ParseSignedRequest(sr string, appSecret vault.Token, now time.Time, maxAge time.Duration) (SignedRequest, error) {
	var out SignedRequest
	if len(sr) > 8192 || appSecret.IsZero() {
		return out, ErrBadSignedRequest
	}
	sigPart, payload, ok := strings.Cut(sr, ".")
	if !ok || sigPart == "" || payload == "" {
		return out, ErrBadSignedRequest
	}
	// Strict: a signature has one spelling. Lenient decoding ignores the
	// spare bits of the last character, so four strings would pass for one
	// signature (found by FuzzParseSignedRequest).
	sig, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(sigPart, "="))
	if err != nil {
		return out, ErrBadSignedRequest
	}
	mac := hmac.New(sha256.New, []byte(appSecret.Reveal()))
	mac.Write([]byte(payload))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return out, ErrBadSignedRequest
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimRight(payload, "="))
	if err != nil || json.Unmarshal(raw, &out) != nil {
		return SignedRequest{}, ErrBadSignedRequest
	}
	if !strings.EqualFold(out.Algorithm, "HMAC-SHA256") || (out.UserID == "" && out.ProfileID == "") {
		return SignedRequest{}, ErrBadSignedRequest
	}
	if maxAge > 0 && out.IssuedAt > 0 && now.Sub(time.Unix(out.IssuedAt, 0)) > maxAge {
		return SignedRequest{}, ErrBadSignedRequest
	}
	return out, nil
}
