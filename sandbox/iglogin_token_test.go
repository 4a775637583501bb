package sandbox

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestIGHappyPath: authorize → code → short-lived → long-lived → /me →
// refresh after 24 h, all listed by the control API.
func TestIGHappyPath(t *testing.T) {
	e := newEnv(t)
	code := e.igCode("nova")
	if !strings.HasPrefix(code, "AQ") {
		t.Errorf("code %.6s", code)
	}
	r := e.igExchange(igCodeForm(code))
	if r.Status != 200 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	m := r.JSON(t)
	data, ok := m["data"].([]any)
	if !ok || len(data) != 1 || len(m) != 1 {
		t.Fatalf("not the documented data[] shape: %s", r.Body)
	}
	d := data[0].(map[string]any)
	short, _ := d["access_token"].(string)
	if !strings.HasPrefix(short, "IGAA") || d["user_id"] != "10200000000000601" || d["permissions"] != igAllScopes {
		t.Errorf("short-lived answer %v", d)
	}
	for _, k := range []string{"expires_in", "refresh_token", "token_type"} {
		if _, ok := d[k]; ok {
			t.Errorf("undocumented %s", k)
		}
	}
	if me := e.igMe(short, "user_id,username").JSON(t); me["user_id"] != "17841400000000601" || me["username"] != "nova.makes" {
		t.Errorf("/me with the short-lived token: %v", me)
	}

	lr := e.igLongResp(short)
	lm := lr.JSON(t)
	long, _ := lm["access_token"].(string)
	if lr.Status != 200 || !strings.HasPrefix(long, "IGAA") || long == short || lm["token_type"] != "bearer" || num(t, lm["expires_in"]) != 5183944 {
		t.Fatalf("long-lived: %d %s", lr.Status, lr.Body)
	}
	if _, ok := lm["refresh_token"]; ok {
		t.Errorf("Instagram has no refresh_token")
	}
	me := e.igMe(long, "user_id,username,name,profile_picture_url,account_type,followers_count,media_count")
	mm := me.JSON(t)
	if me.Status != 200 || mm["user_id"] != "17841400000000601" || mm["name"] != "Nova Reyes" || mm["account_type"] != "MEDIA_CREATOR" ||
		num(t, mm["followers_count"]) != 6420 || num(t, mm["media_count"]) != 173 || !strings.HasPrefix(mm["profile_picture_url"].(string), "data:image/svg+xml") {
		t.Errorf("/me %s", me.Body)
	}

	e.clock.Advance(24 * time.Hour)
	rr := e.igRefresh(long)
	rm := rr.JSON(t)
	fresh, _ := rm["access_token"].(string)
	if rr.Status != 200 || fresh == "" || fresh == long || rm["token_type"] != "bearer" || num(t, rm["expires_in"]) != 5183944 {
		t.Fatalf("refresh: %d %s", rr.Status, rr.Body)
	}
	if e.igMe(fresh, "user_id").Status != 200 {
		t.Errorf("refreshed token does not work")
	}

	// Every value handed out is listed, with its platform and status.
	want := map[string]string{code: "used", short: "expired", long: "valid", fresh: "valid"}
	for _, tk := range e.tokens() {
		if st, ok := want[tk["token"].(string)]; ok {
			if tk["platform"] != "instagram" || tk["status"] != st || tk["persona"] != "nova" {
				t.Errorf("token row %v, want status %s", tk, st)
			}
			delete(want, tk["token"].(string))
		}
	}
	if len(want) != 0 {
		t.Errorf("not listed: %d", len(want))
	}
	exp := e.tokenInfo(fresh)["expires_at"].(string)
	if wantExp := e.clock.Now().Add(igLongLife).UTC().Format(time.RFC3339); exp != wantExp {
		t.Errorf("refreshed expiry %s, want %s", exp, wantExp)
	}
}

