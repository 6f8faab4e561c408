package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/identity"
)

// BenchmarkSignInPage measures GET /signin through careloop's whole HTTP
// chain (no network): the organisation lookup and the page.
func BenchmarkSignInPage(b *testing.B) {
	s := startSite(b)
	h := s.app.Handler
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/signin", nil))
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkAccountPage measures GET /account for a signed-in person: the
// session lookup, the account, its factors and passkeys, and the page.
func BenchmarkAccountPage(b *testing.B) {
	s := startSite(b)
	s.person(b, "pat@example.org", "Pat Jones", identity.RolePatient)
	cookies := s.signInCookies(b, "pat@example.org")
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/account", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		s.app.Handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// signInCookies signs email in through the sign-in page with the test
// password and returns the session's cookies.
func (s *site) signInCookies(b *testing.B, email string) []*http.Cookie {
	b.Helper()
	w := httptest.NewRecorder()
	form := url.Values{"email": {email}, "password": {password}}.Encode()
	req := httptest.NewRequest("POST", "/signin", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	s.app.Handler.ServeHTTP(w, req)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) == 0 {
		b.Fatalf("sign-in: %d", w.Code)
	}
	return cookies
}
