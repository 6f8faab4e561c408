package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	"github.com/careloop/careloop/internal/platform/web"
)

func newRenderer(t testing.TB) *web.Renderer {
	t.Helper()
	r, err := web.NewRenderer(os.DirFS("testdata"), "*.html", "_*.html", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPageEscapesAndSetsHeaders(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	r.Page(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, "hello", web.Data{Title: "Greeting", Body: "<b>Ann</b>"})
	body := w.Body.String()
	if !strings.Contains(body, "Hello, &lt;b&gt;Ann&lt;/b&gt;.") {
		t.Errorf("body not escaped: %s", body)
	}
	for _, want := range []string{`<html lang="en" dir="ltr">`, `Skip to main content`, "<title>Greeting · careloop</title>", `<main id="main"`, "<h1>Greeting</h1>"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := w.Header().Get("Content-Security-Policy"); got != web.CSP {
		t.Errorf("CSP %q", got)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" {
		t.Errorf("X-Frame-Options %q", w.Header().Get("X-Frame-Options"))
	}
}

func TestUnknownPageIsAnError(t *testing.T) {
	r := newRenderer(t)
	w := httptest.NewRecorder()
	r.Page(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, "missing", web.Data{})
	if w.Code != http.StatusInternalServerError {
		t.Errorf("status %d", w.Code)
	}
}

func TestErrorSummaryLinksFields(t *testing.T) {
	r := newRenderer(t)
	e := &web.FormErrors{}
	e.Add("email", "Enter your email address.")
	e.Add("", "Something about the whole form.")
	w := httptest.NewRecorder()
	r.Page(w, httptest.NewRequest("POST", "/", nil), http.StatusBadRequest, "hello", web.Data{Title: "Form", Errors: e})
	body := w.Body.String()
	if !strings.Contains(body, `<a href="#email">Enter your email address.</a>`) || !strings.Contains(body, "<li>Something about the whole form.</li>") {
		t.Errorf("error summary: %s", body)
	}
	if !strings.Contains(body, `role="alert"`) {
		t.Errorf("error summary is not announced")
	}
}

func TestFormErrors(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		field     string
		wantField string
		wantMsg   string
	}{
		{"field of the error wins", errs.Invalidf("code", "Enter 6 digits."), "other", "code", "Enter 6 digits."},
		{"given field otherwise", errs.E(errs.Unauthorized, "The email or password is not right."), "password", "password", "The email or password is not right."},
		{"internal errors say nothing more", errs.Internalf("db down: secret detail"), "x", "x", "Internal error."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := web.FromError(tt.err, tt.field)
			if !e.Any() || e.List[0].Field != tt.wantField || e.List[0].Message != tt.wantMsg {
				t.Errorf("got %+v", e.List)
			}
			if e.Of(tt.wantField) != tt.wantMsg {
				t.Errorf("Of(%q) = %q", tt.wantField, e.Of(tt.wantField))
			}
		})
	}
	var none *web.FormErrors
	if none.Any() || none.Of("x") != "" {
		t.Error("nil FormErrors has errors")
	}
}

func TestFlashSurvivesOneRedirect(t *testing.T) {
	tests := []struct {
		name, cookie string
		want         *web.Flash
	}{
		{"set by SetFlash", "", &web.Flash{Kind: "success", Message: "Done – all good."}},
		{"unknown kind", "evil:SGk", nil},
		{"not base64", "info:%%%", nil},
		{"empty message", "info:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tt.cookie == "" {
				w := httptest.NewRecorder()
				web.SetFlash(w, tt.want.Kind, tt.want.Message)
				for _, c := range w.Result().Cookies() {
					req.AddCookie(c)
				}
			} else {
				req.AddCookie(&http.Cookie{Name: "careloop_flash", Value: tt.cookie})
			}
			w := httptest.NewRecorder()
			got := web.TakeFlash(w, req)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			cleared := false
			for _, c := range w.Result().Cookies() {
				cleared = cleared || (c.Name == "careloop_flash" && c.MaxAge < 0)
			}
			if !cleared {
				t.Error("the flash cookie is not cleared after reading")
			}
		})
	}
}

