package journey

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careloop/careloop/internal/platform/db"
)

// Kinds of deadline breaches, the label of
// careloop_journey_deadline_breaches_total and the kind of Breach.
const (
	// BreachAcknowledge: a critical result not acknowledged by the ordering
	// clinician in time (escalated to the covering clinician).
	BreachAcknowledge = "acknowledge"
	// BreachCoveringAcknowledge: nor by the covering clinician (escalated to
	// the care coordinator).
	BreachCoveringAcknowledge = "covering-acknowledge"
	// BreachReview: an abnormal result not reviewed in time.
	BreachReview = "review"
	// BreachUnviewed: a released result not viewed by the patient in time.
	BreachUnviewed = "outreach-" + OutreachUnviewed
	// BreachFollowupUnbooked: a recommended follow-up not booked in time.
	BreachFollowupUnbooked = "outreach-" + OutreachFollowupUnbooked
)

// counts is what one transaction adds to the metrics, counted once it
// commits.
type counts struct {
	transitions map[Stage]int
	breaches    map[string]int
	stays       []stay
}

// stay is the time a journey spent in a stage it left.
type stay struct {
	stage Stage
	d     time.Duration
}

func (c *counts) breach(kind string) {
	if c.breaches == nil {
		c.breaches = map[string]int{}
	}
	c.breaches[kind]++
}

func (c *counts) transition(to Stage) {
	if c.transitions == nil {
		c.transitions = map[Stage]int{}
	}
	c.transitions[to]++
}

// Metrics are the journeys' Prometheus metrics:
// careloop_journey_transitions_total{stage} (changes of stage, by the
// stage reached), careloop_journey_deadline_breaches_total{kind},
// careloop_journey_stage_duration_seconds{stage} (the time spent in a stage,
// observed when a journey leaves it) and careloop_journey_open{stage} (open
// journeys by stage, counted at most every OpenGaugeMaxAge). Counters move
// when the transaction that made the change commits.
type Metrics struct {
	transitions *prometheus.CounterVec
	breaches    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
}

// OpenGaugeMaxAge is how old the count of open journeys by stage may be:
// a scrape within it reuses the last count instead of querying again.
const OpenGaugeMaxAge = 30 * time.Second

// NewMetrics registers the journeys' metrics on reg; the open journeys are
// counted from d's read pool.
func NewMetrics(reg prometheus.Registerer, d *db.DB) (*Metrics, error) {
	m := &Metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careloop_journey_transitions_total",
			Help: "Changes of stage of result journeys, by the stage reached.",
		}, []string{"stage"}),
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careloop_journey_deadline_breaches_total",
			Help: "Deadlines of result journeys that passed before the step: acknowledge, covering-acknowledge, review, outreach-unviewed, outreach-followup-unbooked.",
		}, []string{"kind"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "careloop_journey_stage_duration_seconds",
			Help: "Time result journeys spent in a stage, observed when they leave it.",
			// One minute to about half a year, by fours.
			Buckets: prometheus.ExponentialBuckets(60, 4, 10),
		}, []string{"stage"}),
	}
	open := &openGauge{d: d, desc: prometheus.NewDesc("careloop_journey_open",
		"Open result journeys by stage, counted at most every 30 seconds.", []string{"stage"}, nil)}
	for _, c := range []prometheus.Collector{m.transitions, m.breaches, m.durations, open} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("journey: register metrics: %w", err)
		}
	}
	return m, nil
}

// add counts a committed transaction's changes; a nil m counts nothing.
func (m *Metrics) add(c counts) {
	if m == nil {
		return
	}
	for stage, n := range c.transitions {
		m.transitions.WithLabelValues(string(stage)).Add(float64(n))
	}
	for kind, n := range c.breaches {
		m.breaches.WithLabelValues(kind).Add(float64(n))
	}
	for _, s := range c.stays {
		m.durations.WithLabelValues(string(s.stage)).Observe(s.d.Seconds())
	}
}

// openGauge counts open journeys by stage on scrape, reusing a count
// younger than OpenGaugeMaxAge: the count reads every open journey.
type openGauge struct {
	d    *db.DB
	desc *prometheus.Desc

	mu     sync.Mutex
	at     time.Time
	counts map[string]int64
}

func (g *openGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *openGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.counts == nil || time.Since(g.at) > OpenGaugeMaxAge {
		counts, err := g.count()
		if err != nil {
			ch <- prometheus.NewInvalidMetric(g.desc, err)
			return
		}
		g.counts, g.at = counts, time.Now()
	}
	for stage, n := range g.counts {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), stage)
	}
}

func (g *openGauge) count() (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := g.d.Read.QueryContext(ctx, "SELECT stage, count(*) FROM journeys WHERE closed_at IS NULL GROUP BY stage")
	if err != nil {
		return nil, fmt.Errorf("journey: count open journeys: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var stage string
		var n int64
		if err := rows.Scan(&stage, &n); err != nil {
			return nil, fmt.Errorf("journey: count open journeys: %w", err)
		}
		out[stage] = n
	}
	return out, rows.Err()
}
