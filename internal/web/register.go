package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// registerPage is the data of /register: a patient's own registration,
// without a code from the clinic.
type registerPage struct {
	orgField
	Name, BirthDate, Email string
}

func (p *Pages) registerForm(w http.ResponseWriter, r *http.Request) {
	of, err := p.orgChoice(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showRegister(w, r, http.StatusOK, registerPage{orgField: of}, nil)
}

func (p *Pages) showRegister(w http.ResponseWriter, r *http.Request, status int, f registerPage, e *pweb.FormErrors) {
	p.r.Page(w, r, status, "register", p.publicData(w, r, p.lang(r), "register.title", f, e))
}

// register asks the service to register the patient and answers with the
// same page whether or not the email has an account already: the service
// does the same work either way and tells an existing account's owner by
// email.
func (p *Pages) register(w http.ResponseWriter, r *http.Request) {
	of, err := p.orgChoice(r.Context(), strings.TrimSpace(r.PostFormValue("org")))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f := registerPage{orgField: of, Name: strings.TrimSpace(r.PostFormValue("name")),
		BirthDate: strings.TrimSpace(r.PostFormValue("birth_date")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	pass := r.PostFormValue("password")
	l := p.lang(r)
	e := &pweb.FormErrors{}
	required(e, field{"org", f.Org, l.T("form.org.empty")}, field{"name", f.Name, l.T("form.name.empty")},
		field{"birth_date", f.BirthDate, l.T("form.birth_date.empty")}, field{"email", f.Email, l.T("form.email.empty")},
		field{"password", pass, l.T("form.new_password.empty")})
	if e.Any() {
		p.showRegister(w, r, http.StatusBadRequest, f, e)
		return
	}
	org, err := p.orgBySlug(r.Context(), f.Org, unknownOrg(l, f.Org))
	if err == nil {
		err = p.Lifecycle.Register(r.Context(), org, signin.Registration{Email: f.Email, Password: pass, Name: f.Name,
			BirthDate: f.BirthDate, Address: httpx.RemoteHost(r)})
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showRegister(w, r, statusOf(err), f, p.formErrors(l, err, ""))
		return
	}
	seeOther(w, r, "/register/sent")
}

// sentPage is the data of the answer to a registration or a recovery
// request: the same whatever happened, so that it tells nobody whether an
// account exists.
type sentPage struct {
	Message, Next string
}

func (p *Pages) registerSent(w http.ResponseWriter, r *http.Request) {
	l := p.lang(r)
	p.r.Page(w, r, http.StatusOK, "sent", p.publicData(w, r, l, "sent.title", sentPage{
		Message: l.T("register.sent"), Next: l.T("register.sent.next")}, nil))
}
