package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/config"
)

const notifyUsage = `Usage:
  careloop notify status   --org SLUG [--days N]   messages of the last N days (default 7) by channel and state
  careloop notify failures --org SLUG              failed and bounced messages, newest first
  careloop notify retry    --org SLUG --id ID      send a failed message again (a running careloop serve sends it)

Messages are planned and sent by 'careloop serve'; see docs/NOTIFICATIONS.md.
`

func cmdNotify(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "failures" && args[0] != "retry") {
		fmt.Fprint(stderr, notifyUsage)
		return &config.UsageError{Msg: "careloop notify: say status, failures or retry"}
	}
	action := args[0]
	var org, id string
	days := 7
	cfg, err := config.ParseWith("notify "+action, config.Store, args[1:], getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation (for the demo: riverside-family-clinic)")
		if action == "status" {
			fs.IntVar(&days, "days", 7, "how many days back to count")
		}
		if action == "retry" {
			fs.StringVar(&id, "id", "", "id of the message, from 'careloop notify failures'")
		}
	})
	if err != nil {
		return err
	}
	if org == "" {
		return &config.UsageError{Msg: fmt.Sprintf("careloop notify %s: --org is required", action)}
	}
	if days < 1 || days > 3660 {
		return &config.UsageError{Msg: "careloop notify status: --days must be between 1 and 3660"}
	}
	if action == "retry" && id == "" {
		return &config.UsageError{Msg: "careloop notify retry: --id is required"}
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	switch action {
	case "status":
		counts, err := a.Notify.Counts(ctx, o.ID, time.Now().AddDate(0, 0, -days))
		if err != nil {
			return err
		}
		if len(counts) == 0 {
			fmt.Fprintf(stdout, "%s has sent no messages in the last %d days.\n", o.Name, days)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CHANNEL\tSTATE\tMESSAGES")
		for _, c := range counts {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.Channel, c.State, c.N)
		}
		return tw.Flush()
	case "failures":
		msgs, _, err := a.Notify.Messages(ctx, o.ID, notify.Filter{States: []string{notify.Failed, notify.Bounced}, Count: 200})
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			fmt.Fprintf(stdout, "%s has no failed messages.\n", o.Name)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCREATED\tCHANNEL\tSTATE\tTO\tKIND\tERROR")
		for _, m := range msgs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.CreatedAt.Format(time.DateTime), m.Channel, m.State, m.Recipient, m.Kind, m.LastError)
		}
		return tw.Flush()
	default:
		if err := a.Notify.Retry(ctx, o.ID, id, "command line"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Message %s is queued again; a running careloop serve sends it.\n", id)
		return nil
	}
}
