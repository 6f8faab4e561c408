package web

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// Where a person lands after signing in. A page that sends someone to
// sign in (a message's link, /n/{token}) names the page they were going to
// as /signin?next=PATH. The sign-in form carries it in a hidden field; when
// the password step needs a second factor, a short-lived cookie (nextCookie)
// carries it to the factor step, which spends it. Only a local path is
// ever followed (see localPath): anything else is ignored and the person
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

// maxNextLen bounds a next path: longer ones are ignored.
const maxNextLen = 2048

// localPath returns next when it is a path on this site that is safe to
// redirect to, and false otherwise. A safe path starts with "/", is not
// "//" (another host, for browsers), holds no backslash (which browsers
// read as a slash) and no control character or space (browsers drop tabs
// and newlines from URLs, which would turn "/\t/host" into "//host").
func localPath(next string) (string, bool) {
	if next == "" || len(next) > maxNextLen || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c == '\\' || c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	return next, true
}

// signInLink is the sign-in page that lands on next afterwards.
func signInLink(next string) string {
	if _, ok := localPath(next); !ok {
		return "/signin"
	}
	return "/signin?next=" + url.QueryEscape(next)
}

// keepNext remembers next (when local) for the second-factor step, or
// forgets any page remembered by an earlier sign-in.
func (p *Pages) keepNext(w http.ResponseWriter, next string) {
	if _, ok := localPath(next); !ok {
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
	if next, ok := localPath(string(raw)); ok {
		return next
	}
	return otherwise
}
