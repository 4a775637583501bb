// Package handlers is the web surface: routes, middleware, sessions and the
// handlers that turn requests into store calls and templ views.
package handlers

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"omnisocial/auth"
	"omnisocial/metrics"
	"omnisocial/providers"
	"omnisocial/store"
	"omnisocial/vault"
	"omnisocial/views"
)

// Deps is everything the web surface needs, built by main.
type Deps struct {
	Store   *store.Store
	Log     *slog.Logger
	Static  fs.FS        // the contents of static/
	Asset   string       // cache-busting version for static URLs
	Sandbox http.Handler // mounted under /sandbox when not nil
	Now     func() time.Time

	Providers map[providers.Platform]providers.Provider
	// FormActions are origins a plain form may be redirected to (the
	// platforms' authorize pages), for the CSP's form-action.
	FormActions   []string
	ExpiryWarning time.Duration
	HistoryDays   int         // routine history kept, for the details page
	MetaAppSecret vault.Token // verifies Meta's signed_request callbacks
	Checker       Checker     // checks an account now; nil hides "Check now"
	RevokeSoon    func()      // wakes the revocation outbox after work was owed to it; may be nil

	BaseURL       *url.URL
	SessionKey    []byte // signs session cookies
	SessionIdle   time.Duration
	SessionMax    time.Duration
	SignupClosed  bool
	BodyLimit     string       // e.g. "64K"
	Proxies       []*net.IPNet // reverse proxies whose X-Forwarded-For is believed
	LoginBurst    int
	LoginInterval time.Duration
	APIRate       float64 // requests a second per API key, on average
	APIBurst      int     // requests an API key may send at once

	// SetupCheck runs the setup check; reached is scheme://host of the
	// request. nil hides the page.
	SetupCheck func(ctx context.Context, reached string) []views.SetupLine

	MailOn bool // e-mail alerts are sent (OMNISOCIAL_SMTP_URL)
	// SendMail sends one message at once (a link a person is handing
	// over); nil without SMTP.
	SendMail func(ctx context.Context, to, subject, body string) error

	// Metrics, when not nil, counts requests; /metrics serves it only
	// when MetricsToken is set (bearer), and is 404 otherwise.
	Metrics      *metrics.Metrics
	MetricsToken vault.Token

	// Webhooks
	WebhooksSoon     func() // wakes the webhook sender (a resend); may be nil
	WebhookAllowHTTP bool   // development mode: http:// endpoints allowed
}

// Checker refreshes or validates one account at once (the refresh queue).
type Checker interface {
	CheckNow(ctx context.Context, accountID string) error
}

type server struct {
	Deps
	sessions  *sessionStore
	limiter   *auth.Limiter
	keyLimits *keyLimits
	lists     *listCache
	routeSet  map[string]bool // "METHOD /pattern" of every route, for the metrics
}

// New builds the HTTP handler.
func New(d Deps) *echo.Echo {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.BodyLimit == "" {
		d.BodyLimit = "64K"
	}
	if d.HistoryDays == 0 {
		d.HistoryDays = 30
	}
	if d.ExpiryWarning == 0 {
		d.ExpiryWarning = 7 * 24 * time.Hour
	}
	if d.LoginBurst == 0 {
		d.LoginBurst, d.LoginInterval = 5, 20*time.Second
	}
	if d.APIRate == 0 {
		d.APIRate, d.APIBurst = 10, 50
	}
	secure := d.BaseURL.Scheme == "https"
	s := &server{
		Deps:      d,
		sessions:  newSessionStore(d.Store, d.SessionKey, secure, d.SessionIdle, d.SessionMax, d.Now),
		limiter:   auth.NewLimiter(d.LoginBurst, d.LoginInterval).WithClock(d.Now),
		keyLimits: newKeyLimits(d.APIRate, d.APIBurst),
		lists:     newListCache(listCacheBytes),
	}
	// Webhook messages show an account exactly as the API does.
	d.Store.RenderAccountsWith(func(a store.Account) (json.RawMessage, error) { return json.Marshal(s.apiView(a)) })

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	// The client address feeds the log-in limiter: believe X-Forwarded-For
	// only from configured proxies, or anyone could pick their own.
	e.IPExtractor = echo.ExtractIPDirect()
	if len(d.Proxies) > 0 {
		var trust []echo.TrustOption
		for _, n := range d.Proxies {
			trust = append(trust, echo.TrustIPRange(n))
		}
		e.IPExtractor = echo.ExtractIPFromXFFHeader(append(trust, echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false))...)
	}

	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: s.logPanic}))
	e.Use(middleware.RequestID())
	if d.Metrics != nil {
		e.Use(s.countRequests)
	}
	e.Use(s.requestLog)
	e.Use(s.securityHeaders(secure))
	e.Use(middleware.BodyLimit(d.BodyLimit))
	e.Use(s.loadViewer)
	e.Use(s.csrfCheck)
	routesWithHead(e, s.routes)
	s.routeSet = map[string]bool{}
	for _, r := range e.Routes() {
		s.routeSet[r.Method+" "+r.Path] = true
	}
	return e
}

