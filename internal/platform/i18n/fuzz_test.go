package i18n_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzNegotiate: whatever a browser sends as Accept-Language, cookie or
// profile, the language chosen is one of the catalog's.
func FuzzNegotiate(f *testing.F) {
	f.Add("es-MX,es;q=0.9,en;q=0.5", "", "")
	f.Add("fr-CA, es;q=0.8", "xx", "es")
	f.Add(";;;q=x,*", "en", "")
	f.Add("zh-Hant-TW;q=1.0, ar;q=0.9", "", "ar-EG")
	f.Fuzz(func(t *testing.T, accept, cookie, profile string) {
		c := catalog(t)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", accept)
		if ck := (&http.Cookie{Name: "careloop_lang", Value: cookie}); ck.Valid() == nil {
			r.AddCookie(ck)
		}
		l := c.Negotiate(r, profile)
		if l == nil || !c.Has(l.Lang()) {
			t.Fatalf("Negotiate(%q, %q, %q) chose %v", accept, cookie, profile, l)
		}
		if l.T("hello", "Name", "x") == "" {
			t.Fatal("empty message")
		}
	})
}
