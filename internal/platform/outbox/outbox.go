// Package outbox carries small units of follow-up work from the
// transaction that decided them to a consumer that applies them in
// batches.
//
// An item is inserted in the writer's own transaction (Enqueue), so it
// exists exactly when the write does. A Consumer takes the items of one
// topic in order, hands a batch of them to its Handler inside one
// transaction and deletes them in that same transaction: the effects and
// the removal commit together or not at all, so each item is applied
// exactly once, also when the process is killed half way.
//
// The job queue (internal/platform/jobs) is the tool for work due at a
// time, or that runs long; the outbox is for a high rate of small
// reactions to writes, where a job and a transaction per write would
// spend most of the time committing. On SQLite, with its single writer,
// one consumer per topic applies the batches; on PostgreSQL several take
// disjoint batches at once (SKIP LOCKED).
//
// An item whose batch fails is tried again on its own; one that keeps
// failing waits longer between attempts (Config.Backoff) and, after
// Config.MaxAttempts, is kept with failed_at set and its last error for
// an operator (see docs/OPERATIONS.md), and no longer taken.
package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
)

// Item is one unit of work of a topic.
type Item struct {
	Seq     int64
	OrgID   string
	Payload []byte
	// Attempts counts the earlier attempts that failed.
	Attempts int
	Created  time.Time
}

