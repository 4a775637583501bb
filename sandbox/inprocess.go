package sandbox

import (
	"net/http"
	"net/http/httptest"
	"time"
)

// Client returns an HTTP client whose requests this sandbox answers in
// process, whatever their host: no loopback round trip, so the server's
// own calls reach a mounted sandbox however the public base URL is set,
// and benchmarks of the product do not measure TCP.
func (s *Sandbox) Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: inProcess{s}}
}

type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.h.ServeHTTP(rec, r)
	}()
	select {
	case <-done:
		return rec.Result(), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}