func TestIGTokenShapes(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct {
		shape string
		check func(t *testing.T, raw []byte, m map[string]any)
	}{
		{"data", func(t *testing.T, raw []byte, m map[string]any) {
			d := m["data"].([]any)[0].(map[string]any)
			if _, ok := m["access_token"]; ok || d["user_id"] != "10200000000000601" || d["permissions"] != igAllScopes {
				t.Errorf("data shape %s", raw)
			}
		}},
		{"flat", func(t *testing.T, raw []byte, m map[string]any) {
			if _, ok := m["data"]; ok {
				t.Errorf("flat shape has data: %s", raw)
			}
			if tok, _ := m["access_token"].(string); !strings.HasPrefix(tok, "IGAA") {
				t.Errorf("access_token %v", m["access_token"])
			}
			// user_id is a JSON number, written exactly (a float64 would round it).
			if n, ok := m["user_id"].(json.Number); !ok || n.String() != "10200000000000601" {
				t.Errorf("user_id %v (%T)", m["user_id"], m["user_id"])
			}
			if !bytes.Contains(raw, []byte(`"user_id":10200000000000601`)) {
				t.Errorf("user_id not written as an integer: %s", raw)
			}
			perms, _ := m["permissions"].([]any)
			if len(perms) != 3 || perms[0] != "instagram_business_basic" {
				t.Errorf("permissions %v", m["permissions"])
			}
		}},
	} {
		t.Run(tt.shape, func(t *testing.T) {
			e.control("instagram", map[string]any{"token_shape": tt.shape})
			r := e.igExchange(igCodeForm(e.igCode("nova")))
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			tt.check(t, r.Body, r.JSON(t))
		})
	}
	for _, bad := range []map[string]any{{"token_shape": "array"}, {}, {"shape": "flat"}} {
		if r := e.controlRaw("POST", "instagram", bad); r.Status != 400 {
			t.Errorf("%v: %d", bad, r.Status)
		}
	}
	// The setting shows, and a reset brings the documented shape back.
	if s := e.get("/sandbox/control/settings").JSON(t)["settings"].(map[string]any); s["instagram_token_shape"] != "flat" {
		t.Errorf("settings %v", s)
	}
	e.control("reset", nil)
	if s := e.get("/sandbox/control/settings").JSON(t)["settings"].(map[string]any); s["instagram_token_shape"] != "data" {
		t.Errorf("after reset %v", s["instagram_token_shape"])
	}
}

func TestIGCodeExchangeErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name   string
		change func(f url.Values)
		want   string
	}{
		{"missing client_id", func(f url.Values) { f.Del("client_id") }, "client_id"},
		{"the Facebook app id", func(f url.Values) { f.Set("client_id", DevMetaAppID) }, "Invalid platform app"},
		{"wrong secret", func(f url.Values) { f.Set("client_secret", DevMetaAppSecret) }, "client secret"},
		{"grant_type missing", func(f url.Values) { f.Del("grant_type") }, "grant_type"},
		{"missing redirect_uri", func(f url.Values) { f.Del("redirect_uri") }, "redirect_uri"},
		{"wrong redirect_uri", func(f url.Values) { f.Set("redirect_uri", testRedirect+"/other") }, "redirect_uri is identical"},
		{"trailing slash differs", func(f url.Values) { f.Set("redirect_uri", testRedirect+"/") }, "redirect_uri is identical"},
		{"code with #_", func(f url.Values) { f.Set("code", f.Get("code")+"#_") }, "Matching code was not found"},
		{"unknown code", func(f url.Values) { f.Set("code", "AQnope") }, "Matching code was not found"},
	}
	code := e.igCode("nova")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := igCodeForm(code)
			tt.change(f)
			if msg := igOAuthError(t, e.igExchange(f), 400); !strings.Contains(msg, tt.want) {
				t.Errorf("message %q, want %q", msg, tt.want)
			}
		})
	}
	// None of those consumed the code; now it works once, then never again.
	if r := e.igExchange(igCodeForm(code)); r.Status != 200 {
		t.Fatalf("code consumed by a failed attempt: %d %s", r.Status, r.Body)
	}
	if msg := igOAuthError(t, e.igExchange(igCodeForm(code)), 400); msg != "Matching code was not found or was already used" {
		t.Errorf("reuse: %q", msg)
	}
	// The query string does not count: the fields belong in the body.
	q := igCodeForm(e.igCode("nova")).Encode()
	if r := e.postForm("/sandbox/api.instagram.com/oauth/access_token?"+q, url.Values{}); r.Status != 400 {
		t.Errorf("query-string fields accepted: %d", r.Status)
	}
	if r := e.get("/sandbox/api.instagram.com/oauth/access_token?" + q); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.Status)
	}
	// Ten minutes later a code is dead.
	late := e.igCode("nova")
	e.clock.Advance(10 * time.Minute)
	if msg := igOAuthError(t, e.igExchange(igCodeForm(late)), 400); !strings.Contains(msg, "expired") {
		t.Errorf("expired code: %q", msg)
	}
}

