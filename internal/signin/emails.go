package signin

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/tenant"
)

// The texts of the account emails. They carry no health information: at
// most a person's name, their organisation and a link to careloop.

// The pages the links of emails open. Until the portal's pages exist the
// token they carry is given to the JSON API (docs/IDENTITY.md).
const (
	invitationPath  = "/invitation"
	verifyEmailPath = "/verify-email"
	recoveryPath    = "/recovery"
	signInPath      = "/signin"
)

// link returns the absolute URL of a page of careloop for an
// organisation, with a token when one is given.
func link(base, path string, org *tenant.Organization, token string) string {
	q := url.Values{"org": {org.Slug}}
	if token != "" {
		q.Set("token", token)
	}
	return strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
}

func hours(d time.Duration) string {
	if d >= time.Hour {
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}

const footer = "\n-- \nThis email was sent by careloop for %s. It never contains health information;\nsign in to careloop to see yours. If you did not expect it, you can ignore it.\n"

func invitationEmail(base string, org *tenant.Organization, tok *identity.Token, secret string) mail.Message {
	return mail.Message{To: tok.Email, Subject: "Your invitation to " + org.Name + " on careloop",
		Body: fmt.Sprintf("Hello%s,\n\n%s invites you to careloop as %s.\n\nSet your name and password here within %s (the link works once):\n%s\n\n"+
			"After that you will set up a second factor, such as an authenticator app.\n"+footer,
			greeting(tok.DisplayName), org.Name, roleName(tok.Role), hours(identity.PurposeInvitation.TTL()),
			link(base, invitationPath, org, secret), org.Name)}
}

// verifyEmail names nobody: the name was typed by whoever asked for the
// link, and the address is not yet known to be theirs.
func verifyEmail(base string, org *tenant.Organization, to, secret string) mail.Message {
	return mail.Message{To: to, Subject: "Confirm your email address for careloop",
		Body: fmt.Sprintf("Hello,\n\nPlease confirm that this is your email address for %s on careloop.\nThe link works once, within %s:\n%s\n"+footer,
			org.Name, hours(identity.PurposeVerifyEmail.TTL()), link(base, verifyEmailPath, org, secret), org.Name)}
}

func emailChangeNotice(org *tenant.Organization, to, name string) mail.Message {
	return mail.Message{To: to, Subject: "A change of your careloop email address was requested",
		Body: fmt.Sprintf("Hello%s,\n\nSomeone signed in to your %s account on careloop asked to use another email address.\n"+
			"It changes only once the new address is confirmed. If this was not you, sign in, change your password\n"+
			"and end your other sessions, or contact %s.\n"+footer, greeting(name), org.Name, org.Name, org.Name)}
}

func registrationAttemptEmail(base string, org *tenant.Organization, to, name string) mail.Message {
	return mail.Message{To: to, Subject: "Someone tried to register with your email on careloop",
		Body: fmt.Sprintf("Hello%s,\n\nSomeone tried to register a new %s account on careloop with this email address,\n"+
			"which already has an account. If it was you, sign in here:\n%s\n\nIf you forgot your password, reset it here:\n%s\n\n"+
			"If it was not you, nothing has changed and you need not do anything.\n"+footer,
			greeting(name), org.Name, link(base, signInPath, org, ""), link(base, recoveryPath, org, ""), org.Name)}
}

func recoveryEmail(base string, org *tenant.Organization, to, name, secret string) mail.Message {
	return mail.Message{To: to, Subject: "Reset your careloop password",
		Body: fmt.Sprintf("Hello%s,\n\nSomeone, hopefully you, asked to reset the password of your %s account on careloop.\n"+
			"Set a new password here within %s (the link works once):\n%s\n\n"+
			"You will still need your second factor (authenticator app, passkey or a recovery code) to sign in.\n"+
			"If you did not ask for this, ignore this email: your password stays as it is.\n"+footer,
			greeting(name), org.Name, hours(identity.PurposeRecovery.TTL()), link(base, recoveryPath, org, secret), org.Name)}
}

func passwordChangedEmail(org *tenant.Organization, to, name string) mail.Message {
	return mail.Message{To: to, Subject: "Your careloop password was changed",
		Body: fmt.Sprintf("Hello%s,\n\nThe password of your %s account on careloop was just reset with a link sent to this\n"+
			"address, and all your sessions were ended. If this was not you, reset your password again\nand contact %s.\n"+footer,
			greeting(name), org.Name, org.Name, org.Name)}
}

func linkedEmail(base string, org *tenant.Organization, to, name string) mail.Message {
	return mail.Message{To: to, Subject: "Your careloop account is ready",
		Body: fmt.Sprintf("Hello%s,\n\n%s has matched your careloop account to your records. Sign in to see them:\n%s\n"+footer,
			greeting(name), org.Name, link(base, signInPath, org, ""), org.Name)}
}

func greeting(name string) string {
	if name = strings.TrimSpace(name); name == "" {
		return ""
	}
	return " " + name
}

func roleName(r identity.Role) string {
	switch r {
	case identity.RoleCoordinator:
		return "a care coordinator"
	case identity.RoleCompliance:
		return "a compliance officer"
	case identity.RoleAdmin:
		return "an organisation admin"
	}
	return "a " + string(r)
}
