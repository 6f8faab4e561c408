package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/cpuprio"
)

// AuditWorker describes the process that does the audit log's background
// work (ingesting the spool, sequencing entries into the tree, signing and
// publishing checkpoints) beside the server: "careloop audit worker", at idle CPU
// priority. That work then takes only CPU time the server's requests leave
// unused, which keeps it out of the audited reads' slowest percentiles
// (docs/PERFORMANCE.md).
type AuditWorker struct {
	// Exe is the careloop executable to start.
	Exe string
	// Output receives the worker's log, as the server's own.
	Output io.Writer
}

// Restarts of a worker that keeps failing.
const (
	workerFirstBackoff = time.Second
	workerMaxBackoff   = 30 * time.Second
	workerQuickExit    = 10 * time.Second // an exit this soon after the start counts as a failure to start
	workerMaxQuick     = 3                // failures to start in a row before the server does the work itself
	workerStopWait     = 10 * time.Second // given to a worker to finish its turn when the server stops
)

// runAudit does the audit log's background work until ctx ends: in a
// worker process when a.AuditWorker is set and this platform and user can
// run one at idle priority safely (cpuprio.Supported), otherwise in this
// process. A worker that stops is started again; one that fails to start
// three times in a row hands the work back to this process.
func (a *App) runAudit(ctx context.Context) error {
	if a.AuditWorker == nil {
		return a.Audit.Run(ctx)
	}
	if !cpuprio.Supported() {
		a.Log.Info("audit: the server does the audit log's background work itself; a worker at idle CPU priority needs Linux, and root, CAP_SYS_NICE or an RLIMIT_NICE of 20 (systemd: LimitNICE=20)")
		return a.Audit.Run(ctx)
	}
	// The worker ingests the spool too; the server watches, and takes
	// over what waits too long (audit.Log.IngestElsewhere).
	a.Audit.IngestElsewhere(true)
	quick, backoff := 0, workerFirstBackoff
	for {
		start := time.Now()
		err := a.runAuditWorker(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) < workerQuickExit {
			quick++
		} else {
			quick, backoff = 0, workerFirstBackoff
		}
		if quick >= workerMaxQuick {
			a.Log.Error("audit: the audit worker failed to start three times in a row; the server does its work itself from now on", "err", err)
			a.Audit.IngestElsewhere(false)
			return a.Audit.Run(ctx)
		}
		a.Log.Error("audit: the audit worker stopped; starting it again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, workerMaxBackoff)
	}
}

// runAuditWorker starts one worker and waits until it exits, or until ctx
// ends, when it closes the worker's standard input (the worker finishes
// its turn and exits) and waits for it a while.
func (a *App) runAuditWorker(ctx context.Context) error {
	cmd := exec.Command(a.AuditWorker.Exe, "audit", "worker")
	cmd.Env = append(os.Environ(), a.auditWorkerEnv()...)
	cmd.Stdout, cmd.Stderr = a.AuditWorker.Output, a.AuditWorker.Output
	cmd.SysProcAttr = workerProcAttr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("start the audit worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the audit worker: %w", err)
	}
	a.Log.Info("audit: the audit log's background work runs in a worker process at idle CPU priority", "pid", cmd.Process.Pid)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		stdin.Close()
		if err == nil {
			err = errors.New("exited")
		}
		return fmt.Errorf("audit worker (pid %d): %w", cmd.Process.Pid, err)
	case <-ctx.Done():
		stdin.Close()
		select {
		case <-done:
		case <-time.After(workerStopWait):
			_ = cmd.Process.Kill()
			<-done
		}
		return nil
	}
}

// auditWorkerEnv passes the server's settings to the worker as the
// variables that stand for its flags: in the environment rather than the
// command line, where a PostgreSQL URL's password would be visible to every
// user of the machine.
func (a *App) auditWorkerEnv() []string {
	c := a.Config
	vars := map[string]string{
		"db":                     c.DB,
		"data-dir":               c.DataDir,
		"secret-key-file":        c.KeyFile(),
		"log-level":              strings.ToLower(c.LogLevel.String()),
		"log-format":             c.LogFormat,
		"origin":                 a.Audit.Origin(),
		"audit-publish-dir":      c.AuditPublishDir,
		"audit-publish-url":      c.AuditPublishURL,
		"audit-checkpoint-every": c.AuditCheckpointEvery.String(),
		"audit-sequence-every":   c.AuditSequenceEvery.String(),
	}
	env := make([]string, 0, len(vars))
	for flag, v := range vars {
		env = append(env, config.EnvName(flag)+"="+v)
	}
	return env
}
