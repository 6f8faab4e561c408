package signin

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/tenant"
)

// OrgsByID finds organisations by id.
type OrgsByID interface {
	ByID(ctx context.Context, id string) (*tenant.Organization, error)
}

// EmailNotices tells people by email about sign-ins that may not have been
// them: an account blocked after repeated failures, a sign-in from a
// browser and address the account has not used before. The emails are
// durable jobs (Mailer) and carry no health information. A notice that
// cannot be queued is logged; the sign-in goes on.
type EmailNotices struct {
	Lifecycle *Lifecycle
	Orgs      OrgsByID
	Log       *slog.Logger
}

// RepeatedFailures implements Notifier.
func (n EmailNotices) RepeatedFailures(ctx context.Context, a *identity.Account, address string) {
	n.send(ctx, a, func(org *tenant.Organization, acct *identity.Account) mail.Message {
		return mail.Message{To: acct.Email, Subject: "Sign-in attempts to your careloop account",
			Body: fmt.Sprintf("Hello%s,\n\nSomeone tried to sign in to your account at %s several times with a wrong password,\n"+
				"from the network address %s. Signing in to your account is paused for %s.\n\n"+
				"If it was you, wait and try again, or reset your password from the sign-in page:\n%s\n\n"+
				"If it was not you, your password kept them out. Your second factor protects you further;\nset one up in your account if you have none.\n"+footer,
				greeting(acct.DisplayName), org.Name, address, hours(AccountLimit.Block),
				link(n.Lifecycle.BaseURL, recoveryPath, org, ""), org.Name)}
	})
}

// NewDevice implements Notifier.
func (n EmailNotices) NewDevice(ctx context.Context, a *identity.Account, userAgent, address string) {
	when := n.Lifecycle.now().UTC().Format("2 January 2006 at 15:04 UTC")
	n.send(ctx, a, func(org *tenant.Organization, acct *identity.Account) mail.Message {
		return mail.Message{To: acct.Email, Subject: "New sign-in to your careloop account",
			Body: fmt.Sprintf("Hello%s,\n\nYour account at %s was signed in to on %s\nfrom a browser and address it had not used before:\n\n  %.120s\n  network address %s\n\n"+
				"If it was you, there is nothing to do.\nIf it was not you, end that session and change your password here:\n%s\n"+footer,
				greeting(acct.DisplayName), org.Name, when, userAgent, address,
				link(n.Lifecycle.BaseURL, "/account/sessions", org, ""), org.Name)}
	})
}

// send queues the message compose makes for the account.
func (n EmailNotices) send(ctx context.Context, a *identity.Account, compose func(*tenant.Organization, *identity.Account) mail.Message) {
	err := func() error {
		acct := a
		if acct.Email == "" {
			var err error
			if acct, err = n.Lifecycle.Accounts.ByID(ctx, a.OrgID, a.ID); err != nil {
				return err
			}
		}
		org, err := n.Orgs.ByID(ctx, acct.OrgID)
		if err != nil {
			return err
		}
		msg := compose(org, acct)
		return n.Lifecycle.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
			return n.Lifecycle.Mail.queueTx(ctx, tx, acct.OrgID, msg, time.Time{})
		})
	}()
	if err != nil && n.Log != nil {
		n.Log.Error("sign-in: cannot queue a security notice", "org", a.OrgID, "account", a.ID, "err", err)
	}
}
