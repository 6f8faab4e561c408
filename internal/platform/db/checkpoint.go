package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

// SQLite in WAL mode appends every commit to the -wal file; a checkpoint
// copies those pages back into the database file. By default the committing
// connection runs the checkpoint itself whenever the WAL passes 1,000 pages,
// so every few transactions a writer stalls to copy, read back and fsync
// pages, on the one connection every write waits for. careloop turns that off
// on the writer (wal_autocheckpoint(0)) and checkpoints from a connection of
// its own instead, beside the writer: a PASSIVE checkpoint never blocks the
// writer or the readers, and runs on another core.

const (
	// checkpointEvery is how often the checkpointer looks at the WAL.
	checkpointEvery = 250 * time.Millisecond
	// walRestartFrames bounds the WAL (in pages of 4 KiB). Under steady
	// writes a PASSIVE checkpoint never catches up with the end of the WAL,
	// and SQLite starts the WAL again from its beginning only once one has:
	// past this size the checkpointer runs a RESTART checkpoint, which
	// copies what is left and starts the WAL again. That needs the writer's
	// lock, which a busy writer releases only for moments between
	// transactions, so the checkpointer first takes the write pool's one
	// connection (waiting at most restartWait, in turn with the writes) and
	// holds it, idle, while it restarts: writes wait for that, readers of
	// older snapshots are waited for at most checkpointBusy. It tries at
	// most every restartEvery.
	walRestartFrames = 65536
	restartEvery     = 10 * time.Second
	restartWait      = 2 * time.Second
	checkpointBusy   = 50 * time.Millisecond
	// walSizeLimit is the size the WAL file is truncated to when it is
	// restarted (journal_size_limit).
	walSizeLimit = 64 << 20
)

// checkpointer runs WAL checkpoints of a SQLite database until stopped.
type checkpointer struct {
	conn          *sql.DB
	writer        *sql.DB // the write pool, held while the WAL restarts
	log           *slog.Logger
	every         time.Duration
	restartFrames int
	restartEvery  time.Duration
	cancel        context.CancelFunc
	done          chan struct{}
	restarts      atomic.Int64 // RESTART checkpoints that started the WAL again
}

// startCheckpointer starts checkpointing through conn, a pool of one
// connection to the database that nothing else uses; writer is the write
// pool.
func startCheckpointer(conn, writer *sql.DB, log *slog.Logger) *checkpointer {
	c := &checkpointer{conn: conn, writer: writer, log: log, every: checkpointEvery,
		restartFrames: walRestartFrames, restartEvery: restartEvery}
	c.start()
	return c
}

func (c *checkpointer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	go c.run(ctx)
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	var lastRestart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		frames, err := c.checkpoint(ctx, "PASSIVE")
		if err == nil && frames > c.restartFrames && time.Since(lastRestart) >= c.restartEvery {
			lastRestart = time.Now()
			if rerr := c.restart(ctx); rerr != nil && !strings.Contains(rerr.Error(), "SQLITE_BUSY") && !errors.Is(rerr, context.DeadlineExceeded) {
				err = rerr
			}
		}
		if err != nil && ctx.Err() == nil && c.log != nil {
			c.log.Warn("sqlite checkpoint failed; will retry", "err", err)
		}
	}
}

// restart runs a RESTART checkpoint while holding the writer's connection
// (see walRestartFrames).
func (c *checkpointer) restart(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, restartWait)
	defer cancel()
	w, err := c.writer.Conn(wctx)
	if err != nil {
		return fmt.Errorf("wait for the writer: %w", err)
	}
	defer w.Close()
	busy, _, err := c.checkpointResult(ctx, "RESTART")
	if err == nil && busy == 0 {
		c.restarts.Add(1)
	}
	return err
}

// checkpoint runs one checkpoint of the given mode and returns the number of
// frames in the WAL.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (frames int, err error) {
	_, frames, err = c.checkpointResult(ctx, mode)
	return frames, err
}

// checkpointResult runs one checkpoint of the given mode and returns
// whether it could not finish (busy: 1) and the frames in the WAL.
func (c *checkpointer) checkpointResult(ctx context.Context, mode string) (busy, frames int, err error) {
	var checkpointed int
	err = c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &checkpointed)
	return busy, frames, err
}

// stop ends checkpointing, waits for a running checkpoint to finish and
// closes the connection. Closing the last connection to the database
// checkpoints what is left.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.conn.Close()
}
