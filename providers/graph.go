package providers

// Graph API plumbing shared by Facebook and Instagram: authenticated calls
// and the classification of Graph errors (PLATFORMS.md §1.7, §5).

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"

	"omnisocial/vault"
)

// graphURL is path under the configured Graph base and version.
func (a *FacebookLogin) graphURL(path string) string {
	return a.c.GraphBase + "/" + a.c.GraphVersion + "/" + path
}

type graphError struct {
	Message     string `json:"message"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	DebugSub    int    `json:"subcode"` // debug_token's data.error spells it so
	IsTransient bool   `json:"is_transient"`
}

// graph calls the Graph API at rawURL with q added. A token goes in the
// Authorization header (SECURITY.md §1.1: not in a URL we build) with its
// appsecret_proof; out receives a 2xx JSON body.
func (a *FacebookLogin) graph(ctx context.Context, method, rawURL string, q url.Values, token vault.Token, out any) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return &Error{Platform: a.p, Kind: Transient, Code: "bad_url", Reason: "Facebook sent an address that could not be read"}
	}
	query := u.Query()
	for k, v := range q {
		query[k] = v
	}
	var h http.Header
	if !token.IsZero() {
		h = http.Header{"Authorization": {"Bearer " + token.Reveal()}}
		query.Set("appsecret_proof", a.proof(token))
	}
	u.RawQuery = query.Encode()
	res, err := a.send(ctx, method, u.String(), nil, h)
	if err != nil {
		return err
	}
	return a.graphResult(res, out)
}

// proof is appsecret_proof: hex HMAC-SHA256 of the token keyed by the app secret.
func (a *FacebookLogin) proof(t vault.Token) string {
	m := hmac.New(sha256.New, []byte(a.c.AppSecret.Reveal()))
	m.Write([]byte(t.Reveal()))
	return hex.EncodeToString(m.Sum(nil))
}

// graphResult decodes a Graph answer from Facebook.
func (a *FacebookLogin) graphResult(res *response, out any) error {
	return a.graphAnswer(res, out, "Facebook")
}

// graphAnswer decodes a Graph answer: an "error" object fails at any
// status; a non-2xx or unreadable body without one is Transient. brand is
// whose Graph it is (Facebook's, or Instagram's, which speaks the same
// codes), for the words.
func (a *caller) graphAnswer(res *response, out any, brand string) error {
	var env struct {
		Error *graphError `json:"error"`
	}
	// Some Graph answers are not objects (DELETE /me/permissions answers a
	// bare true): valid JSON that is no object simply carries no error.
	bad := !json.Valid(res.body)
	if !bad {
		_ = json.Unmarshal(res.body, &env)
	}
	switch {
	case !bad && env.Error != nil:
		kind, reason := graphClass(*env.Error)
		if kind == Permanent && (res.status == http.StatusTooManyRequests || res.status >= 500) {
			// A server in trouble does not get to condemn an account.
			kind, reason = Transient, "Facebook had a temporary problem"
		}
		return a.failure(res, kind, graphCode(*env.Error), strings.ReplaceAll(reason, "Facebook", brand))
	case res.status == http.StatusTooManyRequests:
		return a.failure(res, Transient, "http_429", brand+"'s rate limit was reached")
	case bad || res.status/100 != 2:
		return a.unreadable(res)
	case out != nil && json.Unmarshal(res.body, out) != nil:
		return a.unreadable(res)
	}
	return nil
}

// exchangeError converts what x/oauth2's Exchange returns. Graph errors are
// objects, which x/oauth2 cannot read, so the body is parsed here.
func (a *FacebookLogin) exchangeError(tokenURL string, err error) error {
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok && re.Response != nil {
		u, _ := url.Parse(tokenURL)
		res := &response{method: http.MethodPost, url: u, status: re.Response.StatusCode, header: re.Response.Header, body: re.Body}
		if e := a.graphResult(res, nil); e != nil {
			return e
		}
		return a.unreadable(res)
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return a.transportError(http.MethodPost, tokenURL, ue)
	}
	// x/oauth2's own errors: a 2xx without access_token, or unreadable JSON.
	code := "unreadable"
	if strings.Contains(err.Error(), "missing access_token") {
		code = "no_access_token"
	}
	return &Error{Platform: a.p, Kind: Transient, Code: code, Reason: "Facebook's answer held no usable token",
		detail: "POST " + scrubURL(tokenURL)}
}

// graphClass maps a Graph error to a kind and words (PLATFORMS.md §1.7, §5).
func graphClass(g graphError) (Kind, string) {
	c, sub := g.Code, cmp.Or(g.Subcode, g.DebugSub)
	switch {
	case appSecretProblem(g):
		return Misconfigured, "Facebook rejected the app ID or app secret"
	case c == 4 || c == 17 || c == 32 || c == 341 || c == 613 || c >= 80000 && c <= 80014:
		return Transient, "Facebook's rate limit was reached"
	case c == 368:
		return Transient, "Facebook has temporarily blocked the app's actions"
	case g.IsTransient || c == 1 || c == 2:
		return Transient, "Facebook had a temporary problem"
	case c == 190:
		if r, ok := reasons190[sub]; ok {
			return Permanent, r
		}
		return Permanent, "Facebook no longer accepts the sign-in (expired or revoked)"
	case c == 102:
		return Permanent, "The Facebook session expired"
	case c == 3:
		// "API Method": a capability or permissions issue, not transient
		// (Meta "Handling Errors"; PLATFORMS.md §8).
		return Permanent, "The Facebook app lacks the capability or permission for this call"
	case c == 10 || c >= 200 && c <= 299:
		return Permanent, "A Facebook permission the app needs was removed or not granted"
	case c == 100:
		switch sub {
		case 33:
			return Permanent, "The Page or account no longer exists or cannot be reached"
		case 36007, 36009:
			return Permanent, "The Facebook authorization code expired or was already used"
		}
		return Permanent, "Facebook rejected the request"
	}
	return Transient, "Facebook returned an unexpected error"
}

// reasons190 words the subcodes of code 190 (PLATFORMS.md §1.7).
var reasons190 = map[int]string{
	458: "The app was removed from the Facebook account",
	459: "Facebook wants the person to log in at facebook.com to unlock the account",
	460: "The Facebook password was changed",
	463: "The Facebook sign-in expired",
	464: "The Facebook account must be confirmed at facebook.com first",
	467: "The person logged out of Facebook",
	492: "The person no longer has a role on the Page",
}

// appSecretProblem spots errors about our app credentials: Facebook sends
// "Error validating client secret" as code 1 and a bad appsecret_proof as
// code 100, so the message is the only tell.
func appSecretProblem(g graphError) bool {
	if g.Code == 101 {
		return true
	}
	m := strings.ToLower(g.Message)
	for _, s := range []string{"client secret", "client_secret", "app secret", "appsecret", "application id", "client id"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

func graphCode(g graphError) string {
	code := strconv.Itoa(g.Code)
	if sub := cmp.Or(g.Subcode, g.DebugSub); sub != 0 {
		code += "/" + strconv.Itoa(sub)
	}
	return code
}
