package views

import (
	"testing"
	"time"
)

func TestRelativeTimes(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		at   time.Time
		want string
	}{
		{time.Time{}, "never"},
		{now.Add(-20 * time.Second), "just now"},
		{now.Add(-5 * time.Minute), "5 minutes ago"},
		{now.Add(-59 * time.Minute), "59 minutes ago"},
		{now.Add(-90 * time.Minute), "2 hours ago"},
		{now.Add(-3 * 24 * time.Hour), "3 days ago"},
		{now.Add(30 * time.Second), "in under a minute"},
		{now.Add(time.Minute), "in 1 minute"},
		{now.Add(119 * time.Minute), "in 2 hours"},
		{now.Add(7 * 24 * time.Hour), "in 7 days"},
	}
	for _, tc := range tests {
		got := Ago(tc.at, now)
		if tc.at.After(now) {
			got = In(tc.at, now)
		}
		if got != tc.want {
			t.Errorf("%v from now: %q, want %q", tc.at.Sub(now), got, tc.want)
		}
	}
}

// Changes must never be late (the words at any instant before it are the
// words at now) and, but for the instant t itself, never early (the words
// at it differ). Checked across every wording: under a minute, minutes,
// hours and days, past and ahead, near each rounding step.
func TestChanges(t *testing.T) {
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var offsets []time.Duration
	for _, unit := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
		for n := range 60 {
			for _, e := range []time.Duration{-time.Second, -1, 0, 1, time.Second, 17 * time.Second} {
				d := time.Duration(n)*unit + unit/2 + e
				offsets = append(offsets, d, -d, time.Duration(n)*unit+e, -time.Duration(n)*unit-e)
			}
		}
	}
	for _, d := range append(offsets, 0, minutesBelow, hoursBelow, -minutesBelow, -hoursBelow) {
		now := at.Add(d)
		until := Changes(at, now)
		if !until.After(now) {
			t.Fatalf("now %v after t: Changes %v is not after now", d, until.Sub(at))
		}
		words := Ago(at, now)
		if last := Ago(at, until.Add(-1)); last != words {
			t.Errorf("now %v after t: %q until %v, but %q just before", d, words, until.Sub(at), last)
		}
		if next := Ago(at, until); next == words && now != at {
			t.Errorf("now %v after t: still %q at %v, Changes was early", d, words, until.Sub(at))
		}
	}
	if got := Changes(time.Time{}, at); got.Before(at.AddDate(100, 0, 0)) {
		t.Errorf("a zero time changes at %v; never, it should", got)
	}
}
