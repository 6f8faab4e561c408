package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/identity"
)

// BenchmarkLifecyclePages measures lifecycle pages through careloop's
// whole HTTP chain (no network): a form, and "forgot your password" for an
// existing account and for an unknown email, which must cost the same.
// Each request comes from another network address, so that the address's
// limit on recovery requests is not what is measured.
func BenchmarkLifecyclePages(b *testing.B) {
	s := startSite(b)
	s.person(b, "pat@example.org", "Pat Jones", identity.RolePatient)
	h := s.app.Handler
	var n int
	serve := func(b *testing.B, method, path string, form url.Values, want int) {
		n++
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:4000", n>>16&255, n>>8&255, n&255)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("%s %s: status %d, want %d: %.200s", method, path, w.Code, want, w.Body.String())
		}
	}
	b.Run("GET /activate", func(b *testing.B) {
		for b.Loop() {
			serve(b, "GET", "/activate", nil, http.StatusOK)
		}
	})
	for _, email := range []string{"pat@example.org", "nobody@example.org"} {
		b.Run("POST /recovery "+email, func(b *testing.B) {
			form := url.Values{"org": {"riverside"}, "email": {email}}
			for b.Loop() {
				serve(b, "POST", "/recovery", form, http.StatusSeeOther)
			}
		})
	}
}
