package sandbox

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestIGRefreshAge: a long-lived token refreshes only from 24 h of age, and
// then lives 60 days from the refresh; an expired one never refreshes.
func TestIGRefreshAge(t *testing.T) {
	tests := []struct {
		name      string
		age       time.Duration
		ok        bool
		code, sub int64
	}{
		{"fresh", 0, false, 100, 0},
		{"23h59m", 24*time.Hour - time.Minute, false, 100, 0},
		{"24h", 24 * time.Hour, true, 0, 0},
		{"59 days", 59 * 24 * time.Hour, true, 0, 0},
		{"at expiry", igLongLife, false, 190, 463},
		{"61 days", 61 * 24 * time.Hour, false, 190, 463},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			long := e.igLong(e.igShort("nova"))
			e.clock.Advance(tt.age)
			r := e.igRefresh(long)
			if !tt.ok {
				if code, sub := graphError(t, r); code != tt.code || sub != tt.sub {
					t.Errorf("got %d/%d, want %d/%d: %s", code, sub, tt.code, tt.sub, r.Body)
				}
				if tt.code == 100 && !strings.Contains(string(r.Body), "at least 24 hours old") {
					t.Errorf("message %s", r.Body)
				}
				return
			}
			m := r.JSON(t)
			fresh := m["access_token"].(string)
			if r.Status != 200 || num(t, m["expires_in"]) != 5183944 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			want := e.clock.Now().Add(igLongLife).UTC().Format(time.RFC3339)
			if got := e.tokenInfo(fresh)["expires_at"]; got != want {
				t.Errorf("new expiry %v, want %s (60 days from the refresh)", got, want)
			}
			// The new token is itself under 24 h old: refreshing it at once is refused.
			if code, _ := graphError(t, e.igRefresh(fresh)); code != 100 {
				t.Errorf("immediate re-refresh: %d", code)
			}
			// It outlives the original token.
			e.clock.Advance(igLongLife - tt.age + time.Hour)
			if code, _ := graphError(t, e.igMe(long, "user_id")); code != 190 {
				t.Errorf("old token still alive past its expiry")
			}
			if r := e.igMe(fresh, "user_id"); r.Status != 200 {
				t.Errorf("refreshed token dead too early: %s", r.Body)
			}
		})
	}
}

// The lifetime scale applies to the 24-hour rule too.
func TestIGRefreshScaled(t *testing.T) {
	e := newEnv(t)
	e.control("lifetimes", map[string]any{"scale": 0.01})
	long := e.igLong(e.igShort("nova"))
	if code, _ := graphError(t, e.igRefresh(long)); code != 100 {
		t.Errorf("fresh scaled token refreshed")
	}
	e.clock.Advance(15 * time.Minute) // 1 % of 24 h is 14.4 min; the token lives 14.4 h
	if r := e.igRefresh(long); r.Status != 200 || num(t, r.JSON(t)["expires_in"]) != 51839 {
		t.Errorf("scaled refresh: %d %s", r.Status, r.Body)
	}
}

func TestIGRevoke(t *testing.T) {
	e := newEnv(t)
	fb := e.metaLongToken(e.metaUserToken("dana", igScopes)) // dana's Facebook login, which reaches the same account
	short := e.igShort("harbor")
	long := e.igLong(short)
	e.clock.Advance(25 * time.Hour)
	if r := e.igMe(long, "user_id"); r.Status != 200 {
		t.Fatalf("before revoke: %s", r.Body)
	}
	if r := e.control("revoke", map[string]any{"persona": "harbor"}); num(t, r.JSON(t)["revoked"]) != 1 {
		t.Errorf("revoke answer %s", r.Body)
	}
	for name, r := range map[string]resp{
		"me":       e.igMe(long, "user_id"),
		"refresh":  e.igRefresh(long),
		"exchange": e.igLongResp(short),
	} {
		code, sub := graphError(t, r)
		if code != 190 || sub != 458 || !strings.Contains(string(r.Body), DevInstagramAppID) {
			t.Errorf("%s after revoke: %d/%d %s", name, code, sub, r.Body)
		}
	}
	if st := e.tokenInfo(long)["status"]; st != "revoked" {
		t.Errorf("listed as %v", st)
	}
	// The Facebook authorization of the same person is a different one.
	if r := e.graphGet("me", fb); r.Status != 200 {
		t.Errorf("Facebook token died with the Instagram login: %s", r.Body)
	}
	// A new login starts a new authorization that works.
	if r := e.igMe(e.igShort("harbor"), "user_id"); r.Status != 200 {
		t.Errorf("reconnect: %s", r.Body)
	}
	// One token only, and expire.
	other := e.igShort("nova")
	e.control("revoke", map[string]any{"token": other})
	if code, _ := graphError(t, e.igMe(other, "id")); code != 190 {
		t.Errorf("single revoke: %d", code)
	}
	nova := e.igShort("nova")
	e.control("expire", map[string]any{"persona": "nova"})
	if code, sub := graphError(t, e.igMe(nova, "id")); code != 190 || sub != 463 {
		t.Errorf("expire: %d/%d", code, sub)
	}
}

