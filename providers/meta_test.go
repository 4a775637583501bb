package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// fakeGraph serves a whole Facebook Login exchange with /me/accounts split
// over two pages, and checks the token and appsecret_proof of every call.
func fakeGraph(t *testing.T, next func(base string) string) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	proof := func(tok string) string {
		m := hmac.New(sha256.New, []byte(appSecret))
		m.Write([]byte(tok))
		return hex.EncodeToString(m.Sum(nil))
	}
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		q := r.URL.Query()
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			if tok != userToken || q.Get("appsecret_proof") != proof(tok) {
				t.Errorf("%s %s: wrong token or appsecret_proof", r.Method, r.URL.Path)
			}
		}
		switch r.Method + " " + r.URL.Path {
		case "POST /v26.0/oauth/access_token":
			r.ParseForm()
			if r.PostForm.Get("code") != authCode || r.PostForm.Get("client_secret") != appSecret || r.PostForm.Get("client_id") != "1234" {
				t.Errorf("exchange form %v", r.PostForm)
			}
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":3600}`, shortToken)
		case "GET /v26.0/oauth/access_token":
			if q.Get("grant_type") != "fb_exchange_token" || q.Get("fb_exchange_token") != shortToken {
				t.Errorf("long-lived query %v", q)
			}
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":5183944}`, userToken)
		case "GET /v26.0/me":
			fmt.Fprint(w, `{"id":"10229","name":"Dana"}`)
		case "GET /v26.0/me/accounts":
			if q.Get("after") == "" {
				fmt.Fprintf(w, `{"data":[
					{"id":"1","name":"One","access_token":"EAAB-p1","category":"Brand","tasks":["MANAGE"],"picture":{"data":{"url":"https://img/1"}},
					 "instagram_business_account":{"id":"17841","username":"one.ig","name":"One IG","followers_count":10}},
					{"id":"2","name":"Two","access_token":"EAAB-p2","category":"Cafe"}],
					"paging":{"next":%q}}`, next(srv.URL))
				return
			}
			fmt.Fprint(w, `{"data":[{"id":"3","name":"Three","access_token":"EAAB-p3","instagram_business_account":{"id":"17843","username":"three"}},
				{"id":"4","name":"Four"}]}`)
		case "GET /v26.0/me/permissions":
			fmt.Fprint(w, `{"data":[{"permission":"pages_show_list","status":"granted"},{"permission":"pages_manage_posts","status":"granted"},
				{"permission":"pages_read_engagement","status":"granted"},{"permission":"pages_messaging","status":"declined"},
				{"permission":"instagram_basic","status":"granted"},{"permission":"instagram_content_publish","status":"granted"}]}`)
		case "GET /v26.0/debug_token":
			if q.Get("input_token") != userToken || q.Get("access_token") != "1234|"+appSecret {
				t.Errorf("debug_token query wrong")
			}
			fmt.Fprint(w, `{"data":{"app_id":"1234","type":"USER","is_valid":true,"expires_at":1900000000,"data_access_expires_at":1800000000,
				"user_id":"10229","granular_scopes":[{"scope":"pages_manage_posts","target_ids":["1","2"]}]}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":{"code":803,"message":"unknown path"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMetaExchangePaging(t *testing.T) {
	page2 := func(base string) string { return base + "/v26.0/me/accounts?after=QVFI&access_token=" + userToken }
	t.Run("facebook", func(t *testing.T) {
		srv := fakeGraph(t, page2)
		g, err := New(Facebook, testConfig(srv.URL), testRedirect).Exchange(ctxT(t), authCode, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, acc := range g.Accounts {
			ids = append(ids, acc.PlatformUserID)
		}
		// Page 4 has no token (not manageable); 1-3 come from both pages of results.
		if !slices.Equal(ids, []string{"1", "2", "3"}) || g.Subject != "10229" || !slices.Equal(g.Declined, []string{"pages_messaging"}) {
			t.Fatalf("accounts %v subject %s declined %v", ids, g.Subject, g.Declined)
		}
		if g.UserTokenExpiry.Unix() != 1900000000 || g.DataAccessExpiry.Unix() != 1800000000 {
			t.Errorf("expiries %v %v", g.UserTokenExpiry, g.DataAccessExpiry)
		}
		a1, a3 := g.Accounts[0], g.Accounts[2]
		if a1.Credentials.AccessToken.Reveal() != "EAAB-p1" || a1.Credentials.UserToken.Reveal() != userToken || a1.AvatarURL != "https://img/1" {
			t.Errorf("page 1: %+v", a1)
		}
		// granular_scopes limit pages_manage_posts to Pages 1 and 2.
		if !slices.Contains(a1.Scopes, "pages_manage_posts") || slices.Contains(a3.Scopes, "pages_manage_posts") {
			t.Errorf("scopes: page 1 %v, page 3 %v", a1.Scopes, a3.Scopes)
		}
	})
	t.Run("instagram", func(t *testing.T) {
		srv := fakeGraph(t, page2)
		g, err := New(Instagram, testConfig(srv.URL), testRedirect).Exchange(ctxT(t), authCode, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Accounts) != 2 || !slices.Equal(g.Unlinked, []string{"Two"}) {
			t.Fatalf("accounts %d unlinked %v", len(g.Accounts), g.Unlinked)
		}
		ig := g.Accounts[0]
		if ig.PlatformUserID != "17841" || ig.Username != "one.ig" || ig.DisplayName != "One IG" || ig.Credentials.AccessToken.Reveal() != "EAAB-p1" ||
			ig.Metadata[MetaPageID] != "1" || ig.Metadata["followers_count"] != int64(10) {
			t.Errorf("IG account %+v", ig)
		}
		if g.Accounts[1].DisplayName != "three" {
			t.Errorf("IG name falls back to the username: %q", g.Accounts[1].DisplayName)
		}
		if !slices.Equal(g.Declined, []string{"instagram_manage_comments"}) {
			t.Errorf("declined %v", g.Declined)
		}
	})
	t.Run("paging.next to another host is not followed", func(t *testing.T) {
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t.Error("the user token was sent to another host")
		}))
		defer evil.Close()
		srv := fakeGraph(t, func(string) string { return evil.URL + "/v26.0/me/accounts?after=x" })
		_, err := New(Facebook, testConfig(srv.URL), testRedirect).Exchange(ctxT(t), authCode, "")
		if !IsTransient(err) || !strings.Contains(err.Error(), "bad_paging") {
			t.Errorf("err = %v, want Transient bad_paging", err)
		}
	})
}
