// Package jobs runs careloop's durable background work on River, with the
// same workers on SQLite and PostgreSQL.
//
// A job is inserted in the same database transaction as the data it reacts
// to (InsertTx), so either both are stored or neither: the transactional
// outbox. Jobs survive restarts and kill -9; a job that was running when its
// process died is rescued and run again, so workers must be idempotent.
//
// The queue also runs the outbox consumers of the process
// (internal/platform/outbox, AddConsumer), so that everything working in
// the background starts and stops together.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// Client is the River client over database/sql transactions.
type Client = river.Client[*sql.Tx]

// Config shapes a Queue.
type Config struct {
	// Workers holds every worker this process runs, added with
	// river.AddWorker before New. Nil makes an insert-only queue.
	Workers *river.Workers
	// MaxWorkers is how many jobs run at once (default 20).
	MaxWorkers int
	// PollInterval is how often idle workers look for new jobs on SQLite,
	// which cannot notify them (default 20ms). On PostgreSQL new jobs are
	// announced by LISTEN/NOTIFY and polling is only a fallback.
	PollInterval time.Duration
	// RescueAfter is how long a job may stay running before it is taken to
	// have died with its process and is run again (default JobTimeout plus
	// one minute: no live worker runs a job longer than JobTimeout).
	RescueAfter time.Duration
	// JobTimeout bounds one run of a job (default 1m).
	JobTimeout time.Duration
	// Logger receives River's logs; nil discards them.
	Logger *slog.Logger
	// Registry, when set, receives the job metrics.
	Registry prometheus.Registerer
}

// Queue is the durable job queue of one careloop process, and the
// outbox consumers that run beside it (AddConsumer).
type Queue struct {
	client    *Client
	working   bool
	metrics   *metrics
	consumers []*outbox.Consumer
	mu        sync.Mutex
	stop      context.CancelFunc // ends the consumers; nil when they do not run
	stopped   chan struct{}      // closed when they have ended
}

// AddConsumer makes the queue run c from Start to Stop, beside the jobs.
// Call it before Start; an insert-only queue runs no consumer.
func (q *Queue) AddConsumer(c *outbox.Consumer) { q.consumers = append(q.consumers, c) }

// Driver returns the River driver for d.
func Driver(d *db.DB) riverdriver.Driver[*sql.Tx] {
	if d.Dialect == db.Postgres {
		return riverdatabasesql.NewWithPgxListener(d.Write, d.Listen)
	}
	return riversqlite.New(d.Write)
}

// Migrate brings River's tables up to date, under the same lock as the
// application schema.
func Migrate(ctx context.Context, d *db.DB) error {
	return d.WithMigrationLock(ctx, func(ctx context.Context) error {
		m, err := rivermigrate.New(Driver(d), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return fmt.Errorf("jobs: migrate: %w", err)
		}
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("jobs: migrate job tables of %s: %w", d, err)
		}
		return nil
	})
}

// New makes a queue on d. It does not start working: call Start.
func New(d *db.DB, cfg Config) (*Queue, error) {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	timeout := cmpOr(cfg.JobTimeout, time.Minute)
	rc := &river.Config{
		Logger:               logger,
		JobTimeout:           timeout,
		RescueStuckJobsAfter: cmpOr(cfg.RescueAfter, timeout+time.Minute),
	}
	working := cfg.Workers != nil
	if working {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmpOr(cfg.MaxWorkers, 20)}}
		poll := cmpOr(cfg.PollInterval, 20*time.Millisecond)
		if d.Dialect == db.Postgres {
			poll = max(poll, 100*time.Millisecond) // notifications do the work; polling is the fallback
		}
		rc.FetchPollInterval = poll
		rc.FetchCooldown = min(poll, 5*time.Millisecond)
	}
	client, err := river.NewClient(Driver(d), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	q := &Queue{client: client, working: working}
	if cfg.Registry != nil && working {
		if q.metrics, err = newMetrics(cfg.Registry); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Client returns the River client, for inserting and inspecting jobs.
func (q *Queue) Client() *Client { return q.client }

// InsertTx inserts a job in tx: it becomes visible to workers when tx
// commits and vanishes if tx rolls back.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := q.client.InsertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// Start begins working jobs until Stop. An insert-only queue does nothing.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return nil
	}
	if q.metrics != nil {
		events, _ := q.client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed, river.EventKindJobCancelled, river.EventKindJobSnoozed)
		go q.metrics.record(events) // the channel closes when the client stops
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stop != nil {
		return nil // the consumers run already
	}
	run, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	q.stop, q.stopped = stop, stopped
	var wg sync.WaitGroup
	for _, c := range q.consumers {
		wg.Go(func() { c.Run(run) })
	}
	go func() { wg.Wait(); close(stopped) }()
	return nil
}

