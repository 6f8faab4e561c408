package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// invitationPage is the data of /invitation: the form an invited person
// fills in, or why their link opens nothing.
type invitationPage struct {
	Org, Token, Name string
	// Invalid is set when the link is incomplete, expired, used or
	// revoked: the page then explains instead of showing the form.
	Invalid string
}

// invitationForm shows the form of the link's org and token. The link is
// checked when the form is sent: looking it up spends the address's
// allowance of wrong tokens, which a page view should not.
func (p *Pages) invitationForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := invitationPage{Org: q.Get("org"), Token: q.Get("token")}
	status := http.StatusOK
	if f.Org == "" || f.Token == "" {
		f.Invalid, status = "This link is incomplete. Open the link in your invitation email again, or copy all of it into the address bar.", http.StatusBadRequest
	}
	p.showInvitation(w, r, status, f, nil)
}

func (p *Pages) showInvitation(w http.ResponseWriter, r *http.Request, status int, f invitationPage, e *pweb.FormErrors) {
	p.r.Page(w, r, status, "invitation", p.public(w, r, "Join your team on careloop", f, e))
}

// acceptInvitation creates the invited account and signs the person in.
// Staff then enroll a second factor before anything else.
func (p *Pages) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	f := invitationPage{Org: r.PostFormValue("org"), Token: r.PostFormValue("token"), Name: strings.TrimSpace(r.PostFormValue("name"))}
	org, err := p.orgBySlug(r.Context(), f.Org, identity.InvalidLink())
	if err == nil {
		var out *signin.Outcome
		out, err = p.Lifecycle.AcceptInvitation(r.Context(), org, signin.Acceptance{Token: f.Token, Name: f.Name,
			Password: r.PostFormValue("password"), Address: httpx.RemoteHost(r), UserAgent: r.UserAgent()})
		if err == nil {
			if err := p.signInAs(w, r, out.Secret); err != nil {
				p.fail(w, r, err)
				return
			}
			if out.MustEnroll {
				pweb.SetFlash(w, "success", "Welcome, "+out.Account.DisplayName+". Your account is ready: set up a second factor to continue.")
				seeOther(w, r, "/account/security")
				return
			}
			pweb.SetFlash(w, "success", "Welcome, "+out.Account.DisplayName+". Your account is ready.")
			seeOther(w, r, "/account")
			return
		}
	}
	if !expected(err) {
		p.fail(w, r, err)
		return
	}
	if badLink(err) {
		f.Invalid = identity.InvalidLinkMessage
	}
	p.showInvitation(w, r, statusOf(err), f, pweb.FromError(err, ""))
}
