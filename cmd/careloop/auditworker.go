package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/cpuprio"
	"github.com/careloop/careloop/internal/platform/db"
)

// auditWorker is "careloop audit worker": the audit log's background work
// (ingesting the server's spool on SQLite, sequencing entries into the
// tree, signing and publishing checkpoints)
// in a process of its own at idle CPU priority, so that it takes only CPU
// time the server's requests leave unused. The server starts it (see
// app.App.AuditWorker) and ends it by closing its standard input.
type auditWorker struct {
	cfg                            *config.Config
	origin, publishDir, publishURL string
	checkpointEvery, sequenceEvery time.Duration
}

// run works until ctx ends or stdin reaches its end, as when the server
// that started the worker ended, however it ended.
func (w *auditWorker) run(ctx context.Context, stdin io.Reader, log *slog.Logger) error {
	if w.origin == "" {
		return &config.UsageError{Msg: "careloop audit worker: --origin is required (the log's name, careloop/ and the host of the server's --base-url)"}
	}
	if flagName, problem := config.AuditIntervalsProblem(w.sequenceEvery, w.checkpointEvery); problem != "" {
		return &config.UsageError{Msg: fmt.Sprintf("careloop audit worker: --%s %s", flagName, problem)}
	}
	// One thread does the work, so that the guard measures and raises the
	// thread that holds the lock; threads the runtime starts later come
	// from threads already at idle priority.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	runtime.GOMAXPROCS(1)
	var guard audit.LockGuard
	if cpuprio.Supported() {
		if err := cpuprio.Idle(); err != nil {
			return fmt.Errorf("careloop audit worker: %w", err)
		}
		guard = &cpuprio.Guard{}
	} else {
		log.Warn("audit worker: runs at normal CPU priority: idle priority needs Linux, and root, CAP_SYS_NICE or an RLIMIT_NICE of 20")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()

	// The server migrated the database and checkpoints its write-ahead
	// log; the worker only checks that it knows the schema.
	d, err := db.Open(ctx, db.Options{SQLitePath: w.cfg.SQLitePath(), PostgresURL: w.cfg.PostgresURL(), Logger: log, MaxConns: 2, NoCheckpoints: true})
	if err != nil {
		return err
	}
	defer d.Close()
	if cur, known, err := d.SchemaVersion(ctx); err != nil {
		return err
	} else if cur != known {
		return fmt.Errorf("careloop audit worker: the database schema is at version %d, this build knows %d; start the server of this build first", cur, known)
	}
	seed, err := auditSeed(w.cfg.KeyFile(), true)
	if err != nil {
		return err
	}
	acfg := audit.Config{DB: d, Origin: w.origin, Seed: seed, Logger: log, LockGuard: guard,
		CheckpointInterval: w.checkpointEvery, SequenceInterval: w.sequenceEvery,
		Publisher: audit.PublishTo(w.publishDir, w.publishURL)}
	if path := w.cfg.SQLitePath(); path != "" {
		acfg.FollowSpoolDir = filepath.Dir(path) // the server's spool, beside its database
	}
	l, err := audit.New(acfg)
	if err != nil {
		return err
	}
	defer l.Close()
	log.Debug("audit worker started", "origin", w.origin, "db", w.cfg.RedactedDB())
	if err := l.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
