package sandbox

import (
	"fmt"
	"net/http"
	"time"
)

// A fault makes an endpoint misbehave for the next Count calls, or for a
// Fraction of calls (both: at most Count times, each with that chance).
type fault struct {
	Endpoint   string  `json:"endpoint"`
	Kind       string  `json:"kind"`
	Count      int     `json:"count,omitempty"`
	Fraction   float64 `json:"fraction,omitempty"`
	RetryAfter int     `json:"retry_after,omitempty"` // seconds
	DelayMS    int     `json:"delay_ms,omitempty"`
	// Code and Subcode are the Graph error a "graph_error" fault answers.
	Code    int `json:"code,omitempty"`
	Subcode int `json:"subcode,omitempty"`
}

var faultEndpoints = map[string]bool{
	"*": true, "meta.dialog": true, "meta.token": true, "meta.me": true, "meta.accounts": true,
	"meta.node": true, "meta.debug_token": true, "meta.permissions": true, "meta.businesses": true,
	"tiktok.authorize": true, "tiktok.token": true, "tiktok.revoke": true, "tiktok.userinfo": true,
	"instagram.authorize": true, "instagram.token": true, "instagram.exchange": true, "instagram.refresh": true,
	"instagram.me": true,
}

var faultKinds = map[string]bool{
	"5xx": true, "429": true, "timeout": true, "slow": true, "invalid_grant": true, "rate_limit": true, "graph_error": true,
}

// graphMessages are the messages Facebook sends with the codes of its
// "Handling Errors" page, for "graph_error" faults (PLATFORMS.md §1.7, §8).
var graphMessages = map[int]string{
	1:   "An unknown error occurred",
	2:   "An unexpected error has occurred. Please retry your request later.",
	3:   "(#3) Application does not have the capability to make this API call.",
	4:   "(#4) Application request limit reached",
	10:  "(#10) Application does not have permission for this action",
	17:  "(#17) User request limit reached",
	32:  "(#32) Page request limit reached",
	100: "(#100) Invalid parameter",
	102: "Session key invalid or no longer valid",
	190: "Error validating access token",
	200: "(#200) Permissions error",
	341: "(#341) Application limit reached",
	368: "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
	613: "(#613) Calls to this api have exceeded the rate limit.",
}

func graphMessage(code int) string {
	if m, ok := graphMessages[code]; ok {
		return m
	}
	if code > 200 && code < 300 {
		return fmt.Sprintf("(#%d) Permissions error", code)
	}
	return fmt.Sprintf("(#%d) An error occurred", code)
}

// defaultTimeoutCap bounds a "timeout" fault for clients that never give up.
const defaultTimeoutCap = 60 * time.Second

// enter counts a call of endpoint and returns the fault to apply, if any.
// Extra names (e.g. "tiktok.token.refresh_token") are only counted.
func (s *Sandbox) enter(endpoint string, extra ...string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats[endpoint]++
	for _, n := range extra {
		s.stats[n]++
	}
	for i, f := range s.faults {
		if f.Endpoint != "*" && f.Endpoint != endpoint {
			continue
		}
		if f.Fraction > 0 && s.rng.Float64() >= f.Fraction {
			continue
		}
		hit := *f
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		s.stats["fault."+endpoint+"."+hit.Kind]++
		return &hit
	}
	return nil
}

// pause carries out the delaying kinds. It returns false when the request has
// been dealt with (a timeout) and the handler must not answer.
func (s *Sandbox) pause(w http.ResponseWriter, r *http.Request, f *fault) bool {
	switch f.Kind {
	case "slow":
		d := time.Duration(f.DelayMS) * time.Millisecond
		if d <= 0 {
			d = 2 * time.Second
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-r.Context().Done():
			return false
		}
	case "timeout":
		s.mu.Lock()
		limit := s.timeoutCap
		s.mu.Unlock()
		t := time.NewTimer(limit)
		defer t.Stop()
		select {
		case <-t.C:
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
		case <-r.Context().Done():
		case <-s.stop:
		}
		return false
	}
	return true
}

// failing is true for the kinds that replace the answer with an error.
func (f *fault) failing() bool {
	return f != nil && f.Kind != "slow" && f.Kind != "timeout"
}

func (f *fault) retryAfter() int {
	if f.RetryAfter > 0 {
		return f.RetryAfter
	}
	return 60
}

// windowFaulted plays a fault set on a consent window (endpoint), answering
// with the platform's (brand's) error page; true when the request is
// answered. It also parses the form every window reads.
func (s *Sandbox) windowFaulted(w http.ResponseWriter, r *http.Request, endpoint, brand string) bool {
	if s.faulted(w, r, func(f *fault) { s.dialogFault(w, brand, f) }, endpoint) {
		return true
	}
	_ = r.ParseForm()
	return false
}

// faulted plays the fault set on endpoint (extra names the same call more
// precisely): a slow one waits, a failing one is answered by fail. True
// when the request is answered.
func (s *Sandbox) faulted(w http.ResponseWriter, r *http.Request, fail func(*fault), endpoint string, extra ...string) bool {
	f := s.enter(endpoint, extra...)
	if f == nil {
		return false
	}
	if !s.pause(w, r, f) {
		return true
	}
	if f.failing() {
		fail(f)
		return true
	}
	return false
}
