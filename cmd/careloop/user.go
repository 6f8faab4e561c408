package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/signin"
)

const userUsage = `Usage:
  careloop user invite --org SLUG --email EMAIL --role ROLE [--name NAME]
                          invite staff: prints the link (72 hours, works once) and emails it
  careloop user activation-code --org SLUG --patient ID
                          a code (30 days, works once) with which the patient of
                          Patient/ID opens an account, with their date of birth
  careloop user list --org SLUG
                          the organisation's accounts

Staff roles: clinician, nurse, technician, care-coordinator, compliance-officer, org-admin.
Emails go through --smtp-url; without it they are written to the log, not sent.
`

func cmdUser(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "invite" && args[0] != "activation-code" && args[0] != "list") {
		fmt.Fprint(stderr, userUsage)
		return &config.UsageError{Msg: "careloop user: say invite, activation-code or list"}
	}
	action := args[0]
	var org, email, role, name, patient string
	set := config.Store | config.Mail
	if action == "list" {
		set = config.Store
	}
	cfg, err := config.ParseWith("user "+action, set, args[1:], getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation (for the demo: riverside-family-clinic)")
		switch action {
		case "invite":
			fs.StringVar(&email, "email", "", "email address of the person to invite")
			fs.StringVar(&role, "role", "", "their staff role")
			fs.StringVar(&name, "name", "", "their name, which they may change (optional)")
		case "activation-code":
			fs.StringVar(&patient, "patient", "", "id of the patient's FHIR Patient resource")
		}
	})
	if err != nil {
		return err
	}
	missing := func(flagName string) error {
		return &config.UsageError{Msg: fmt.Sprintf("careloop user %s: --%s is required", action, flagName)}
	}
	switch {
	case org == "":
		return missing("org")
	case action == "invite" && email == "":
		return missing("email")
	case action == "invite" && role == "":
		return missing("role")
	case action == "activation-code" && patient == "":
		return missing("patient")
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if action == "list" {
		return listUsers(ctx, a.Accounts, o.ID, o.Name, org, stdout)
	}
	life, err := a.AccountLifecycle()
	if err != nil {
		return err
	}
	defer life.Mail.Wait() // the invitation email goes out before the command ends
	switch action {
	case "invite":
		tok, link, err := life.Invite(ctx, o, signin.Invitation{Email: email, Role: identity.Role(role), Name: name, By: "cli"})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Invited %s to %s as %s; the invitation expires %s.\n", tok.Email, o.Name, tok.Role, tok.ExpiresAt.Local().Format("2006-01-02 15:04"))
		sent := "an email with it is on its way"
		if cfg.SMTPURL == "" {
			sent = "no --smtp-url, so the email was written to the log, not sent"
		}
		fmt.Fprintf(stdout, "Link (works once; %s):\n%s\n", sent, link)
	case "activation-code":
		c, err := life.CreateActivationCode(ctx, o.ID, patient, "cli")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Activation code for %s of %s, valid until %s (works once, with the date of birth):\n%s\n",
			c.Patient, o.Name, c.ExpiresAt.Local().Format("2006-01-02"), c.Code)
	}
	return nil
}

// accountLister lists an organisation's accounts.
type accountLister interface {
	List(ctx context.Context, orgID string) ([]identity.AccountSummary, error)
}

func listUsers(ctx context.Context, accounts accountLister, orgID, orgName, slug string, stdout io.Writer) error {
	list, err := accounts.List(ctx, orgID)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "%s has no accounts. Invite staff with: careloop user invite --org %s --email EMAIL --role org-admin\n", orgName, slug)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tRECORD\tVERIFIED\tCREATED")
	for _, u := range list {
		verified, record := "no", u.FHIRRef
		if !u.EmailVerifiedAt.IsZero() {
			verified = u.EmailVerifiedAt.Format("2006-01-02")
		}
		if record == "" {
			record = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.DisplayName, u.Role, record, verified, u.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