// Stop stops taking new jobs and waits for running ones until ctx ends. Jobs
// still running then are cancelled: their context is cancelled, and a job
// that returns an error is stored for a retry. No job is lost either way.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	q.mu.Lock()
	if q.stop != nil {
		q.stop() // a batch under way rolls back and is applied by the next run
		<-q.stopped
		q.stop, q.stopped = nil, nil
	}
	q.mu.Unlock()
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := q.client.StopAndCancel(cancelCtx); err != nil {
		return fmt.Errorf("jobs: stop and cancel: %w", err)
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// CompleteTx marks job, which must be running in a worker, completed as
// part of tx: when the worker's own writes are in tx too, they and the
// completion commit together or not at all, so a job that River runs again
// after a crash finds itself already done and its effects happen exactly
// once. The worker should return nil after committing.
func CompleteTx[T river.JobArgs](ctx context.Context, tx *sql.Tx, job *river.Job[T]) error {
	if _, err := river.JobCompleteTx[riverdriver.Driver[*sql.Tx]](ctx, tx, job); err != nil {
		return fmt.Errorf("jobs: complete %s job %d: %w", job.Kind, job.ID, err)
	}
	return nil
}

// Backlog is the work of some kinds not done yet.
type Backlog struct {
	// Waiting counts the jobs due, running or to be retried, and the
	// outbox items waiting to be applied.
	Waiting int
	// Failed counts the jobs and the outbox items with a failed attempt
	// (some may still succeed); LastError is one of their errors.
	Failed    int
	LastError string
}

// BacklogOf returns the backlog of the jobs whose kind, and the outbox
// items whose topic, starts with prefix ("journey." say; "" for all).
// Tests wait on it for the background work of their writes, and
// operators read it to see whether the workers keep up.
func BacklogOf(ctx context.Context, d *db.DB, prefix string) (Backlog, error) {
	var b Backlog
	var jobErr, itemErr string
	err := d.Read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN CAST(state AS TEXT) IN ('available', 'running', 'pending', 'retryable') THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN errors IS NOT NULL THEN 1 ELSE 0 END), 0),
		COALESCE(MAX(CASE WHEN errors IS NOT NULL THEN CAST(errors AS TEXT) END), '')
		FROM river_job WHERE kind LIKE $1`, prefix+"%").Scan(&b.Waiting, &b.Failed, &jobErr)
	if err != nil {
		return b, fmt.Errorf("jobs: backlog of %q: %w", prefix, err)
	}
	var waiting, failed int
	err = d.Read.QueryRowContext(ctx, `SELECT
		COALESCE(SUM(CASE WHEN failed_at IS NULL THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0),
		COALESCE(MAX(CASE WHEN attempts > 0 THEN last_error END), '')
		FROM outbox WHERE topic LIKE $1`, prefix+"%").Scan(&waiting, &failed, &itemErr)
	if err != nil {
		return b, fmt.Errorf("jobs: outbox backlog of %q: %w", prefix, err)
	}
	b.Waiting += waiting
	b.Failed += failed
	b.LastError = cmp.Or(jobErr, itemErr)
	return b, nil
}

// KindBacklog is the backlog of one job kind or outbox topic.
type KindBacklog struct {
	Kind   string
	Outbox bool // an outbox topic rather than a job kind
	// Waiting counts the jobs due or running and the items waiting.
	Waiting int
	// Scheduled counts the jobs due later (deadlines, releases).
	Scheduled int
	// Failed counts the jobs to be retried or given up, and the items with
	// a failed attempt; SetAside those given up (discarded jobs, items set
	// aside after their last attempt).
	Failed, SetAside int
	// Oldest is when the oldest outbox item was written (zero for jobs).
	Oldest time.Time
}

// Backlogs returns the backlog of every job kind and outbox topic with
// work not done, by name.
func Backlogs(ctx context.Context, d *db.DB) ([]KindBacklog, error) {
	var out []KindBacklog
	rows, err := d.Read.QueryContext(ctx, `SELECT kind,
		SUM(CASE WHEN CAST(state AS TEXT) IN ('available', 'running', 'pending') THEN 1 ELSE 0 END),
		SUM(CASE WHEN CAST(state AS TEXT) = 'scheduled' THEN 1 ELSE 0 END),
		SUM(CASE WHEN CAST(state AS TEXT) IN ('retryable', 'discarded') THEN 1 ELSE 0 END),
		SUM(CASE WHEN CAST(state AS TEXT) = 'discarded' THEN 1 ELSE 0 END)
		FROM river_job WHERE CAST(state AS TEXT) NOT IN ('completed', 'cancelled') GROUP BY kind ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("jobs: backlog: %w", err)
	}
	for rows.Next() {
		var b KindBacklog
		if err := rows.Scan(&b.Kind, &b.Waiting, &b.Scheduled, &b.Failed, &b.SetAside); err != nil {
			rows.Close()
			return nil, fmt.Errorf("jobs: backlog: %w", err)
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("jobs: backlog: %w", err)
	}
	rows, err = d.Read.QueryContext(ctx, `SELECT topic,
		SUM(CASE WHEN failed_at IS NULL THEN 1 ELSE 0 END),
		SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END),
		SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END),
		MIN(created_at)
		FROM outbox GROUP BY topic ORDER BY topic`)
	if err != nil {
		return nil, fmt.Errorf("jobs: outbox backlog: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		b := KindBacklog{Outbox: true}
		var oldest int64
		if err := rows.Scan(&b.Kind, &b.Waiting, &b.Failed, &b.SetAside, &oldest); err != nil {
			return nil, fmt.Errorf("jobs: outbox backlog: %w", err)
		}
		b.Oldest = time.UnixMilli(oldest)
		out = append(out, b)
	}
	return out, rows.Err()
}
