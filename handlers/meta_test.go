package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMetaCallbacks(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	sb.consent("bloom")
	b.authorize("tiktok", nil)

	var signed struct {
		SignedRequest string `json:"signed_request"`
	}
	json.Unmarshal(sb.control("POST", "signed_request", map[string]any{"persona": "dana"}), &signed)
	var other struct {
		SignedRequest string `json:"signed_request"`
	}
	json.Unmarshal(sb.control("POST", "signed_request", map[string]any{"persona": "lee"}), &other)

	post := func(path, sr string) *http.Response {
		res, err := http.PostForm(k.srv.URL+path, url.Values{"signed_request": {sr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	statuses := func() map[string]string {
		accts, _ := k.st.Accounts(t.Context(), 1)
		out := map[string]string{}
		for _, a := range accts {
			out[a.DisplayName] = a.Status
		}
		return out
	}
	forged := strings.Replace(signed.SignedRequest, ".", "x.", 1)
	for _, bad := range []string{"", "garbage", forged, "a." + strings.SplitN(signed.SignedRequest, ".", 2)[1]} {
		for _, path := range []string{"/oauth/facebook/deauthorize", "/oauth/facebook/data-deletion"} {
			if res := post(path, bad); res.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s with %q: %d, want 400", path, bad, res.StatusCode)
			}
		}
	}
	if got := statuses(); len(got) != 3 || got["Harbor Coffee Roasters"] != "active" {
		t.Fatalf("forged callbacks changed something: %v", got)
	}

	// Someone else's deauthorization touches none of Dana's accounts.
	if res := post("/oauth/facebook/deauthorize", other.SignedRequest); res.StatusCode != http.StatusOK {
		t.Fatalf("deauthorize for lee: %d", res.StatusCode)
	}
	if res := post("/oauth/facebook/deauthorize", signed.SignedRequest); res.StatusCode != http.StatusOK {
		t.Fatalf("deauthorize: %d", res.StatusCode)
	}
	got := statuses()
	if got["Harbor Coffee Roasters"] != "needs_reauth" || got["Luma Yoga Studio"] != "needs_reauth" || got["Bloom Botanics"] != "active" {
		t.Fatalf("after deauthorize: %v", got)
	}

	res := post("/oauth/facebook/data-deletion", signed.SignedRequest)
	var answer struct {
		URL              string `json:"url"`
		ConfirmationCode string `json:"confirmation_code"`
	}
	json.NewDecoder(res.Body).Decode(&answer)
	if res.StatusCode != http.StatusOK || answer.ConfirmationCode == "" || !strings.HasSuffix(answer.URL, "/oauth/facebook/data-deletion/"+answer.ConfirmationCode) {
		t.Fatalf("data deletion answer: %d %+v", res.StatusCode, answer)
	}
	if got := statuses(); len(got) != 1 || got["Bloom Botanics"] != "active" {
		t.Fatalf("after data deletion: %v", got)
	}
	u, _ := url.Parse(answer.URL)
	status := k.browser().get(u.Path)
	if status.StatusCode != http.StatusOK {
		t.Fatalf("status page: %d", status.StatusCode)
	}
	if text := parse(t, status).Find("[data-testid=deletion-status]").Text(); !strings.Contains(text, "2 connected accounts") {
		t.Fatalf("status page says %q", text)
	}
	if res := k.browser().get("/oauth/facebook/data-deletion/unknown"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown code: %d", res.StatusCode)
	}
}
