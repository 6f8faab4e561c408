package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/tenant"
)

// TestNotifyCommand lists an organisation's messages by state and its
// failures, and refuses to send again what cannot be.
func TestNotifyCommand(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			d, opts := dbtest.OpenWithOptions(t, e)
			dbFlag := "sqlite:" + opts.SQLitePath
			if opts.PostgresURL != "" {
				dbFlag = opts.PostgresURL
			}
			dataDir := t.TempDir()
			ctx := context.Background()
			org := &tenant.Organization{Slug: "clinic", Name: "Clinic"}
			if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, org) }); err != nil {
				t.Fatal(err)
			}
			common := []string{"--db", dbFlag, "--data-dir", dataDir, "--org", "clinic"}
			cmd := func(args ...string) []string {
				return append(append([]string{"notify", args[0]}, common...), args[1:]...)
			}

			code, out, _ := runCmd(t, cmd("status")...)
			if code != 0 || !strings.Contains(out, "has sent no messages") {
				t.Fatalf("status of a new organisation: %d %q", code, out)
			}
			if code, _, errOut := runCmd(t, "notify", "resend"); code != 2 || !strings.Contains(errOut, "status, failures or retry") {
				t.Fatalf("unknown action: %d %q", code, errOut)
			}
			if code, _, errOut := runCmd(t, cmd("retry")...); code != 2 || !strings.Contains(errOut, "--id is required") {
				t.Fatalf("retry without --id: %d %q", code, errOut)
			}

			// A message to someone careloop does not know fails at once.
			cfg, err := config.Parse("test", config.Store, []string{"--db", dbFlag, "--data-dir", dataDir}, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Notify.Enqueue(ctx, notify.Event{OrgID: org.ID, Key: "k1", Kind: "result-ready", Recipient: "Patient/nobody"}); err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { defer close(done); _ = a.Notify.Run(runCtx) }()
			var failed []notify.Message
			for deadline := time.Now().Add(20 * time.Second); len(failed) == 0; time.Sleep(10 * time.Millisecond) {
				if failed, _, err = a.Notify.Messages(ctx, org.ID, notify.Filter{States: []string{notify.Failed}}); err != nil || time.Now().After(deadline) {
					t.Fatalf("no failed message (%v)", err)
				}
			}
			stop()
			<-done
			a.Close()

			code, out, _ = runCmd(t, cmd("status")...)
			if code != 0 || !strings.Contains(out, "inapp") || !strings.Contains(out, "failed") {
				t.Fatalf("status: %d %q", code, out)
			}
			code, out, _ = runCmd(t, cmd("failures")...)
			if code != 0 || !strings.Contains(out, failed[0].ID) || !strings.Contains(out, "not known to careloop") {
				t.Fatalf("failures: %d %q", code, out)
			}
			code, _, errOut := runCmd(t, cmd("retry", "--id", failed[0].ID)...)
			if code != 1 || !strings.Contains(errOut, "Only a failed email or text message can be sent again") {
				t.Fatalf("retry of an in-app message: %d %q", code, errOut)
			}
		})
	}
}
