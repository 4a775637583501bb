package handlers

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
)

// Session data is read on every request, so it is a short tagged record of
// the few values the app keeps, not gob: a gob decoder learns its types
// anew for every stream, which cost more than the rest of the session
// read. The record starts with a zero byte, which no gob stream does (its
// first byte is a message length), so rows written as gob before still
// load; they are rewritten in this form on their next save.
const (
	dataMarker  = 0
	dataVersion = 1
)

// The tags of the record's fields, one per session key.
const (
	tagUser byte = iota + 1
	tagWorkspace
	tagCSRF
	tagOwnerLink
	tagFlash
)

var errSessionData = errors.New("session: malformed data")

// encodeSession writes values as a record. A key or type it does not know
// is an error, never dropped silently: a new session key needs a tag here.
// The error names the key and type, never the value (tokens are secrets).
func encodeSession(values map[any]any) ([]byte, error) {
	b := make([]byte, 0, 128)
	b = append(b, dataMarker, dataVersion)
	for k, v := range values {
		var ok bool
		switch k {
		case keyUser, keyWorkspace:
			var n int64
			if n, ok = v.(int64); ok {
				b = binary.AppendVarint(append(b, tagOf(k)), n)
			}
		case keyCSRF, keyOwnerLink:
			var s string
			if s, ok = v.(string); ok {
				b = appendString(append(b, tagOf(k)), s)
			}
		case keyFlash:
			var fs []any
			if fs, ok = v.([]any); ok {
				b = binary.AppendUvarint(append(b, tagFlash), uint64(len(fs)))
				for _, f := range fs {
					var fl flash
					if fl, ok = f.(flash); !ok {
						break
					}
					b = appendString(appendString(b, fl.Kind), fl.Text)
				}
			}
		}
		if !ok {
			return nil, fmt.Errorf("session: cannot store a %T under %v", v, k)
		}
	}
	return b, nil
}

func tagOf(key any) byte {
	switch key {
	case keyUser:
		return tagUser
	case keyWorkspace:
		return tagWorkspace
	case keyCSRF:
		return tagCSRF
	}
	return tagOwnerLink
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeSession fills values from data, a record or an older gob stream.
func decodeSession(data []byte, values map[any]any) error {
	if len(data) == 0 || data[0] != dataMarker {
		return decodeGobSession(data, values)
	}
	if len(data) < 2 || data[1] != dataVersion {
		return errSessionData
	}
	r := reader{b: data[2:]}
	for len(r.b) > 0 && r.err == nil {
		tag := r.b[0]
		r.b = r.b[1:]
		switch tag {
		case tagUser:
			values[keyUser] = r.varint()
		case tagWorkspace:
			values[keyWorkspace] = r.varint()
		case tagCSRF:
			values[keyCSRF] = r.string()
		case tagOwnerLink:
			values[keyOwnerLink] = r.string()
		case tagFlash:
			n := r.uvarint()
			if n > uint64(len(r.b)) { // each flash takes at least a byte
				return errSessionData
			}
			fs := make([]any, 0, n)
			for range n {
				fs = append(fs, flash{Kind: r.string(), Text: r.string()})
			}
			values[keyFlash] = fs
		default:
			return errSessionData
		}
	}
	return r.err
}

// reader takes values off the front of a record; the first short read
// sticks as err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errSessionData, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errSessionData, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errSessionData, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// decodeGobSession reads a row saved before the record format. Only the
// keys the app reads are kept (every key it ever stored is one of them),
// so the next save can write the record.
func decodeGobSession(data []byte, values map[any]any) error {
	var old map[any]any
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&old); err != nil {
		return err
	}
	for k, v := range old {
		if _, err := encodeSession(map[any]any{k: v}); err == nil {
			values[k] = v
		}
	}
	return nil
}
