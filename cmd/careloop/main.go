// Command careloop runs the careloop platform: results delivered and tracked
// like parcels, beside a clinic's clinical systems, speaking FHIR R4.
//
// Run "careloop help" for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/platform/config"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

const usage = `careloop — results delivered and tracked like parcels, on FHIR R4.

Usage:
  careloop <command> [flags]

Commands:
  demo      seed a demo clinic (first run only) and serve it on http://127.0.0.1:8080
  serve     serve careloop on an existing or new database
  migrate   bring the database schema up to date and exit
  apikey    issue, list and revoke API keys for the FHIR API
  client    register, list and revoke backend clients (OAuth, SMART Backend Services)
  user      invite staff, make patients' activation codes, list accounts ("careloop user -h")
  import    load FHIR Bundles and NDJSON files: "careloop import --org SLUG PATH..."
  reindex   rebuild the FHIR search index after an upgrade: "careloop reindex --org SLUG"
  audit     verify and export the tamper-evident audit log ("careloop audit" for its actions)
  notify    messages to people: counts, failures, send again ("careloop notify" for its actions)
  backlog   background work not done yet, and retrying what was set aside ("careloop backlog help")
  bench     measure a careloop on this machine: http, ingest, search ("careloop bench -h")
  version   print the version
  help      print this text

Every flag can also be set with an environment variable: --data-dir is
CARELOOP_DATA_DIR, --db is CARELOOP_DB, and so on. "careloop <command> -h"
lists a command's flags.

The database is SQLite in ./careloop-data/ unless --db names PostgreSQL:
  careloop serve --db postgres://careloop@127.0.0.1:5432/careloop
`

func main() {
	app.Version = version
	if exe, err := os.Executable(); err == nil {
		selfExe = exe
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed at run time
	exitUsage = 2 // the command line or environment is wrong
)

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, rest, stdout, stderr, getenv)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr, getenv)
	case "migrate":
		err = cmdMigrate(ctx, rest, stdout, stderr, getenv)
	case "bench":
		err = cmdBench(ctx, rest, stdout, stderr)
	case "import":
		err = cmdImport(ctx, rest, stdout, stderr, getenv)
	case "apikey":
		err = cmdAPIKey(ctx, rest, stdout, stderr, getenv)
	case "client":
		err = cmdClient(ctx, rest, stdout, stderr, getenv)
	case "user":
		err = cmdUser(ctx, rest, stdout, stderr, getenv)
	case "reindex":
		err = cmdReindex(ctx, rest, stdout, stderr, getenv)
	case "audit":
		err = cmdAudit(ctx, rest, stdout, stderr, getenv)
	case "notify":
		err = cmdNotify(ctx, rest, stdout, stderr, getenv)
	case "backlog":
		err = cmdBacklog(ctx, rest, stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "careloop", versionString())
		return exitOK
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "careloop: unknown command %q (run 'careloop help' for the list)\n", cmd)
		return exitUsage
	}
	var ue *config.UsageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, ue.Msg)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "careloop %s: %v\n", cmd, err)
		return exitError
	}
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

// newLogger returns the process logger for cfg, writing to w.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