// Enqueue inserts an item of the topic in tx: the consumer sees it once
// tx commits, and never if tx rolls back.
func Enqueue(ctx context.Context, tx *sql.Tx, topic, orgID string, payload []byte) error {
	now := time.Now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (topic, org_id, payload, created_at, available_at) VALUES ($1, $2, $3, $4, $4)`,
		topic, orgID, string(payload), now); err != nil {
		return fmt.Errorf("outbox: enqueue %s: %w", topic, err)
	}
	return nil
}

// Handler applies a batch of items in tx, which also deletes them. It
// must do all its database work through tx and fail as a whole: an error
// rolls everything back. It may return a function to run once tx has
// committed (to send what the transaction decided), or nil.
type Handler func(ctx context.Context, tx *sql.Tx, items []Item) (after func(), err error)

// Config shapes a Consumer.
type Config struct {
	DB      *db.DB
	Topic   string
	Handler Handler
	// Batch is the most items applied in one transaction (default 256).
	Batch int
	// Poll is how often an idle consumer looks for new items (default
	// 20ms). Wake shortens the wait.
	Poll time.Duration
	// Workers is how many batches are applied at once on PostgreSQL
	// (default 2); SQLite has one writer and always uses one.
	Workers int
	// MaxAttempts is how many times an item is tried before it is set
	// aside as failed (default 10).
	MaxAttempts int
	// Backoff is the wait before the next attempt of an item that failed
	// n times (default 2^n seconds, at most an hour).
	Backoff func(n int) time.Duration
	Now     func() time.Time
	Log     *slog.Logger
	Metrics *Metrics // nil: not measured
}

// Consumer applies the items of one topic. It is safe for concurrent use.
type Consumer struct {
	cfg  Config
	wake chan struct{}
}

// New returns a consumer; it does nothing until Run or Drain.
func New(cfg Config) *Consumer {
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.DB.Dialect == db.SQLite {
		cfg.Workers = 1
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(n int) time.Duration { return min(time.Duration(1)<<min(n, 12)*time.Second, time.Hour) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Consumer{cfg: cfg, wake: make(chan struct{}, 1)}
}

// Topic names what the consumer applies.
func (c *Consumer) Topic() string { return c.cfg.Topic }

// Wake makes an idle consumer look for items now rather than at its next
// poll. It never blocks.
func (c *Consumer) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Run applies items as they come until ctx ends. A batch under way when
// ctx ends is rolled back and applied again by the next run.
func (c *Consumer) Run(ctx context.Context) {
	done := make(chan struct{})
	for range c.cfg.Workers {
		go func() {
			defer func() { done <- struct{}{} }()
			c.loop(ctx)
		}()
	}
	for range c.cfg.Workers {
		<-done
	}
}

func (c *Consumer) loop(ctx context.Context) {
	tick := time.NewTicker(c.cfg.Poll)
	defer tick.Stop()
	for ctx.Err() == nil {
		n, err := c.once(ctx)
		if err != nil && ctx.Err() == nil {
			c.cfg.Log.Error("outbox: apply items", "topic", c.cfg.Topic, "err", err)
		}
		if n == c.cfg.Batch && err == nil {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
		case <-c.wake:
		case <-tick.C:
		}
	}
}

// Drain applies every item due now, batch after batch, and returns how
// many it applied; items set aside as failed, or waiting to be tried
// again later, stay. Tests and commands use it to settle the work of
// their writes.
func (c *Consumer) Drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := c.once(ctx)
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// once applies one batch of due items and returns how many were
// handled (applied, or tried and found failing).
func (c *Consumer) once(ctx context.Context) (int, error) {
	items, err := c.apply(ctx, func(tx *sql.Tx) ([]Item, error) { return c.claim(ctx, tx, c.cfg.Batch) })
	if err == nil {
		return len(items), nil
	}
	if ctx.Err() != nil || len(items) == 0 {
		return 0, err
	}
	// The batch failed: apply its items one at a time, so that one item
	// that cannot be applied holds back nobody else.
	c.cfg.Log.Warn("outbox: batch failed; applying its items one by one", "topic", c.cfg.Topic, "items", len(items), "err", err)
	for _, it := range items {
		if err := c.single(ctx, it); err != nil {
			return 0, err
		}
	}
	return len(items), nil
}

// single applies one item in its own transaction, recording a failure
// when it cannot be applied. It returns an error only when it could not
// even record the failure, or ctx ended.
func (c *Consumer) single(ctx context.Context, it Item) error {
	_, err := c.apply(ctx, func(tx *sql.Tx) ([]Item, error) {
		still, err := c.reclaim(ctx, tx, it.Seq)
		if err != nil || !still {
			return nil, err
		}
		return []Item{it}, nil
	})
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return c.fail(ctx, it, err)
}

// apply takes items with take in one transaction, hands them to the
// handler and deletes them, then runs what the handler asked to run after
// the commit and counts them. It returns the items taken: applied when err
// is nil, rolled back otherwise.
func (c *Consumer) apply(ctx context.Context, take func(tx *sql.Tx) ([]Item, error)) ([]Item, error) {
	var items []Item
	var after func()
	start := time.Now()
	err := c.cfg.DB.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if items, err = take(tx); err != nil || len(items) == 0 {
			return err
		}
		if after, err = c.cfg.Handler(ctx, tx, items); err != nil {
			return err
		}
		return c.delete(ctx, tx, items)
	})
	if err != nil || len(items) == 0 {
		return items, err
	}
	if after != nil {
		after()
	}
	c.cfg.Metrics.applied(c.cfg.Topic, items, time.Since(start), c.cfg.Now())
	return items, nil
}

// fail records that it failed with cause: it is tried again after the
// backoff, or set aside once it has had its attempts.
func (c *Consumer) fail(ctx context.Context, it Item, cause error) error {
	attempts := it.Attempts + 1
	now := c.cfg.Now()
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	var failedAt any
	next := now.Add(c.cfg.Backoff(attempts))
	if attempts >= c.cfg.MaxAttempts {
		failedAt = now.UnixMilli()
		c.cfg.Log.Error("outbox: item set aside after its last attempt", "topic", c.cfg.Topic, "seq", it.Seq, "org", it.OrgID,
			"attempts", attempts, "err", cause)
	} else {
		c.cfg.Log.Warn("outbox: item failed; it will be tried again", "topic", c.cfg.Topic, "seq", it.Seq, "org", it.OrgID,
			"attempts", attempts, "next", next, "err", cause)
	}
	_, err := c.cfg.DB.Write.ExecContext(ctx, `UPDATE outbox SET attempts = $1, available_at = $2, last_error = $3, failed_at = $4 WHERE seq = $5`,
		attempts, next.UnixMilli(), msg, failedAt, it.Seq)
	if err != nil {
		return fmt.Errorf("outbox: record the failure of %s item %d: %w", c.cfg.Topic, it.Seq, err)
	}
	c.cfg.Metrics.failed(c.cfg.Topic, failedAt != nil)
	return nil
}

// claim returns up to n due items of the topic, oldest first, locked in
// tx on PostgreSQL (others skip them).
func (c *Consumer) claim(ctx context.Context, tx *sql.Tx, n int) ([]Item, error) {
	q := `SELECT seq, org_id, payload, attempts, created_at FROM outbox
		WHERE topic = $1 AND failed_at IS NULL AND available_at <= $2 ORDER BY seq LIMIT $3`
	if c.cfg.DB.Dialect == db.Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	rows, err := tx.QueryContext(ctx, q, c.cfg.Topic, c.cfg.Now().UnixMilli(), n)
	if err != nil {
		return nil, fmt.Errorf("outbox: claim %s items: %w", c.cfg.Topic, err)
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var payload string
		var created int64
		if err := rows.Scan(&it.Seq, &it.OrgID, &payload, &it.Attempts, &created); err != nil {
			return nil, fmt.Errorf("outbox: claim %s items: %w", c.cfg.Topic, err)
		}
		it.Payload, it.Created = []byte(payload), time.UnixMilli(created)
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: claim %s items: %w", c.cfg.Topic, err)
	}
	return out, nil
}

// reclaim locks one item again for its own attempt, reporting whether it
// is still there to apply (another consumer may have applied it).
func (c *Consumer) reclaim(ctx context.Context, tx *sql.Tx, seq int64) (bool, error) {
	q := "SELECT seq FROM outbox WHERE seq = $1 AND failed_at IS NULL"
	if c.cfg.DB.Dialect == db.Postgres {
		q += " FOR UPDATE SKIP LOCKED"
	}
	err := tx.QueryRowContext(ctx, q, seq).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("outbox: lock %s item %d: %w", c.cfg.Topic, seq, err)
	}
	return true, nil
}

// delete removes applied items in tx.
func (c *Consumer) delete(ctx context.Context, tx *sql.Tx, items []Item) error {
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it.Seq
	}
	query := "DELETE FROM outbox WHERE seq IN " + c.cfg.DB.Dialect.Placeholders(0, len(items))
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("outbox: delete %d applied %s items: %w", len(items), c.cfg.Topic, err)
	}
	return nil
}

// Backlog returns how many items of the topic wait to be applied and how
// many were set aside as failed.
func Backlog(ctx context.Context, d *db.DB, topic string) (waiting, failed int64, err error) {
	err = d.Read.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE failed_at IS NULL), COUNT(*) FILTER (WHERE failed_at IS NOT NULL)
		FROM outbox WHERE topic = $1`, topic).Scan(&waiting, &failed)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: count %s items: %w", topic, err)
	}
	return waiting, failed, nil
}

// Retry makes the items of the topic set aside as failed due again, with
// their attempts counted from zero, and returns how many. An operator runs
// it once the cause is fixed.
func Retry(ctx context.Context, d *db.DB, topic string) (int64, error) {
	res, err := d.Write.ExecContext(ctx, `UPDATE outbox SET failed_at = NULL, attempts = 0, available_at = $1
		WHERE topic = $2 AND failed_at IS NOT NULL`, time.Now().UnixMilli(), topic)
	if err != nil {
		return 0, fmt.Errorf("outbox: retry failed %s items: %w", topic, err)
	}
	return res.RowsAffected()
}
