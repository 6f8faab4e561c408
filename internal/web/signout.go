package web

import (
	"net/http"

	pweb "github.com/careloop/careloop/internal/platform/web"
)

// signOut ends the session of the cookie, whatever its stage, and forgets
// the cookie.
func (p *Pages) signOut(w http.ResponseWriter, r *http.Request) {
	if secret := p.Cookies.Secret(r); secret != "" {
		if err := p.SignIn.Sessions.EndSecret(r.Context(), secret); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.Cookies.Clear(w)
	pweb.SetFlash(w, "success", "You have signed out.")
	seeOther(w, r, "/signin")
}