// routesWithHead registers the routes, then lets every GET route answer
// HEAD too with the same handler and middleware: Echo does not, and
// monitors, link checkers and curl -I use HEAD. net/http sends no body for
// HEAD, so the GET handler runs unchanged.
func routesWithHead(e *echo.Echo, routes func(*echo.Echo)) {
	type get struct {
		path string
		h    echo.HandlerFunc
		mw   []echo.MiddlewareFunc
	}
	var gets []get
	e.OnAddRouteHandler = func(_ string, r echo.Route, h echo.HandlerFunc, mw []echo.MiddlewareFunc) {
		if r.Method == http.MethodGet {
			gets = append(gets, get{r.Path, h, mw})
		}
	}
	routes(e)
	e.OnAddRouteHandler = nil
	hasHead := map[string]bool{}
	for _, r := range e.Routes() {
		if r.Method == http.MethodHead {
			hasHead[r.Path] = true
		}
	}
	for _, g := range gets {
		if !hasHead[g.path] {
			e.Add(http.MethodHead, g.path, g.h, g.mw...)
		}
	}
}

// skipCSRF exempts the sandbox (it stands in for another site, with forms
// of its own) and the health check.
func skipCSRF(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/healthz" || strings.HasPrefix(p, "/sandbox/") || apiKeyRequest(c) ||
		p == "/oauth/facebook/deauthorize" || p == "/oauth/facebook/data-deletion"
}

// logPath is a request path fit for the log: an invitation's or an owner
// link's token is a secret, so it is left out.
func logPath(p string) string {
	switch {
	case strings.HasPrefix(p, "/join/"):
		return "/join/[REDACTED]"
	case strings.HasPrefix(p, "/link/") && p != "/link/done" && !strings.HasPrefix(p, "/link/choose/"):
		return "/link/[REDACTED]"
	}
	return p
}

func (s *server) logPanic(c echo.Context, err error, stack []byte) error {
	s.Log.Error("panic", "err", err, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "stack", string(stack))
	return err
}

// requestLog writes one line per request. It logs the path, never the
// query: OAuth callbacks carry a code and state there.
func (s *server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req, res := c.Request(), c.Response()
		if strings.HasPrefix(req.URL.Path, "/static/") {
			return nil
		}
		level := slog.LevelInfo
		if res.Status >= 500 {
			level = slog.LevelError
		}
		s.Log.LogAttrs(req.Context(), level, "request",
			slog.String("method", req.Method),
			slog.String("path", logPath(req.URL.Path)),
			slog.Int("status", res.Status),
			slog.Duration("took", time.Since(start)),
			slog.String("request_id", res.Header().Get(echo.HeaderXRequestID)),
		)
		return nil
	}
}

// contentSecurityPolicy needs no inline script or style: htmx is configured
// through a <meta> (no eval, no injected styles). form-action also names the
// platforms' authorize origins: without JavaScript, Connect is a form whose
// 303 leads there, and browsers check form-action against redirects too.
func contentSecurityPolicy(formActions []string) string {
	fa := "'self'"
	for _, o := range formActions {
		fa += " " + o
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; " +
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action " + fa
}

func (s *server) securityHeaders(secure bool) echo.MiddlewareFunc {
	csp := contentSecurityPolicy(s.FormActions)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if secure {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}
