package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// activatePage is the data of /activate, where a patient opens their
// account with the code the clinic gave them. The password is never
// shown again.
type activatePage struct {
	orgField
	Code, BirthDate, Name, Email string
}

func (p *Pages) activateForm(w http.ResponseWriter, r *http.Request) {
	of, err := p.orgChoice(r.Context(), r.URL.Query().Get("org"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showActivate(w, r, http.StatusOK, activatePage{orgField: of}, nil)
}

func (p *Pages) showActivate(w http.ResponseWriter, r *http.Request, status int, f activatePage, e *pweb.FormErrors) {
	p.r.Page(w, r, status, "activate", p.publicData(w, r, p.lang(r), "activate.title", f, e))
}

// activate opens the patient's account and signs them in. A wrong code
// and a wrong date of birth get the service's one answer; a second factor
// is then offered on the account page, not required.
func (p *Pages) activate(w http.ResponseWriter, r *http.Request) {
	of, err := p.orgChoice(r.Context(), strings.TrimSpace(r.PostFormValue("org")))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f := activatePage{orgField: of, Code: strings.TrimSpace(r.PostFormValue("code")), BirthDate: strings.TrimSpace(r.PostFormValue("birth_date")),
		Name: strings.TrimSpace(r.PostFormValue("name")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	pass := r.PostFormValue("password")
	// Empty fields are named all at once, and an empty code never counts
	// as a wrong one.
	l := p.lang(r)
	e := &pweb.FormErrors{}
	required(e, field{"org", f.Org, l.T("form.org.empty")},
		field{"code", f.Code, l.T("activate.code.empty")},
		field{"birth_date", f.BirthDate, l.T("form.birth_date.empty")},
		field{"name", f.Name, l.T("form.name.empty")},
		field{"email", f.Email, l.T("form.email.empty")},
		field{"password", pass, l.T("form.new_password.empty")})
	if e.Any() {
		p.showActivate(w, r, http.StatusBadRequest, f, e)
		return
	}
	org, err := p.orgBySlug(r.Context(), f.Org, identity.WrongActivation())
	if err == nil {
		var out *signin.Outcome
		out, err = p.Lifecycle.Activate(r.Context(), org, signin.Activation{Code: f.Code, BirthDate: f.BirthDate, Email: f.Email,
			Password: pass, Name: f.Name, Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
		if err == nil {
			if err := p.signInAs(w, r, out.Secret); err != nil {
				p.fail(w, r, err)
				return
			}
			pweb.SetFlash(w, "success", "Your account is ready. We sent you an email: follow its link to confirm your address.")
			seeOther(w, r, "/account")
			return
		}
	}
	if !expected(err) {
		p.fail(w, r, err)
		return
	}
	// The code's field carries the one answer to a wrong code or date; a
	// taken email (Conflict) belongs to the email field.
	on := "code"
	if errs.CodeOf(err) == errs.Conflict {
		on = "email"
	}
	p.showActivate(w, r, statusOf(err), f, p.formErrors(l, err, on))
}
