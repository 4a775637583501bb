package providers

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Apps holds each sign-in's app credentials and endpoints.
type Apps struct {
	Meta   MetaConfig   // Facebook Login: Facebook Pages and Instagram
	TikTok TikTokConfig // TikTok Login Kit
	// Instagram is Instagram Login: the Instagram app of the Meta app.
	Instagram InstagramLoginConfig
}

// New returns the adapter for p, its callback at redirectURL; nil for a
// platform it does not know. This is where a platform is registered.
func New(p Platform, apps Apps, redirectURL string) Provider {
	switch p {
	case Facebook, Instagram:
		c := apps.Meta
		c.RedirectURL = redirectURL
		return NewFacebookLogin(p, c)
	case TikTok:
		c := apps.TikTok
		c.RedirectURL = redirectURL
		return NewTikTokLogin(c)
	case IGLogin:
		c := apps.Instagram
		c.RedirectURL = redirectURL
		return NewInstagramLogin(c)
	}
	return nil
}

// All returns an adapter for every platform, each with its callback at
// {base}/oauth/{platform}/callback.
func All(apps Apps, base string) map[Platform]Provider {
	m := map[Platform]Provider{}
	for _, p := range Platforms() {
		m[p] = New(p, apps, CallbackURL(base, p))
	}
	return m
}

// CallbackURL is where p sends a person back: {base}/oauth/{platform}/callback.
func CallbackURL(base string, p Platform) string { return base + "/oauth/" + string(p) + "/callback" }

// SafeAvatar keeps only https and data:image URLs of an avatar: it is shown
// in an <img>, and the pages' CSP allows only those. "" means none (the
// refresh queue then keeps the stored one).
func SafeAvatar(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "data:image/") {
		return u
	}
	return ""
}

// caller is what every adapter shares: the platform it speaks for, its
// HTTP client and its clock.
type caller struct {
	p   Platform
	hc  *http.Client
	now func() time.Time
}

func newCaller(p Platform, hc *http.Client) caller {
	if hc == nil {
		hc = &http.Client{Timeout: 20 * time.Second}
	}
	return caller{p: p, hc: hc, now: time.Now}
}

func (a *caller) Platform() Platform { return a.p }

// Format and LogValue keep an adapter's config out of every print: fmt
// cannot call vault.Token's redacting methods through an unexported field,
// so it would show the app secrets.
func (a caller) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "providers.Adapter(%s)", a.p) }
func (a caller) LogValue() slog.Value {
	return slog.StringValue("providers.Adapter(" + string(a.p) + ")")
}

// notConfigured is the error of an adapter without app credentials.
func (a *caller) notConfigured() error {
	return &Error{Platform: a.p, Kind: Misconfigured, Code: "not_configured",
		Reason: "The " + a.p.Name() + " app credentials are not configured"}
}

// required lists the scopes the product needs, in request order.
func required(p Platform) []string { return append([]string(nil), requiredScopes[p]...) }

func def(s *string, v string) {
	if *s == "" {
		*s = v
	}
}
