package db

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
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
	// walRestartFrames bounds the WAL (in pages of 4 KiB): past it the
	// checkpointer tries a RESTART checkpoint, so that the WAL starts again
	// from its beginning. A RESTART holds the writer's lock while it waits
	// for readers of older snapshots: the checkpointer's connection waits
	// at most checkpointBusy for them and then gives up until the next
	// try, restartEvery later, so that writers are never held up long.
	walRestartFrames = 65536
	restartEvery     = 10 * time.Second
	checkpointBusy   = 50 * time.Millisecond
	// walSizeLimit is the size the WAL file is truncated to when it is
	// restarted (journal_size_limit).
	walSizeLimit = 64 << 20
)

// checkpointer runs WAL checkpoints of a SQLite database until stopped.
type checkpointer struct {
	conn   *sql.DB
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// startCheckpointer starts checkpointing through conn, a pool of one
// connection to the database that nothing else uses.
func startCheckpointer(conn *sql.DB, log *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{conn: conn, log: log, cancel: cancel, done: make(chan struct{})}
	go c.run(ctx)
	return c
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var lastRestart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		frames, err := c.checkpoint(ctx, "PASSIVE")
		if err == nil && frames > walRestartFrames && time.Since(lastRestart) >= restartEvery {
			lastRestart = time.Now()
			if _, rerr := c.checkpoint(ctx, "RESTART"); rerr != nil && !strings.Contains(rerr.Error(), "SQLITE_BUSY") {
				err = rerr
			}
		}
		if err != nil && ctx.Err() == nil && c.log != nil {
			c.log.Warn("sqlite checkpoint failed; will retry", "err", err)
		}
	}
}

// checkpoint runs one checkpoint of the given mode and returns the number of
// frames in the WAL.
func (c *checkpointer) checkpoint(ctx context.Context, mode string) (frames int, err error) {
	var busy, checkpointed int
	err = c.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &checkpointed)
	return frames, err
}

// stop ends checkpointing, waits for a running checkpoint to finish and
// closes the connection. Closing the last connection to the database
// checkpoints what is left.
func (c *checkpointer) stop() error {
	c.cancel()
	<-c.done
	return c.conn.Close()
}
