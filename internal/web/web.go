// Package web serves careloop's pages for people: signing in (password,
// second factor, passkey), the account, its security (authenticator app,
// recovery codes, passkeys) and its sessions, and getting and recovering
// an account (invitation, activation code, registration, email
// verification, recovery by email link), and messages: the patient's
// inbox and how they are contacted, the links in messages, the care
// team's delivery pages and the administrators' texts and providers.
// Pages are rendered on the server with html/template inside the shared
// layout of internal/platform/web and work without JavaScript, except
// passkeys, which need the browser's WebAuthn API (static/passkey.js).
//
// Each page or action is one small file with its handler and one template
// in templates/; a new page is one more of each plus one line in Register.
// Pages call the services (signin.Service, signin.Lifecycle, the stores)
// directly, never the JSON API; only passkey.js, running in the browser,
// calls the passkey routes of /auth.
package web

import (
	"context"
	"embed"
	"log/slog"
	"net/http"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

//go:embed templates/*.html static/* locales/*.json
var files embed.FS

// Orgs finds organisations.
type Orgs interface {
	BySlug(ctx context.Context, slug string) (*tenant.Organization, error)
	List(ctx context.Context) ([]tenant.Organization, error)
}

// Passkeys runs WebAuthn ceremonies and manages people's passkeys;
// *identity.Passkeys is one.
type Passkeys interface {
	signin.PasskeyService
	BeginSecondFactor(ctx context.Context, a *identity.Account) (*identity.PasskeyCeremony, error)
	FinishSecondFactor(ctx context.Context, a *identity.Account, ceremonyID string, response []byte) (*identity.PasskeySignIn, error)
	Rename(ctx context.Context, orgID, accountID, id, name string) error
}

// Config holds what the pages are built on.
type Config struct {
	// SignIn checks passwords and second factors and holds the session
	// store and the throttle.
	SignIn   *signin.Service
	Orgs     Orgs
	Accounts signin.AccountsByID
	// Enroll enrolls authenticator apps and makes recovery codes.
	Enroll signin.Enrollment
	// Passkeys is nil when passkeys are off (a base URL without a host
	// name): the pages then offer none.
	Passkeys Passkeys
	// Lifecycle is how people get and recover accounts: invitations,
	// activation codes, registration, email verification and recovery.
	// When nil those pages are not served.
	Lifecycle *signin.Lifecycle
	Cookies   session.Cookies
	Log       *slog.Logger
	// Access applies the rules of proxy access and break-glass, and finds
	// the person behind a request as the FHIR API does. When nil the
	// access pages (/account/access, /account/record-access,
	// /staff/emergency-access) are not served.
	Access AccessRules
	// AuditLog is searched for "who looked at my record", and records
	// each such read; needed with Access.
	AuditLog AuditLog
	// Journeys are the results the care team's pages (/staff/results)
	// list and act on. With Access and JourneyAudit; when any is nil
	// those pages are not served.
	Journeys Journeys
	// JourneyAudit records every page view that shows journeys (failing
	// the page when it cannot) and every action on one (in the action's
	// transaction), as it does for the journeys' JSON API.
	JourneyAudit journey.Auditor
	// Notify is careloop's notification service. With it the links of
	// messages (/n/) are served; with Access, Inboxes and NotifyAudit too,
	// the inbox and preferences (/account/messages,
	// /account/notifications), the care team's message pages
	// (/staff/messages) and the administrators' texts (/staff/notify).
	Notify Notifications
	// NotifyProviders are the organisations' email and SMS providers, for
	// /staff/notify/providers (not served when nil).
	NotifyProviders NotifyProviders
	// Inboxes says whose in-app messages a signed-in person reads.
	Inboxes notify.Inboxes
	// Profiles give a patient's own language (chosen, else their
	// record's), as the portal reads it; nil: the language of their
	// message preferences only.
	Profiles Profiles
	// NotifyAudit records every page view that shows patients' messages
	// (failing the page when it cannot) and every retry, as it does for
	// the notifications' JSON API.
	NotifyAudit notify.Auditor
}

// Profiles give a patient's own language ("" when none is known).
type Profiles interface {
	Language(ctx context.Context, orgID, patientID string) (string, error)
}

// AccessRules are the rules of proxy access and break-glass for a
// signed-in person; *access.Service implements them.
type AccessRules interface {
	Authenticate(r *http.Request) (*fhir.Principal, error)
	OwnPatient(p *fhir.Principal) string
	GrantProxy(ctx context.Context, p *fhir.Principal, in access.ProxyGrant) (*access.Proxy, error)
	ListProxies(ctx context.Context, p *fhir.Principal, patient string) ([]access.Proxy, error)
	RevokeProxy(ctx context.Context, p *fhir.Principal, id string) error
	BreakGlass(ctx context.Context, p *fhir.Principal, patient, reason, address string) (*access.BreakGlass, error)
	OpenBreakGlass(ctx context.Context, p *fhir.Principal) ([]access.BreakGlass, error)
	BreakGlassLog(ctx context.Context, p *fhir.Principal, unreviewed bool) ([]access.BreakGlass, error)
	ReviewBreakGlass(ctx context.Context, p *fhir.Principal, id, note string) error
	PatientNames(ctx context.Context, orgID string, ids []string) (map[string]string, error)
}

// AuditLog finds the entries about a patient and records reads of the
// log; *audit.Log is one.
type AuditLog interface {
	Search(ctx context.Context, q audit.Query) ([]audit.Found, error)
	Record(ctx context.Context, entries ...audit.Entry) error
}

// Pages serves the sign-in and account pages. It is safe for concurrent
// use.
type Pages struct {
	Config
	r *pweb.Renderer
	// cat speaks the public pages' words (sign-in, second factor,
	// activation, registration, verification, recovery) in the reader's
	// language; english maps the English texts of its flash and service
	// messages to their keys (see lang.go).
	cat     *i18n.Catalog
	english map[string]string
}

// New returns the pages on cfg, or an error when a template or the
// message catalog does not parse.
func New(cfg Config) (*Pages, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r, err := pweb.NewRenderer(files, "templates/[a-z]*.html", "templates/_*.html", cfg.Log)
	if err != nil {
		return nil, err
	}
	cat, err := NewCatalog()
	if err != nil {
		return nil, err
	}
	return &Pages{Config: cfg, r: r, cat: cat, english: englishKeys(cat)}, nil
}

// Register adds the pages, their actions and their static files to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	pweb.RegisterStatic(mux)
	mux.HandleFunc("GET /static/passkey.js", p.script)

	mux.HandleFunc("GET /signin", p.signInPage)
	mux.HandleFunc("POST /signin", p.signIn)
	mux.HandleFunc("GET /signin/factor", p.factorPage)
	mux.HandleFunc("POST /signin/factor", p.factor)
	mux.HandleFunc("POST /signin/factor/passkey/begin", p.passkeyFactorBegin)
	mux.HandleFunc("POST /signin/factor/passkey/finish", p.passkeyFactorFinish)
	mux.HandleFunc("POST /signout", p.signOut)

	mux.HandleFunc("GET /account", p.withSession(p.account))
	mux.HandleFunc("GET /account/security", p.withSession(p.security))
	mux.HandleFunc("POST /account/security/confirm", p.withSession(p.stepUpConfirm))
	mux.HandleFunc("POST /account/security/totp", p.withSession(p.totpBegin))
	mux.HandleFunc("POST /account/security/totp/confirm", p.withSession(p.totpConfirm))
	mux.HandleFunc("POST /account/security/recovery-codes", p.withSession(p.recoveryCodes))
	mux.HandleFunc("POST /account/security/passkeys/{id}/rename", p.withSession(p.passkeyRename))
	mux.HandleFunc("POST /account/security/passkeys/{id}/remove", p.withSession(p.passkeyRemove))
	mux.HandleFunc("GET /account/sessions", p.withSession(p.sessions))
	mux.HandleFunc("POST /account/sessions/{id}/end", p.withSession(p.endSession))
	mux.HandleFunc("POST /account/sessions/end-others", p.withSession(p.endOthers))

	if p.Access != nil && p.AuditLog != nil {
		mux.HandleFunc("GET /account/access", p.withPerson(p.proxyAccess))
		mux.HandleFunc("POST /account/access", p.withPerson(p.grantProxy))
		mux.HandleFunc("POST /account/access/{id}/revoke", p.withPerson(p.revokeProxy))
		mux.HandleFunc("GET /account/record-access", p.withPerson(p.recordAccess))
		mux.HandleFunc("GET /staff/emergency-access", p.withRole(breakGlassers, p.emergencyAccess))
		mux.HandleFunc("POST /staff/emergency-access", p.withRole(breakGlassers, p.breakGlass))
		mux.HandleFunc("GET /staff/emergency-access/review", p.withRole(reviewers, p.emergencyReview))
		mux.HandleFunc("POST /staff/emergency-access/review/{id}", p.withRole(reviewers, p.reviewEmergency))
	}

	if p.resultsServed() {
		mux.HandleFunc("GET /staff/results", p.withRole(resultsTeam, p.resultsInbox))
		mux.HandleFunc("GET /staff/results/{id}", p.withRole(resultsTeam, p.result))
		mux.HandleFunc("POST /staff/results/{id}/acknowledge", p.withRole(resultsTeam, p.acknowledgeResult))
		mux.HandleFunc("POST /staff/results/{id}/comment", p.withRole(resultsTeam, p.commentResult))
		mux.HandleFunc("POST /staff/results/{id}/release", p.withRole(resultsTeam, p.releaseResult))
		mux.HandleFunc("POST /staff/results/{id}/hold", p.withRole(resultsTeam, p.holdResult))
	}

	p.registerNotify(mux)

	if p.Lifecycle == nil {
		return
	}
	mux.HandleFunc("GET /invitation", p.invitationForm)
	mux.HandleFunc("POST /invitation", p.acceptInvitation)
	mux.HandleFunc("GET /activate", p.activateForm)
	mux.HandleFunc("POST /activate", p.activate)
	mux.HandleFunc("GET /register", p.registerForm)
	mux.HandleFunc("POST /register", p.register)
	mux.HandleFunc("GET /register/sent", p.registerSent)
	mux.HandleFunc("GET /verify-email", p.verifyEmailForm)
	mux.HandleFunc("POST /verify-email", p.verifyEmail)
	mux.HandleFunc("GET /recovery", p.recoveryForm)
	mux.HandleFunc("POST /recovery", p.requestRecovery)
	mux.HandleFunc("GET /recovery/sent", p.recoverySent)
	mux.HandleFunc("POST /recovery/reset", p.resetPassword)
	mux.HandleFunc("POST /account/email", p.withSession(p.changeEmail))
	mux.HandleFunc("POST /account/email/resend", p.withSession(p.resendVerification))
	mux.HandleFunc("GET /staff/invitations", p.withRole(inviters, p.invitations))
	mux.HandleFunc("POST /staff/invitations", p.withRole(inviters, p.invite))
	mux.HandleFunc("POST /staff/invitations/{id}/revoke", p.withRole(inviters, p.revokeInvitation))
	mux.HandleFunc("GET /staff/activation-codes", p.withRole(codeMakers, p.activationCodes))
	mux.HandleFunc("POST /staff/activation-codes", p.withRole(codeMakers, p.makeActivationCode))
	mux.HandleFunc("GET /account/link-record", p.withSession(p.linkRecordForm))
	mux.HandleFunc("POST /account/link-record", p.withSession(p.linkRecord))
	mux.HandleFunc("GET /staff/registrations", p.withRole(matchers, p.registrations))
	mux.HandleFunc("POST /staff/registrations/{id}/link", p.withRole(matchers, p.linkRegistration))
}

