package words

import "testing"

func TestFirst(t *testing.T) {
	tests := []struct{ in, upper, lower string }{
		{"", "", ""},
		{"a", "A", "a"},
		{"Publish posts", "Publish posts", "publish posts"},
		{"ébène", "Ébène", "ébène"},
		{"Été", "Été", "été"},
		{"1 thing", "1 thing", "1 thing"},
	}
	for _, tc := range tests {
		if got := UpperFirst(tc.in); got != tc.upper {
			t.Errorf("UpperFirst(%q) = %q, want %q", tc.in, got, tc.upper)
		}
		if got := LowerFirst(tc.in); got != tc.lower {
			t.Errorf("LowerFirst(%q) = %q, want %q", tc.in, got, tc.lower)
		}
	}
	if got := Humanize("needs_reauth"); got != "Needs reauth" {
		t.Errorf("Humanize = %q", got)
	}
	if got := Humanize(""); got != "" {
		t.Errorf("Humanize(\"\") = %q", got)
	}
}
