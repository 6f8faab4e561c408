package web

import (
	"net/http"
	"slices"

	"github.com/careloop/careloop/internal/identity"
)

// Who may use the staff pages of the account lifecycle: the roles the
// /auth API allows for the same actions (signin's lifecycle_http.go).
var (
	inviters   = []identity.Role{identity.RoleAdmin}
	codeMakers = []identity.Role{identity.RoleAdmin, identity.RoleCoordinator, identity.RoleClinician, identity.RoleNurse}
)

// withRole runs h for a signed-in person of one of roles who verified a
// second factor in this session; others get the error page. Staff act on
// other people's accounts only with their own second factor.
func (p *Pages) withRole(roles []identity.Role, h func(w http.ResponseWriter, r *http.Request, u *who)) http.HandlerFunc {
	return p.withSession(func(w http.ResponseWriter, r *http.Request, u *who) {
		switch {
		case u.MustEnroll():
			seeOther(w, r, "/account/security")
		case !slices.Contains(roles, u.Account.Role):
			p.errorPage(w, r, http.StatusForbidden, "Your role does not allow this.")
		case u.Session.FactorAt.IsZero():
			p.errorPage(w, r, http.StatusForbidden, "Sign in with your second factor to use this page.")
		default:
			h(w, r, u)
		}
	})
}

// staffLink is a staff page a person's role opens, listed on /account.
type staffLink struct{ Href, Label string }

func staffLinks(r identity.Role) []staffLink {
	var out []staffLink
	if slices.Contains(inviters, r) {
		out = append(out, staffLink{"/staff/invitations", "Invite staff"})
	}
	if slices.Contains(codeMakers, r) {
		out = append(out, staffLink{"/staff/activation-codes", "Make an activation code for a patient"})
	}
	if slices.Contains(matchers, r) {
		out = append(out, staffLink{"/staff/registrations", "Match registered patients to their records"})
	}
	return out
}
