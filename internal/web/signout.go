package web

import (
	"net/http"

	"github.com/careloop/careloop/internal/platform/httpx"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// signOut ends the session of the cookie, whatever its stage, and forgets
// the cookie.
func (p *Pages) signOut(w http.ResponseWriter, r *http.Request) {
	if secret := p.Cookies.Secret(r); secret != "" {
		if err := p.SignIn.SignOut(r.Context(), secret, httpx.ClientAddress(r.Context())); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.Cookies.Clear(w)
	pweb.SetFlash(w, "success", "You have signed out.")
	seeOther(w, r, "/signin")
}
