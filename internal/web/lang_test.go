package web_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/i18n"
	"github.com/careloop/careloop/internal/platform/readability"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/web"
)

// localised are the templates of the pages that speak the reader's
// language: every word in them comes from the catalog.
var localised = []string{"signin.html", "factor.html", "activate.html", "register.html", "sent.html", "recovery.html",
	"reset.html", "verify.html", "link-expired.html", "_org.html", "_passkey.html", "failure.html",
	// The pages of a signed-in patient or caregiver (staff read them in
	// English; their staff-only parts may stay English).
	"account.html", "security.html", "sessions.html", "link-record.html", "proxy-access.html", "record-access.html",
	"messages.html", "message.html", "notify-prefs.html", "unsubscribe.html"}

// TestCatalogComplete: every key exists in English and Spanish, every key
// the localised templates and the code ask for exists in English (a key
// built in code, like "role." + role, by its prefix), and the English of
// the service and flash messages the pages recognise is still what the
// services and pages say.
func TestCatalogComplete(t *testing.T) {
	cat, err := web.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	if m := cat.Missing(); len(m) > 0 {
		t.Errorf("keys missing or extra per language: %v", m)
	}
	if !cat.Has("es") {
		t.Fatal("no Spanish")
	}
	have := map[string]bool{}
	for _, k := range cat.Keys(i18n.Default) {
		have[k] = true
	}
	used := map[string]string{}
	lit := regexp.MustCompile(`(?:t \$?[A-Za-z.]*L|\.T\()\s*"([a-z0-9._\-]+)"`)
	files := []string{}
	for _, name := range localised {
		files = append(files, filepath.Join("templates", name))
	}
	gos, _ := filepath.Glob("*.go")
	var code strings.Builder
	for _, f := range append(files, gos...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".go") {
			code.Write(b)
		}
		for _, m := range lit.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = f
		}
	}
	if len(used) < 50 {
		t.Errorf("found only %d keys in use: is the pattern still right?", len(used))
	}
	var missing []string
	for k, f := range used {
		if prefix, built := strings.CutSuffix(k, "."); built {
			if !slices.ContainsFunc(cat.Keys(i18n.Default), func(have string) bool { return strings.HasPrefix(have, prefix+".") }) {
				missing = append(missing, k+"* ("+f+")")
			}
			continue
		}
		if !have[k] {
			missing = append(missing, k+" ("+f+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys used but not in the catalog: %v", missing)
	}

	en := cat.For(i18n.Default)
	for key, service := range map[string]string{
		"service.wrong_credentials": errs.MessageOf(signin.WrongCredentials()),
		"service.invalid_link":      identity.InvalidLinkMessage,
		"service.wrong_activation":  identity.WrongActivationMessage,
		"service.stepup":            web.StepUpMessage,
	} {
		if got := en.T(key); got != service {
			t.Errorf("%s = %q, but the service says %q", key, got, service)
		}
	}
	// A flash message is recognised by its English text: each must still
	// be set, word for word, somewhere in the pages' code.
	for _, k := range cat.Keys(i18n.Default) {
		if strings.HasPrefix(k, "flash.") && !strings.Contains(code.String(), `"`+en.T(k)+`"`) {
			t.Errorf("%s: no page sets the flash %q any more", k, en.T(k))
		}
	}
}

// TestPlainLanguage: the English of the public pages and of the pages of
// a signed-in patient or caregiver reads at or below US grade 8 by
// Flesch-Kincaid, message by message, with its placeholders filled in.
// The "service." keys are left out: English readers get the services' own
// words, not these.
func TestPlainLanguage(t *testing.T) {
	cat, err := web.NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	en := cat.For(i18n.Default)
	n := 0
	for _, k := range cat.Keys(i18n.Default) {
		if strings.HasPrefix(k, "service.") {
			continue
		}
		text := en.T(k, "Count", 2, "N", 2, "Org", `"riverside"`, "Email", "ana@example.org", "Name", "My phone",
			"Time", "2 Jan 2026, 10:00 UTC", "Max", 20, "Category", "Test results", "NoEmail", "Send me no email at all",
			"NoSMS", "Send me no text messages at all", "ID", "ada", "List", "Observation/1", "Device", "Chrome on Linux",
			"Browser", "Chrome", "System", "Linux", "Day", 2, "Month", "Jan", "Year", "2026", "Clock", "10:00")
		if strings.Contains(text, "<no value>") {
			t.Errorf("%s has a placeholder the test does not fill: %q", k, text)
		}
		if readability.Words(text) < 8 {
			continue // labels: the formula means nothing on a few words
		}
		n++
		if g := readability.Grade(text); g > 8 {
			t.Errorf("%s reads at grade %.1f (at most 8): %q", k, g, text)
		}
	}
	if n < 100 {
		t.Errorf("only %d messages measured", n)
	}
}

// client is a browser without JavaScript: it keeps cookies, sends an
// Accept-Language, and does not follow redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
	lang string
}

