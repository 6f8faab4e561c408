package web

import (
	"context"
	"net/http"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
)

// who is the signed-in person a page is shown to.
type who struct {
	Session  *session.Session
	Account  *identity.Account
	Factors  identity.FactorSummary
	Passkeys []identity.Passkey
	// Fresh: a second factor was verified in this session within
	// signin.StepUpWithin, so sensitive changes may go ahead.
	Fresh bool
	// l speaks the person's language (see personLang): English for staff.
	l *i18n.Localizer
}

// HasSecondFactor reports whether the person can prove a second factor: an
// authenticator app or a usable passkey.
func (u *who) HasSecondFactor() bool {
	if u.Factors.HasSecondFactor() {
		return true
	}
	for _, pk := range u.Passkeys {
		if !pk.PossiblyCloned {
			return true
		}
	}
	return false
}

// MustEnroll: staff without a second factor, who may do nothing but
// enroll one.
func (u *who) MustEnroll() bool { return isStaff(u.Account.Role) && !u.HasSecondFactor() }

// StepUpNeeded: a sensitive change needs a fresh second factor first. A
// person with no factor yet may enroll their first one.
func (u *who) StepUpNeeded() bool { return !u.Fresh && u.HasSecondFactor() }

func isStaff(r identity.Role) bool { return r != identity.RolePatient && r != identity.RoleCaregiver }

// withSession runs h for a signed-in person, and sends anyone else to the
// sign-in page (a sign-in awaiting its second factor to the factor page).
func (p *Pages) withSession(h func(w http.ResponseWriter, r *http.Request, u *who)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret := p.Cookies.Secret(r)
		se, err := p.SignIn.Sessions.Find(r.Context(), secret)
		if err != nil {
			if errs.CodeOf(err) != errs.Unauthorized {
				p.fail(w, r, err)
				return
			}
			if _, aerr := p.SignIn.Sessions.FindAwaiting(r.Context(), secret); aerr == nil {
				seeOther(w, r, "/signin/factor")
				return
			}
			if secret != "" {
				p.Cookies.Clear(w)
				pweb.SetFlash(w, "info", "Your session has ended. Please sign in again.")
			}
			seeOther(w, r, "/signin")
			return
		}
		u, err := p.load(r.Context(), se)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if u.l, err = p.personLang(r, u.Account); err != nil {
			p.fail(w, r, err)
			return
		}
		if !isStaff(u.Account.Role) {
			r = withReader(r, u.l, true)
		}
		h(w, r, u)
	}
}

func (p *Pages) load(ctx context.Context, se *session.Session) (*who, error) {
	acct, err := p.Accounts.ByID(ctx, se.OrgID, se.AccountID)
	if err != nil {
		return nil, err
	}
	sum, err := p.SignIn.Factors.Factors(ctx, se.OrgID, se.AccountID)
	if err != nil {
		return nil, err
	}
	u := &who{Session: se, Account: acct, Factors: sum, Fresh: se.FactorWithin(p.SignIn.Sessions.Now(), signin.StepUpWithin)}
	if p.Passkeys != nil {
		if u.Passkeys, err = p.Passkeys.List(ctx, se.OrgID, se.AccountID); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// data returns the layout data of a page for a signed-in person.
func (p *Pages) data(w http.ResponseWriter, r *http.Request, title string, body any) pweb.Data {
	nav := []pweb.Nav{{Href: "/account", Label: "Your account"}, {Href: "/account/security", Label: "Security"}, {Href: "/account/sessions", Label: "Sessions"}}
	for i := range nav {
		nav[i].Current = nav[i].Href == r.URL.Path
	}
	return pweb.Data{Title: title, SignedIn: true, Nav: nav, Flash: pweb.TakeFlash(w, r), Body: body}
}

// personData returns the layout data of a page for the signed-in person
// u, with its title (in their language). A patient or
// caregiver gets the patients' navigation, the language switcher and the
// portal's home; the flash message is said in their language when the
// catalog knows it. Staff get the account's navigation, in English.
func (p *Pages) personData(w http.ResponseWriter, r *http.Request, u *who, title string, body any) pweb.Data {
	if isStaff(u.Account.Role) {
		d := p.data(w, r, title, body)
		d.L = u.l
		return d
	}
	return pweb.Data{Title: title, SignedIn: true, Nav: pweb.PatientNav(u.l, r.URL.Path), Flash: p.flash(w, r, u.l),
		Body: body, L: u.l, Home: "/home", Switch: pweb.NewSwitch(langCookieAction, r, u.l), Class: pweb.DisplayOf(r).Class()}
}

// roleNames are the roles as people call them.
var roleNames = map[identity.Role]string{
	identity.RolePatient: "Patient", identity.RoleCaregiver: "Caregiver", identity.RoleClinician: "Clinician",
	identity.RoleNurse: "Nurse", identity.RoleTechnician: "Technician", identity.RoleCoordinator: "Care coordinator",
	identity.RoleCompliance: "Compliance officer", identity.RoleAdmin: "Organisation admin",
}

func roleName(r identity.Role) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return string(r)
}
