package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
)

const backlogUsage = `Usage:
  careloop backlog [status]            background work not done yet: jobs by kind, outbox items by topic
  careloop backlog retry --topic NAME  make the outbox items of a topic that were set aside due again

'careloop serve' does the work; see docs/OPERATIONS.md.
`

func cmdBacklog(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	action := "status"
	if len(args) > 0 && (args[0] == "retry" || args[0] == "status") {
		action, args = args[0], args[1:]
	}
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, backlogUsage)
		return nil
	}
	var topic string
	cfg, err := config.ParseWith("backlog "+action, config.Store, args, getenv, stdout, func(fs *flag.FlagSet) {
		if action == "retry" {
			fs.StringVar(&topic, "topic", "", "the outbox topic, as 'careloop backlog' lists it (journey.changes, fhir.counts)")
		}
	})
	if err != nil {
		return err
	}
	if action == "retry" && topic == "" {
		return &config.UsageError{Msg: "careloop backlog retry: --topic is required"}
	}
	d, err := app.OpenDB(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer d.Close()
	if action == "retry" {
		n, err := outbox.Retry(ctx, d, topic)
		if err != nil {
			return err
		}
		if n == 0 {
			fmt.Fprintf(stdout, "No %s items were set aside.\n", topic)
			return nil
		}
		fmt.Fprintf(stdout, "%d %s items are due again; a running careloop serve applies them.\n", n, topic)
		return nil
	}
	bs, err := jobs.Backlogs(ctx, d)
	if err != nil {
		return err
	}
	if len(bs) == 0 {
		fmt.Fprintln(stdout, "No background work is waiting.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tWAITING\tSCHEDULED\tFAILED\tSET ASIDE\tOLDEST")
	for _, b := range bs {
		kind, oldest := b.Kind, "-"
		if b.Outbox {
			kind += " (outbox)"
			oldest = time.Since(b.Oldest).Round(time.Second).String() + " ago"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\n", kind, b.Waiting, b.Scheduled, b.Failed, b.SetAside, oldest)
	}
	return tw.Flush()
}
