package web

import (
	"encoding/base64"
	"net/http"
	"unicode/utf8"
)

// flashCookie carries a one-time message across a redirect.
const flashCookie = "careloop_flash"

// Flash is a message shown once on the next page: the outcome of an action
// ("Your authenticator app is set up.").
type Flash struct {
	Message string
	// Kind is "success" or "info"; it chooses the style and the role of
	// the message (status for both: it is announced politely).
	Kind string
}

// SetFlash stores a message for the next page the browser loads. The
// message is not secret (never put a code in it) and is limited to 300
// bytes.
func SetFlash(w http.ResponseWriter, kind, message string) {
	if len(message) > 300 {
		message = message[:300]
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: kind + ":" + base64.RawURLEncoding.EncodeToString([]byte(message)),
		Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

// TakeFlash returns the message SetFlash stored, and removes it, or nil.
func TakeFlash(w http.ResponseWriter, r *http.Request) *Flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	kind, enc, ok := cut(c.Value)
	if !ok || (kind != "success" && kind != "info") {
		return nil
	}
	msg, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || !utf8.Valid(msg) || len(msg) == 0 {
		return nil
	}
	return &Flash{Message: string(msg), Kind: kind}
}

func cut(s string) (before, after string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
