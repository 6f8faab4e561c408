package web

import (
	"net/http"
	"strings"

	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// activationCodesPage is the data of /staff/activation-codes: the form
// for a Patient id and, once, the code made for it.
type activationCodesPage struct {
	Patient string
	Made    *signin.ActivationCode
	Expires string
}

func (p *Pages) activationCodes(w http.ResponseWriter, r *http.Request, u *who) {
	p.showActivationCodes(w, r, http.StatusOK, activationCodesPage{}, nil)
}

func (p *Pages) showActivationCodes(w http.ResponseWriter, r *http.Request, status int, f activationCodesPage, e *pweb.FormErrors) {
	d := p.data(w, r, "Activation codes", f)
	d.Errors = e
	p.r.Page(w, r, status, "activation-codes", d)
}

// makeActivationCode makes a code for a Patient record and shows it once,
// to print or read out; it replaces the record's earlier open code.
func (p *Pages) makeActivationCode(w http.ResponseWriter, r *http.Request, u *who) {
	f := activationCodesPage{Patient: strings.TrimSpace(r.PostFormValue("patient"))}
	if f.Patient == "" {
		e := &pweb.FormErrors{}
		e.Add("patient", "Enter the patient's record id, like Patient/3f2a… or just the id.")
		p.showActivationCodes(w, r, http.StatusBadRequest, f, e)
		return
	}
	c, err := p.Lifecycle.CreateActivationCode(r.Context(), u.Session.OrgID, f.Patient, u.Account.ID)
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showActivationCodes(w, r, statusOf(err), f, pweb.FromError(err, "patient"))
		return
	}
	p.showActivationCodes(w, r, http.StatusOK, activationCodesPage{Made: c, Expires: showTime(c.ExpiresAt)}, nil)
}
