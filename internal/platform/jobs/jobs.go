// Package jobs runs careloop's durable background work on River, with the
// same workers on SQLite and PostgreSQL.
//
// A job is inserted in the same database transaction as the data it reacts
// to (InsertTx), so either both are stored or neither: the transactional
// outbox. Jobs survive restarts and kill -9; a job that was running when its
// process died is rescued and run again, so workers must be idempotent.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/platform/db"
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

// Queue is the durable job queue of one careloop process.
type Queue struct {
	client  *Client
	working bool
	metrics *metrics
}

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
	return nil
}

// Stop stops taking new jobs and waits for running ones until ctx ends. Jobs
// still running then are cancelled: their context is cancelled, and a job
// that returns an error is stored for a retry. No job is lost either way.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
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