// The references' curl example posts multipart/form-data (-F).
func TestIGCodeExchangeMultipart(t *testing.T) {
	e := newEnv(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range igCodeForm(e.igCode("harbor")) {
		_ = mw.WriteField(k, v[0])
	}
	mw.Close()
	req, _ := http.NewRequest("POST", e.srv.URL+"/sandbox/api.instagram.com/oauth/access_token", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r := e.do(req)
	if r.Status != 200 || r.JSON(t)["data"].([]any)[0].(map[string]any)["user_id"] != "10200000000000101" {
		t.Errorf("multipart: %d %s", r.Status, r.Body)
	}
}

func TestIGExchangeErrors(t *testing.T) {
	e := newEnv(t)
	short := e.igShort("nova")
	long := e.igLong(short)
	metaTok := e.metaUserToken("dana", fbScopes)
	tests := []struct {
		name      string
		path      string
		params    []string
		code, sub int64
	}{
		{"wrong secret", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", "nope", "access_token", short}, 1, 0},
		{"wrong grant_type", "access_token", []string{"grant_type", "fb_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", short}, 100, 0},
		{"no token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret}, 104, 0},
		{"already long-lived", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", long}, 100, 0},
		{"unknown token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", "IGAAnope"}, 190, 0},
		{"a Facebook token", "access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", metaTok}, 190, 0},
		{"versioned exchange", "v26.0/access_token", []string{"grant_type", "ig_exchange_token", "client_secret", DevInstagramAppSecret, "access_token", short}, 100, 33},
		{"versioned refresh", "v26.0/refresh_access_token", []string{"grant_type", "ig_refresh_token", "access_token", long}, 100, 33},
		{"refresh a short-lived token", "refresh_access_token", []string{"grant_type", "ig_refresh_token", "access_token", short}, 100, 0},
		{"refresh with the wrong grant_type", "refresh_access_token", []string{"grant_type", "ig_exchange_token", "access_token", long}, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.igGet(tt.path, tt.params...)
			if code, sub := graphError(t, r); code != tt.code || sub != tt.sub || r.Status != 400 {
				t.Errorf("got %d %d/%d, want 400 %d/%d: %s", r.Status, code, sub, tt.code, tt.sub, r.Body)
			}
		})
	}
	// The short-lived token dies after its hour; exchanging it then is 190/463.
	e.clock.Advance(time.Hour)
	if code, sub := graphError(t, e.igLongResp(short)); code != 190 || sub != 463 {
		t.Errorf("expired short-lived: %d/%d", code, sub)
	}
	if r := e.postForm("/sandbox/graph.instagram.com/refresh_access_token", url.Values{"grant_type": {"ig_refresh_token"}, "access_token": {long}}); r.Status != 400 ||
		!strings.Contains(string(r.Body), "method type: post") {
		t.Errorf("POST refresh: %d %s", r.Status, r.Body)
	}
}
