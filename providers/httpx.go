package providers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody caps what we read from a platform; real answers are a few KB.
const maxBody = 1 << 20

// response is a platform's answer, fully read.
type response struct {
	method string
	url    *url.URL
	status int
	header http.Header
	body   []byte
}

// send performs one request. form, if non-nil, is sent as a urlencoded body.
// Transport failures come back as a Transient *Error that names only scheme,
// host and path: a *url.Error string carries the whole URL, and the query
// holds tokens on some Graph calls (fb_exchange_token, debug_token, paging).
func (a *caller) send(ctx context.Context, method, rawURL string, form url.Values, header http.Header) (*response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		// The message of a URL parse error quotes the URL: leave it out.
		return nil, &Error{Platform: a.p, Kind: Misconfigured, Code: "bad_url",
			Reason: "The " + a.p.Name() + " endpoint address is not valid", detail: method + " " + scrubURL(rawURL)}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, a.transportError(method, rawURL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, a.transportError(method, rawURL, err)
	}
	return &response{method: method, url: req.URL, status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// transportError turns a network failure into a scrubbed Transient error.
func (a *caller) transportError(method, rawURL string, err error) *Error {
	e := &Error{Platform: a.p, Kind: Transient, Code: "network",
		Reason: "Could not reach " + a.p.Name(), detail: method + " " + scrubURL(rawURL)}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.Code, e.Reason, e.cause = "canceled", "The request to "+a.p.Name()+" was cancelled", context.Canceled
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		e.Code, e.Reason, e.cause = "timeout", a.p.Name()+" did not answer in time", context.DeadlineExceeded
	}
	return e
}

// failure builds an error about an answer, with the scrubbed request line.
func (a *caller) failure(r *response, kind Kind, code, reason string) *Error {
	return &Error{Platform: a.p, Kind: kind, Code: safeCode(code), Reason: reason,
		RetryAfter: retryAfter(r.header, a.now()),
		detail:     r.method + " " + scrubURL(r.url.String()) + ": HTTP " + strconv.Itoa(r.status)}
}

// unreadable is the answer we cannot trust: never condemn an account on it.
func (a *caller) unreadable(r *response) *Error {
	return a.failure(r, Transient, "http_"+strconv.Itoa(r.status), a.p.Name()+" sent an answer that could not be read")
}

// scrubURL keeps scheme, host and path: never the query, fragment or userinfo.
func scrubURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// retryAfter reads Retry-After (seconds or HTTP date), else Meta's usage
// headers.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			return t.Sub(now).Round(time.Second)
		}
	}
	return metaUsageWait(h)
}

// metaUsageWait estimates a wait from Meta's rate-limit headers (PLATFORMS.md
// §1.8). X-Business-Use-Case-Usage carries estimated_time_to_regain_access in
// minutes, and wins. The X-App-Usage family only gives percentages of a
// rolling hour: at 100 % we wait a few minutes and let backoff grow from there.
func metaUsageWait(h http.Header) time.Duration {
	if v := h.Get("X-Business-Use-Case-Usage"); v != "" {
		var buc map[string][]struct {
			Minutes float64 `json:"estimated_time_to_regain_access"`
		}
		if json.Unmarshal([]byte(v), &buc) == nil {
			var most float64
			for _, list := range buc {
				for _, u := range list {
					most = max(most, u.Minutes)
				}
			}
			if most > 0 {
				return time.Duration(most * float64(time.Minute))
			}
		}
	}
	for _, name := range []string{"X-App-Usage", "X-Page-Usage", "X-Ad-Account-Usage"} {
		var usage map[string]any
		if json.Unmarshal([]byte(h.Get(name)), &usage) != nil {
			continue
		}
		for _, v := range usage {
			if pct, ok := v.(float64); ok && pct >= 100 {
				return 5 * time.Minute
			}
		}
	}
	return 0
}

// seconds is a duration in seconds sent as a JSON number or numeric string.
type seconds int64

func (s *seconds) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*s = 0
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*s = seconds(f)
	return nil
}

// after returns now+s, or zero (does not expire) when s is not positive.
func (s seconds) after(now time.Time) time.Time {
	if s <= 0 {
		return time.Time{}
	}
	return now.Add(time.Duration(s) * time.Second).UTC()
}

// splitScopes reads a comma (or space) separated scope list.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func cloneMeta(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// setTime stores t as RFC 3339 (what a JSON round trip gives back anyway).
func setTime(m map[string]any, key string, t time.Time) {
	if !t.IsZero() {
		m[key] = t.UTC().Format(time.RFC3339)
	}
}
