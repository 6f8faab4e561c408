package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sync"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
)

// signInAPI builds sign-in, second factors, passkeys and sessions on the
// app's stores. The second-factor secrets are sealed with a key drawn from
// careloop's secret key file.
func (a *App) signInAPI() (*signin.API, error) {
	key, err := keys.LoadOrCreate(a.Config.KeyFile())
	if err != nil {
		return nil, err
	}
	factors, err := identity.NewFactorStore(a.DB, key.Derive("second-factor secrets", identity.FactorKeySize))
	if err != nil {
		return nil, err
	}
	a.Sessions = session.NewStore(a.DB, session.Policy{})
	svc := &signin.Service{DB: a.DB, Accounts: a.Accounts, Factors: factors, Sessions: a.Sessions,
		Throttle: signin.NewThrottle(a.DB), Log: a.Log}
	lifecycle, err := a.lifecycle(svc, key)
	if err != nil {
		return nil, err
	}
	svc.Notices = signin.EmailNotices{Lifecycle: lifecycle, Orgs: a.Orgs, Log: a.Log.With("component", "signin")}
	api := &signin.API{Service: svc, Orgs: a.Orgs, Accounts: a.Accounts, Enroll: factors,
		Cookies: session.Cookies{Secure: a.Config.BaseURL.Scheme == "https"}, Lifecycle: lifecycle}
	// WebAuthn binds passkeys to a host name: with an IP address in the
	// base URL (the default 127.0.0.1) passkeys are off.
	if host := a.Config.BaseURL.Hostname(); net.ParseIP(host) == nil {
		cfg, err := identity.PasskeyConfigFromBaseURL(a.Config.BaseURL)
		if err != nil {
			return nil, err
		}
		passkeys, err := identity.NewPasskeys(a.DB, cfg)
		if err != nil {
			return nil, err
		}
		api.Passkeys = passkeys
		svc.Passkeys = signin.PasskeyFactor{Passkeys: passkeys}
	} else {
		a.Log.Info("passkeys are off: WebAuthn needs a host name in --base-url (for example http://localhost:8080)", "base_url", a.Config.BaseURL.String())
	}
	return api, nil
}

// AccountLifecycle returns invitations, activation codes and the rest of
// the account lifecycle for commands that run without the HTTP server
// (careloop user), which do not otherwise start the job queue. Its emails
// are jobs in the database, sent by the job workers of careloop serve;
// call its Mail.Wait before exiting to start the queue in this process
// until the emails it queued are sent, and stop it again.
func (a *App) AccountLifecycle() (*signin.Lifecycle, error) {
	life, err := a.jobLifecycle()
	if err != nil {
		return nil, err
	}
	life.Mail.Runner = a.Jobs
	return life, nil
}

// addAccountWorkers registers the workers of the account lifecycle's jobs
// (emails, registrations, recovery requests). They build their lifecycle
// on their first job, not here: the lifecycle needs the job queue, which
// needs its workers first, and commands that never work jobs should
// neither read the secret key nor reach the SMTP server.
func (a *App) addAccountWorkers(workers *river.Workers) {
	var (
		mu   sync.Mutex
		life *signin.Lifecycle
	)
	signin.AddWorkers(workers, func() (*signin.Lifecycle, error) {
		mu.Lock()
		defer mu.Unlock()
		if life != nil {
			return life, nil
		}
		l, err := a.jobLifecycle()
		if err != nil {
			return nil, err // the job fails and is retried; so is this
		}
		life = l
		return life, nil
	})
}

// jobLifecycle builds the account lifecycle without the HTTP server.
func (a *App) jobLifecycle() (*signin.Lifecycle, error) {
	key, err := keys.LoadOrCreate(a.Config.KeyFile())
	if err != nil {
		return nil, err
	}
	factors, err := identity.NewFactorStore(a.DB, key.Derive("second-factor secrets", identity.FactorKeySize))
	if err != nil {
		return nil, err
	}
	svc := &signin.Service{DB: a.DB, Accounts: a.Accounts, Factors: factors, Sessions: session.NewStore(a.DB, session.Policy{}),
		Throttle: signin.NewThrottle(a.DB), Log: a.Log}
	return a.lifecycle(svc, key)
}

// lifecycle builds the account lifecycle on svc: tokens hashed with a key
// drawn from careloop's secret key, dates of birth read from the FHIR
// store, emails queued as jobs sealed with another key drawn from it, and
// sent through --smtp-url or, without it, written to the log.
func (a *App) lifecycle(svc *signin.Service, key *keys.Key) (*signin.Lifecycle, error) {
	tokens, err := identity.NewTokens(a.DB, key.Derive("account tokens", identity.TokenKeySize))
	if err != nil {
		return nil, err
	}
	log := a.Log.With("component", "accounts")
	var sender mail.Sender = mail.Log{Log: log}
	if a.Config.SMTPURL != "" {
		smtp, err := mail.NewSMTP(a.Config.SMTPURL, a.Config.MailFrom)
		if err != nil {
			return nil, err
		}
		sender = smtp
		log.Info("emails go through SMTP", "smtp", a.Config.RedactedSMTP(), "from", a.Config.MailFrom)
	} else {
		log.Info("no --smtp-url: emails are written to this log, not sent")
	}
	mailer, err := signin.NewMailer(a.DB, a.Jobs, key.Derive("queued email", signin.EmailKeySize), sender, log)
	if err != nil {
		return nil, err
	}
	return &signin.Lifecycle{Service: svc, Accounts: a.Accounts, Tokens: tokens, Patients: birthDates{a.Resources},
		Mail: mailer, BaseURL: a.Config.BaseURL.String()}, nil
}

// birthDates reads the birthDate of Patient resources from the FHIR store.
type birthDates struct{ store *fhir.Store }

func (b birthDates) BirthDate(ctx context.Context, orgID, id string) (string, error) {
	st, err := b.store.Read(ctx, orgID, "Patient", id)
	if err != nil {
		if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Gone {
			return "", errs.NotFoundf("no Patient/%s", id)
		}
		return "", err
	}
	var p struct {
		BirthDate string `json:"birthDate"`
	}
	if err := json.Unmarshal(st.JSON, &p); err != nil {
		return "", fmt.Errorf("app: read Patient/%s: %w", id, err)
	}
	return p.BirthDate, nil
}
