package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a master key in bytes (64 hex characters).
const KeySize = 32

// format is the first byte of every ciphertext, so the layout can change.
const format byte = 1

const (
	idSize    = 4
	nonceSize = 12
	header    = 1 + idSize + nonceSize
)

var (
	// ErrUnknownKey means the ciphertext was sealed under a key this Box
	// does not hold (rotated away, or the wrong key configured).
	ErrUnknownKey = errors.New("vault: sealed under an unknown key")
	// ErrOpen means the ciphertext is malformed, tampered with, or bound to
	// another row or field.
	ErrOpen = errors.New("vault: ciphertext does not open")
)

// ParseKey decodes a 64-hex-character master key.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 2*KeySize {
		return nil, fmt.Errorf("must be %d hexadecimal characters, got %d", 2*KeySize, len(s))
	}
	k, err := hex.DecodeString(s)
	if err != nil {
		return nil, errors.New("must contain only hexadecimal characters 0-9 and a-f")
	}
	return k, nil
}

// NewKey returns a fresh random master key, hex encoded.
func NewKey() string {
	k := make([]byte, KeySize)
	rand.Read(k) // never returns an error (crypto/rand docs)
	return hex.EncodeToString(k)
}

// Derive separates purposes: one master secret yields independent sub-keys
// (token encryption, session cookies, ...) under distinct labels, so no key
// is ever used for two things.
func Derive(master []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "omnisocial "+label, KeySize)
	if err != nil {
		panic("vault: hkdf: " + err.Error()) // only fails for absurd lengths
	}
	return k
}

// KeyID is a short public fingerprint of a master key. It is written into
// every ciphertext so that, during rotation, Open knows which key to use.
type KeyID [idSize]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

type key struct {
	id   KeyID
	aead cipher.AEAD
}

// Box seals and opens tokens. The first key seals; all keys open.
type Box struct {
	primary key
	keys    map[KeyID]key
}

// NewBox builds a Box from master keys, primary first. Extra keys exist only
// while a rotation re-encrypts what they sealed.
func NewBox(primary []byte, older ...[]byte) (*Box, error) {
	b := &Box{keys: map[KeyID]key{}}
	for i, master := range append([][]byte{primary}, older...) {
		if len(master) != KeySize {
			return nil, fmt.Errorf("vault: key %d is %d bytes, want %d", i, len(master), KeySize)
		}
		block, err := aes.NewCipher(Derive(master, "token-encryption v1"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		k := key{aead: aead}
		copy(k.id[:], hmacSum(Derive(master, "key-id v1"), "id"))
		if i == 0 {
			b.primary = k
		}
		b.keys[k.id] = k
	}
	return b, nil
}

// Primary is the ID of the key that seals.
func (b *Box) Primary() KeyID { return b.primary.id }

// Seal encrypts t for one place: row and field are bound into the
// ciphertext as associated data, so it opens nowhere else. Both must be
// immutable for the life of the row.
func (b *Box) Seal(t Token, row, field string) ([]byte, error) {
	return b.seal([]byte(t.s), row, field)
}

// Open decrypts a ciphertext sealed for row and field.
func (b *Box) Open(ct []byte, row, field string) (Token, error) {
	pt, err := b.open(ct, row, field)
	if err != nil {
		return Token{}, err
	}
	return Token{s: string(pt)}, nil
}

// KeyOf returns the ID of the key a ciphertext was sealed under.
func KeyOf(ct []byte) (KeyID, error) {
	var id KeyID
	if len(ct) < header || ct[0] != format {
		return id, ErrOpen
	}
	copy(id[:], ct[1:1+idSize])
	return id, nil
}

const canaryText = "omnisocial key check"

// Canary seals a known constant. Stored once, it lets CheckCanary prove at
// start-up that the configured key is the one the database was written with.
func (b *Box) Canary() ([]byte, error) { return b.seal([]byte(canaryText), "keycheck", "canary") }

// CheckCanary reports whether this Box opens a canary written earlier.
func (b *Box) CheckCanary(ct []byte) error {
	pt, err := b.open(ct, "keycheck", "canary")
	if err != nil {
		return err
	}
	if string(pt) != canaryText {
		return ErrOpen
	}
	return nil
}

func (b *Box) seal(pt []byte, row, field string) ([]byte, error) {
	k := b.primary
	out := make([]byte, header, header+len(pt)+k.aead.Overhead())
	out[0] = format
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+idSize : header]); err != nil {
		return nil, err
	}
	return k.aead.Seal(out, out[1+idSize:header], pt, aad(k.id, row, field)), nil
}

func (b *Box) open(ct []byte, row, field string) ([]byte, error) {
	id, err := KeyOf(ct)
	if err != nil {
		return nil, err
	}
	k, ok := b.keys[id]
	if !ok {
		return nil, ErrUnknownKey
	}
	pt, err := k.aead.Open(nil, ct[1+idSize:header], ct[header:], aad(id, row, field))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// aad length-prefixes each part so that ("ab","c") and ("a","bc") differ.
func aad(id KeyID, row, field string) []byte {
	var b []byte
	for _, p := range []string{"omnisocial token v1", row, field, id.String()} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

func hmacSum(k []byte, msg string) []byte {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