func newClient(t *testing.T, base, lang string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, lang: lang, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request (a form when form is not nil) and returns the
// status, the redirect and the body.
func (c *client) do(method, path string, form url.Values) (int, string, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (c *client) setCookie(name, value string) {
	u, _ := url.Parse(c.base)
	c.c.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func (c *client) signIn(email, pass string) (int, string, string) {
	c.t.Helper()
	return c.do("POST", "/signin", url.Values{"org": {"riverside"}, "email": {email}, "password": {pass}})
}

func wantAll(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s lacks %q: %.400s", what, p, body)
		}
	}
}

func TestSignInPageLanguage(t *testing.T) {
	s := startSite(t)
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)

	es := newClient(t, s.base, "es-MX,es;q=0.9,en;q=0.5")
	status, _, body := es.do("GET", "/signin", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /signin in Spanish: %d", status)
	}
	wantAll(t, "the Spanish sign-in page", body, `<html lang="es"`, "<title>Iniciar sesión · careloop</title>",
		`<label for="email">Correo electrónico</label>`, `<label for="password">Contraseña</label>`,
		"¿Olvidó su contraseña?", `action="/lang"`, `name="lang" value="en" lang="en"`, ">English</button>",
		`name="next" value="/signin"`)
	if strings.Contains(body, "Email address") || strings.Contains(body, "Skip to main content") {
		t.Errorf("the Spanish sign-in page has English in it: %s", body)
	}

	// The switcher's choice beats the browser's.
	es.setCookie(i18n.CookieName, "en")
	_, _, body = es.do("GET", "/signin", nil)
	wantAll(t, "the sign-in page with careloop_lang=en", body, `<html lang="en"`, "<title>Sign in · careloop</title>",
		`<label for="email">Email address</label>`, `name="lang" value="es" lang="es"`, ">Español</button>")

	// No preference at all: English, as before.
	_, _, body = newClient(t, s.base, "").do("GET", "/signin", nil)
	wantAll(t, "the sign-in page without a language", body, `<html lang="en"`, "Forgot your password?")

	// The page's own errors and the service's, in Spanish.
	es = newClient(t, s.base, "es")
	status, _, body = es.signIn("", "")
	if status != http.StatusBadRequest {
		t.Errorf("empty sign-in: %d", status)
	}
	wantAll(t, "the empty sign-in", body, "Escriba su correo electrónico.", "Escriba su contraseña.", "Hay un problema")
	status, _, body = es.signIn("pat@example.org", "not the password")
	if status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", status)
	}
	wantAll(t, "a wrong password", body, "El correo electrónico o la contraseña no son correctos.")
	// The throttle's answer, with its number of minutes.
	for range 6 {
		status, _, body = es.signIn("pat@example.org", "not the password")
	}
	if status != http.StatusTooManyRequests {
		t.Fatalf("after 7 wrong passwords: %d", status)
	}
	wantAll(t, "a paused account", body, "Demasiados intentos fallidos.", "inténtelo de nuevo en 15 minutos.")

	// English keeps the service's own words.
	_, _, body = newClient(t, s.base, "en-GB").signIn("pat@example.org", "not the password")
	wantAll(t, "a paused account in English", body, "try again in 15 minutes.")
}

