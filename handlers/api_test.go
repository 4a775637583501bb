package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"omnisocial/handlers/apiclient"
)

// newKey makes an API key through Settings › API keys.
func (b *browser) newKey(name, access string) string {
	b.k.t.Helper()
	key := parse(b.k.t, b.form("/settings/api-keys", "/settings/api-keys", url.Values{"name": {name}, "access": {access}})).
		Find("[data-testid=new-key-value]").Text()
	if !strings.HasPrefix(key, "osk_") {
		b.k.t.Fatalf("no key shown: %q", key)
	}
	return key
}

// client is the API client oapi-codegen generated from openapi.json, with
// a key; answers still pass the kit's validation.
func (k *kit) client(key string) *apiclient.ClientWithResponses {
	k.t.Helper()
	c, err := apiclient.NewClientWithResponses(k.srv.URL+"/api/v1", apiclient.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		if key != "" {
			r.Header.Set("Authorization", "Bearer "+key)
		}
		return nil
	}))
	if err != nil {
		k.t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// apiWorkspace is what TestAPIThroughGeneratedClient drives: a workspace
// with two Facebook Pages and one TikTok account, and two keys, one
// read-write and one read-only.
type apiWorkspace struct {
	k      *kit
	b      *browser
	rw, ro *apiclient.ClientWithResponses
	ctx    context.Context
}

func newAPIWorkspace(t *testing.T) *apiWorkspace {
	t.Helper()
	k, sb := newFlowKit(t)
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	sb.consent("dana")
	b.choose(b.authorize("facebook", nil).Header.Get("Location"), harbor, luma)
	sb.consent("bloom")
	b.authorize("tiktok", nil)
	rw, ro := k.client(b.newKey("publisher", "read_write")), k.client(b.newKey("analytics", "read"))
	return &apiWorkspace{k: k, b: b, rw: rw, ro: ro, ctx: context.Background()}
}

// TestAPIThroughGeneratedClient drives the API only through the client
// built from the description: list (pages, filters, ETag), get, disconnect,
// and the errors.
func TestAPIThroughGeneratedClient(t *testing.T) {
	w := newAPIWorkspace(t)
	listPagesInAStableOrder(t, w)
	listFilters(t, w)
	bloom, listTag := getAnswersNotModifiedToItsETag(t, w)
	apiErrorsHaveTheDescribedShape(t, w, bloom)
	readWriteKeyDisconnects(t, w, bloom, listTag)
	keysPageShowsAccessAndLastUse(t, w)
}

// listPagesInAStableOrder reads pages of two, in a stable order, until
// next_cursor is null.
func listPagesInAStableOrder(t *testing.T, w *apiWorkspace) {
	t.Helper()
	var names []string
	var cursor *string
	for range 3 {
		res, err := w.ro.ListAccountsWithResponse(w.ctx, &apiclient.ListAccountsParams{Limit: ptr(2), Cursor: cursor})
		if err != nil || res.JSON200 == nil {
			t.Fatalf("list: %v %d %s", err, res.StatusCode(), res.Body)
		}
		for _, a := range res.JSON200.Accounts {
			names = append(names, a.DisplayName)
		}
		if res.JSON200.Used != 3 || res.JSON200.Max != 3 {
			t.Fatalf("used %d of %d", res.JSON200.Used, res.JSON200.Max)
		}
		if cursor = res.JSON200.NextCursor; cursor == nil {
			break
		}
	}
	if got := strings.Join(names, ","); got != "Harbor Coffee Roasters,Luma Yoga Studio,Bloom Botanics" {
		t.Fatalf("pages gave %s", got)
	}
}

func listFilters(t *testing.T, w *apiWorkspace) {
	t.Helper()
	filters := []struct {
		name   string
		params apiclient.ListAccountsParams
		want   int
	}{
		{"facebook", apiclient.ListAccountsParams{Platform: ptr(apiclient.Facebook)}, 2},
		{"tiktok", apiclient.ListAccountsParams{Platform: ptr(apiclient.Tiktok)}, 1},
		{"instagram", apiclient.ListAccountsParams{Platform: ptr(apiclient.Instagram)}, 0},
		{"active", apiclient.ListAccountsParams{Status: ptr(apiclient.Active)}, 3},
		{"needs re-auth", apiclient.ListAccountsParams{Status: ptr(apiclient.NeedsReauth)}, 0},
		{"tiktok, one a page", apiclient.ListAccountsParams{Platform: ptr(apiclient.Tiktok), Limit: ptr(1)}, 1},
	}
	for _, tc := range filters {
		t.Run("filter "+tc.name, func(t *testing.T) {
			res, err := w.ro.ListAccountsWithResponse(w.ctx, &tc.params)
			if err != nil || res.JSON200 == nil || len(res.JSON200.Accounts) != tc.want {
				t.Fatalf("%v %d %s", err, res.StatusCode(), res.Body)
			}
			if tc.want <= 1 && res.JSON200.NextCursor != nil {
				t.Fatal("a next cursor after the last page")
			}
		})
	}
}

// getAnswersNotModifiedToItsETag gets the TikTok account, then gets it
// again with its ETag: 304 and no body; the TikTok list does the same. It
// returns the account's id and the list's ETag.
func getAnswersNotModifiedToItsETag(t *testing.T, w *apiWorkspace) (bloom, listTag string) {
	t.Helper()
	list, _ := w.ro.ListAccountsWithResponse(w.ctx, &apiclient.ListAccountsParams{Platform: ptr(apiclient.Tiktok)})
	bloom = list.JSON200.Accounts[0].Id
	one, err := w.ro.GetAccountWithResponse(w.ctx, bloom, nil)
	if err != nil || one.JSON200 == nil || one.JSON200.DisplayName != "Bloom Botanics" || one.JSON200.Status != apiclient.Active {
		t.Fatalf("get: %v %s", err, one.Body)
	}
	etag := one.HTTPResponse.Header.Get("ETag")
	again, _ := w.ro.GetAccountWithResponse(w.ctx, bloom, &apiclient.GetAccountParams{IfNoneMatch: &etag})
	if again.StatusCode() != http.StatusNotModified || len(again.Body) != 0 {
		t.Fatalf("If-None-Match with the current ETag: %d %s", again.StatusCode(), again.Body)
	}
	listTag = list.HTTPResponse.Header.Get("ETag")
	if res, _ := w.ro.ListAccountsWithResponse(w.ctx, &apiclient.ListAccountsParams{Platform: ptr(apiclient.Tiktok), IfNoneMatch: &listTag}); res.StatusCode() != http.StatusNotModified {
		t.Fatalf("list with its ETag: %d", res.StatusCode())
	}
	return bloom, listTag
}

func apiErrorsHaveTheDescribedShape(t *testing.T, w *apiWorkspace, bloom string) {
	t.Helper()
	ctx, ro := w.ctx, w.ro
	errs := []struct {
		name string
		do   func() (int, string)
		want int
		says string
	}{
		{"no key", func() (int, string) {
			r, _ := w.k.client("").ListAccountsWithResponse(ctx, nil)
			return r.StatusCode(), r.JSON401.Error
		}, 401, "API key"},
		{"revoked or unknown key", func() (int, string) {
			r, _ := w.k.client("osk_nope").GetAccountWithResponse(ctx, bloom, nil)
			return r.StatusCode(), r.JSON401.Error
		}, 401, "not valid"},
		{"unknown account", func() (int, string) {
			r, _ := ro.GetAccountWithResponse(ctx, "no-such-account", nil)
			return r.StatusCode(), r.JSON404.Error
		}, 404, "nothing here"},
		{"limit out of range", func() (int, string) {
			r, _ := ro.ListAccountsWithResponse(ctx, &apiclient.ListAccountsParams{Limit: ptr(0)})
			return r.StatusCode(), r.JSON400.Error
		}, 400, "limit"},
		{"a made-up cursor", func() (int, string) {
			r, _ := ro.ListAccountsWithResponse(ctx, &apiclient.ListAccountsParams{Cursor: ptr("bm90IGEgY3Vyc29y")})
			return r.StatusCode(), r.JSON400.Error
		}, 400, "cursor"},
		{"read-only key disconnecting", func() (int, string) {
			r, _ := ro.DisconnectAccountWithResponse(ctx, bloom)
			return r.StatusCode(), r.JSON403.Error
		}, 403, "read-only"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("no error body of the described shape: %v", p)
				}
			}()
			status, msg := tc.do()
			if status != tc.want || !strings.Contains(msg, tc.says) {
				t.Fatalf("%d %q, want %d saying %q", status, msg, tc.want, tc.says)
			}
		})
	}
}

