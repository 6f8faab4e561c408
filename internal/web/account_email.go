package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// resendVerification sends the signed-in person a new link to confirm
// their email, replacing the earlier one.
func (p *Pages) resendVerification(w http.ResponseWriter, r *http.Request, u *who) {
	if u.MustEnroll() {
		seeOther(w, r, "/account/security")
		return
	}
	org, err := p.orgByID(r.Context(), u.Session.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	sent, err := p.Lifecycle.ResendVerification(r.Context(), org, u.Session)
	if err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showAccount(w, r, statusOf(err), u, "", p.formErrorIn(u.l, err, "resend"))
		return
	}
	if sent {
		pweb.SetFlash(w, "success", u.l.T("account.flash.resent", "Email", u.Account.Email))
	} else {
		pweb.SetFlash(w, "info", u.l.T("account.flash.confirmed"))
	}
	seeOther(w, r, "/account")
}

// changeEmail starts a change of address: a link goes to the new one, and
// the account switches only when it is followed. Like the other sensitive
// changes it needs a second factor verified within 10 minutes, when the
// account has one.
func (p *Pages) changeEmail(w http.ResponseWriter, r *http.Request, u *who) {
	if u.MustEnroll() {
		seeOther(w, r, "/account/security")
		return
	}
	email := strings.TrimSpace(r.PostFormValue("email"))
	if email == "" {
		p.showAccount(w, r, http.StatusBadRequest, u, email, p.formErrorIn(u.l, errs.Invalidf("email", "%s", u.l.T("account.email.empty")), "email"))
		return
	}
	if u.StepUpNeeded() {
		p.showAccount(w, r, http.StatusForbidden, u, email, p.formErrorIn(u.l, stepUpRequired(), "email"))
		return
	}
	org, err := p.orgByID(r.Context(), u.Session.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.Lifecycle.ChangeEmail(r.Context(), org, u.Session, email); err != nil {
		if !expected(err) {
			p.fail(w, r, err)
			return
		}
		p.showAccount(w, r, statusOf(err), u, email, p.formErrorIn(u.l, err, "email"))
		return
	}
	pweb.SetFlash(w, "success", u.l.T("account.flash.change"))
	seeOther(w, r, "/account")
}