// registerNotify adds the pages about messages: the links of messages,
// the inbox and preferences, the care team's and the administrators'
// pages.
func (p *Pages) registerNotify(mux *http.ServeMux) {
	if p.Notify == nil {
		return
	}
	mux.HandleFunc("GET /n/{token}", p.openLink)
	mux.HandleFunc("GET /n/{token}/unsubscribe", p.unsubscribeForm)
	mux.HandleFunc(UnsubscribeRoute, p.unsubscribe)
	if !p.notifyServed() {
		return
	}
	mux.HandleFunc("GET /account/messages", p.withSession(p.inbox))
	mux.HandleFunc("GET /account/messages/{id}", p.withSession(p.inboxMessage))
	mux.HandleFunc("GET /account/notifications", p.withSession(p.notifyPrefs))
	mux.HandleFunc("POST /account/notifications", p.withSession(p.setNotifyPrefs))
	mux.HandleFunc("GET /staff/messages", p.withRole(messageReaders, p.staffMessages))
	mux.HandleFunc("GET /staff/messages/{id}", p.withRole(messageReaders, p.staffMessage))
	mux.HandleFunc("POST /staff/messages/{id}/retry", p.withRole(messageReaders, p.retryMessage))
	mux.HandleFunc("GET /staff/patients/{id}/messages", p.withRole(messageReaders, p.patientMessages))
	mux.HandleFunc("GET /staff/notify/suppressions", p.withRole(messageSenders, p.suppressions))
	mux.HandleFunc("POST /staff/notify/suppressions/lift", p.withRole(suppressionLift, p.liftSuppression))
	mux.HandleFunc("GET /staff/notify/templates", p.withRole(notifyAdmins, p.notifyTexts))
	mux.HandleFunc("GET /staff/notify/templates/edit", p.withRole(notifyAdmins, p.notifyText))
	mux.HandleFunc("POST /staff/notify/templates/edit", p.withRole(notifyAdmins, p.editNotifyText))
	if p.NotifyProviders != nil {
		mux.HandleFunc("GET /staff/notify/providers", p.withRole(notifyAdmins, p.notifyProviders))
		mux.HandleFunc("POST /staff/notify/providers/{channel}", p.withRole(notifyAdmins, p.setProvider))
		mux.HandleFunc("POST /staff/notify/providers/{channel}/remove", p.withRole(notifyAdmins, p.removeProvider))
		mux.HandleFunc("POST /staff/notify/providers/{channel}/test", p.withRole(notifyAdmins, p.testProvider))
	}
}