// readWriteKeyDisconnects: a read-write key disconnects; the account is
// gone and the list's ETag moves on.
func readWriteKeyDisconnects(t *testing.T, w *apiWorkspace, bloom, listTag string) {
	t.Helper()
	if res, err := w.rw.DisconnectAccountWithResponse(w.ctx, bloom); err != nil || res.StatusCode() != http.StatusNoContent {
		t.Fatalf("disconnect: %v %d %s", err, res.StatusCode(), res.Body)
	}
	if res, _ := w.ro.GetAccountWithResponse(w.ctx, bloom, nil); res.StatusCode() != http.StatusNotFound {
		t.Fatalf("after disconnect: %d", res.StatusCode())
	}
	if res, _ := w.ro.ListAccountsWithResponse(w.ctx, &apiclient.ListAccountsParams{Platform: ptr(apiclient.Tiktok), IfNoneMatch: &listTag}); res.StatusCode() != http.StatusOK || len(res.JSON200.Accounts) != 0 {
		t.Fatalf("list after a change with the old ETag: %d", res.StatusCode())
	}
}

// keysPageShowsAccessAndLastUse: Settings › API keys shows each key's
// access and last use.
func keysPageShowsAccessAndLastUse(t *testing.T, w *apiWorkspace) {
	t.Helper()
	doc := parse(t, w.b.get("/settings/api-keys"))
	rows := doc.Find("[data-testid=key-row]")
	if rows.Length() != 2 || !strings.Contains(rows.Eq(1).Find("[data-testid=key-access]").Text(), "Read only") ||
		!strings.Contains(rows.Eq(0).Find("[data-testid=key-access]").Text(), "disconnect") {
		t.Fatalf("keys: %q", rows.Text())
	}
	for i := range 2 {
		if used := rows.Eq(i).Find("[data-testid=key-last-used]").Text(); used != "just now" {
			t.Fatalf("last use of key %d: %q", i, used)
		}
	}
}

