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
