// Package metrics holds the Prometheus metrics of one server instance in its own registry
// (served at /metrics). Labels are bounded: operation names beyond a fixed number of distinct
// values, or not shaped like GraphQL names, are counted as "other", so a client cannot blow up
// the series count. No label ever carries personal data.
package metrics

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// maxOperationNames bounds the operation label's distinct values.
const maxOperationNames = 200

var operationNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Metrics are one server instance's collectors.
type Metrics struct {
	Registry        *prometheus.Registry
	DBCommands      *prometheus.CounterVec
	RequestDuration *prometheus.HistogramVec
	Errors          *prometheus.CounterVec
	Responses       *prometheus.CounterVec
	Denials         *prometheus.CounterVec
	GrantLookups    *prometheus.CounterVec
	AuditFailures   prometheus.Counter

	mu    sync.Mutex
	names map[string]bool
}

// New creates and registers the collectors.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
	m.DBCommands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custodia_db_commands_total", Help: "Database commands completed (successfully or not), by command name (from the driver's command monitor).",
	}, []string{"command"})
	m.RequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "custodia_request_duration_seconds", Help: "GraphQL request latency by operation name.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation"})
	m.Errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custodia_errors_total", Help: "Errors returned by /query, by extensions.code (every error of every response, refusals before GraphQL included).",
	}, []string{"code"})
	m.Responses = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custodia_http_responses_total", Help: "HTTP responses by status and the extensions.code of their first error (\"none\" without error); refusals before GraphQL included.",
	}, []string{"status", "code"})
	m.Denials = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custodia_authorization_denials_total", Help: "Operations refused before execution, by role.",
	}, []string{"role"})
	m.GrantLookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "custodia_grant_lookups_total", Help: "Per-request grant checks, by whether the grant cache answered (hit) or the database (miss).",
	}, []string{"result"})
	m.AuditFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "custodia_audit_failures_total", Help: "Audit entries that could not be written (the caller got SERVICE_UNAVAILABLE and no data).",
	})
	m.Registry.MustRegister(m.DBCommands, m.RequestDuration, m.Errors, m.Responses, m.Denials, m.GrantLookups, m.AuditFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Registry.MustRegister(buildInfoGauge())
	return m
}

// OnCommand counts one database command; plug it into the store's command monitor.
func (m *Metrics) OnCommand(_ context.Context, name string) { m.DBCommands.WithLabelValues(name).Inc() }

// OperationLabel is the bounded label for a client-chosen operation name.
func (m *Metrics) OperationLabel(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !operationNamePattern.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.names[name] {
		if len(m.names) >= maxOperationNames {
			return "other"
		}
		m.names[name] = true
	}
	return name
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// GrantLookup counts one grant check.
func (m *Metrics) GrantLookup(cacheHit bool) {
	if cacheHit {
		m.GrantLookups.WithLabelValues("hit").Inc()
	} else {
		m.GrantLookups.WithLabelValues("miss").Inc()
	}
}

// Response counts one HTTP response by status and error code ("" is counted as "none"). The
// code comes from the server's own fixed set, so the label stays bounded.
func (m *Metrics) Response(status int, code string) {
	if code == "" {
		code = "none"
	}
	m.Responses.WithLabelValues(strconv.Itoa(status), code).Inc()
}
