package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
	"github.com/careloop/careloop/internal/session"
)

// factorForm is the second-factor page's data.
type factorForm struct {
	Passkey bool // the account has a passkey to use instead of a code
}

// awaiting returns the sign-in of the request awaiting its second factor,
// or sends the person back to the sign-in page.
func (p *Pages) awaiting(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	se, err := p.SignIn.Sessions.FindAwaiting(r.Context(), p.Cookies.Secret(r))
	if err != nil {
		if errs.CodeOf(err) != errs.Unauthorized {
			p.fail(w, r, err)
			return nil, false
		}
		if open, ferr := p.SignIn.Sessions.Find(r.Context(), p.Cookies.Secret(r)); ferr == nil {
			seeOther(w, r, landing(open.Role))
			return nil, false
		}
		pweb.SetFlash(w, "info", "Your sign-in took too long or has ended. Please sign in again.")
		seeOther(w, r, "/signin")
		return nil, false
	}
	return se, true
}

func (p *Pages) factorPage(w http.ResponseWriter, r *http.Request) {
	se, ok := p.awaiting(w, r)
	if !ok {
		return
	}
	p.showFactor(w, r, http.StatusOK, se, nil)
}

func (p *Pages) showFactor(w http.ResponseWriter, r *http.Request, status int, se *session.Session, e *pweb.FormErrors) {
	f := factorForm{}
	if p.Passkeys != nil {
		list, err := p.Passkeys.List(r.Context(), se.OrgID, se.AccountID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		f.Passkey = len(list) > 0
	}
	d := p.publicData(w, r, p.lang(r), "factor.title", f, e)
	if f.Passkey {
		d.Scripts = []string{"/static/passkey.js"}
	}
	p.r.Page(w, r, status, "factor", d)
}

func (p *Pages) factor(w http.ResponseWriter, r *http.Request) {
	se, ok := p.awaiting(w, r)
	if !ok {
		return
	}
	code := r.PostFormValue("code")
	l := p.lang(r)
	if code == "" {
		e := &pweb.FormErrors{}
		e.Add("code", l.T("factor.code.empty"))
		p.showFactor(w, r, http.StatusBadRequest, se, e)
		return
	}
	out, err := p.SignIn.SecondFactor(r.Context(), p.Cookies.Secret(r), code, httpx.RemoteHost(r))
	if err != nil {
		if errs.HTTPStatus(errs.CodeOf(err)) >= 500 {
			p.fail(w, r, err)
			return
		}
		p.showFactor(w, r, errs.HTTPStatus(errs.CodeOf(err)), se, p.formErrors(l, err, "code"))
		return
	}
	p.Cookies.Set(w, out.Secret)
	seeOther(w, r, p.takeNext(w, r, landing(se.Role)))
}

// ceremonyCookie holds the id of a passkey ceremony between its begin and
// finish requests, so that the id never sits in the page.
const ceremonyCookie = "careloop_webauthn"

const ceremonyPath = "/signin/factor/passkey"

// passkeyFactorBegin begins a passkey ceremony for the second factor: of a
// sign-in awaiting it, or of a signed-in person confirming it is them
// before a sensitive change (step-up).
func (p *Pages) passkeyFactorBegin(w http.ResponseWriter, r *http.Request) {
	acct, _, err := p.factorAccount(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	c, err := p.Passkeys.BeginSecondFactor(r.Context(), acct)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: c.ID, Path: ceremonyPath, HttpOnly: true,
		Secure: p.Cookies.Secure, SameSite: http.SameSiteStrictMode, Expires: c.ExpiresAt})
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"publicKey": c.Options})
}

// passkeyFactorFinish verifies the passkey and completes the sign-in, or
// records the fresh factor of the step-up, with a new session secret.
func (p *Pages) passkeyFactorFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Credential json.RawMessage `json:"credential"`
	}
	if err := httpx.DecodeJSON(w, r, &in); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	acct, awaiting, err := p.factorAccount(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	ceremony := ""
	if c, err := r.Cookie(ceremonyCookie); err == nil {
		ceremony = c.Value
	}
	http.SetCookie(w, &http.Cookie{Name: ceremonyCookie, Value: "", Path: ceremonyPath, MaxAge: -1, HttpOnly: true,
		Secure: p.Cookies.Secure, SameSite: http.SameSiteStrictMode})
	if _, err := p.Passkeys.FinishSecondFactor(r.Context(), acct, ceremony, in.Credential); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	secret, next := p.Cookies.Secret(r), "/account"
	var fresh string
	if awaiting {
		_, fresh, err = p.SignIn.Sessions.Complete(r.Context(), secret)
		next = p.takeNext(w, r, landing(string(acct.Role)))
	} else {
		_, fresh, err = p.SignIn.Sessions.Renew(r.Context(), secret, true)
		next = "/account/security"
		pweb.SetFlash(w, "success", "Thank you. You can make changes for the next 10 minutes.")
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	p.Cookies.Set(w, fresh)
	_ = httpx.WriteJSON(w, http.StatusOK, map[string]any{"redirect": next})
}

// factorAccount returns the account of the request's sign-in awaiting its
// second factor (awaiting true) or else of its open session.
func (p *Pages) factorAccount(r *http.Request) (*identity.Account, bool, error) {
	if p.Passkeys == nil {
		return nil, false, errs.NotFoundf("Passkeys are not available here.")
	}
	secret := p.Cookies.Secret(r)
	se, err := p.SignIn.Sessions.FindAwaiting(r.Context(), secret)
	awaiting := err == nil
	if err != nil {
		if se, err = p.SignIn.Sessions.Find(r.Context(), secret); err != nil {
			return nil, false, err
		}
	}
	acct, err := p.Accounts.ByID(r.Context(), se.OrgID, se.AccountID)
	return acct, awaiting, err
}

// timeFormat is how pages show times: in UTC until people choose a zone.
const timeFormat = "2 Jan 2006, 15:04 UTC"

func showTime(t time.Time) string { return t.UTC().Format(timeFormat) }
