package handlers

import "testing"

// Words built from platform data survive empty and non-ASCII keys and
// values: a metadata key or list item or an event kind that is "" once
// panicked, and a byte-wise capital split a multi-byte first letter.
func TestDetailsWords(t *testing.T) {
	if got := eventWords(""); got != "" {
		t.Errorf(`eventWords("") = %q`, got)
	}
	if got := eventWords("needs_reauth"); got != "Needs re-auth" {
		t.Errorf("eventWords(needs_reauth) = %q", got)
	}
	if got := eventWords("token_refreshed"); got != "Token refreshed" {
		t.Errorf("eventWords(token_refreshed) = %q", got)
	}
	rows := metadataRows(map[string]any{"": "x", "étiquette_page": "y", "tasks": []any{"", "écrire", "MODERATE"}})
	want := [][2]string{{"", "x"}, {"Page roles", "Écrire, Moderate"}, {"Étiquette page", "y"}}
	if len(rows) != len(want) {
		t.Fatalf("rows = %q, want %q", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %q, want %q", i, rows[i], want[i])
		}
	}
}
