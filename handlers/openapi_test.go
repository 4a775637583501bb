package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"omnisocial/apispec"
	"omnisocial/handlers/apitest"
)

// The validator itself catches drift: an answer the description does not
// allow fails it.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	good := `{"accounts":[],"next_cursor":null,"used":0,"max":3}`
	req := httptest.NewRequest(http.MethodGet, "/api/v1/accounts?limit=5", nil)
	json := http.Header{"Content-Type": {"application/json"}, "Etag": {`"x"`}}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		body   string
		ok     bool
	}{
		{"a page", req, 200, good, true},
		{"a field not described", req, 200, `{"accounts":[],"next_cursor":null,"used":0,"max":3,"token":"x"}`, false},
		{"a field missing", req, 200, `{"accounts":[],"used":0,"max":3}`, false},
		{"an undocumented status", req, 418, `{"error":"teapot"}`, false},
		{"an undocumented path", httptest.NewRequest(http.MethodGet, "/api/v1/tokens", nil), 200, good, false},
		{"an error in words", httptest.NewRequest(http.MethodGet, "/api/v1/accounts/x", nil), 404, `{"error":"There is nothing here."}`, true},
		{"an error of another shape", httptest.NewRequest(http.MethodGet, "/api/v1/accounts/x", nil), 404, `{"message":"no"}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := apitest.Check(tc.req, tc.status, json, []byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("validation: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	k := newKit(t)
	res, err := http.Get(k.srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !bytes.Equal(b, apispec.JSON) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI  string         `json:"openapi"`
		Webhooks map[string]any `json:"webhooks"`
	}
	json.Unmarshal(b, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") || len(doc.Webhooks) != 6 {
		t.Fatalf("openapi %q with %d webhooks", doc.OpenAPI, len(doc.Webhooks))
	}
}