func TestSignOutFlashLanguage(t *testing.T) {
	s := startSite(t)
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)
	c := newClient(t, s.base, "es")
	if status, to, _ := c.signIn("pat@example.org", password); status != http.StatusSeeOther || to != "/home" {
		t.Fatalf("sign-in: %d to %q", status, to)
	}
	if status, to, _ := c.do("POST", "/signout", url.Values{}); status != http.StatusSeeOther || to != "/signin" {
		t.Fatalf("sign-out: %d to %q", status, to)
	}
	_, _, body := c.do("GET", "/signin", nil)
	wantAll(t, "the sign-in page after signing out", body, `<div class="flash success" role="status"><p>Cerró su sesión.</p>`)
}

func TestLandingAfterSignIn(t *testing.T) {
	s := startSite(t)
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)
	s.person(t, "cam@example.org", "Cam Carer", identity.RoleCaregiver)
	s.person(t, "nurse@example.org", "Noor Nurse", identity.RoleNurse)
	s.person(t, "tech@example.org", "Tess Tech", identity.RoleTechnician)
	tech := enrollTOTP(t, s, apiSignIn(t, s, "tech@example.org"))

	for _, tc := range []struct{ email, want string }{
		{"pat@example.org", "/home"},
		{"cam@example.org", "/home"},
		{"nurse@example.org", "/account/security"}, // staff without a second factor enroll one first
		{"tech@example.org", "/signin/factor"},
	} {
		c := newClient(t, s.base, "")
		status, to, _ := c.signIn(tc.email, password)
		if status != http.StatusSeeOther || to != tc.want {
			t.Errorf("%s signs in: %d to %q, want %s", tc.email, status, to, tc.want)
			continue
		}
		if tc.want == "/home" {
			if status, _, body := c.do("GET", "/home", nil); status != http.StatusOK || !strings.Contains(body, `<html lang="en"`) {
				t.Errorf("%s: GET /home %d: %.300s", tc.email, status, body)
			}
			// Already signed in: the sign-in page sends them home too.
			if _, to, _ := c.do("GET", "/signin", nil); to != "/home" {
				t.Errorf("%s signed in, GET /signin goes to %q", tc.email, to)
			}
		}
		if tc.want == "/signin/factor" {
			// The code of the next period: the one of this period confirmed
			// the enrolment, and a code is taken once.
			code, err := totp.GenerateCode(tech, time.Now().Add(30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if status, to, _ := c.do("POST", "/signin/factor", url.Values{"code": {code}}); status != http.StatusSeeOther || to != "/account" {
				t.Errorf("staff second factor: %d to %q, want /account", status, to)
			}
		}
	}

	// A page asked for wins over the landing page.
	c := newClient(t, s.base, "")
	status, to, _ := c.do("POST", "/signin", url.Values{"org": {"riverside"}, "email": {"pat@example.org"}, "password": {password},
		"next": {"/account/messages"}})
	if status != http.StatusSeeOther || to != "/account/messages" {
		t.Errorf("patient with next: %d to %q", status, to)
	}
}

func TestFactorPageLanguage(t *testing.T) {
	s := startSite(t)
	s.person(t, "tech@example.org", "Tess Tech", identity.RoleTechnician)
	enrollTOTP(t, s, apiSignIn(t, s, "tech@example.org"))
	c := newClient(t, s.base, "es-419")
	if _, to, _ := c.signIn("tech@example.org", password); to != "/signin/factor" {
		t.Fatalf("sign-in goes to %q", to)
	}
	_, _, body := c.do("GET", "/signin/factor", nil)
	wantAll(t, "the Spanish factor page", body, `<html lang="es"`, "<title>Confirme que es usted · careloop</title>",
		`<label for="code">Código</label>`, ">Continuar</button>", ">Empezar de nuevo</a>", `value="en"`)
	status, _, body := c.do("POST", "/signin/factor", url.Values{"code": {""}})
	if status != http.StatusBadRequest {
		t.Errorf("empty code: %d", status)
	}
	wantAll(t, "an empty code", body, "Escriba el código de 6 dígitos de su aplicación, o un código de recuperación.")
	status, _, body = c.do("POST", "/signin/factor", url.Values{"code": {"000000"}})
	if status != http.StatusUnauthorized {
		t.Errorf("wrong code: %d", status)
	}
	wantAll(t, "a wrong code", body, "Ese código no es válido.")

	// A sign-in that has ended sends the person back, with the news in
	// their language.
	c2 := newClient(t, s.base, "es")
	c2.setCookie("careloop_session", "nothing")
	if _, to, _ := c2.do("GET", "/signin/factor", nil); to != "/signin" {
		t.Fatalf("ended sign-in goes to %q", to)
	}
	_, _, body = c2.do("GET", "/signin", nil)
	wantAll(t, "the sign-in page after an ended sign-in", body, "Su inicio de sesión tardó demasiado o terminó. Inicie sesión de nuevo.")
}

func TestLifecyclePagesLanguage(t *testing.T) {
	s := startMailSite(t)
	es := newClient(t, s.base, "es-MX")
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/activate", 200, []string{"<title>Abra su cuenta · careloop</title>", "Código de activación", "Fecha de nacimiento",
			"Elija una contraseña", "Para <strong>Riverside Family Clinic</strong>.", ">Abrir mi cuenta</button>"}},
		{"/register", 200, []string{"<title>Registrarse · careloop</title>", "úselo en su lugar", ">Registrarme</button>"}},
		{"/register/sent", 200, []string{"<title>Revise su correo · careloop</title>", "en un plazo de 24 horas", "Ir a iniciar sesión"}},
		{"/recovery", 200, []string{"<title>¿Olvidó su contraseña?", ">Enviarme un enlace</button>"}},
		{"/recovery/sent", 200, []string{"Si alguna cuenta usa ese correo"}},
		{"/recovery?org=riverside&token=abc", 200, []string{"<title>Cree una contraseña nueva", ">Guardar mi contraseña nueva</button>"}},
		{"/recovery?token=abc", 400, []string{"Este enlace está incompleto.", "Pida un enlace nuevo"}},
		{"/verify-email?org=riverside&token=abc", 200, []string{"<title>Confirme su correo electrónico", ">Confirmar mi correo electrónico</button>"}},
		{"/verify-email", 400, []string{"Este enlace está incompleto.", "Inicie sesión y pida un enlace nuevo"}},
	} {
		status, _, body := es.do("GET", tc.path, nil)
		if status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.path, status, tc.status)
		}
		wantAll(t, tc.path, body, append(tc.want, `<html lang="es"`, `action="/lang"`)...)
	}

	status, _, body := es.do("POST", "/register", url.Values{"org": {"riverside"}})
	if status != http.StatusBadRequest {
		t.Errorf("empty registration: %d", status)
	}
	wantAll(t, "an empty registration", body, "Escriba su nombre.", "Escriba su fecha de nacimiento.", "Elija una contraseña.")
	_, _, body = es.do("POST", "/activate", url.Values{"org": {"riverside"}, "code": {"7K2M9-QC4XR"}, "birth_date": {"1980-05-17"},
		"name": {"Ada"}, "email": {"ada@example.org"}, "password": {newPassword}})
	wantAll(t, "a wrong activation code", body, "El código de activación o la fecha de nacimiento no son correctos")
	_, _, body = es.do("POST", "/verify-email", url.Values{"org": {"riverside"}, "token": {"abc"}})
	wantAll(t, "a wrong link", body, "Este enlace no es válido")
	_, _, body = es.do("POST", "/recovery/reset", url.Values{"org": {"riverside"}, "token": {"abc"}, "password": {"short"}})
	if strings.Contains(body, "This link") || strings.Contains(body, "A password") {
		t.Errorf("the reset page has English in it: %.500s", body)
	}
	// The switcher returns to the link's page, not to the address of the post.
	wantAll(t, "the reset page after a post", body, `name="next" value="/recovery?org=riverside&amp;token=abc"`)
}
