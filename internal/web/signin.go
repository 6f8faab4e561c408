package web

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// signInForm is the sign-in page's data.
type signInForm struct {
	Org, Email string
	// OrgName is set when the instance has one organisation: the field is
	// then hidden and prefilled.
	OrgName  string
	Passkeys bool
	// Lifecycle links to registration, activation and recovery.
	Lifecycle bool
	// Next is the local path to land on after signing in (a hidden
	// field); empty for the person's landing page (see landing).
	Next string
}

func (p *Pages) signInForm(r *http.Request, org, email string) (signInForm, error) {
	f := signInForm{Org: org, Email: email, Passkeys: p.Passkeys != nil, Lifecycle: p.Lifecycle != nil}
	orgs, err := p.Orgs.List(r.Context())
	if err != nil {
		return f, err
	}
	if len(orgs) == 1 {
		f.Org, f.OrgName = orgs[0].Slug, orgs[0].Name
	}
	return f, nil
}

func (p *Pages) signInPage(w http.ResponseWriter, r *http.Request) {
	next, _ := pweb.LocalPath(r.URL.Query().Get("next"))
	if se, err := p.SignIn.Sessions.Find(r.Context(), p.Cookies.Secret(r)); err == nil {
		seeOther(w, r, cmp.Or(next, landing(se.Role)))
		return
	}
	f, err := p.signInForm(r, r.URL.Query().Get("org"), "")
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f.Next = next
	p.showSignIn(w, r, http.StatusOK, f, nil)
}

func (p *Pages) showSignIn(w http.ResponseWriter, r *http.Request, status int, f signInForm, e *pweb.FormErrors) {
	d := p.publicData(w, r, p.lang(r), "signin.title", f, e)
	if f.Passkeys {
		d.Scripts = []string{"/static/passkey.js"}
	}
	p.r.Page(w, r, status, "signin", d)
}

func (p *Pages) signIn(w http.ResponseWriter, r *http.Request) {
	org, email, password := strings.TrimSpace(r.PostFormValue("org")), strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	f, err := p.signInForm(r, org, email)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f.Next, _ = pweb.LocalPath(r.PostFormValue("next"))
	l := p.lang(r)
	e := &pweb.FormErrors{}
	required(e, field{"org", f.Org, l.T("form.org.empty")}, field{"email", email, l.T("form.email.empty")},
		field{"password", password, l.T("form.password.empty")})
	if e.Any() {
		p.showSignIn(w, r, http.StatusBadRequest, f, e)
		return
	}
	out, err := p.password(r, f.Org, email, password)
	if err != nil {
		if errs.HTTPStatus(errs.CodeOf(err)) >= 500 {
			p.fail(w, r, err)
			return
		}
		// The service's own words: the same for a wrong email, password or
		// organisation, and the throttle's "try again in N minutes".
		p.showSignIn(w, r, errs.HTTPStatus(errs.CodeOf(err)), f, p.formErrors(l, err, "password"))
		return
	}
	p.Cookies.Set(w, out.Secret)
	switch {
	case out.NeedsFactor:
		p.keepNext(w, f.Next)
		seeOther(w, r, "/signin/factor")
	case out.MustEnroll:
		p.forgetNext(w)
		seeOther(w, r, "/account/security")
	default:
		p.forgetNext(w)
		seeOther(w, r, cmp.Or(f.Next, landing(string(out.Account.Role))))
	}
}

// password checks the password for the organisation of slug. An unknown
// organisation gets the same answer as a wrong password.
func (p *Pages) password(r *http.Request, slug, email, password string) (*signin.Outcome, error) {
	org, err := p.Orgs.BySlug(r.Context(), slug)
	if err != nil {
		if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Invalid {
			// The answer to a wrong password, as /auth/signin gives it: no
			// probing for organisations.
			return nil, signin.WrongCredentials()
		}
		return nil, err
	}
	return p.SignIn.Password(r.Context(), signin.Attempt{OrgID: org.ID, Email: email, Password: password,
		Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
}
