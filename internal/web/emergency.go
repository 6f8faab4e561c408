package web

import (
	"cmp"
	"context"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// Who may use the emergency-access pages: the roles the policy lets break
// the glass, and the compliance officers who review it.
var (
	breakGlassers = []identity.Role{identity.RoleClinician, identity.RoleNurse, identity.RoleTechnician}
	reviewers     = []identity.Role{identity.RoleCompliance}
)

// emergencyPage is the data of /staff/emergency-access: the form and the
// person's open emergency accesses.
type emergencyPage struct {
	Open []breakGlassRow
	// The form's values, shown again with its errors.
	Patient, Reason string
}

// breakGlassRow is one emergency access as the pages show it.
type breakGlassRow struct {
	ID, Patient, Who, Role, Reason, Since, Until, Address string
}

func (p *Pages) emergencyAccess(w http.ResponseWriter, r *http.Request, u *who) {
	p.showEmergency(w, r, http.StatusOK, u, emergencyPage{}, nil)
}

func (p *Pages) showEmergency(w http.ResponseWriter, r *http.Request, status int, u *who, f emergencyPage, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	open, err := p.Access.OpenBreakGlass(r.Context(), pr)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f.Open, err = p.breakGlassRows(r.Context(), u.Account.OrgID, open); err != nil {
		p.fail(w, r, err)
		return
	}
	d := p.data(w, r, "Emergency access", f)
	d.Errors = e
	p.r.Page(w, r, status, "emergency-access", d)
}

// breakGlass opens a patient's record to the person for an hour, for the
// reason they state.
func (p *Pages) breakGlass(w http.ResponseWriter, r *http.Request, u *who) {
	f := emergencyPage{Patient: strings.TrimSpace(r.PostFormValue("patient")), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	e := &pweb.FormErrors{}
	if f.Patient == "" {
		e.Add("patient", "Enter the patient's record id (Patient id).")
	}
	if f.Reason == "" {
		e.Add("reason", "State why you need emergency access, in a sentence.")
	}
	if e.Any() {
		p.showEmergency(w, r, http.StatusBadRequest, u, f, e)
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	b, err := p.Access.BreakGlass(r.Context(), pr, f.Patient, f.Reason, httpx.RemoteHost(r))
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showEmergency(w, r, statusOf(err), u, f, pweb.FromError(err, "patient"))
		return
	}
	pweb.SetFlash(w, "info", "Emergency access to Patient/"+b.PatientID+" is open until "+showTime(b.ExpiresAt)+
		". It is recorded, and a compliance officer will review it.")
	seeOther(w, r, "/staff/emergency-access")
}

// breakGlassRows names the people and patients of emergency accesses.
func (p *Pages) breakGlassRows(ctx context.Context, orgID string, list []access.BreakGlass) ([]breakGlassRow, error) {
	ids := make([]string, 0, len(list))
	for _, b := range list {
		ids = append(ids, b.PatientID)
	}
	names, err := p.Access.PatientNames(ctx, orgID, ids)
	if err != nil {
		return nil, err
	}
	people := accountNames{p: p, orgID: orgID}
	out := make([]breakGlassRow, 0, len(list))
	for _, b := range list {
		who, err := people.name(ctx, b.AccountID)
		if err != nil {
			return nil, err
		}
		patient := "Patient/" + b.PatientID
		if n := names[b.PatientID]; n != "" {
			patient = n + " (" + patient + ")"
		}
		out = append(out, breakGlassRow{ID: b.ID, Patient: patient, Who: who, Role: cmp.Or(roleName(identity.Role(b.Role)), b.Role),
			Reason: b.Reason, Since: showTime(b.CreatedAt), Until: showTime(b.ExpiresAt), Address: b.Address})
	}
	return out, nil
}
