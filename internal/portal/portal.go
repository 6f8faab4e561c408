// Package portal serves the patient portal: the pages where patients and
// their caregivers see what needs their attention, read their results in
// plain language (the value against its range, a trend of the same test,
// the clinician's comment, what the test is and what to do next), follow
// each test's journey like a parcel with its expected arrival, book,
// reschedule and cancel a follow-up, download their record, and choose
// their language and how pages look.
//
// Pages are server-rendered html/template inside the shared layout of
// internal/platform/web and work without JavaScript on a small phone.
// Every string comes from the message catalog (locales/en.json,
// locales/es.json): the language is the one picked with the switcher on
// every page, else the person's profile, else the browser's.
//
// The portal reads health data only for the patients the access policy
// lets the signed-in person reach (their own record, and the records they
// hold proxy access to), and records every such read in the audit log
// before the page is sent; a page whose read cannot be recorded is not
// shown. Actions (viewed, acknowledged, booked) go through the journey and
// booking services, which audit them in their transactions.
package portal

import (
	"context"
	"database/sql"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

//go:embed templates/*.html locales/*.json
var files embed.FS

// Messages are the portal's words in every language.
var Messages = i18n.Source{FS: files, Dir: "locales"}

// Users finds the person behind a request, as the FHIR API's policy sees
// them; *access.Service is one.
type Users interface {
	Authenticate(r *http.Request) (*fhir.Principal, error)
	OwnPatient(p *fhir.Principal) string
	PatientNames(ctx context.Context, orgID string, ids []string) (map[string]string, error)
}

// Accounts finds signed-in people's accounts.
type Accounts interface {
	ByID(ctx context.Context, orgID, id string) (*identity.Account, error)
}

// Journeys are the tests the portal follows; *journey.Service is one.
type Journeys interface {
	OfPatients(ctx context.Context, orgID string, patients []string, cursor string, count int) ([]journey.Journey, map[string][]journey.Transition, string, error)
	Get(ctx context.Context, orgID, id string) (*journey.Journey, []journey.Transition, error)
	ETAs(ctx context.Context, orgID string, js []*journey.Journey) (map[string]*journey.ETA, error)
	Viewed(ctx context.Context, orgID, id string, by journey.Actor, check journey.Check) error
	Acknowledged(ctx context.Context, orgID, id string, by journey.Actor, check journey.Check) error
	Policy(ctx context.Context, orgID string) (journey.Policy, error)
	Sharing(ctx context.Context, orgID, patientID string) (journey.Sharing, error)
}

// Records reads the FHIR resources behind results; *fhir.Store and
// *fhir.Searcher together are one.
type Records interface {
	Read(ctx context.Context, orgID, typ, id string) (*fhir.Stored, error)
	Search(ctx context.Context, orgID, typ string, params url.Values, lenient bool) (*fhir.SearchResult, error)
	ReferringTo(ctx context.Context, orgID, typ, id string, limit int) ([]*fhir.Stored, error)
}

// Booking books follow-ups; *booking.Service is one.
type Booking interface {
	FollowUps(ctx context.Context, p *fhir.Principal) ([]booking.FollowUp, error)
	FollowUp(ctx context.Context, p *fhir.Principal, orderRef string) (*booking.FollowUp, error)
	Slots(ctx context.Context, p *fhir.Principal, orderRef string, from, to time.Time) ([]booking.Slot, error)
	Slot(ctx context.Context, p *fhir.Principal, orderRef, slotID string) (*booking.Slot, error)
	Book(ctx context.Context, p *fhir.Principal, orderRef, slotID string) (*booking.Appointment, error)
	Reschedule(ctx context.Context, p *fhir.Principal, appointmentID, slotID string) (*booking.Appointment, error)
	Cancel(ctx context.Context, p *fhir.Principal, appointmentID, reason string) (*booking.Appointment, error)
	Appointments(ctx context.Context, p *fhir.Principal) ([]booking.Appointment, error)
	Appointment(ctx context.Context, p *fhir.Principal, id string) (*booking.Appointment, error)
}

// Messages counts a person's unread in-app messages and keeps their
// preferences (language among them); *notify.Service is one.
type Inbox interface {
	Unread(ctx context.Context, orgID string, recipients []string) (int, error)
	Preferences(ctx context.Context, orgID, recipient string) (notify.Preferences, error)
	SetPreferences(ctx context.Context, orgID, recipient string, p notify.Preferences, by string) error
}

// Profiles give a patient's own language: the one they chose, else their
// record's preferred one ("" when neither says).
type Profiles interface {
	Language(ctx context.Context, orgID, patientID string) (string, error)
}

// Config holds what the portal is built on. Every field is needed but
// Booking and Now.
type Config struct {
	Users    Users
	Accounts Accounts
	Journeys Journeys
	// JourneyAudit records the pages that show journeys, as the
	// journeys' JSON API does.
	JourneyAudit journey.Auditor
	Records      Records
	// Audit records every read of FHIR resources the pages show.
	Audit fhir.Auditor
	Inbox Inbox
	// Inboxes says whose in-app messages a person reads.
	Inboxes notify.Inboxes
	// Profiles give a patient's language, when they did not pick one
	// with the switcher.
	Profiles Profiles
	// Booking books follow-ups; nil: no booking pages (the shared
	// navigation still links /appointments).
	Booking Booking
	Log     *slog.Logger
	Now     func() time.Time
}

// funcs are the portal templates' own functions.
var funcs = template.FuncMap{
	// itemData gives the "item" partial a result with the reader's dates
	// and language.
	"itemData": func(it resultItem, d dates, l *i18n.Localizer) itemView { return itemView{it, d, l} },
	"add":      func(a, b int) int { return a + b },
}

// itemView is the data of the "item" partial.
type itemView struct {
	resultItem
	D dates
	L *i18n.Localizer
}

// Pages serves the portal. It is safe for concurrent use.
type Pages struct {
	Config
	r   *pweb.Renderer
	cat *i18n.Catalog
}

// New returns the portal on cfg, or an error when a template or the
// catalog does not parse.
func New(cfg Config) (*Pages, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r, err := pweb.NewRendererFuncs(files, "templates/[a-z]*.html", "templates/_*.html", cfg.Log, funcs)
	if err != nil {
		return nil, err
	}
	cat, err := NewCatalog()
	if err != nil {
		return nil, err
	}
	return &Pages{Config: cfg, r: r, cat: cat}, nil
}

// NewCatalog returns the catalog of the portal's pages: the layout's
// messages and the portal's.
func NewCatalog() (*i18n.Catalog, error) { return i18n.New(pweb.Messages, Messages) }

// Catalog returns the portal's message catalog.
func (p *Pages) Catalog() *i18n.Catalog { return p.cat }

// Register adds the portal's pages and actions to mux.
func (p *Pages) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /lang", p.switchLanguage)
	mux.HandleFunc("GET /home", p.with(p.home))
	mux.HandleFunc("GET /results", p.with(p.results))
	mux.HandleFunc("GET /results/{id}", p.with(p.result))
	mux.HandleFunc("POST /results/{id}/acknowledge", p.with(p.acknowledge))
	mux.HandleFunc("GET /account/display", p.with(p.display))
	mux.HandleFunc("POST /account/display", p.with(p.setDisplay))
	mux.HandleFunc("GET /account/data", p.with(p.data))
	mux.HandleFunc("GET /account/data/record.json", p.with(p.downloadRecord))
	mux.HandleFunc("GET /account/data/summary", p.with(p.summary))
	if p.Booking != nil {
		mux.HandleFunc("GET /book", p.with(p.chooseSlot))
		mux.HandleFunc("GET /book/confirm", p.with(p.confirmSlot))
		mux.HandleFunc("POST /book", p.with(p.book))
		mux.HandleFunc("GET /appointments", p.with(p.appointments))
		mux.HandleFunc("GET /appointments/{id}", p.with(p.appointment))
		mux.HandleFunc("POST /appointments/{id}/cancel", p.with(p.cancel))
	}
}

