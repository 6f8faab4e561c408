package outbox

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics measures the consumers of a process, by topic. A nil *Metrics
// measures nothing.
type Metrics struct {
	done     *prometheus.CounterVec
	failures *prometheus.CounterVec
	batch    *prometheus.HistogramVec
	lag      *prometheus.HistogramVec
}

// NewMetrics registers the outbox's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		done: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careloop_outbox_applied_total",
			Help: "Outbox items applied, by topic.",
		}, []string{"topic"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careloop_outbox_failures_total",
			Help: "Failed attempts at an outbox item, by topic and whether the item was then set aside (final=true) or will be tried again.",
		}, []string{"topic", "final"}),
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "careloop_outbox_batch_seconds",
			Help:    "Time to apply one batch of outbox items and commit, by topic.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"topic"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "careloop_outbox_lag_seconds",
			Help:    "Time from an outbox item's write to its application, by topic.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}, []string{"topic"}),
	}
	for _, c := range []prometheus.Collector{m.done, m.failures, m.batch, m.lag} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("outbox: metrics: %w", err)
		}
	}
	return m, nil
}

// applied counts a committed batch.
func (m *Metrics) applied(topic string, items []Item, took time.Duration, now time.Time) {
	if m == nil || len(items) == 0 {
		return
	}
	m.done.WithLabelValues(topic).Add(float64(len(items)))
	m.batch.WithLabelValues(topic).Observe(took.Seconds())
	lag := m.lag.WithLabelValues(topic)
	for _, it := range items {
		lag.Observe(now.Sub(it.Created).Seconds())
	}
}

// failed counts a failed attempt; final when the item was set aside.
func (m *Metrics) failed(topic string, final bool) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(topic, fmt.Sprint(final)).Inc()
}
