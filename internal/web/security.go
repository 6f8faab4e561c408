package web

import (
	"database/sql"
	"html/template"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// securityPage is the data of /account/security.
type securityPage struct {
	MustEnroll bool
	// StepUp: changes need a fresh second factor first; the page shows
	// the prompt.
	StepUp        bool
	StepUpPasskey bool
	TOTP          bool
	// Enrolling is an authenticator app being set up: shown once, right
	// after the person asked for it.
	Enrolling *totpView
	// Confirming shows the confirm form again after a wrong code.
	Confirming    bool
	RecoveryCodes int
	// NewCodes are recovery codes just made, shown once.
	NewCodes   []string
	PasskeysOn bool
	Passkeys   []passkeyView
}

type totpView struct {
	QR      template.HTML
	Secret  string // grouped in fours for reading aloud and typing
	Expires string
}

type passkeyView struct {
	ID, Name, Created, LastUsed string
	Cloned                      bool
}

// securityData returns the security page of u, in their language.
func (p *Pages) securityData(u *who) securityPage {
	s := securityPage{MustEnroll: u.MustEnroll(), StepUp: u.StepUpNeeded(), TOTP: u.Factors.TOTP,
		RecoveryCodes: u.Factors.RecoveryCodes, PasskeysOn: p.Passkeys != nil}
	for _, pk := range u.Passkeys {
		v := passkeyView{ID: pk.ID, Name: pk.Name, Created: when(u.l, pk.CreatedAt), Cloned: pk.PossiblyCloned, LastUsed: u.l.T("security.passkeys.never")}
		if pk.LastUsedAt != nil {
			v.LastUsed = when(u.l, *pk.LastUsedAt)
		}
		s.Passkeys = append(s.Passkeys, v)
		s.StepUpPasskey = s.StepUpPasskey || !pk.PossiblyCloned
	}
	return s
}

// showSecurity renders the security page of u with s and any form errors.
func (p *Pages) showSecurity(w http.ResponseWriter, r *http.Request, status int, u *who, s securityPage, e *pweb.FormErrors) {
	d := p.personData(w, r, u, u.l.T("security.title"), s)
	d.Errors = e
	if s.PasskeysOn {
		d.Scripts = []string{"/static/passkey.js"}
	}
	p.r.Page(w, r, status, "security", d)
}

func (p *Pages) security(w http.ResponseWriter, r *http.Request, u *who) {
	p.showSecurity(w, r, http.StatusOK, u, p.securityData(u), nil)
}

// formErrorIn is the error of a form field, in the service's words,
// said in l where the catalog knows them (see serviceMessage).
func (p *Pages) formErrorIn(l *i18n.Localizer, err error, field string) *pweb.FormErrors {
	e := &pweb.FormErrors{}
	e.Add(field, p.serviceMessage(l, errs.MessageOf(err)))
	return e
}

// refuse shows the security page again with err, or the error page for an
// unexpected one.
func (p *Pages) refuse(w http.ResponseWriter, r *http.Request, u *who, s securityPage, err error, field string) {
	status := errs.HTTPStatus(errs.CodeOf(err))
	if status >= 500 {
		p.fail(w, r, err)
		return
	}
	p.showSecurity(w, r, status, u, s, p.formErrorIn(u.l, err, field))
}

// stepUpRequired is the answer to a sensitive change without a fresh
// second factor.
func stepUpRequired() error {
	return errs.E(errs.Forbidden, "For your security, confirm it is you with your second factor first, then make the change within 10 minutes.")
}

// stepUpConfirm checks a code from the authenticator app and records a
// fresh second factor in the session (a new secret: a privilege change).
// Wrong codes count against the account like failed sign-ins.
func (p *Pages) stepUpConfirm(w http.ResponseWriter, r *http.Request, u *who) {
	fresh, err := p.SignIn.StepUp(r.Context(), p.Cookies.Secret(r), r.PostFormValue("code"))
	if err != nil {
		p.refuse(w, r, u, p.securityData(u), err, "stepup-code")
		return
	}
	p.Cookies.Set(w, fresh)
	pweb.SetFlash(w, "success", u.l.T("security.flash.confirmed"))
	seeOther(w, r, "/account/security")
}

// renew gives the session a new secret with a second factor verified now.
func (p *Pages) renew(w http.ResponseWriter, r *http.Request) bool {
	_, fresh, err := p.SignIn.Sessions.Renew(r.Context(), p.Cookies.Secret(r), true)
	if err != nil {
		p.fail(w, r, err)
		return false
	}
	p.Cookies.Set(w, fresh)
	return true
}

// totpBegin makes a new authenticator-app secret and shows it once, as a
// QR code and as text.
func (p *Pages) totpBegin(w http.ResponseWriter, r *http.Request, u *who) {
	s := p.securityData(u)
	if u.StepUpNeeded() {
		p.refuse(w, r, u, s, stepUpRequired(), "stepup-code")
		return
	}
	var e *identity.TOTPEnrollment
	err := p.SignIn.DB.InTx(r.Context(), func(tx *sql.Tx) (err error) {
		e, err = p.Enroll.BeginTOTPTx(r.Context(), tx, u.Session.OrgID, u.Session.AccountID)
		return err
	})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	qr, err := qrSVG(e.URI, u.l.T("security.app.qr"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	s.Enrolling = &totpView{QR: qr, Secret: groupSecret(e.Secret), Expires: when(u.l, e.Expires)}
	p.showSecurity(w, r, http.StatusOK, u, s, nil)
}

// groupSecret splits a base32 secret into groups of four, which people
// and screen readers read more easily; apps ignore the spaces.
func groupSecret(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// totpConfirm makes the pending authenticator app the account's, with a
// first code from it.
func (p *Pages) totpConfirm(w http.ResponseWriter, r *http.Request, u *who) {
	err := p.SignIn.DB.InTx(r.Context(), func(tx *sql.Tx) error {
		return p.Enroll.ConfirmTOTPTx(r.Context(), tx, u.Session.OrgID, u.Session.AccountID, r.PostFormValue("code"))
	})
	if err != nil {
		s := p.securityData(u)
		s.Confirming = errs.CodeOf(err) == errs.Invalid
		p.refuse(w, r, u, s, err, "code")
		return
	}
	if !p.renew(w, r) {
		return
	}
	pweb.SetFlash(w, "success", u.l.T("security.flash.app"))
	seeOther(w, r, "/account/security")
}

// recoveryCodes makes ten new recovery codes, replacing the old ones, and
// shows them once.
func (p *Pages) recoveryCodes(w http.ResponseWriter, r *http.Request, u *who) {
	s := p.securityData(u)
	if !u.Fresh {
		p.refuse(w, r, u, s, errs.E(errs.Forbidden, u.l.T("security.codes.stepup")), "stepup-code")
		return
	}
	var codes []string
	err := p.SignIn.DB.InTx(r.Context(), func(tx *sql.Tx) (err error) {
		codes, err = p.Enroll.GenerateRecoveryCodesTx(r.Context(), tx, u.Session.OrgID, u.Session.AccountID)
		return err
	})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	s.NewCodes, s.RecoveryCodes = codes, len(codes)
	p.showSecurity(w, r, http.StatusOK, u, s, nil)
}

func (p *Pages) passkeyRename(w http.ResponseWriter, r *http.Request, u *who) {
	if p.Passkeys == nil {
		p.errorPage(w, r, http.StatusNotFound, "")
		return
	}
	id := r.PathValue("id")
	if err := p.Passkeys.Rename(r.Context(), u.Session.OrgID, u.Session.AccountID, id, r.PostFormValue("name")); err != nil {
		p.refuse(w, r, u, p.securityData(u), err, "name-"+id)
		return
	}
	pweb.SetFlash(w, "success", u.l.T("security.flash.renamed"))
	seeOther(w, r, "/account/security")
}

func (p *Pages) passkeyRemove(w http.ResponseWriter, r *http.Request, u *who) {
	if p.Passkeys == nil {
		p.errorPage(w, r, http.StatusNotFound, "")
		return
	}
	if u.StepUpNeeded() {
		p.refuse(w, r, u, p.securityData(u), stepUpRequired(), "stepup-code")
		return
	}
	if err := p.Passkeys.Remove(r.Context(), u.Session.OrgID, u.Session.AccountID, r.PathValue("id")); err != nil {
		p.refuse(w, r, u, p.securityData(u), err, "")
		return
	}
	pweb.SetFlash(w, "success", u.l.T("security.flash.removed"))
	seeOther(w, r, "/account/security")
}