func TestWantsHTML(t *testing.T) {
	tests := []struct {
		accept string
		want   bool
	}{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},
		{"application/xhtml+xml", true},
		{"application/json", false},
		{"application/fhir+json, text/html", false},
		{"*/*", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.accept, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Accept", tt.accept)
			if got := web.WantsHTML(req); got != tt.want {
				t.Errorf("WantsHTML = %v", got)
			}
		})
	}
}

func TestErrorRenderer(t *testing.T) {
	r := newRenderer(t)
	render := r.ErrorRenderer(nil)
	tests := []struct {
		name, accept string
		status       int
		msg          string
		wantType     string
		wantText     string
	}{
		{"browser, not found", "text/html", 404, "Not found.", "text/html", "Page not found"},
		{"browser, server error hides the message", "text/html", 500, "db exploded", "text/html", "Something went wrong on our side"},
		{"API client", "application/json", 404, "Not found.", "application/json", `"code":"not_found"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/x", nil)
			req.Header.Set("Accept", tt.accept)
			w := httptest.NewRecorder()
			render(w, req, tt.status, &errs.Error{Code: errs.NotFound, Message: tt.msg})
			if w.Code != tt.status || !strings.HasPrefix(w.Header().Get("Content-Type"), tt.wantType) {
				t.Errorf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
			}
			if !strings.Contains(w.Body.String(), tt.wantText) {
				t.Errorf("body lacks %q: %s", tt.wantText, w.Body.String())
			}
			if tt.status == 500 && strings.Contains(w.Body.String(), tt.msg) {
				t.Errorf("server error message shown")
			}
		})
	}
}

func TestProtectRefusesCrossOriginPost(t *testing.T) {
	h := web.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name, method, site string
		want               int
	}{
		{"same-origin post", "POST", "same-origin", http.StatusNoContent},
		{"cross-site post", "POST", "cross-site", http.StatusForbidden},
		{"cross-site get", "GET", "cross-site", http.StatusNoContent},
		{"no browser headers", "POST", "", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, "http://careloop.test/signout", nil)
			if tt.site != "" {
				req.Header.Set("Sec-Fetch-Site", tt.site)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestStyleSheet(t *testing.T) {
	mux := http.NewServeMux()
	web.RegisterStatic(mux)
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", web.StylePath, nil))
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || !strings.Contains(w.Body.String(), ":focus-visible") {
		t.Errorf("style sheet: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func BenchmarkPage(b *testing.B) {
	r := newRenderer(b)
	req := httptest.NewRequest("GET", "/", nil)
	for b.Loop() {
		r.Page(httptest.NewRecorder(), req, http.StatusOK, "hello", web.Data{Title: "Greeting", Body: "Ann", SignedIn: true,
			Nav: []web.Nav{{Href: "/account", Label: "Your account", Current: true}}})
	}
}

func TestLayoutSpeaksTheReadersLanguage(t *testing.T) {
	cat, err := i18n.New(web.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if missing := cat.Missing(); len(missing) > 0 {
		t.Errorf("layout messages missing: %v", missing)
	}
	es := cat.For("es")
	r := newRenderer(t)
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/results?x=1", nil)
	r.Page(w, req, http.StatusOK, "hello", web.Data{Title: "Saludo", L: es, Class: "text-large", SignedIn: true,
		Switch: web.NewSwitch("/lang", req, es)})
	body := w.Body.String()
	for _, want := range []string{`<html lang="es" dir="ltr" class="text-large">`, "Ir al contenido principal", "Cerrar sesión",
		`<input type="hidden" name="next" value="/results?x=1">`, `<button type="submit" name="lang" value="en" lang="en" class="link">English</button>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, `value="es"`) {
		t.Error("the switcher offers the current language")
	}
}
