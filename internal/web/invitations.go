package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/signin"
)

// invitationsPage is the data of /staff/invitations: the open
// invitations and the form to invite someone.
type invitationsPage struct {
	Open []invitationRow
	// StepUp: inviting and revoking need a second factor verified within
	// 10 minutes; the page links to the prompt.
	StepUp bool
	Roles  []roleOption
	// The form's values, shown again with its errors.
	Email, Role, Name string
}

type invitationRow struct {
	ID, Email, Role, Name, By, Expires string
}

type roleOption struct {
	Value, Label string
}

func (p *Pages) invitations(w http.ResponseWriter, r *http.Request, u *who) {
	p.showInvitations(w, r, http.StatusOK, u, invitationsPage{}, nil)
}

func (p *Pages) showInvitations(w http.ResponseWriter, r *http.Request, status int, u *who, f invitationsPage, e *pweb.FormErrors) {
	list, err := p.Lifecycle.Invitations(r.Context(), u.Session.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	names := map[string]string{"cli": "the command line"}
	for _, t := range list {
		by, ok := names[t.CreatedBy]
		if !ok {
			by = "someone no longer here"
			if a, err := p.Accounts.ByID(r.Context(), u.Session.OrgID, t.CreatedBy); err == nil {
				by = a.DisplayName
			} else if errs.CodeOf(err) != errs.NotFound {
				p.fail(w, r, err)
				return
			}
			names[t.CreatedBy] = by
		}
		f.Open = append(f.Open, invitationRow{ID: t.ID, Email: t.Email, Role: roleName(t.Role), Name: t.DisplayName, By: by, Expires: showTime(t.ExpiresAt)})
	}
	f.StepUp = !u.Fresh
	for _, r := range signin.StaffRoles() {
		f.Roles = append(f.Roles, roleOption{string(r), roleName(r)})
	}
	if f.Role == "" {
		f.Role = string(identity.RoleClinician)
	}
	d := p.data(w, r, "Invite staff", f)
	d.Errors = e
	p.r.Page(w, r, status, "invitations", d)
}

// invite invites a person with a staff role; the service emails them the
// link.
func (p *Pages) invite(w http.ResponseWriter, r *http.Request, u *who) {
	f := invitationsPage{Email: strings.TrimSpace(r.PostFormValue("email")), Role: r.PostFormValue("role"), Name: strings.TrimSpace(r.PostFormValue("name"))}
	err := stepUpRequired()
	if u.Fresh {
		org, oerr := p.orgByID(r.Context(), u.Session.OrgID)
		if oerr != nil {
			p.fail(w, r, oerr)
			return
		}
		_, _, err = p.Lifecycle.Invite(r.Context(), org, signin.Invitation{Email: f.Email, Role: identity.Role(f.Role), Name: f.Name, By: u.Account.ID})
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showInvitations(w, r, statusOf(err), u, f, pweb.FromError(err, "email"))
		return
	}
	pweb.SetFlash(w, "success", "We sent the invitation to "+f.Email+". The link works once, for 72 hours.")
	seeOther(w, r, "/staff/invitations")
}

// revokeInvitation withdraws an open invitation.
func (p *Pages) revokeInvitation(w http.ResponseWriter, r *http.Request, u *who) {
	err := stepUpRequired()
	if u.Fresh {
		err = p.Lifecycle.RevokeInvitation(r.Context(), u.Session.OrgID, r.PathValue("id"))
	}
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showInvitations(w, r, statusOf(err), u, invitationsPage{}, pweb.FromError(err, ""))
		return
	}
	pweb.SetFlash(w, "success", "The invitation is withdrawn: its link no longer works.")
	seeOther(w, r, "/staff/invitations")
}