func TestIGPersonalRefused(t *testing.T) {
	e := newEnv(t)
	check := func(r resp) {
		t.Helper()
		q := location(t, r)
		if q.Get("error") != "access_denied" || q.Get("error_reason") != "not_professional_account" ||
			!strings.Contains(q.Get("error_description"), "professional accounts") || q.Get("state") == "" || q.Get("code") != "" {
			t.Errorf("refusal %s", r.Header.Get("Location"))
		}
	}
	e.control("autoconsent", map[string]any{"enabled": true, "persona": "pia"})
	check(e.get(igAuthorizeURL(igAllScopes, "p1")))
	e.control("autoconsent", map[string]any{"enabled": false})
	u, _ := url.Parse(igAuthorizeURL(igAllScopes, "p2"))
	form := u.Query()
	form.Set("sb_action", "allow")
	form.Set("sb_persona", "pia")
	check(e.postForm(u.Path, form))
	for _, tk := range e.tokens() {
		if tk["persona"] == "pia" {
			t.Errorf("something issued to the personal account: %v", tk)
		}
	}
}

// The Business persona is the account linked to dana's Harbor Coffee Page:
// both paths give the same id, username and name.
func TestIGLinkedBusinessIsDanasPageAccount(t *testing.T) {
	e := newEnv(t)
	fb := e.metaUserToken("dana", igScopes)
	viaPage := e.graphGet("104000000000101", fb, "fields", "instagram_business_account{id,username,name}").JSON(t)["instagram_business_account"].(map[string]any)
	me := e.igMe(e.igLong(e.igShort("harbor")), "user_id,username,name,account_type").JSON(t)
	if me["user_id"] != viaPage["id"] || me["user_id"] != "17841400000000101" || me["username"] != viaPage["username"] ||
		me["name"] != viaPage["name"] || me["account_type"] != "BUSINESS" {
		t.Errorf("Instagram Login %v vs Facebook Page %v", me, viaPage)
	}
	var ps []map[string]any
	_ = json.Unmarshal(e.get("/sandbox/control/personas").Body, &ps)
	seen := map[string]map[string]any{}
	for _, p := range ps {
		if p["platform"] == "instagram" {
			seen[p["key"].(string)] = p
		}
	}
	if len(seen) != 3 || seen["harbor"]["linked_page_id"] != "104000000000101" || seen["pia"]["professional"] != false ||
		seen["nova"]["account_type"] != "MEDIA_CREATOR" || seen["nova"]["user_id"] != "17841400000000601" {
		t.Errorf("personas %v", seen)
	}
}

func TestIGMeFields(t *testing.T) {
	e := newEnv(t)
	tok := e.igShort("nova")
	tests := []struct {
		path, fields string
		want         []string
	}{
		{"v26.0/me", "user_id,username", []string{"user_id", "username"}},
		{"v26.0/me", "", []string{"id"}},
		{"v22.0/me", "account_type", []string{"account_type"}},
		{"me", "name,media_count", []string{"media_count", "name"}},
		{"v26.0/17841400000000601", "id,user_id", []string{"id", "user_id"}},
		{"v26.0/10200000000000601", "followers_count,follows_count,biography,website,profile_picture_url",
			[]string{"biography", "followers_count", "follows_count", "profile_picture_url", "website"}},
	}
	for _, tt := range tests {
		t.Run(tt.path+"?"+tt.fields, func(t *testing.T) {
			r := e.igGet(tt.path, "fields", tt.fields, "access_token", tok)
			m := r.JSON(t)
			var keys []string
			for k := range m {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if r.Status != 200 || !slices.Equal(keys, tt.want) {
				t.Errorf("%d keys %v, want %v: %s", r.Status, keys, tt.want, r.Body)
			}
		})
	}
	if m := e.igGet("v26.0/me", "fields", "id,user_id", "access_token", tok).JSON(t); m["id"] != "10200000000000601" || m["user_id"] != "17841400000000601" {
		t.Errorf("ids %v", m)
	}
	for _, bad := range []struct {
		path      string
		params    []string
		code, sub int64
	}{
		{"v26.0/me", []string{"fields", "user_id,email", "access_token", tok}, 100, 0},
		{"v26.0/17841400000000101", []string{"access_token", tok}, 100, 33}, // another account
		{"v26.0/me/media", []string{"access_token", tok}, 100, 33},
		{"v26.0/me", []string{"fields", "user_id"}, 104, 0},
		{"v26.0/me", []string{"access_token", "IGAAnope"}, 190, 0},
		{"latest/me", []string{"access_token", tok}, 100, 33},
	} {
		if code, sub := graphError(t, e.igGet(bad.path, bad.params...)); code != bad.code || sub != bad.sub {
			t.Errorf("%s %v: %d/%d, want %d/%d", bad.path, bad.params, code, sub, bad.code, bad.sub)
		}
	}
	// Authorization: Bearer works as on the other Graph host.
	if r := e.get("/sandbox/graph.instagram.com/v26.0/me?fields=username", "Authorization", "Bearer "+tok); r.JSON(t)["username"] != "nova.makes" {
		t.Errorf("bearer: %s", r.Body)
	}
}
