package signin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/tenant"
)

// The jobs of the account lifecycle. Their arguments hold, in clear, only
// the organisation and when a link expires; everything about a person is
// sealed (Mailer).

// EmailArgs is an account email waiting to be sent.
type EmailArgs struct {
	OrgID string `json:"org_id"`
	// Sealed is the message (address, subject, body with its link).
	Sealed []byte `json:"sealed"`
	// Expires, when set, is when the link in the message stops working;
	// the message is not sent after it.
	Expires time.Time `json:"expires,omitzero"`
}

// Kind names the job.
func (EmailArgs) Kind() string { return "signin.email" }

// InsertOpts bounds the attempts.
func (EmailArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: EmailAttempts} }

// RegistrationArgs is a self-registration as the person submitted it,
// waiting to be worked: the account is created and a link to verify the
// email sent, or the owner of the email's account told that someone tried.
type RegistrationArgs struct {
	OrgID  string `json:"org_id"`
	Sealed []byte `json:"sealed"` // a registrationRequest
}

// Kind names the job.
func (RegistrationArgs) Kind() string { return "signin.registration" }

// InsertOpts bounds the attempts.
func (RegistrationArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: EmailAttempts}
}

// registrationRequest is what a person typed to register, checked, with
// the password already hashed.
type registrationRequest struct {
	OrgSlug      string    `json:"org_slug"`
	OrgName      string    `json:"org_name"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	BirthDate    string    `json:"birth_date"`
	PasswordHash string    `json:"password_hash"`
	At           time.Time `json:"at"`
}

// RecoveryArgs is a request for a recovery link, waiting to be worked:
// the account is looked up and, when there is one within its limit, a link
// made and sent.
type RecoveryArgs struct {
	OrgID  string `json:"org_id"`
	Sealed []byte `json:"sealed"` // a recoveryRequest
}

// Kind names the job.
func (RecoveryArgs) Kind() string { return "signin.recovery" }

// InsertOpts bounds the attempts.
func (RecoveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: EmailAttempts}
}

// recoveryRequest is what a person typed to ask for a recovery link.
type recoveryRequest struct {
	OrgSlug string `json:"org_slug"`
	OrgName string `json:"org_name"`
	Email   string `json:"email"`
}

func (r registrationRequest) org(id string) *tenant.Organization {
	return &tenant.Organization{ID: id, Slug: r.OrgSlug, Name: r.OrgName}
}

func (r recoveryRequest) org(id string) *tenant.Organization {
	return &tenant.Organization{ID: id, Slug: r.OrgSlug, Name: r.OrgName}
}

// AddWorkers registers the workers of the account lifecycle's jobs.
// lifecycle returns the Lifecycle they work with and is called for each
// job, so that a process can register the workers before it builds the
// lifecycle (which needs the job queue); an error from it fails the job,
// which is retried.
func AddWorkers(w *river.Workers, lifecycle func() (*Lifecycle, error)) {
	river.AddWorker(w, &EmailWorker{life: lifecycle})
	river.AddWorker(w, &RegistrationWorker{life: lifecycle})
	river.AddWorker(w, &RecoveryWorker{life: lifecycle})
}

// EmailWorker sends queued account emails. A failed send is retried with
// River's backoff, up to EmailAttempts tries; then the job is discarded
// and the log names the subject and the recipient's domain.
//
// An email is sent at most once per job unless the process dies in the
// moment between the SMTP server's acceptance and the commit that
// completes the job: the worker completes the job in a transaction of its
// own right after the send, and never returns an error once the message is
// accepted, so no retry follows a successful send.
type EmailWorker struct {
	river.WorkerDefaults[EmailArgs]
	life func() (*Lifecycle, error)
}

// Work opens the message and sends it.
func (w *EmailWorker) Work(ctx context.Context, job *river.Job[EmailArgs]) error {
	l, err := w.life()
	if err != nil {
		return fmt.Errorf("signin: email job %d: %w", job.ID, err)
	}
	m := l.Mail
	var sm sealedMessage
	if err := m.open(job.Args.Kind(), job.Args.OrgID, job.Args.Sealed, &sm); err != nil {
		m.log.Error("account email dropped: it cannot be opened (was the secret key file replaced?)", "org", job.Args.OrgID, "job", job.ID, "err", err)
		return river.JobCancel(err)
	}
	msg := mail.Message{To: sm.To, Subject: sm.Subject, Body: sm.Body}
	if !job.Args.Expires.IsZero() && !l.now().Before(job.Args.Expires) {
		m.log.Warn("account email dropped: its link expired before it could be sent", "subject", msg.Subject, "domain", domainOf(msg.To),
			"org", job.Args.OrgID, "attempts", job.Attempt-1)
		return river.JobCancel(fmt.Errorf("signin: %q to a person at %s: the link expired before it was sent", msg.Subject, domainOf(msg.To)))
	}
	if err := m.sender.Send(ctx, msg); err != nil {
		err = fmt.Errorf("signin: send %q to a person at %s: %w", msg.Subject, domainOf(msg.To), err)
		if job.Attempt >= job.MaxAttempts {
			m.log.Error("account email given up", "subject", msg.Subject, "domain", domainOf(msg.To), "org", job.Args.OrgID,
				"attempts", job.Attempt, "err", err)
		} else {
			m.log.Warn("account email not sent; it will be retried", "subject", msg.Subject, "domain", domainOf(msg.To), "org", job.Args.OrgID,
				"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
		}
		return err
	}
	// Sent: complete the job now, so that a crash from here on does not
	// send it again. If this fails, River completes the job when Work
	// returns nil; an error here would only send the message twice.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := m.db.InTx(cctx, func(tx *sql.Tx) error { return jobs.CompleteTx(cctx, tx, job) }); err != nil {
		m.log.Warn("account email sent; marking its job done failed, River will", "subject", msg.Subject, "domain", domainOf(msg.To), "err", err)
	}
	return nil
}

// RegistrationWorker works self-registrations: it creates the account,
// its registration and a verification link, and queues the email with the
// link, all in one transaction that also completes the job; or, when the
// email has an account already, queues a note to its owner. A job runs to
// its effects once, even when River runs it again after a crash.
type RegistrationWorker struct {
	river.WorkerDefaults[RegistrationArgs]
	life func() (*Lifecycle, error)
}

// Work registers the account.
func (w *RegistrationWorker) Work(ctx context.Context, job *river.Job[RegistrationArgs]) error {
	l, err := w.life()
	if err != nil {
		return fmt.Errorf("signin: registration job %d: %w", job.ID, err)
	}
	var req registrationRequest
	if err := l.Mail.open(job.Args.Kind(), job.Args.OrgID, job.Args.Sealed, &req); err != nil {
		l.Mail.log.Error("registration dropped: it cannot be opened (was the secret key file replaced?)", "org", job.Args.OrgID, "job", job.ID, "err", err)
		return river.JobCancel(err)
	}
	return l.logGivenUp(job.Attempt, job.MaxAttempts, "registration", job.Args.OrgID, l.registerAccount(ctx, job, req))
}

func (l *Lifecycle) registerAccount(ctx context.Context, job *river.Job[RegistrationArgs], req registrationRequest) error {
	org := req.org(job.Args.OrgID)
	existing, _, err := l.Accounts.ByEmail(ctx, org.ID, req.Email)
	if err == nil {
		return l.finish(ctx, job, org.ID, registrationAttemptEmail(l.BaseURL, org, existing.Email, existing.DisplayName))
	}
	if errs.CodeOf(err) != errs.NotFound {
		return err
	}
	acct := &identity.Account{OrgID: org.ID, Email: req.Email, DisplayName: req.Name, Role: identity.RolePatient}
	verify := &identity.Token{OrgID: org.ID, Purpose: identity.PurposeVerifyEmail, Email: req.Email, CreatedBy: "registration"}
	err = l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := l.Accounts.CreateTx(ctx, tx, acct, req.PasswordHash); err != nil {
			return err
		}
		if err := l.Accounts.AddRegistrationTx(ctx, tx, org.ID, acct.ID, req.BirthDate, req.At); err != nil {
			return err
		}
		verify.AccountID = acct.ID
		secret, err := l.Tokens.IssueTx(ctx, tx, verify)
		if err != nil {
			return err
		}
		if err := l.Mail.queueTx(ctx, tx, org.ID, verifyEmail(l.BaseURL, org, req.Email, secret), verify.ExpiresAt); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
	if errs.CodeOf(err) == errs.Conflict {
		// Registered by a concurrent request meanwhile: the same as above.
		return l.finish(ctx, job, org.ID, registrationAttemptEmail(l.BaseURL, org, req.Email, ""))
	}
	return err
}

// finish queues msg and completes job in one transaction.
func (l *Lifecycle) finish(ctx context.Context, job *river.Job[RegistrationArgs], orgID string, msg mail.Message) error {
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		if err := l.Mail.queueTx(ctx, tx, orgID, msg, time.Time{}); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// RecoveryWorker works requests for recovery links: it looks the account
// up and, within the account's limit (RecoveryAccountLimit), makes a link
// and queues the email with it in one transaction that also completes the
// job. An unknown email, or an account over its limit, gets nothing.
type RecoveryWorker struct {
	river.WorkerDefaults[RecoveryArgs]
	life func() (*Lifecycle, error)
}

// Work handles the request.
func (w *RecoveryWorker) Work(ctx context.Context, job *river.Job[RecoveryArgs]) error {
	l, err := w.life()
	if err != nil {
		return fmt.Errorf("signin: recovery job %d: %w", job.ID, err)
	}
	var req recoveryRequest
	if err := l.Mail.open(job.Args.Kind(), job.Args.OrgID, job.Args.Sealed, &req); err != nil {
		l.Mail.log.Error("recovery request dropped: it cannot be opened (was the secret key file replaced?)", "org", job.Args.OrgID, "job", job.ID, "err", err)
		return river.JobCancel(err)
	}
	return l.logGivenUp(job.Attempt, job.MaxAttempts, "recovery request", job.Args.OrgID, l.recoverAccount(ctx, job, req))
}

func (l *Lifecycle) recoverAccount(ctx context.Context, job *river.Job[RecoveryArgs], req recoveryRequest) error {
	org := req.org(job.Args.OrgID)
	acct, _, err := l.Accounts.ByEmail(ctx, org.ID, req.Email)
	if errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if err := l.Service.Throttle.Check(ctx, org.ID, recoveryAccountKey(acct.ID)); err != nil {
		if errs.CodeOf(err) == errs.RateLimited {
			l.Mail.log.Info("recovery link not sent: too many asked for the account within the hour", "org", org.ID, "account", acct.ID)
			return nil
		}
		return err
	}
	if _, _, err := l.Service.Throttle.Fail(ctx, org.ID, recoveryAccountKey(acct.ID), RecoveryAccountLimit); err != nil {
		return err
	}
	tok := &identity.Token{OrgID: org.ID, Purpose: identity.PurposeRecovery, AccountID: acct.ID, Email: acct.Email, CreatedBy: "recovery"}
	return l.Service.DB.InTx(ctx, func(tx *sql.Tx) error {
		secret, err := l.Tokens.IssueTx(ctx, tx, tok)
		if err != nil {
			return err
		}
		if err := l.Mail.queueTx(ctx, tx, org.ID, recoveryEmail(l.BaseURL, org, acct.Email, acct.DisplayName, secret), tok.ExpiresAt); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
}

// logGivenUp logs err when the attempt was the job's last, and returns it.
// The error names no person: only the organisation and what failed.
func (l *Lifecycle) logGivenUp(attempt, maxAttempts int, what, orgID string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	if attempt >= maxAttempts {
		l.Mail.log.Error(what+" given up", "org", orgID, "attempts", attempt, "err", err)
	} else {
		l.Mail.log.Warn(what+" failed; it will be retried", "org", orgID, "attempt", attempt, "max_attempts", maxAttempts, "err", err)
	}
	return err
}
