// Package metrics exposes Parley's measurements to Prometheus
// (client_golang): it takes the hub's measurements (hub.Metrics), observes
// HTTP requests and logins, and times store operations.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parley-chat/parley"
)

// Metrics holds every collector of one server.
type Metrics struct {
	reg *prometheus.Registry

	connections     *prometheus.GaugeVec
	connsOpened     *prometheus.CounterVec
	slowClients     prometheus.Counter
	stored          *prometheus.CounterVec
	delivered       *prometheus.CounterVec
	deliveryLatency *prometheus.HistogramVec
	offline         prometheus.Counter
	batchSize       prometheus.Histogram
	batchLatency    prometheus.Histogram
	ackLag          prometheus.Histogram
	storeOps        *prometheus.HistogramVec
	busLag          prometheus.Histogram
	busErrors       *prometheus.CounterVec
	httpRequests    *prometheus.CounterVec
	httpLatency     *prometheus.HistogramVec
	loginFailures   *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
}

// latencyBuckets span 50µs to 10s.
var latencyBuckets = prometheus.ExponentialBucketsRange(50e-6, 10, 18)

// New registers Parley's collectors, the Go runtime's and the process's.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}
	m.connections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "parley_connections", Help: "WebSocket connections open, by endpoint.",
	}, []string{"endpoint"})
	m.connsOpened = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_connections_opened_total", Help: "WebSocket connections opened, by endpoint.",
	}, []string{"endpoint"})
	m.slowClients = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_slow_client_disconnects_total", Help: "Connections closed with 1013 because the client could not keep up.",
	})
	m.stored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_messages_stored_total", Help: "Messages durably stored, by kind (direct or group).",
	}, []string{"kind"})
	m.delivered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_messages_delivered_total", Help: "Message frames written to recipients' connections live, by kind.",
	}, []string{"kind"})
	m.deliveryLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parley_delivery_latency_seconds", Help: "Time from a message's commit to its write to a recipient's socket.", Buckets: latencyBuckets,
	}, []string{"kind"})
	m.offline = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "parley_offline_messages_delivered_total", Help: "Messages sent as offline messages when a connection opened.",
	})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "parley_commit_batch_items", Help: "Sends and ACKs stored per transaction.", Buckets: prometheus.ExponentialBuckets(1, 2, 11),
	})
	m.batchLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "parley_commit_batch_seconds", Help: "Time to store one batch of sends and ACKs.", Buckets: latencyBuckets,
	})
	m.ackLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "parley_ack_lag_seconds", Help: "Time from writing a message to a connection to that connection's ACK of it.", Buckets: latencyBuckets,
	})
	m.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parley_store_operation_seconds", Help: "Latency of store operations, by operation.", Buckets: latencyBuckets,
	}, []string{"op"})
	m.busLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "parley_bus_lag_seconds", Help: "Time from publishing an event on the cross-node bus to its arrival on another node.", Buckets: latencyBuckets,
	})
	m.busErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_bus_errors_total", Help: "Cross-node bus failures, by operation.",
	}, []string{"op"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_http_requests_total", Help: "HTTP requests, by route and status.",
	}, []string{"route", "status"})
	m.httpLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "parley_http_request_seconds", Help: "HTTP request latency, by route.", Buckets: latencyBuckets,
	}, []string{"route"})
	m.loginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_login_failures_total", Help: "Failed logins, by reason.",
	}, []string{"reason"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "parley_rate_limited_total", Help: "Requests refused by a rate limit, by limit.",
	}, []string{"limit"})
	for _, c := range []prometheus.Collector{m.connections, m.connsOpened, m.slowClients, m.stored, m.delivered,
		m.deliveryLatency, m.offline, m.batchSize, m.batchLatency, m.ackLag, m.storeOps, m.busLag, m.busErrors,
		m.httpRequests, m.httpLatency, m.loginFailures, m.rateLimited} {
		f(c)
	}
	for _, k := range []parley.ConnKind{parley.ConnChat, parley.ConnPresence} {
		m.connections.WithLabelValues(string(k))
	}
	for _, k := range []string{"direct", "group"} {
		m.stored.WithLabelValues(k)
		m.delivered.WithLabelValues(k)
	}
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ConnOpened takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) ConnOpened(kind parley.ConnKind) {
	m.connections.WithLabelValues(string(kind)).Inc()
	m.connsOpened.WithLabelValues(string(kind)).Inc()
}

// ConnClosed takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) ConnClosed(kind parley.ConnKind) { m.connections.WithLabelValues(string(kind)).Dec() }

// SlowClient takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) SlowClient() { m.slowClients.Inc() }

// Stored takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) Stored(kind string, n int) { m.stored.WithLabelValues(kind).Add(float64(n)) }

// Delivered takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) Delivered(kind string, n int, since time.Duration) {
	m.delivered.WithLabelValues(kind).Add(float64(n))
	m.deliveryLatency.WithLabelValues(kind).Observe(since.Seconds())
}

// OfflineDelivered takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) OfflineDelivered(n int) { m.offline.Add(float64(n)) }

// Batch takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) Batch(items int, took time.Duration) {
	m.batchSize.Observe(float64(items))
	m.batchLatency.Observe(took.Seconds())
}

// AckLag takes one of the hub's measurements (hub.Metrics).
func (m *Metrics) AckLag(d time.Duration) { m.ackLag.Observe(d.Seconds()) }

// BusLag observes the delay of one cross-node event.
func (m *Metrics) BusLag(d time.Duration) { m.busLag.Observe(d.Seconds()) }

// BusError counts a failed bus operation.
func (m *Metrics) BusError(op string) { m.busErrors.WithLabelValues(op).Inc() }

// HTTPRequest observes one finished HTTP request.
func (m *Metrics) HTTPRequest(route string, status int, took time.Duration) {
	m.httpRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpLatency.WithLabelValues(route).Observe(took.Seconds())
}

// LoginFailed counts a refused login.
func (m *Metrics) LoginFailed(reason string) { m.loginFailures.WithLabelValues(reason).Inc() }

// RateLimited counts a request refused by a limit.
func (m *Metrics) RateLimited(limit string) { m.rateLimited.WithLabelValues(limit).Inc() }

// StoreOp observes one store operation.
func (m *Metrics) StoreOp(op string, took time.Duration) {
	m.storeOps.WithLabelValues(op).Observe(took.Seconds())
}
