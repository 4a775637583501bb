package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func newBox(t *testing.T, keys ...string) *Box {
	t.Helper()
	var raw [][]byte
	for _, k := range keys {
		b, err := ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b)
	}
	b, err := NewBox(raw[0], raw[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	keyA = strings.Repeat("a1", 32)
	keyB = strings.Repeat("b2", 32)
)

func TestSealOpen(t *testing.T) {
	box := newBox(t, keyA)
	secret := NewToken("EAAB-very-secret")
	ct, err := box.Seal(secret, "acct-1", "access_token")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("very-secret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	ct2, _ := box.Seal(secret, "acct-1", "access_token")
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of one plaintext are equal: nonce reused")
	}
	flipped := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 0x01; return c }

	tests := []struct {
		name       string
		ct         []byte
		box        *Box
		row, field string
		want       error
	}{
		{"round trip", ct, box, "acct-1", "access_token", nil},
		{"other row", ct, box, "acct-2", "access_token", ErrOpen},
		{"other field", ct, box, "acct-1", "refresh_token", ErrOpen},
		{"ambiguous split", ct, box, "acct-1access", "_token", ErrOpen},
		{"flipped nonce", flipped(6), box, "acct-1", "access_token", ErrOpen},
		{"flipped body", flipped(len(ct) - 20), box, "acct-1", "access_token", ErrOpen},
		{"flipped tag", flipped(len(ct) - 1), box, "acct-1", "access_token", ErrOpen},
		{"truncated", ct[:len(ct)-1], box, "acct-1", "access_token", ErrOpen},
		{"header only", ct[:header], box, "acct-1", "access_token", ErrOpen},
		{"empty", nil, box, "acct-1", "access_token", ErrOpen},
		{"unknown format", append([]byte{9}, ct[1:]...), box, "acct-1", "access_token", ErrOpen},
		{"flipped key id", flipped(2), box, "acct-1", "access_token", ErrUnknownKey},
		{"wrong key", ct, newBox(t, keyB), "acct-1", "access_token", ErrUnknownKey},
		{"old key still opens", ct, newBox(t, keyB, keyA), "acct-1", "access_token", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.box.Open(tc.ct, tc.row, tc.field)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open error = %v, want %v", err, tc.want)
			}
			if tc.want == nil && !got.Equal(secret) {
				t.Fatal("round trip lost the value")
			}
		})
	}
}

func TestRotationSealsWithPrimary(t *testing.T) {
	old, rotated := newBox(t, keyA), newBox(t, keyB, keyA)
	ct, _ := rotated.Seal(NewToken("x"), "r", "f")
	id, _ := KeyOf(ct)
	if id != rotated.Primary() || id == old.Primary() {
		t.Fatalf("sealed under %v, want primary %v", id, rotated.Primary())
	}
}

func TestCanary(t *testing.T) {
	c, err := newBox(t, keyA).Canary()
	if err != nil {
		t.Fatal(err)
	}
	if err := newBox(t, keyA).CheckCanary(c); err != nil {
		t.Fatalf("same key: %v", err)
	}
	if err := newBox(t, keyB).CheckCanary(c); err == nil {
		t.Fatal("a different key passed the canary")
	}
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{keyA, true},
		{"0123456789", false},
		{strings.Repeat("zz", 32), false},
		{keyA[:63], false},
		{keyA + "00", false},
		{"", false},
	}
	for _, tc := range tests {
		_, err := ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	if k, err := ParseKey(NewKey()); err != nil || len(k) != KeySize {
		t.Fatalf("NewKey does not parse: %v", err)
	}
}

func TestDeriveSeparatesPurposes(t *testing.T) {
	m, _ := ParseKey(keyA)
	if bytes.Equal(Derive(m, "a"), Derive(m, "b")) || bytes.Equal(Derive(m, "a"), m) {
		t.Fatal("derived keys are not independent")
	}
}

func TestTokenNeverPrints(t *testing.T) {
	tok := NewToken("act.SECRETVALUE")
	holder := struct {
		Access Token
		Ptr    *Token
	}{tok, &tok}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "tok", tok, "holder", holder)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "tok", tok)
	js, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", tok), "%s": fmt.Sprintf("%s", tok), "%q": fmt.Sprintf("%q", tok),
		"%x": fmt.Sprintf("%x", tok), "%#v": fmt.Sprintf("%#v", tok), "%+v struct": fmt.Sprintf("%+v", holder),
		"%#v struct": fmt.Sprintf("%#v", holder), "%d": fmt.Sprintf("%d", tok), "Sprint": fmt.Sprint(tok),
		"slog": logged.String(), "json": string(js), "error wrap": fmt.Errorf("failed with %v", tok).Error(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "SECRETVALUE") || strings.Contains(out, "53454352") {
			t.Errorf("%s leaks the token: %s", name, out)
		}
	}
	if tok.Reveal() != "act.SECRETVALUE" {
		t.Fatal("Reveal lost the value")
	}
}

func FuzzOpen(f *testing.F) {
	box, _ := NewBox(bytes.Repeat([]byte{7}, KeySize))
	ct, _ := box.Seal(NewToken("seed"), "row", "field")
	f.Add(ct, "row", "field")
	f.Add([]byte{1, 2, 3}, "", "")
	f.Add([]byte{}, "r", "f")
	f.Fuzz(func(t *testing.T, ct []byte, row, field string) {
		tok, err := box.Open(ct, row, field) // must never panic
		if err == nil && tok.Reveal() != "seed" {
			t.Fatalf("opened a forged ciphertext to %q", tok.Reveal())
		}
	})
}
