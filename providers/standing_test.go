package providers

import (
	"testing"
	"time"
)

func TestNextCheck(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	meta := func(user, data time.Time) map[string]any {
		return map[string]any{MetaUserTokenExpiry: user.Format(time.RFC3339), MetaDataAccessUntil: data.Format(time.RFC3339)}
	}
	day := 24 * time.Hour
	tests := []struct {
		name string
		p    Platform
		c    Credentials
		want time.Time
	}{
		{"tiktok 2 h token: a quarter left", TikTok, Credentials{Expiry: now.Add(2 * time.Hour)}, now.Add(90 * time.Minute)},
		{"tiktok 24 h token", TikTok, Credentials{Expiry: now.Add(day)}, now.Add(18 * time.Hour)},
		{"tiktok expired: soon", TikTok, Credentials{Expiry: now.Add(-time.Hour)}, now.Add(MinGap)},
		{"meta far from expiry: daily", Facebook, Credentials{Metadata: meta(now.Add(60*day), now.Add(90*day))}, now.Add(day)},
		{"meta: warning window opens tomorrow noon", Instagram, Credentials{Metadata: meta(now.Add(7*day+2*time.Hour), now.Add(90*day))}, now.Add(2 * time.Hour)},
		{"meta: inside the window, right after expiry", Facebook, Credentials{Metadata: meta(now.Add(3*time.Hour), now.Add(90*day))}, now.Add(3*time.Hour + time.Minute)},
		{"meta: data access ends first", Facebook, Credentials{Metadata: meta(now.Add(60*day), now.Add(5*time.Hour))}, now.Add(5*time.Hour + time.Minute)},
		{"meta: past expiry, daily", Facebook, Credentials{Metadata: meta(now.Add(-day), now.Add(-day))}, now.Add(day)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Schedule{}).Next(tc.p, tc.c, now); !got.Equal(tc.want) {
				t.Fatalf("NextCheck = %v, want %v", got.Sub(now), tc.want.Sub(now))
			}
		})
	}
}

func TestAssess(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	all := requiredScopes[Facebook]
	if st := (Schedule{}).Assess(Facebook, all, Credentials{}, now); st.Limited || st.Missing != nil || !st.NextCheck.Equal(now.Add(24*time.Hour)) {
		t.Errorf("every scope: %+v", st)
	}
	st := (Schedule{ValidateEvery: time.Hour}).Assess(Facebook, all[1:], Credentials{}, now)
	if !st.Limited || len(st.Missing) != 1 || st.Missing[0] != all[0] || !st.NextCheck.Equal(now.Add(time.Hour)) {
		t.Errorf("one missing: %+v", st)
	}
}
