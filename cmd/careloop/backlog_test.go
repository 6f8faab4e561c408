package main

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// TestBacklogCommand lists the work waiting by outbox topic, and makes
// the items set aside due again.
func TestBacklogCommand(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			d, opts := dbtest.OpenWithOptions(t, e)
			dbFlag := "sqlite:" + opts.SQLitePath
			if opts.PostgresURL != "" {
				dbFlag = opts.PostgresURL
			}
			common := []string{"--db", dbFlag, "--data-dir", t.TempDir()}
			ctx := context.Background()

			code, out, _ := runCmd(t, append([]string{"backlog"}, common...)...)
			if code != 0 || !strings.Contains(out, "No background work is waiting") {
				t.Fatalf("empty backlog: %d %q", code, out)
			}
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				for _, p := range []string{"a", "b", "c"} {
					if err := outbox.Enqueue(ctx, tx, "test.topic", "org", []byte(p)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			dbtest.MustExec(t, d, "UPDATE outbox SET attempts = 10, failed_at = 1, last_error = 'broken' WHERE payload = 'b'")

			code, out, _ = runCmd(t, append([]string{"backlog", "status"}, common...)...)
			if code != 0 || !strings.Contains(out, "SET ASIDE") || !regexp.MustCompile(`test.topic \(outbox\)\s+2\s+0\s+1\s+1\s`).MatchString(out) {
				t.Fatalf("backlog: %d\n%s", code, out)
			}
			if code, _, errOut := runCmd(t, append([]string{"backlog", "retry"}, common...)...); code != 2 || !strings.Contains(errOut, "--topic is required") {
				t.Fatalf("retry without --topic: %d %q", code, errOut)
			}
			code, out, _ = runCmd(t, append([]string{"backlog", "retry", "--topic", "test.topic"}, common...)...)
			if code != 0 || !strings.Contains(out, "1 test.topic items are due again") {
				t.Fatalf("retry: %d %q", code, out)
			}
			waiting, failed, err := outbox.Backlog(ctx, d, "test.topic")
			if err != nil || waiting != 3 || failed != 0 {
				t.Fatalf("after retry: %d waiting, %d set aside, %v", waiting, failed, err)
			}
		})
	}
}
