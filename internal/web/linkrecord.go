package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// linkRecordPage is the data of /account/link-record, where a patient who
// registered on their own ties their account to their record with the
// activation code the clinic gave them and their date of birth.
type linkRecordPage struct {
	// Linked: the account is tied to a record already; no form.
	Linked          bool
	Code, BirthDate string
}

// ownAccountOnly answers the 403 page to anyone but a patient: only a
// patient's own account is tied to a record this way.
func (p *Pages) ownAccountOnly(w http.ResponseWriter, r *http.Request, u *who) bool {
	if u.Account.Role != identity.RolePatient {
		p.errorPage(w, r, http.StatusForbidden, u.l.T("linkrecord.patients_only"))
		return false
	}
	return true
}

func (p *Pages) linkRecordForm(w http.ResponseWriter, r *http.Request, u *who) {
	if !p.ownAccountOnly(w, r, u) {
		return
	}
	p.showLinkRecord(w, r, http.StatusOK, u, linkRecordPage{Linked: u.Account.FHIRRef != ""}, nil)
}

func (p *Pages) showLinkRecord(w http.ResponseWriter, r *http.Request, status int, u *who, f linkRecordPage, e *pweb.FormErrors) {
	d := p.personData(w, r, u, u.l.T("linkrecord.title"), f)
	d.Errors = e
	p.r.Page(w, r, status, "link-record", d)
}

// linkRecord ties the signed-in patient's account to the record of the
// activation code once the date of birth matches (signin.Lifecycle.Link,
// as POST /auth/activate/link): a wrong code or date gets the service's
// one answer and counts as it does there.
func (p *Pages) linkRecord(w http.ResponseWriter, r *http.Request, u *who) {
	if !p.ownAccountOnly(w, r, u) {
		return
	}
	f := linkRecordPage{Code: strings.TrimSpace(r.PostFormValue("code")), BirthDate: strings.TrimSpace(r.PostFormValue("birth_date"))}
	// Empty fields are named at once, and an empty code never counts as a
	// wrong one.
	e := &pweb.FormErrors{}
	required(e, field{"code", f.Code, u.l.T("activate.code.empty")},
		field{"birth_date", f.BirthDate, u.l.T("form.birth_date.empty")})
	if e.Any() {
		p.showLinkRecord(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	err := p.Lifecycle.Link(r.Context(), u.Session, f.Code, f.BirthDate, httpx.RemoteHost(r))
	if err == nil {
		pweb.SetFlash(w, "success", u.l.T("linkrecord.flash.linked"))
		seeOther(w, r, "/account")
		return
	}
	if !expected(err) {
		p.fail(w, r, err)
		return
	}
	// The code's field carries the one answer to a wrong code or date;
	// an account linked meanwhile (Conflict) concerns the whole form.
	on := "code"
	if errs.CodeOf(err) == errs.Conflict {
		on = ""
	}
	p.showLinkRecord(w, r, statusOf(err), u, f, p.formErrors(u.l, err, on))
}