// Each key has its own bucket: past its burst it gets 429 with
// Retry-After and RateLimit-* headers, and refills with time.
func TestAPIRateLimitPerKey(t *testing.T) {
	k := newKit(t, func(d *Deps) { d.APIRate, d.APIBurst = 1, 3 })
	b := k.browser()
	b.signup("dana@example.com", "Harbor")
	one, other := b.newKey("one", "read"), b.newKey("other", "read")
	get := func(key string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, k.srv.URL+"/api/v1/accounts", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		return b.do(req)
	}
	for i, want := range []string{"2", "1", "0"} {
		res := get(one)
		if res.StatusCode != 200 || res.Header.Get("RateLimit-Limit") != "3" || res.Header.Get("RateLimit-Remaining") != want {
			t.Fatalf("request %d: %d limit %s remaining %s", i, res.StatusCode, res.Header.Get("RateLimit-Limit"), res.Header.Get("RateLimit-Remaining"))
		}
	}
	res := get(one)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "1" || res.Header.Get("RateLimit-Remaining") != "0" ||
		res.Header.Get("RateLimit-Reset") != "3" {
		t.Fatalf("over the limit: %d Retry-After %q %v", res.StatusCode, res.Header.Get("Retry-After"), res.Header)
	}
	if res := get(other); res.StatusCode != 200 {
		t.Fatalf("another key is limited too: %d", res.StatusCode)
	}
	k.clock.Add(time.Second)
	if res := get(one); res.StatusCode != 200 {
		t.Fatalf("after a second: %d", res.StatusCode)
	}
	// A person's session is not limited like a key.
	for range 5 {
		if res := b.get("/api/v1/accounts"); res.StatusCode != 200 {
			t.Fatalf("session: %d", res.StatusCode)
		}
	}
}
