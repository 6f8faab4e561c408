package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// matchers may match self-registered patients to their records: the
// roles GET /auth/registrations and POST /auth/registrations/{id}/link
// allow (signin's lifecycle_http.go), with a second factor verified in the
// session (withRole).
var matchers = []identity.Role{identity.RoleAdmin, identity.RoleCoordinator}

// registrationsPage is the data of /staff/registrations: the patients who
// registered on their own and wait to be matched to their record.
type registrationsPage struct {
	Waiting []registrationRow
	// Failed is the account whose form was sent, with the Patient typed,
	// shown again with its error.
	Failed, Patient string
}

type registrationRow struct {
	ID, Name, Email, BirthDate, Registered string
	Verified                               bool
}

// registrationField is the id of the Patient field of an account's form.
func registrationField(accountID string) string { return "patient-" + accountID }

func (p *Pages) registrations(w http.ResponseWriter, r *http.Request, u *who) {
	p.showRegistrations(w, r, http.StatusOK, u, registrationsPage{}, nil)
}

// showRegistrations lists the waiting registrations (signin.Lifecycle's
// Registrations, as the JSON API does) with f's values and errors. An
// error on the form of an account no longer waiting moves to the top of
// the page.
func (p *Pages) showRegistrations(w http.ResponseWriter, r *http.Request, status int, u *who, f registrationsPage, e *pweb.FormErrors) {
	list, err := p.Lifecycle.Registrations(r.Context(), u.Session.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	failedListed := false
	for _, g := range list {
		f.Waiting = append(f.Waiting, registrationRow{ID: g.Account.ID, Name: g.Account.DisplayName, Email: g.Account.Email,
			BirthDate: g.BirthDate, Registered: showTime(g.CreatedAt), Verified: g.Verified})
		failedListed = failedListed || g.Account.ID == f.Failed
	}
	if f.Failed != "" && !failedListed && e.Any() {
		for i := range e.List {
			e.List[i].Field = ""
		}
	}
	d := p.data(w, r, "Match registrations to records", f)
	d.Errors = e
	p.r.Page(w, r, status, "registrations", d)
}

// linkRegistration matches a waiting account to the Patient typed in its
// form (signin.Lifecycle.LinkRegistration, which checks the email is
// verified, the record exists and has no account, and the dates of birth
// agree, and emails the person), then lists the rest.
func (p *Pages) linkRegistration(w http.ResponseWriter, r *http.Request, u *who) {
	id := r.PathValue("id")
	f := registrationsPage{Failed: id, Patient: strings.TrimSpace(r.PostFormValue("patient"))}
	e := &pweb.FormErrors{}
	if f.Patient == "" {
		e.Add(registrationField(id), "Enter the id of this person's Patient record, like Patient/3f2a… or just the id.")
		p.showRegistrations(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	org, err := p.orgByID(r.Context(), u.Session.OrgID)
	if err == nil {
		err = p.Lifecycle.LinkRegistration(r.Context(), org, id, f.Patient)
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		e.Add(registrationField(id), errs.MessageOf(err))
		p.showRegistrations(w, r, statusOf(err), u, f, e)
		return
	}
	person := "The account"
	if a, err := p.Accounts.ByID(r.Context(), u.Session.OrgID, id); err == nil {
		person = a.DisplayName + "’s account (" + a.Email + ")"
	}
	pweb.SetFlash(w, "success", person+" is linked to "+canonicalPatient(f.Patient)+". We emailed them that they can see their record.")
	seeOther(w, r, "/staff/registrations")
}

// canonicalPatient returns a Patient id as Patient/ID.
func canonicalPatient(s string) string { return "Patient/" + strings.TrimPrefix(s, "Patient/") }
