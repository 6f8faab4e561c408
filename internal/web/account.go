package web

import (
	"net/http"
	"slices"

	"github.com/careloop/careloop/internal/identity"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// accountPage is the data of /account.
type accountPage struct {
	Name, Email string
	// Role is the person's role in their language; RoleCode is its code
	// (identity.Role), which the page tests.
	Role, RoleCode  string
	Since           string
	TOTP            bool
	RecoveryCodes   int
	Passkeys        int
	HasSecondFactor bool
	// Lifecycle: email verification and change are on.
	Lifecycle     bool
	EmailVerified bool
	// StepUp: changing the email needs a fresh second factor first.
	StepUp bool
	// NewEmail is the address typed in the change form, shown again with
	// its error.
	NewEmail string
	// Staff are the staff pages the person's role opens.
	Staff []staffLink
	// Person: the account is a patient's or a caregiver's; Patient: a
	// patient's; RecordLinked: it is tied to their record. A patient
	// without one is offered /account/link-record.
	Person, Patient, RecordLinked bool
	// Messages links to the inbox with its unread count; nil without one.
	Messages *accountMessages
}

// account shows who the person is, their role and their factors, and
// links their other pages (a patient's or caregiver's include the portal's
// display and download pages). Staff who must enroll a second factor are
// sent to do so first.
func (p *Pages) account(w http.ResponseWriter, r *http.Request, u *who) {
	p.showAccount(w, r, http.StatusOK, u, "", nil)
}

// showAccount renders the account page with the email change form's
// value and errors.
func (p *Pages) showAccount(w http.ResponseWriter, r *http.Request, status int, u *who, newEmail string, e *pweb.FormErrors) {
	if u.MustEnroll() {
		seeOther(w, r, "/account/security")
		return
	}
	a := u.Account
	name := a.DisplayName
	if name == "" {
		name = a.Email
	}
	v := accountPage{
		Name: name, Email: a.Email, Role: roleIn(u.l, a.Role), RoleCode: string(a.Role), Since: when(u.l, a.CreatedAt),
		TOTP: u.Factors.TOTP, RecoveryCodes: u.Factors.RecoveryCodes, Passkeys: len(u.Passkeys), HasSecondFactor: u.HasSecondFactor(),
		Lifecycle: p.Lifecycle != nil, StepUp: u.StepUpNeeded(), NewEmail: newEmail,
		Person: !isStaff(a.Role), Patient: a.Role == identity.RolePatient, RecordLinked: a.FHIRRef != "",
	}
	if p.Lifecycle != nil {
		v.Staff = staffLinks(a.Role)
		at, err := p.Lifecycle.Accounts.EmailVerifiedAt(r.Context(), a.OrgID, a.ID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		v.EmailVerified = !at.IsZero()
	}
	if p.resultsServed() && slices.Contains(resultsTeam, a.Role) {
		v.Staff = append([]staffLink{{"/staff/results", "Results inbox"}}, v.Staff...)
	}
	messages, links, err := p.accountNotify(r, u)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Messages, v.Staff = messages, append(v.Staff, links...)
	d := p.personData(w, r, u, u.l.T("account.title"), v)
	d.Errors = e
	p.r.Page(w, r, status, "account", d)
}
