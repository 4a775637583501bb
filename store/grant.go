package store

import (
	"time"

	"omnisocial/providers"
)

// FromGrant is what an authorization at p found, as the store keeps it:
// each account's tokens, its scopes (the grant's when it has none of its
// own), whether it is limited and why, and when it is looked at next.
func FromGrant(p providers.Platform, g *providers.Grant, now time.Time) []Discovered {
	var out []Discovered
	for _, a := range g.Accounts {
		scopes := a.Scopes
		if len(scopes) == 0 {
			scopes = g.Scopes
		}
		standing := providers.Schedule{}.Assess(p, scopes, a.Credentials, now)
		d := Discovered{
			PlatformUserID: a.PlatformUserID, Username: a.Username, DisplayName: a.DisplayName, AvatarURL: providers.SafeAvatar(a.AvatarURL),
			Tokens: Tokens{Access: a.Credentials.AccessToken, Refresh: a.Credentials.RefreshToken, User: a.Credentials.UserToken,
				Expiry: a.Credentials.Expiry, RefreshExpiry: a.Credentials.RefreshExpiry},
			Scopes: scopes, Metadata: a.Metadata, Status: StatusActive, NextCheckAt: standing.NextCheck,
		}
		if standing.Limited {
			d.Status, d.Problem = StatusLimited, standing.Problem()
		}
		out = append(out, d)
	}
	return out
}
