package handlers

import (
	"bytes"
	"database/sql"
	"encoding/gob"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const secret = "csrf-token-that-is-a-secret"

// TestSessionDataRoundTrip: every value the app keeps comes back as it
// went in, with its type.
func TestSessionDataRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		values map[any]any
	}{
		{"empty (before log-in, no form yet)", map[any]any{}},
		{"a pre-session's CSRF token", map[any]any{keyCSRF: secret}},
		{"logged in", map[any]any{keyUser: int64(1), keyWorkspace: int64(1 << 40), keyCSRF: secret}},
		{"flashes", map[any]any{keyUser: int64(7), keyFlash: []any{flash{"success", "Welcome, Dana."}, flash{"info", ""}}}},
		{"no flashes left", map[any]any{keyFlash: []any{}}},
		{"an owner link visit", map[any]any{keyOwnerLink: "link-id", keyCSRF: "", keyWorkspace: int64(-1)}},
		{"text beyond ASCII", map[any]any{keyFlash: []any{flash{"info", "Switched to Café Ünïcode 🚀."}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := encodeSession(tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if data[0] != dataMarker {
				t.Fatalf("record starts %#x", data[0])
			}
			got := map[any]any{}
			if err := decodeSession(data, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.values) {
				t.Errorf("got %#v, want %#v", got, tc.values)
			}
		})
	}
}

// TestSessionDataRefusesWhatItCannotKeep: a value the record has no place
// for fails the save loudly (and without the value: it may be a secret);
// a damaged record is an error, never a panic or a half-read session.
func TestSessionDataRefusesWhatItCannotKeep(t *testing.T) {
	for name, values := range map[string]map[any]any{
		"an unknown key":       {"oauth_state": secret},
		"an int, not an int64": {keyUser: 1},
		"a flash of a string":  {keyFlash: []any{secret}},
		"a token not a string": {keyCSRF: []byte(secret)},
	} {
		_, err := encodeSession(values)
		if err == nil {
			t.Errorf("%s: encoded", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error shows the value: %v", name, err)
		}
	}

	good, _ := encodeSession(map[any]any{keyUser: int64(300), keyCSRF: secret, keyFlash: []any{flash{"info", "hi"}}})
	// Every cut inside the record is an error (a cut between fields reads
	// as the fields before it).
	for n := 2; n < len(good); n++ {
		got := map[any]any{}
		if err := decodeSession(good[:n], got); err == nil && len(got) == 3 {
			t.Errorf("cut at %d of %d read as whole", n, len(good))
		}
	}
	for name, data := range map[string][]byte{
		"a later version":   {dataMarker, dataVersion + 1},
		"an unknown tag":    {dataMarker, dataVersion, 99},
		"a huge string":     {dataMarker, dataVersion, tagCSRF, 0xff, 0xff, 0xff, 0x7f},
		"a huge flash list": {dataMarker, dataVersion, tagFlash, 0xff, 0xff, 0xff, 0x7f},
		"neither nor gob":   {0x7f, 1, 2, 3},
	} {
		if err := decodeSession(data, map[any]any{}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// TestGobSessionsStillLoad: a session saved as gob before the record
// format keeps the person logged in, with their CSRF token and a pending
// flash, and is written as a record on its next save.
func TestGobSessionsStillLoad(t *testing.T) {
	k := newKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Acme")
	b.get("/settings/accounts") // shows and clears the welcome
	db, err := sql.Open("sqlite", k.dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var data []byte
	if err := db.QueryRow("SELECT data FROM sessions WHERE user_id IS NOT NULL").Scan(&data); err != nil {
		t.Fatal(err)
	}
	values := map[any]any{}
	if err := decodeSession(data, values); err != nil {
		t.Fatal(err)
	}
	values[keyFlash] = []any{flash{Kind: "info", Text: "Saved before the upgrade."}}
	values["oauth_state"] = "a key no release reads any more"
	var old bytes.Buffer
	if err := gob.NewEncoder(&old).Encode(values); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE sessions SET data = ? WHERE user_id IS NOT NULL", old.Bytes()); err != nil {
		t.Fatal(err)
	}

	res := b.get("/settings/accounts")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("with a gob session: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	doc := parse(t, res)
	if tok, _ := doc.Find(`input[name=_csrf]`).First().Attr("value"); tok != values[keyCSRF] {
		t.Error("the CSRF token changed")
	}
	if !strings.Contains(doc.Find("body").Text(), "Saved before the upgrade.") {
		t.Error("the pending flash was lost")
	}
	if err := db.QueryRow("SELECT data FROM sessions WHERE user_id IS NOT NULL").Scan(&data); err != nil {
		t.Fatal(err)
	}
	if data[0] != dataMarker {
		t.Errorf("still gob after a save: %#x…", data[:2])
	}
	if res := b.get("/settings/accounts"); res.StatusCode != http.StatusOK {
		t.Fatalf("after the rewrite: %d", res.StatusCode)
	}
}

// BenchmarkSessionData compares reading a logged-in session's data as gob
// (what every request did) with the record.
func BenchmarkSessionData(b *testing.B) {
	values := map[any]any{keyUser: int64(1), keyWorkspace: int64(1), keyCSRF: newID()}
	var g bytes.Buffer
	gob.NewEncoder(&g).Encode(values)
	rec, _ := encodeSession(values)
	for _, f := range []struct {
		name string
		data []byte
	}{{"gob", g.Bytes()}, {"record", rec}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := decodeSession(f.data, make(map[any]any)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
