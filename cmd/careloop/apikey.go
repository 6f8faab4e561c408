package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/tenant"
)

const apikeyUsage = `Usage:
  careloop apikey create --org SLUG --name NAME   issue a key; the token is shown once
  careloop apikey list   --org SLUG               list the organisation's keys
  careloop apikey revoke --org SLUG --id ID       revoke a key at once

An API key lets another system call the FHIR API at /fhir for one
organisation: send it as "Authorization: Bearer <token>".
`

func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		fmt.Fprint(stderr, apikeyUsage)
		return &config.UsageError{Msg: "careloop apikey: say create, list or revoke"}
	}
	action := args[0]
	var org, name, id string
	cfg, err := config.ParseWith("apikey "+action, config.Store, args[1:], getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation (for the demo: riverside-family-clinic)")
		if action == "create" {
			fs.StringVar(&name, "name", "", "what the key is for, such as the calling system")
		}
		if action == "revoke" {
			fs.StringVar(&id, "id", "", "id of the key, from 'careloop apikey list'")
		}
	})
	if err != nil {
		return err
	}
	if org == "" {
		return &config.UsageError{Msg: fmt.Sprintf("careloop apikey %s: --org is required", action)}
	}
	if action == "create" && name == "" {
		return &config.UsageError{Msg: "careloop apikey create: --name is required"}
	}
	if action == "revoke" && id == "" {
		return &config.UsageError{Msg: "careloop apikey revoke: --id is required"}
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	switch action {
	case "create":
		var token string
		err := a.DB.InTx(ctx, func(tx *sql.Tx) error {
			k, t, err := a.Accounts.CreateAPIKeyTx(ctx, tx, o.ID, name)
			if err == nil {
				token = t
				fmt.Fprintf(stdout, "API key %s (%s) for %s\n", k.ID, k.Name, o.Name)
			}
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Token (shown once; store it in a secret manager):\n%s\n", token)
	case "list":
		keys, err := a.Accounts.APIKeys(ctx, o.ID)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			fmt.Fprintf(stdout, "%s has no API keys. Create one with: careloop apikey create --org %s --name NAME\n", o.Name, org)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.CreatedAt.Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := a.DB.InTx(ctx, func(tx *sql.Tx) error { return a.Accounts.RevokeAPIKeyTx(ctx, tx, o.ID, id) }); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked API key %s of %s.\n", id, o.Name)
	}
	return nil
}

// openOrg opens the service of cfg and finds the organisation with slug.
func openOrg(ctx context.Context, cfg *config.Config, slug string, stderr io.Writer) (*app.App, *tenant.Organization, error) {
	a, err := app.Open(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return nil, nil, err
	}
	o, err := a.Orgs.BySlug(ctx, slug)
	if err != nil {
		a.Close()
		return nil, nil, fmt.Errorf("organisation %q: %w", slug, err)
	}
	return a, o, nil
}
