package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

// recoveryPage is the data of /recovery: "forgot your password".
type recoveryPage struct {
	orgField
	Email string
}

// resetPage is the data of /recovery?org=&token=: a new password, or why
// the link opens nothing.
type resetPage struct {
	Org, Token, Invalid string
}

// recoveryForm shows the form that asks for a link or, with the link's
// token, the form that sets the new password.
func (p *Pages) recoveryForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("token") {
		f := resetPage{Org: q.Get("org"), Token: q.Get("token")}
		status := http.StatusOK
		if f.Org == "" || f.Token == "" {
			f.Invalid, status = p.lang(r).T("public.link.incomplete"), http.StatusBadRequest
		}
		p.showReset(w, r, status, f, nil)
		return
	}
	of, err := p.orgChoice(r.Context(), q.Get("org"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.showRecovery(w, r, http.StatusOK, recoveryPage{orgField: of}, nil)
}

func (p *Pages) showRecovery(w http.ResponseWriter, r *http.Request, status int, f recoveryPage, e *pweb.FormErrors) {
	p.r.Page(w, r, status, "recovery", p.publicData(w, r, p.lang(r), "recovery.title", f, e))
}

func (p *Pages) showReset(w http.ResponseWriter, r *http.Request, status int, f resetPage, e *pweb.FormErrors) {
	d := p.publicData(w, r, p.lang(r), "reset.title", f, e)
	// Shown again after a post, the page switches language to the link's
	// form, not to the post's address.
	d.Switch.Next = "/recovery?" + url.Values{"org": {f.Org}, "token": {f.Token}}.Encode()
	p.r.Page(w, r, status, "reset", d)
}

// requestRecovery asks the service for a link and answers the same for an
// existing account, an unknown email and an unknown organisation.
func (p *Pages) requestRecovery(w http.ResponseWriter, r *http.Request) {
	of, err := p.orgChoice(r.Context(), strings.TrimSpace(r.PostFormValue("org")))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	f := recoveryPage{orgField: of, Email: strings.TrimSpace(r.PostFormValue("email"))}
	l := p.lang(r)
	e := &pweb.FormErrors{}
	required(e, field{"org", f.Org, l.T("form.org.empty")}, field{"email", f.Email, l.T("form.email.empty")})
	if e.Any() {
		p.showRecovery(w, r, http.StatusBadRequest, f, e)
		return
	}
	// An unknown organisation gets the same page as any other; the service
	// sends nothing for it.
	var org *tenant.Organization
	org, err = p.orgBySlug(r.Context(), f.Org, nil)
	if err == nil {
		err = p.Lifecycle.RequestRecovery(r.Context(), org, f.Email, httpx.RemoteHost(r))
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showRecovery(w, r, statusOf(err), f, p.formErrors(l, err, ""))
		return
	}
	seeOther(w, r, "/recovery/sent")
}

func (p *Pages) recoverySent(w http.ResponseWriter, r *http.Request) {
	l := p.lang(r)
	p.r.Page(w, r, http.StatusOK, "sent", p.publicData(w, r, l, "sent.title", sentPage{Message: l.T("recovery.sent")}, nil))
}

// resetPassword sets the new password with the link, which ends every
// other session of the account. The second factor is still needed when
// the account has one: the person continues on the factor page.
func (p *Pages) resetPassword(w http.ResponseWriter, r *http.Request) {
	f := resetPage{Org: r.PostFormValue("org"), Token: r.PostFormValue("token")}
	org, err := p.orgBySlug(r.Context(), f.Org, identity.InvalidLink())
	if err == nil {
		var out *signin.Outcome
		out, err = p.Lifecycle.CompleteRecovery(r.Context(), org, signin.Reset{Token: f.Token, Password: r.PostFormValue("password"),
			Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
		if err == nil {
			if err := p.signInAs(w, r, out.Secret); err != nil {
				p.fail(w, r, err)
				return
			}
			switch {
			case out.NeedsFactor:
				pweb.SetFlash(w, "success", "Your new password is set. To finish signing in, confirm it is you with your second factor.")
				seeOther(w, r, "/signin/factor")
			case out.MustEnroll:
				pweb.SetFlash(w, "success", "Your new password is set. Set up a second factor to continue.")
				seeOther(w, r, "/account/security")
			default:
				pweb.SetFlash(w, "success", "Your new password is set, and you are signed in.")
				seeOther(w, r, "/account")
			}
			return
		}
	}
	if !expected(err) {
		p.fail(w, r, err)
		return
	}
	l := p.lang(r)
	if badLink(err) {
		f.Invalid = p.invalidLink(l)
	}
	p.showReset(w, r, statusOf(err), f, p.formErrors(l, err, ""))
}
