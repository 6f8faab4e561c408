package web

import "net/http"

// accountPage is the data of /account.
type accountPage struct {
	Name, Email, Role string
	Since             string
	TOTP              bool
	RecoveryCodes     int
	Passkeys          int
	HasSecondFactor   bool
}

// account shows who the person is, their role and their factors. Staff who
// must enroll a second factor are sent to do so first.
func (p *Pages) account(w http.ResponseWriter, r *http.Request, u *who) {
	if u.MustEnroll() {
		seeOther(w, r, "/account/security")
		return
	}
	a := u.Account
	name := a.DisplayName
	if name == "" {
		name = a.Email
	}
	p.r.Page(w, r, http.StatusOK, "account", p.data(w, r, "Your account", accountPage{
		Name: name, Email: a.Email, Role: roleName(a.Role), Since: showTime(a.CreatedAt),
		TOTP: u.Factors.TOTP, RecoveryCodes: u.Factors.RecoveryCodes, Passkeys: len(u.Passkeys), HasSecondFactor: u.HasSecondFactor(),
	}))
}