// person is the signed-in patient or caregiver a page is shown to.
type person struct {
	p       *fhir.Principal
	account *identity.Account
	// own is the person's own patient id ("" for a caregiver without a
	// record); reach lists every patient whose results they see.
	own   string
	reach []string
	names map[string]string // patient id → name, for caregivers' pages
	l     *i18n.Localizer
	// display are the reader's display choices.
	display pweb.Display
}

// Several reports whether the person sees a record not their own, or
// more than one, so that pages say whose each result is.
func (u *person) Several() bool { return len(u.reach) > 1 || len(u.reach) == 1 && u.reach[0] != u.own }

// caregiver reports whether the person signed in as a caregiver.
func (u *person) caregiver() bool { return u.p.Role == string(identity.RoleCaregiver) }

// Name returns the name of patient id, for pages that list several records.
func (u *person) Name(id string) string {
	if n := u.names[id]; n != "" {
		return n
	}
	return id
}

// with runs h for a signed-in patient or caregiver. Anyone not signed in
// goes to the sign-in page, which returns here; staff get the 403 page:
// the portal is for patients and those who care for them.
func (p *Pages) with(h func(w http.ResponseWriter, r *http.Request, u *person)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		pr, err := p.Users.Authenticate(r)
		if err != nil || pr == nil || pr.Kind != "user" {
			if err != nil && errs.CodeOf(err) != errs.Unauthorized {
				p.fail(w, r, nil, err)
				return
			}
			http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		u := &person{p: pr, own: p.Users.OwnPatient(pr), display: pweb.DisplayOf(r)}
		if pr.Role != string(identity.RolePatient) && pr.Role != string(identity.RoleCaregiver) {
			u.l = p.cat.Negotiate(r, "")
			p.fail(w, r, u, errs.Forbiddenf("%s", u.l.T("error.staff")))
			return
		}
		if u.account, err = p.Accounts.ByID(r.Context(), pr.OrgID, strings.TrimPrefix(pr.Subject, "account/")); err != nil {
			p.fail(w, r, nil, err)
			return
		}
		u.reach = journey.ReachOf(pr).List
		profile := ""
		if u.own != "" {
			if profile, err = p.Profiles.Language(r.Context(), pr.OrgID, u.own); err != nil {
				p.fail(w, r, nil, err)
				return
			}
		}
		u.l = p.cat.Negotiate(r, profile)
		if u.Several() {
			if u.names, err = p.Users.PatientNames(r.Context(), pr.OrgID, u.reach); err != nil {
				p.fail(w, r, u, err)
				return
			}
		}
		h(w, r, u)
	}
}

