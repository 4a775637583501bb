package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"omnisocial/vault"
)

func sign(secret, payload string) string {
	p := base64.RawURLEncoding.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(p))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)) + "." + p
}

func TestParseSignedRequest(t *testing.T) {
	secret := vault.NewToken("app-secret")
	now := time.Unix(1_800_000_000, 0)
	good := `{"algorithm":"HMAC-SHA256","issued_at":1800000000,"user_id":"10229"}`
	tests := []struct {
		name string
		sr   string
		ok   bool
	}{
		{"valid", sign("app-secret", good), true},
		{"padded parts", strings.ReplaceAll(sign("app-secret", good), ".", "=.") + "", true},
		{"other secret", sign("other", good), false},
		{"tampered payload", sign("app-secret", good)[:60] + "x" + sign("app-secret", good)[61:], false},
		{"other algorithm", sign("app-secret", `{"algorithm":"HMAC-SHA1","issued_at":1800000000,"user_id":"1"}`), false},
		{"no algorithm", sign("app-secret", `{"issued_at":1800000000,"user_id":"1"}`), false},
		{"no user", sign("app-secret", `{"algorithm":"HMAC-SHA256","issued_at":1800000000}`), false},
		{"too old", sign("app-secret", `{"algorithm":"HMAC-SHA256","issued_at":1700000000,"user_id":"1"}`), false},
		{"not json", sign("app-secret", `nope`), false},
		{"no dot", "abc", false},
		{"empty sig", "." + base64.RawURLEncoding.EncodeToString([]byte(good)), false},
		{"huge", strings.Repeat("a", 9000) + "." + "b", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSignedRequest(tc.sr, secret, now, time.Hour)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && !errors.Is(err, ErrBadSignedRequest) {
				t.Fatalf("err = %v", err)
			}
			if tc.ok && got.UserID != "10229" {
				t.Fatalf("user = %q", got.UserID)
			}
		})
	}
}

func FuzzParseSignedRequest(f *testing.F) {
	secret := vault.NewToken("app-secret")
	f.Add(sign("app-secret", `{"algorithm":"HMAC-SHA256","issued_at":1800000000,"user_id":"10229"}`))
	f.Add(sign("app-secret", `{"algorithm":"HMAC-SHA256","user_id":""}`))
	f.Add("a.b")
	f.Add("")
	f.Fuzz(func(t *testing.T, sr string) {
		got, err := ParseSignedRequest(sr, secret, time.Unix(1_800_000_000, 0), 0)
		if err != nil {
			return
		}
		// Whatever parsed must really be signed by the secret.
		sig, payload, _ := strings.Cut(sr, ".")
		m := hmac.New(sha256.New, []byte("app-secret"))
		m.Write([]byte(payload))
		want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		if strings.TrimRight(sig, "=") != want || (got.UserID == "" && got.ProfileID == "") {
			t.Fatalf("accepted an unsigned or empty request: %q", sr)
		}
	})
}
