package jobs

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
)

// metrics counts finished jobs by kind and outcome and times their runs.
type metrics struct {
	finished *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "careloop_jobs_finished_total",
			Help: "Job runs finished by this process, by kind and outcome (completed, failed, cancelled, snoozed).",
		}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "careloop_job_run_seconds",
			Help:    "Time a job run took in its worker, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"kind"}),
	}
	for _, c := range []prometheus.Collector{m.finished, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("jobs: metrics: %w", err)
		}
	}
	return m, nil
}

// record consumes River's events until the channel closes.
func (m *metrics) record(events <-chan *river.Event) {
	for ev := range events {
		if ev.Job == nil {
			continue
		}
		var outcome string
		switch ev.Kind {
		case river.EventKindJobCompleted:
			outcome = "completed"
		case river.EventKindJobFailed:
			outcome = "failed"
		case river.EventKindJobCancelled:
			outcome = "cancelled"
		case river.EventKindJobSnoozed:
			outcome = "snoozed"
		default:
			continue
		}
		m.finished.WithLabelValues(ev.Job.Kind, outcome).Inc()
		if ev.JobStats != nil {
			m.duration.WithLabelValues(ev.Job.Kind).Observe(ev.JobStats.RunDuration.Seconds())
		}
	}
}
