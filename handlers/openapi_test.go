package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// The API's description, loaded once for every test.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	return doc, nil
})

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spec()
	if err != nil {
		return nil, err
	}
	// Requests are matched in-process against a fixed origin, whatever
	// port the test server has.
	c := *doc
	c.Servers = openapi3.Servers{{URL: "http://api.test/api/v1"}}
	return gorillamux.NewRouter(&c)
})

// validateAPI wraps the whole server of every kit (newKit): each answer
// under /api/v1, whoever asked for it, is checked against openapi.json,
// status included (an undocumented status fails), and so is the route
// itself (an undocumented path fails). There is no way around it for a
// test that talks to a kit.
func validateAPI(t testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if err := checkAnswer(r, rec.Result().StatusCode, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s answered %d outside the OpenAPI description: %v\n%s", r.Method, r.URL.RequestURI(), rec.Code, err, rec.Body.Bytes())
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// checkAnswer validates one answer to r against the description.
func checkAnswer(r *http.Request, status int, h http.Header, body []byte) error {
	router, err := specRouter()
	if err != nil {
		return err
	}
	req := r.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host = "http", "api.test", "api.test"
	head := req.Method == http.MethodHead
	if head {
		req.Method = http.MethodGet // HEAD is GET without the body
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	return openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: head},
	})
}

// checkSchema validates a JSON document against one of the description's
// schemas (webhook messages).
func checkSchema(t testing.TB, name string, body []byte) {
	t.Helper()
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	s := doc.Components.Schemas[name]
	if s == nil {
		t.Fatalf("no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s does not match the description's %s: %v", body, name, err)
	}
}

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
			err := checkAnswer(tc.req, tc.status, json, []byte(tc.body))
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
	if res.StatusCode != 200 || !bytes.Equal(b, OpenAPI) || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
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
