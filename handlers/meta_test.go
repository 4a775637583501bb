package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/sandbox"
)

// metaCallbacks is the workspace TestMetaCallbacks calls back about: Dana's
// two Facebook Pages and a TikTok account, with signed requests from the
// sandbox for Dana and for Lee.
type metaCallbacks struct {
	t           *testing.T
	k           *kit
	dana, other string // signed_request values
}

func newMetaCallbacks(t *testing.T) *metaCallbacks {
	t.Helper()
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
	// The sandbox dates them by the real clock; the server's must agree.
	k.clock.Add(time.Since(k.clock.Now()))
	return &metaCallbacks{t: t, k: k, dana: signed.SignedRequest, other: other.SignedRequest}
}

func (m *metaCallbacks) post(path, sr string) *http.Response {
	res, err := http.PostForm(m.k.srv.URL+path, url.Values{"signed_request": {sr}})
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { res.Body.Close() })
	return res
}

// statuses is each account's status by display name.
func (m *metaCallbacks) statuses() map[string]string {
	accts, _ := m.k.st.Accounts(m.t.Context(), 1)
	out := map[string]string{}
	for _, a := range accts {
		out[a.DisplayName] = string(a.Status)
	}
	return out
}

func TestMetaCallbacks(t *testing.T) {
	m := newMetaCallbacks(t)
	forgedCallbacksChangeNothing(t, m)
	deauthorizeMarksOnlyTheSignersAccounts(t, m)
	dataDeletionRemovesAndReports(t, m)
}

func forgedCallbacksChangeNothing(t *testing.T, m *metaCallbacks) {
	t.Helper()
	forged := strings.Replace(m.dana, ".", "x.", 1)
	for _, bad := range []string{"", "garbage", forged, "a." + strings.SplitN(m.dana, ".", 2)[1]} {
		for _, path := range []string{"/oauth/facebook/deauthorize", "/oauth/facebook/data-deletion"} {
			if res := m.post(path, bad); res.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s with %q: %d, want 400", path, bad, res.StatusCode)
			}
		}
	}
	if got := m.statuses(); len(got) != 3 || got["Harbor Coffee Roasters"] != "active" {
		t.Fatalf("forged callbacks changed something: %v", got)
	}
}

// deauthorizeMarksOnlyTheSignersAccounts: someone else's deauthorization
// touches none of Dana's accounts; Dana's marks her Pages, not TikTok.
func deauthorizeMarksOnlyTheSignersAccounts(t *testing.T, m *metaCallbacks) {
	t.Helper()
	if res := m.post("/oauth/facebook/deauthorize", m.other); res.StatusCode != http.StatusOK {
		t.Fatalf("deauthorize for lee: %d", res.StatusCode)
	}
	if res := m.post("/oauth/facebook/deauthorize", m.dana); res.StatusCode != http.StatusOK {
		t.Fatalf("deauthorize: %d", res.StatusCode)
	}
	got := m.statuses()
	if got["Harbor Coffee Roasters"] != "needs_reauth" || got["Luma Yoga Studio"] != "needs_reauth" || got["Bloom Botanics"] != "active" {
		t.Fatalf("after deauthorize: %v", got)
	}
}

// dataDeletionRemovesAndReports: a data deletion request removes Dana's
// Pages and answers with a status page that says what was deleted.
func dataDeletionRemovesAndReports(t *testing.T, m *metaCallbacks) {
	t.Helper()
	res := m.post("/oauth/facebook/data-deletion", m.dana)
	var answer struct {
		URL              string `json:"url"`
		ConfirmationCode string `json:"confirmation_code"`
	}
	json.NewDecoder(res.Body).Decode(&answer)
	if res.StatusCode != http.StatusOK || answer.ConfirmationCode == "" || !strings.HasSuffix(answer.URL, "/oauth/facebook/data-deletion/"+answer.ConfirmationCode) {
		t.Fatalf("data deletion answer: %d %+v", res.StatusCode, answer)
	}
	if got := m.statuses(); len(got) != 1 || got["Bloom Botanics"] != "active" {
		t.Fatalf("after data deletion: %v", got)
	}
	u, _ := url.Parse(answer.URL)
	status := m.k.browser().get(u.Path)
	if status.StatusCode != http.StatusOK {
		t.Fatalf("status page: %d", status.StatusCode)
	}
	if text := parse(t, status).Find("[data-testid=deletion-status]").Text(); !strings.Contains(text, "2 connected accounts") {
		t.Fatalf("status page says %q", text)
	}
	if res := m.k.browser().get("/oauth/facebook/data-deletion/unknown"); res.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown code: %d", res.StatusCode)
	}
}

// signFor builds a signed_request as Meta would, with the payload given.
func signFor(secret string, payload map[string]any) string {
	pj, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding.EncodeToString(pj)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(enc))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) + "." + enc
}

// A correctly signed request must also say when it was issued, and not
// from the future: without issued_at (or dated ahead) it could be kept
// and replayed for ever (issue 11, finding 6).
func TestMetaSignedRequestIssuedAt(t *testing.T) {
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	now := k.clock.Now()
	dana := "10229000000001"
	tests := []struct {
		name     string
		payload  map[string]any
		wantCode int
	}{
		{"no issued_at", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana}, http.StatusBadRequest},
		{"issued_at zero", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": 0}, http.StatusBadRequest},
		{"an hour ahead", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": now.Add(time.Hour).Unix()}, http.StatusBadRequest},
		{"six minutes ahead", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": now.Add(6 * time.Minute).Unix()}, http.StatusBadRequest},
		{"two days old", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": now.Add(-48 * time.Hour).Unix()}, http.StatusBadRequest},
		{"issued_at a string", map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": "soon"}, http.StatusBadRequest},
	}
	before := snapshot(t, k.dbPath)
	for _, tc := range tests {
		for _, path := range []string{"/oauth/facebook/deauthorize", "/oauth/facebook/data-deletion"} {
			t.Run(tc.name+path, func(t *testing.T) {
				res, err := http.PostForm(k.srv.URL+path, url.Values{"signed_request": {signFor(sandbox.DevMetaAppSecret, tc.payload)}})
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != tc.wantCode {
					t.Fatalf("status %d, want %d", res.StatusCode, tc.wantCode)
				}
			})
		}
	}
	if after := snapshot(t, k.dbPath); after != before {
		t.Fatalf("refused callbacks changed the database:\nbefore %s\nafter  %s", before, after)
	}
	// Within the allowed clock skew a request from slightly ahead is fine.
	res, err := http.PostForm(k.srv.URL+"/oauth/facebook/deauthorize", url.Values{"signed_request": {signFor(sandbox.DevMetaAppSecret,
		map[string]any{"algorithm": "HMAC-SHA256", "user_id": dana, "issued_at": now.Add(4 * time.Minute).Unix()})}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("a request 4 minutes ahead (within skew): %d", res.StatusCode)
	}
}
