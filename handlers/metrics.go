package handlers

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// handleMetrics serves Prometheus's text format to a scraper holding
// OMNISOCIAL_METRICS_TOKEN as a bearer token (compared in constant time).
func (s *server) handleMetrics(c echo.Context) error {
	if s.Metrics == nil || s.MetricsToken.IsZero() {
		return echo.NewHTTPError(http.StatusNotFound, "Metrics are off on this server: set OMNISOCIAL_METRICS_TOKEN to turn them on.")
	}
	got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.MetricsToken.Reveal())) != 1 {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
		return echo.NewHTTPError(http.StatusUnauthorized, "Send OMNISOCIAL_METRICS_TOKEN as a bearer token (Authorization: Bearer …).")
	}
	promhttp.HandlerFor(s.Metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(c.Response(), c.Request())
	return nil
}

// countRequests counts each request by its route's pattern (c.Path(),
// such as /settings/accounts/:id), never the raw URL, whose ids and tokens
// would make a label per request. Unmatched requests share one label.
func (s *server) countRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		route := c.Path()
		if !s.isRoute(c.Request().Method, route) {
			route = "unmatched"
		}
		s.Metrics.Request(route, c.Request().Method, strconv.Itoa(c.Response().Status))
		return nil
	}
}

func (s *server) isRoute(method, path string) bool { return s.routeSet[method+" "+path] }