// resultsServed reports whether the care team's results pages are served.
func (p *Pages) resultsServed() bool {
	return p.Access != nil && p.Journeys != nil && p.JourneyAudit != nil
}

// ErrorRenderer answers errors the HTTP chain renders (unknown pages,
// wrong methods, cross-origin refusals, panics) with the friendly error
// page when a browser asks, and with fallback otherwise.
func (p *Pages) ErrorRenderer(fallback httpx.ErrorRenderer) httpx.ErrorRenderer {
	return p.r.ErrorRenderer(fallback)
}

func (p *Pages) script(w http.ResponseWriter, r *http.Request) {
	b, err := files.ReadFile("static/passkey.js")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	pweb.ServeAsset(w, "text/javascript; charset=utf-8", b)
}

// seeOther redirects after a form post, so that reloading the next page
// does not post again.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// fail answers an error with the error page: the status of its code and
// its safe message, in the reader's language on a patient's or
// caregiver's page (see errorPage). Unexpected errors are logged with the
// request id.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := errs.HTTPStatus(errs.CodeOf(err))
	if status >= 500 {
		p.Log.Error("web: page failed", "path", r.URL.Path, "request_id", httpx.RequestID(r.Context()), "err", err)
	}
	p.errorPage(w, r, status, errs.MessageOf(err))
}
