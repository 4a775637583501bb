// Package apitest checks answers of /api/v1 against the OpenAPI
// description (apispec) with kin-openapi. Only tests import it: the
// handler tests wrap every kit's server with Handler, and the tests of the
// running binary wrap their HTTP clients with Transport, so no API answer
// in the test suite escapes validation.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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

	"omnisocial/apispec"
)

// Spec is the description, loaded and validated once.
var Spec = sync.OnceValues(func() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apispec.JSON)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, err
	}
	return doc, nil
})

var router = sync.OnceValues(func() (routers.Router, error) {
	doc, err := Spec()
	if err != nil {
		return nil, err
	}
	// Requests are matched in-process against a fixed origin, whatever
	// address the server under test has.
	c := *doc
	c.Servers = openapi3.Servers{{URL: "http://api.test/api/v1"}}
	return gorillamux.NewRouter(&c)
})

// Check validates one answer to r: its route must be described (an
// undocumented path fails), its status too (IncludeResponseStatus: an
// undocumented status fails), and its headers and body must match.
func Check(r *http.Request, status int, h http.Header, body []byte) error {
	rt, err := router()
	if err != nil {
		return err
	}
	req := r.Clone(context.Background())
	req.URL.Scheme, req.URL.Host, req.Host = "http", "api.test", "api.test"
	head := req.Method == http.MethodHead
	if head {
		req.Method = http.MethodGet // HEAD is GET without the body
	}
	route, params, err := rt.FindRoute(req)
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

func isAPI(path string) bool { return strings.HasPrefix(path, "/api/") }

// Handler validates every answer under /api/ that next gives, failing t
// for one the description does not allow.
func Handler(t testing.TB, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isAPI(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if err := Check(r, rec.Code, rec.Header(), rec.Body.Bytes()); err != nil {
			t.Errorf("%s %s answered %d outside the OpenAPI description: %v\n%s", r.Method, r.URL.RequestURI(), rec.Code, err, rec.Body.Bytes())
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}

// Transport validates, on the client's side, every answer under /api/ that
// base (nil: http.DefaultTransport) brings back, failing t for one the
// description does not allow.
func Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		res, err := base.RoundTrip(req)
		if err != nil || !isAPI(req.URL.Path) {
			return res, err
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		if err := Check(req, res.StatusCode, res.Header, body); err != nil {
			t.Errorf("%s %s answered %d outside the OpenAPI description: %v\n%s", req.Method, req.URL.RequestURI(), res.StatusCode, err, body)
		}
		return res, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Schema validates a JSON document against one of the description's
// component schemas (webhook messages against WebhookMessage).
func Schema(name string, body []byte) error {
	doc, err := Spec()
	if err != nil {
		return err
	}
	s := doc.Components.Schemas[name]
	if s == nil {
		return fmt.Errorf("no schema %s in the description", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}
