package web

import (
	"encoding/base64"
	"net/http"
	"net/url"

	pweb "github.com/careloop/careloop/internal/platform/web"
)

// Where a person lands after signing in. A page that sends someone to
// sign in (a message's link, /n/{token}) names the page they were going to
// as /signin?next=PATH. The sign-in form carries it in a hidden field; when
// the password step needs a second factor, a short-lived cookie (nextCookie)
// carries it to the factor step, which spends it. Only a local path is
// ever followed (see pweb.LocalPath): anything else is ignored and the person
// lands on their landing page: /home for patients and caregivers,
// /account for staff (see landing).

// nextCookie carries the page to land on from the password step to the
// second factor. It is sent only to /signin paths and lives as long as a
// sign-in may wait for its second factor.
const (
	nextCookie     = "careloop_next"
	nextCookiePath = "/signin"
	nextCookieAge  = 10 * 60 // seconds
)

// signInLink is the sign-in page that lands on next afterwards.
func signInLink(next string) string {
	if _, ok := pweb.LocalPath(next); !ok {
		return "/signin"
	}
	return "/signin?next=" + url.QueryEscape(next)
}

// keepNext remembers next (when local) for the second-factor step, or
// forgets any page remembered by an earlier sign-in.
func (p *Pages) keepNext(w http.ResponseWriter, next string) {
	if _, ok := pweb.LocalPath(next); !ok {
		p.forgetNext(w)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(next)), Path: nextCookiePath,
		MaxAge: nextCookieAge, HttpOnly: true, Secure: p.Cookies.Secure, SameSite: http.SameSiteLaxMode})
}

func (p *Pages) forgetNext(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: nextCookie, Value: "", Path: nextCookiePath, MaxAge: -1, HttpOnly: true,
		Secure: p.Cookies.Secure, SameSite: http.SameSiteLaxMode})
}

// takeNext returns the page the second-factor step lands on: the local
// path keepNext remembered, spent, or otherwise.
func (p *Pages) takeNext(w http.ResponseWriter, r *http.Request, otherwise string) string {
	c, err := r.Cookie(nextCookie)
	if err != nil {
		return otherwise
	}
	p.forgetNext(w)
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return otherwise
	}
	if next, ok := pweb.LocalPath(string(raw)); ok {
		return next
	}
	return otherwise
}
