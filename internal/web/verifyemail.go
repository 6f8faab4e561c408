package web

import (
	"net/http"
	"net/url"

	pweb "github.com/careloop/careloop/internal/platform/web"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// verifyPage is the data of /verify-email: a button that confirms the
// address, or why the link opens nothing.
type verifyPage struct {
	Org, Token string
	Invalid    string
	// SignedIn: the page can send the person to their account for a new
	// link.
	SignedIn bool
}

// verifyEmailForm shows the button that confirms the address. Following
// the link does not spend it: mail scanners and link previews open links
// in emails, and only a person presses the button.
func (p *Pages) verifyEmailForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := verifyPage{Org: q.Get("org"), Token: q.Get("token"), SignedIn: p.signedIn(r)}
	status := http.StatusOK
	if f.Org == "" || f.Token == "" {
		f.Invalid, status = p.lang(r).T("public.link.incomplete"), http.StatusBadRequest
	}
	p.showVerify(w, r, status, f, nil)
}

func (p *Pages) showVerify(w http.ResponseWriter, r *http.Request, status int, f verifyPage, e *pweb.FormErrors) {
	d := p.publicData(w, r, p.lang(r), "verify.title", f, e)
	// Shown again after a post, the page switches language to the link's
	// form, not to the post's address.
	d.Switch.Next = "/verify-email?" + url.Values{"org": {f.Org}, "token": {f.Token}}.Encode()
	p.r.Page(w, r, status, "verify", d)
}

// verifyEmail spends the link and marks the address verified, or switches
// the account to the new address of a change.
func (p *Pages) verifyEmail(w http.ResponseWriter, r *http.Request) {
	f := verifyPage{Org: r.PostFormValue("org"), Token: r.PostFormValue("token"), SignedIn: p.signedIn(r)}
	org, err := p.orgBySlug(r.Context(), f.Org, identity.InvalidLink())
	if err == nil {
		err = p.Lifecycle.VerifyEmail(r.Context(), org, f.Token, httpx.RemoteHost(r))
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		l := p.lang(r)
		if badLink(err) {
			f.Invalid = p.invalidLink(l)
		}
		p.showVerify(w, r, statusOf(err), f, p.formErrors(l, err, ""))
		return
	}
	pweb.SetFlash(w, "success", "Thank you: your email address is confirmed.")
	if f.SignedIn {
		seeOther(w, r, "/account")
		return
	}
	seeOther(w, r, "/signin?"+url.Values{"org": {org.Slug}}.Encode())
}

// signedIn reports whether the request comes with an open session.
func (p *Pages) signedIn(r *http.Request) bool {
	secret := p.Cookies.Secret(r)
	if secret == "" {
		return false
	}
	_, err := p.SignIn.Sessions.Find(r.Context(), secret)
	return err == nil
}
