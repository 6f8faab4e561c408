package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

// invitationPage is the data of /invitation: the form an invited person
// fills in, or why their link opens nothing.
type invitationPage struct {
	Org, Token, Name string
	// Who the invitation is for, as it holds it (signin.Lifecycle.Peek);
	// empty when the link could not be looked at.
	OrgName, Email, Role, Expires string
	// Invalid is set when the link is incomplete, expired, used or
	// revoked: the page then explains instead of showing the form.
	Invalid string
}

// invitationForm looks at the link's invitation without spending it and
// shows the form with the suggested name and who it is for, or says at
// once that the link no longer works. A wrong link counts against the
// network address, as it does when the form is sent.
func (p *Pages) invitationForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := invitationPage{Org: q.Get("org"), Token: q.Get("token")}
	if f.Org == "" || f.Token == "" {
		f.Invalid = "This link is incomplete. Open the link in your invitation email again, or copy all of it into the address bar."
		p.showInvitation(w, r, http.StatusBadRequest, f, nil)
		return
	}
	org, err := p.orgBySlug(r.Context(), f.Org, identity.InvalidLink())
	if err == nil {
		err = p.peekInvitation(r, org, &f, true)
	}
	if err == nil {
		p.showInvitation(w, r, http.StatusOK, f, nil)
		return
	}
	if !expected(err) {
		p.fail(w, r, err)
		return
	}
	if badLink(err) {
		// The notice says it; no error summary for a form not sent.
		f.Invalid = identity.InvalidLinkMessage
		p.showInvitation(w, r, statusOf(err), f, nil)
		return
	}
	p.showInvitation(w, r, statusOf(err), f, pweb.FromError(err, ""))
}

// peekInvitation fills in who the invitation of f.Token is for, and the
// suggested name when withName.
func (p *Pages) peekInvitation(r *http.Request, org *tenant.Organization, f *invitationPage, withName bool) error {
	inv, err := p.Lifecycle.Peek(r.Context(), org, f.Token, httpx.RemoteHost(r))
	if err != nil {
		return err
	}
	f.OrgName, f.Email, f.Role, f.Expires = org.Name, inv.Email, roleName(inv.Role), showTime(inv.ExpiresAt)
	if withName {
		f.Name = inv.Name
	}
	return nil
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
	} else if org != nil {
		// The link was open a moment ago (input is checked after it):
		// show again who it is for, keeping the name as typed. Should it
		// have closed meanwhile, the form's own error says enough.
		if perr := p.peekInvitation(r, org, &f, false); perr != nil && !expected(perr) {
			p.fail(w, r, perr)
			return
		}
	}
	p.showInvitation(w, r, statusOf(err), f, pweb.FromError(err, ""))
}
