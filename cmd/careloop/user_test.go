package main

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
	"github.com/careloop/careloop/internal/tenant"
)

func TestUserCommand(t *testing.T) {
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
			// A Patient with a full date of birth, and one without.
			cfg, err := config.Parse("test", config.Store, []string{"--db", dbFlag, "--data-dir", dataDir}, noEnv, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := a.Resources.CreateTx(ctx, tx, org.ID, "Patient", "p1", []byte(`{"resourceType":"Patient","id":"p1","birthDate":"1980-05-17"}`)); err != nil {
					return err
				}
				_, err := a.Resources.CreateTx(ctx, tx, org.ID, "Patient", "p2", []byte(`{"resourceType":"Patient","id":"p2"}`))
				return err
			})
			a.Close()
			if err != nil {
				t.Fatal(err)
			}

			smtp := mailtest.Start(t, mailtest.Options{User: "cli", Password: "pw"})
			common := []string{"--db", dbFlag, "--data-dir", dataDir, "--org", "clinic"}
			cmd := func(args ...string) []string {
				return append(append([]string{"user", args[0]}, common...), args[1:]...)
			}
			withMail := func(args ...string) []string {
				return append(cmd(args...), "--smtp-url", smtp.URL+"?tls=none", "--base-url", "https://care.example.org")
			}

			code, out, stderr := runCmd(t, cmd("list")...)
			if code != exitOK || !strings.Contains(out, "no accounts") {
				t.Fatalf("empty list: %d %q %q", code, out, stderr)
			}
			code, out, stderr = runCmd(t, withMail("invite", "--email", "Ada@Example.org", "--role", "org-admin", "--name", "Ada")...)
			if code != exitOK {
				t.Fatalf("invite: %d %q", code, stderr)
			}
			link := regexp.MustCompile(`https://care\.example\.org/invitation\?\S+`).FindString(out)
			if link == "" || !strings.Contains(out, "ada@example.org") {
				t.Fatalf("invite printed %q", out)
			}
			msgs := smtp.Wait(t, 1)
			if !strings.Contains(msgs[0].Body(), link) || msgs[0].To[0] != "ada@example.org" || msgs[0].AuthUser != "cli" {
				t.Errorf("the email %v %q lacks the printed link %q", msgs[0].To, msgs[0].Body(), link)
			}

			code, out, stderr = runCmd(t, withMail("activation-code", "--patient", "p1")...)
			if code != exitOK || !regexp.MustCompile(`(?m)^[0-9A-Z]{5}-[0-9A-Z]{5}$`).MatchString(out) || !strings.Contains(out, "Patient/p1") {
				t.Fatalf("activation code: %d %q %q", code, out, stderr)
			}

			// The account of an accepted invitation is listed.
			accounts := identity.NewStore(d)
			if err := d.InTx(ctx, func(tx *sql.Tx) error {
				return accounts.CreateTx(ctx, tx, &identity.Account{OrgID: org.ID, Email: "pat@example.org", DisplayName: "Pat", Role: identity.RolePatient, FHIRRef: "Patient/p1"}, "x")
			}); err != nil {
				t.Fatal(err)
			}
			code, out, _ = runCmd(t, cmd("list")...)
			if code != exitOK || !strings.Contains(out, "pat@example.org") || !strings.Contains(out, "Patient/p1") || !strings.Contains(out, "VERIFIED") {
				t.Fatalf("list: %d %q", code, out)
			}

			failures := []struct {
				name string
				args []string
				code int
				want string
			}{
				{name: "no action", args: []string{"user"}, code: exitUsage},
				{name: "unknown action", args: []string{"user", "delete"}, code: exitUsage},
				{name: "invite without email", args: cmd("invite", "--role", "nurse"), code: exitUsage, want: "--email is required"},
				{name: "invite without role", args: cmd("invite", "--email", "x@example.org"), code: exitUsage, want: "--role is required"},
				{name: "code without patient", args: cmd("activation-code"), code: exitUsage, want: "--patient is required"},
				{name: "bad SMTP URL", args: append(cmd("invite", "--email", "x@example.org", "--role", "nurse"), "--smtp-url", "ftp://x"), code: exitUsage, want: "--smtp-url"},
				{name: "patient role", args: withMail("invite", "--email", "x@example.org", "--role", "patient"), code: exitError, want: "not a staff role"},
				{name: "existing account", args: withMail("invite", "--email", "pat@example.org", "--role", "nurse"), code: exitError, want: "already exists"},
				{name: "no such patient", args: withMail("activation-code", "--patient", "nobody"), code: exitError, want: "no Patient/nobody"},
				{name: "no birth date", args: withMail("activation-code", "--patient", "p2"), code: exitError, want: "no full date of birth"},
				{name: "unknown org", args: []string{"user", "list", "--db", dbFlag, "--data-dir", dataDir, "--org", "nope"}, code: exitError, want: "nope"},
			}
			for _, tc := range failures {
				code, _, stderr := runCmd(t, tc.args...)
				if code != tc.code || !strings.Contains(stderr, tc.want) {
					t.Errorf("%s: exit %d %q, want %d with %q", tc.name, code, stderr, tc.code, tc.want)
				}
			}
			if n := len(smtp.Messages()); n != 1 {
				t.Errorf("%d emails sent, want 1 (failed commands send none)", n)
			}
		})
	}
}
