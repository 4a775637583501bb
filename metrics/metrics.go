// Package metrics is what OmniSocial tells Prometheus: refreshes by
// platform and outcome, platform call latency, accounts by platform and
// status, the refresh queue, the outboxes and HTTP requests by route. Each
// server has its own registry (never the global default), so tests can run
// several servers in one process.
package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"omnisocial/store"
)

// Metrics holds one server's registry and the metrics recorded as things
// happen; the queue and outbox gauges are read from the store at scrape.
type Metrics struct {
	Registry  *prometheus.Registry
	refreshes *prometheus.CounterVec
	calls     *prometheus.HistogramVec
	requests  *prometheus.CounterVec
}

// New registers everything. overdueAfter is how long an account may be due
// before it counts as overdue (a few refresh intervals).
func New(st *store.Store, overdueAfter time.Duration) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omnisocial_refreshes_total",
			Help: "Accounts worked by the refresh queue, by platform and outcome."}, []string{"platform", "outcome"}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "omnisocial_platform_call_seconds",
			Help:    "How long a platform took to answer a token check or refresh.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}, []string{"platform"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "omnisocial_http_requests_total",
			Help: "HTTP requests by route (the route's pattern, never the raw URL), method and status code."}, []string{"route", "method", "code"}),
	}
	m.Registry.MustRegister(m.refreshes, m.calls, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&queue{st: st, overdue: overdueAfter})
	return m
}

// Outcome counts one account worked by the refresh queue.
func (m *Metrics) Outcome(platform, outcome string) {
	m.refreshes.WithLabelValues(platform, outcome).Inc()
}

// Call records one platform call's duration.
func (m *Metrics) Call(platform string, d time.Duration) {
	m.calls.WithLabelValues(platform).Observe(d.Seconds())
}

// Request counts one HTTP request.
func (m *Metrics) Request(route, method, code string) {
	m.requests.WithLabelValues(route, method, code).Inc()
}

var (
	accountsDesc    = prometheus.NewDesc("omnisocial_accounts", "Connected accounts by platform and status.", []string{"platform", "status"}, nil)
	dueDesc         = prometheus.NewDesc("omnisocial_refresh_due_accounts", "Accounts due for a check now and not being worked.", nil, nil)
	overdueDesc     = prometheus.NewDesc("omnisocial_refresh_overdue_accounts", "Accounts due for longer than a few refresh intervals.", nil, nil)
	lagDesc         = prometheus.NewDesc("omnisocial_refresh_queue_lag_seconds", "How long the oldest due account has waited.", nil, nil)
	revocationsDesc = prometheus.NewDesc("omnisocial_revocations_owed", "Token revocations waiting in the outbox.", nil, nil)
	webhooksDesc    = prometheus.NewDesc("omnisocial_webhook_messages_pending", "Webhook messages waiting in the outbox.", nil, nil)
	mailDesc        = prometheus.NewDesc("omnisocial_mail_pending", "E-mail alerts waiting in the outbox (unsent or being retried).", nil, nil)
	scrapeErrDesc   = prometheus.NewDesc("omnisocial_store_scrape_error", "1 when the database could not be read for this scrape.", nil, nil)
)

// queue reads the store at each scrape.
type queue struct {
	st      *store.Store
	overdue time.Duration
}

func (q *queue) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{accountsDesc, dueDesc, overdueDesc, lagDesc, revocationsDesc, webhooksDesc, mailDesc, scrapeErrDesc} {
		ch <- d
	}
}

func (q *queue) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.st.QueueStats(ctx, time.Now(), q.overdue)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, 0)
	for _, p := range []string{"facebook", "instagram", "tiktok"} {
		for _, status := range []string{"active", "limited", "needs_reauth"} {
			ch <- prometheus.MustNewConstMetric(accountsDesc, prometheus.GaugeValue, float64(s.Accounts[[2]string{p, status}]), p, status)
		}
	}
	ch <- prometheus.MustNewConstMetric(dueDesc, prometheus.GaugeValue, float64(s.Due))
	ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(s.Overdue))
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, s.Lag.Seconds())
	ch <- prometheus.MustNewConstMetric(revocationsDesc, prometheus.GaugeValue, float64(s.Revocations))
	ch <- prometheus.MustNewConstMetric(webhooksDesc, prometheus.GaugeValue, float64(s.Webhooks))
	ch <- prometheus.MustNewConstMetric(mailDesc, prometheus.GaugeValue, float64(s.Mail))
}
