package notify

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the service plans and sends, for Prometheus. A nil
// *Metrics counts nothing.
type Metrics struct {
	plannedByState *prometheus.CounterVec // by channel and first state
	sent           *prometheus.CounterVec // by channel and outcome
	handoff        *prometheus.HistogramVec
}

// NewMetrics registers the notification metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		plannedByState: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careloop_notify_messages_planned_total",
			Help: "Messages planned from events, by channel and first state (queued, held, standby, suppressed, ...)."}, []string{"channel", "state"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "careloop_notify_sends_total",
			Help: "Attempts to hand messages to providers, by channel and outcome (sent, retry, failed)."}, []string{"channel", "outcome"}),
		handoff: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "careloop_notify_handoff_seconds",
			Help:    "Time from the event to its message being accepted by the provider, first attempts only.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}, []string{"channel"}),
	}
	reg.MustRegister(m.plannedByState, m.sent, m.handoff)
	return m
}

func (m *Metrics) planned(msgs []*message) {
	if m == nil {
		return
	}
	for _, x := range msgs {
		m.plannedByState.WithLabelValues(x.channel, x.state).Inc()
	}
}

func (m *Metrics) recorded(batch []outcome) {
	if m == nil {
		return
	}
	for _, o := range batch {
		outcome := "sent"
		var perm *PermanentError
		switch {
		case o.err == nil:
			if o.m.attempts == 1 {
				m.handoff.WithLabelValues(o.m.channel).Observe(o.at.Sub(o.m.created).Seconds())
			}
		case errors.As(o.err, &perm):
			outcome = "failed"
		default:
			outcome = "retry"
		}
		m.sent.WithLabelValues(o.m.channel, outcome).Inc()
	}
}