// page renders a portal page for u.
func (p *Pages) page(w http.ResponseWriter, r *http.Request, u *person, status int, name, title string, body any, e *pweb.FormErrors) {
	nav := pweb.PatientNav(u.l, r.URL.Path)
	p.r.Page(w, r, status, name, pweb.Data{Title: title, SignedIn: true, Nav: nav, Flash: pweb.TakeFlash(w, r),
		Errors: e, Body: body, L: u.l, Class: u.display.Class(), Home: "/home", Switch: pweb.NewSwitch("/lang", r, u.l)})
}

// fail answers an error with the error page in the reader's language.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, u *person, err error) {
	status := errs.HTTPStatus(errs.CodeOf(err))
	if status >= 500 {
		p.Log.Error("portal: page failed", "path", r.URL.Path, "request_id", httpx.RequestID(r.Context()), "err", err)
	}
	l := p.cat.Negotiate(r, "")
	if u != nil && u.l != nil {
		l = u.l
	}
	title, message := l.T("error.title"), errs.MessageOf(err)
	switch {
	case status == http.StatusNotFound:
		title, message = l.T("error.notfound.title"), l.T("error.notfound")
	case status == http.StatusForbidden:
		title = l.T("error.forbidden.title")
	case status >= 500 || message == "":
		message = l.T("error.internal")
	}
	data := pweb.Data{Title: title, Body: failure{Message: message, RequestID: httpx.RequestID(r.Context())}, L: l,
		Home: "/home", Switch: pweb.NewSwitch("/lang", r, l)}
	if u != nil {
		data.Class = u.display.Class()
	}
	p.r.Page(w, r, status, "failure", data)
}

type failure struct{ Message, RequestID string }

// checkJourney is the check of a portal action on a journey: it must be
// of a patient u reaches (else it is not found), and the action is
// recorded in its transaction.
func (p *Pages) checkJourney(ctx context.Context, u *person, what string) journey.Check {
	return func(tx *sql.Tx, j *journey.Journey) error {
		if !u.reaches(j.PatientID) {
			return errs.NotFoundf("journey %s is not known", j.ID)
		}
		return p.JourneyAudit.RecordTx(ctx, tx, u.p, journey.Access{Action: "update", What: what, Journeys: []string{j.ID}, Patients: []string{j.PatientID}})
	}
}

func (u *person) reaches(patientID string) bool {
	for _, id := range u.reach {
		if id == patientID {
			return true
		}
	}
	return false
}
