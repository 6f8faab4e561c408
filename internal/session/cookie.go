package session

import (
	"context"
	"net/http"
	"strings"
)

// CookieName is the name of the session cookie. Over HTTPS it carries the
// __Host- prefix, which makes browsers insist on Secure, Path=/ and no
// Domain, so no other site or subdomain can set or read it.
const CookieName = "careloop_session"

// Cookies writes and reads the session cookie.
type Cookies struct {
	// Secure marks cookies Secure and uses the __Host- name: set it when
	// careloop is served over HTTPS.
	Secure bool
}

func (c Cookies) name() string {
	if c.Secure {
		return "__Host-" + CookieName
	}
	return CookieName
}

// Set writes the session cookie: HttpOnly (no script reads it), SameSite
// Lax (sent on top-level navigation from a link in an email, never on
// cross-site requests that change things), Path=/, with no expiry of its
// own: the server ends the session, and the browser forgets it when closed.
func (c Cookies) Set(w http.ResponseWriter, secret string) {
	http.SetCookie(w, &http.Cookie{Name: c.name(), Value: secret, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Clear removes the session cookie from the browser.
func (c Cookies) Clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: c.name(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode})
}

// Secret returns the session secret of r's cookie, or "". It reads the
// Cookie headers in place: r.Cookie parses every cookie into values of its
// own, which cost each signed-in request a few hundred nanoseconds. As with
// r.Cookie the first well-formed cookie of the name counts; a value that is
// not made of a secret's characters (unpadded URL-safe base64) is skipped.
func (c Cookies) Secret(r *http.Request) string {
	name := c.name()
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || k != name {
				continue
			}
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if isSecret(v) {
				return v
			}
		}
	}
	return ""
}

// isSecret reports whether v could be a session secret: 1 to 256
// characters of unpadded URL-safe base64.
func isSecret(v string) bool {
	if v == "" || len(v) > 256 {
		return false
	}
	for i := 0; i < len(v); i++ {
		switch b := v[i]; {
		case 'A' <= b && b <= 'Z', 'a' <= b && b <= 'z', '0' <= b && b <= '9', b == '-', b == '_':
		default:
			return false
		}
	}
	return true
}

type ctxKey struct{}

// Load returns middleware that finds the session of each request's cookie
// and puts it in the request's context (see From). A cookie of no open
// session is cleared; the request goes on without a session, and pages
// that need one send the visitor to sign in.
func (s *Store) Load(c Cookies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if secret := c.Secret(r); secret != "" {
				se, err := s.Find(r.Context(), secret)
				if err != nil {
					c.Clear(w)
				} else {
					r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, se))
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// From returns the session Load found for the request of ctx, or nil.
func From(ctx context.Context) *Session {
	se, _ := ctx.Value(ctxKey{}).(*Session)
	return se
}
