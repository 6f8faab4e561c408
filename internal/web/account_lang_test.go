package web_test

// Tests of the pages of a signed-in patient or caregiver in their
// language: the account, its security and sessions, who can see and who
// looked at the record, the messages and how they are sent, and the
// unsubscribe pages; staff keep English.

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/i18n"
)

// keyShaped finds a catalog key showing through on a page: a word of one
// of the catalog's prefixes, a dot and more (a path like /static/passkey.js
// is not one).
var keyShaped = regexp.MustCompile(`(?:^|[^/\w.-])((?:account|security|sessions|linkrecord|access|recordaccess|messages|message|prefs|unsubscribe|error|time|role|passkey|nav|layout|service|flash|field|form|public)\.[a-z][a-z0-9_.-]*)`)

// wantSpanish checks that a page is Spanish through and through: the
// lang attribute, the words given, no English of the layout and no key.
func wantSpanish(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	wantAll(t, what, body, append(parts, `<html lang="es"`, `action="/lang"`, ">English</button>")...)
	for _, english := range []string{"Skip to main content", "Sign out", "Your account", "Something went wrong"} {
		if strings.Contains(body, english) {
			t.Errorf("%s has English in it (%q)", what, english)
		}
	}
	if m := keyShaped.FindStringSubmatch(body); m != nil {
		t.Errorf("%s shows the key %q", what, m[1])
	}
}

// wantPatientNav checks the patients' navigation in Spanish, with current
// the page marked current ("" for none).
func wantPatientNav(t *testing.T, what, body, current string) {
	t.Helper()
	nav := body[strings.Index(body, "<nav"):]
	nav = nav[:strings.Index(nav, "</nav>")]
	wantAll(t, what+"'s navigation", nav, `href="/home">Inicio</a>`, ">Resultados</a>", ">Citas</a>", ">Mensajes</a>", ">Cuenta</a>")
	if strings.Contains(nav, `href="/account/sessions"`) || strings.Contains(nav, "Security") {
		t.Errorf("%s has the account's navigation: %s", what, nav)
	}
	if current != "" && !strings.Contains(nav, `href="`+current+`" aria-current="page"`) {
		t.Errorf("%s: %s is not the current page: %s", what, current, nav)
	}
	wantAll(t, what, body, `<a class="brand" href="/home">`)
}

// spanishPatient stores the patient ada with a record linked to her
// account, messages by email, and Spanish as her profile's language.
func spanishPatient(t *testing.T, s *mailSite) {
	t.Helper()
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	prefs, err := s.app.Notify.Preferences(context.Background(), s.org.ID, "Patient/ada")
	if err != nil {
		t.Fatal(err)
	}
	prefs.Lang = "es"
	if err := s.app.Notify.SetPreferences(context.Background(), s.org.ID, "Patient/ada", prefs, "test"); err != nil {
		t.Fatal(err)
	}
}

// startNotifySiteOn is startNotifySite on engine e.
func startNotifySiteOn(t *testing.T, e db.Dialect) *mailSite {
	t.Helper()
	s := startMailSiteOn(t, e)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.app.Notify.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return s
}

// TestPatientPagesLanguage: a patient whose profile says Spanish reads
// every page of their account in Spanish, with no cookie and no
// Accept-Language, with the patients' navigation; errors, form errors and
// flash messages too. The switcher's choice beats the profile. It runs on
// every engine of the run: the language is read from the preferences.
func TestPatientPagesLanguage(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) { testPatientPagesLanguage(t, startNotifySiteOn(t, e)) })
	}
}

func testPatientPagesLanguage(t *testing.T, s *mailSite) {
	spanishPatient(t, s)
	tell(t, s, "result/1", "result-ready", "ada", "")
	inapp := waitMessage(t, s, "ada", func(m notify.Message) bool { return m.Channel == notify.InApp })

	c := newClient(t, s.base, "")
	if status, to, _ := c.signIn("ada@example.org", password); status != http.StatusSeeOther || to != "/home" {
		t.Fatalf("sign-in: %d to %q", status, to)
	}
	for _, tc := range []struct {
		path, current string
		want          []string
	}{
		{"/account", "/account", []string{"<title>Su cuenta · careloop</title>", "Cómo inicia sesión", "Paciente",
			"Aplicación de autenticación: sin configurar", "Códigos de recuperación restantes: 0", "Su cuenta está vinculada a su expediente.",
			`href="/account/display"`, "Pantalla e idioma", `href="/account/data"`, "Descargar sus datos",
			`href="/account/security"`, `href="/account/sessions"`, `href="/account/access"`, `href="/account/record-access"`,
			`href="/account/messages"`, `href="/account/notifications"`, "Sus mensajes: <strong>1 sin leer</strong>",
			"Cambiar mi correo electrónico", "(aún sin confirmar)"}},
		{"/account/security", "", []string{"<title>Seguridad · careloop</title>", "Configurar una aplicación de autenticación",
			"Códigos de recuperación", "Le quedan <strong>0</strong> códigos.", "Aún no tiene ninguna llave de acceso.",
			`data-msg-cancelled="No se usó la llave de acceso. Puede intentarlo de nuevo."`, `data-msg-failed="Algo salió mal. Inténtelo de nuevo."`}},
		{"/account/sessions", "", []string{"<title>Dónde tiene la sesión iniciada · careloop</title>", "Dispositivo", "(este dispositivo)",
			"Cerrar sesión aquí", "Navegador desconocido"}},
		{"/account/access", "", []string{"<title>Quién puede ver su expediente · careloop</title>", "Dar acceso a un cuidador",
			"Personas que pueden ver su expediente", "Nadie.", "configure un segundo factor"}},
		{"/account/record-access", "", []string{"<title>Quién consultó su expediente · careloop</title>", "Cada vez que alguien abre su expediente"}},
		{"/account/messages", "/account/messages", []string{"<title>Mensajes · careloop</title>", "Tiene 1 mensaje sin leer.",
			"Sin leer:", "Elija cómo y cuándo nos comunicamos con usted"}},
		{"/account/messages/" + inapp.ID, "", []string{"Recibido el", "Volver a sus mensajes"}},
		{"/account/notifications", "", []string{"<title>Cómo nos comunicamos con usted · careloop</title>", "Resultados de pruebas",
			"Primera opción", "Si eso no funciona", "Horas de silencio", "Zona horaria", "Idioma de los mensajes",
			`<option value="es" selected>Español</option>`, `<option value="en" lang="en">English</option>`,
			"Palabras sencillas (recomendado)", "Guardar mis opciones", "No enviarme ningún mensaje de texto"}},
		{"/account/link-record", "", []string{"<title>Vincule su expediente · careloop</title>", "Su cuenta ya está vinculada a su expediente"}},
	} {
		status, _, body := c.do("GET", tc.path, nil)
		if status != http.StatusOK {
			t.Errorf("GET %s: %d: %.300s", tc.path, status, body)
			continue
		}
		wantSpanish(t, tc.path, body, tc.want...)
		wantPatientNav(t, tc.path, body, tc.current)
	}
	// The record access lists the patient's own look, recorded a moment
	// ago, once the log has it.
	s.settleAudit(t)
	_, _, body := c.do("GET", "/account/record-access", nil)
	wantSpanish(t, "the record access", body, `data-testid="record-access"`, "Cuándo", "<td>Usted</td><td>Paciente</td><td>Vio message/",
		"Permitido")
	if !regexp.MustCompile(`<td>\d+ de [a-z]+ de \d{4}, \d\d:\d\d UTC</td>`).MatchString(body) {
		t.Errorf("the record access shows times not in Spanish: %.1500s", body)
	}

	// Errors: a message that is not hers, a staff page.
	status, _, body := c.do("GET", "/account/messages/nothing-here", nil)
	if status != http.StatusNotFound {
		t.Errorf("an unknown message: %d", status)
	}
	wantSpanish(t, "the 404 page", body, "<title>No se encontró la página · careloop</title>", "No hay ninguna página en esta dirección.",
		`href="/home"`)
	status, _, body = c.do("GET", "/staff/messages", nil)
	if status != http.StatusForbidden {
		t.Errorf("a staff page: %d", status)
	}
	wantSpanish(t, "the 403 page", body, "<title>No permitido · careloop</title>", "Su función no le permite hacer esto.")

	// A form's errors, the service's refusal and a flash message.
	status, _, body = c.do("POST", "/account/access", url.Values{"caregiver_email": {""}, "expires_at": {"someday"}})
	if status != http.StatusBadRequest {
		t.Errorf("an empty grant: %d", status)
	}
	wantSpanish(t, "an empty grant", body, "Hay un problema", "Escriba el correo electrónico que su cuidador usa",
		"Escriba el último día de acceso como una fecha")
	status, _, body = c.do("POST", "/account/access", url.Values{"caregiver_email": {"cam@example.org"}})
	if status != http.StatusForbidden {
		t.Errorf("a grant without a second factor: %d", status)
	}
	wantSpanish(t, "a grant without a second factor", body, "Por su seguridad, primero confirme que es usted con su segundo factor.")
	if status, to, _ := c.do("POST", "/account/sessions/end-others", url.Values{}); status != http.StatusSeeOther || to != "/account/sessions" {
		t.Fatalf("end the other sessions: %d to %q", status, to)
	}
	_, _, body = c.do("GET", "/account/sessions", nil)
	wantSpanish(t, "the sessions after ending the others", body, "No tenía la sesión iniciada en ningún otro lugar.")
	status, _, body = c.do("POST", "/account/notifications", url.Values{"channels-results-first": {""}, "channels-results-fallback": {""},
		"daily_cap": {"many"}})
	if status != http.StatusBadRequest {
		t.Errorf("preferences without a channel: %d", status)
	}
	wantSpanish(t, "preferences without a channel", body, "Resultados de pruebas: elija correo electrónico o mensaje de texto.",
		"Máximo de mensajes al día: escriba un número")
	form := url.Values{"quiet_start": {"21:00"}, "quiet_end": {"08:00"}, "daily_cap": {"5"}, "lang": {"es"}, "level": {"simple"}}
	for _, cat := range []string{"results", "appointments", "reminders"} {
		form.Set("channels-"+cat+"-first", notify.Email)
	}
	if status, to, body := c.do("POST", "/account/notifications", form); status != http.StatusSeeOther || to != "/account/notifications" {
		t.Fatalf("save the preferences: %d to %q: %.500s", status, to, body)
	}
	_, _, body = c.do("GET", "/account/notifications", nil)
	wantSpanish(t, "the preferences after saving", body, "Sus opciones están guardadas.")

	// The switcher's choice beats the profile's.
	c.setCookie(i18n.CookieName, "en")
	_, _, body = c.do("GET", "/account", nil)
	wantAll(t, "the account with careloop_lang=en", body, `<html lang="en"`, "<title>Your account · careloop</title>", "How you sign in",
		`href="/home">Home</a>`, "Display and language", "Download your data", `value="es" lang="es"`)
}

// TestCaregiverPagesLanguage: a caregiver has no profile of their own; the
// browser's language speaks, and their pages say why they have no
// choices of messages.
func TestCaregiverPagesLanguage(t *testing.T) {
	s := startNotifySite(t)
	s.person(t, "cam@example.org", "Cam Carer", identity.RoleCaregiver)
	c := newClient(t, s.base, "es-MX,es;q=0.9")
	if status, to, _ := c.signIn("cam@example.org", password); status != http.StatusSeeOther || to != "/home" {
		t.Fatalf("sign-in: %d to %q", status, to)
	}
	_, _, body := c.do("GET", "/account", nil)
	wantSpanish(t, "the caregiver's account", body, "Cuidador", "Quién puede ver su expediente", "Pantalla e idioma")
	wantPatientNav(t, "the caregiver's account", body, "/account")
	if strings.Contains(body, "link-record") {
		t.Errorf("a caregiver is offered to link a record: %.500s", body)
	}
	_, _, body = c.do("GET", "/account/notifications", nil)
	wantSpanish(t, "the caregiver's preferences", body, "Los mensajes sobre las personas que usted cuida les llegan a ellas")
	_, _, body = c.do("GET", "/account/access", nil)
	wantSpanish(t, "the caregiver's access", body, "Expedientes de otras personas que usted puede ver", "Nadie.")
	status, _, body := c.do("GET", "/account/link-record", nil)
	if status != http.StatusForbidden {
		t.Errorf("a caregiver's link-record: %d", status)
	}
	wantSpanish(t, "a caregiver's link-record", body, "solo se vincula a un expediente la cuenta del propio paciente")
}

// TestStaffAccountPagesEnglish: staff read their account's pages in
// English with the account's navigation, whatever their browser asks.
func TestStaffAccountPagesEnglish(t *testing.T) {
	s := startNotifySite(t)
	s.person(t, "nurse@example.org", "Noor Nurse", identity.RoleNurse)
	c := newClient(t, s.base, "es")
	if status, to, _ := c.signIn("nurse@example.org", password); status != http.StatusSeeOther || to != "/account/security" {
		t.Fatalf("sign-in: %d to %q", status, to)
	}
	status, _, body := c.do("GET", "/account/security", nil)
	if status != http.StatusOK {
		t.Fatalf("GET /account/security: %d", status)
	}
	wantAll(t, "the staff's security page", body, `<html lang="en"`, "<title>Security · careloop</title>", "Set up a second factor to continue",
		`href="/account">Your account</a>`, `href="/account/sessions">Sessions</a>`, "Set up an authenticator app",
		`data-msg-cancelled="The passkey was not used. You can try again."`)
	for _, spanish := range []string{"Inicio", "Seguridad", `action="/lang"`} {
		if strings.Contains(body, spanish) {
			t.Errorf("the staff's security page has %q", spanish)
		}
	}
	if _, to, _ := c.do("GET", "/account", nil); to != "/account/security" {
		t.Errorf("staff without a second factor: GET /account goes to %q", to)
	}
}

// TestUnsubscribePagesLanguage: the unsubscribe pages, opened from an
// email without a session, speak the browser's language; a forged link's
// 404 page too.
func TestUnsubscribePagesLanguage(t *testing.T) {
	s := startNotifySite(t)
	notifyPatient(t, s, "ada", "Ada", "Okafor", notify.Email)
	tell(t, s, "result/1", "result-ready", "ada", "")
	m := s.mailTo(t, "ada@example.org", 1)
	match := unsubscribeLinkPattern.FindStringSubmatch(m.Header("List-Unsubscribe"))
	if match == nil {
		t.Fatalf("no unsubscribe link: %q", m.Header("List-Unsubscribe"))
	}
	link := match[1]
	c := newClient(t, s.base, "es-419")
	status, _, body := c.do("GET", link, nil)
	if status != http.StatusOK {
		t.Fatalf("GET the unsubscribe link: %d", status)
	}
	wantSpanish(t, "the unsubscribe question", body, "<title>¿Dejar de recibir estos mensajes? · careloop</title>",
		">Dejar de recibir estos mensajes</button>", "¿Cambió de opinión?")
	status, _, body = c.do("POST", link, url.Values{"List-Unsubscribe": {"One-Click"}})
	if status != http.StatusOK {
		t.Fatalf("POST the unsubscribe link: %d", status)
	}
	wantSpanish(t, "the unsubscribe answer", body, "No enviaremos más correos a esta dirección.", "abra su configuración de avisos")
	status, _, body = c.do("POST", link[:len(link)-len("/unsubscribe")-2]+"xx/unsubscribe", url.Values{})
	if status != http.StatusNotFound {
		t.Errorf("a forged unsubscribe link: %d", status)
	}
	wantSpanish(t, "a forged unsubscribe link", body, "No se encontró la página", `href="/signin"`)

	_, _, body = newClient(t, s.base, "").do("GET", link, nil)
	wantAll(t, "the unsubscribe question in English", body, `<html lang="en"`, "Stop messages to the address this link was sent to?")
}

// TestBrowserPasskeyLanguage: passkey.js speaks the page's language. A
// Spanish patient adds a passkey; when the authenticator has lost it, the
// script's answer to the refused confirmation is the page's Spanish.
func TestBrowserPasskeyLanguage(t *testing.T) {
	s := startNotifySite(t)
	spanishPatient(t, s)
	b := newBrowser(t, s.site)
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	added, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}

	b.signIn("ada@example.org", "/home")
	b.open("/account/security")
	if got := eval[string](b, `document.documentElement.lang`); got != "es" {
		t.Fatalf("the security page is in %q", got)
	}
	b.fill("#passkey-name", "Mi teléfono")
	b.click(`[data-passkey-register]`, "/account/security")
	if got := b.text(`[data-testid=passkey] td`); got != "Mi teléfono" {
		t.Fatalf("registered passkey named %q", got)
	}
	b.checkA11y("the Spanish security page with a passkey")

	if _, err := chromedp.Call(ctx, webauthn.ClearCredentials, webauthn.ClearCredentialsParams(added)); err != nil {
		t.Fatal(err)
	}
	s.shift.Store(int64(11 * time.Minute)) // the sign-in's factor is too old: the page asks to confirm
	b.open("/account/security")
	b.do(chromedp.Click(chromedp.CSS(`[data-passkey-factor]`)))
	status := ""
	for deadline := time.Now().Add(20 * time.Second); status == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		status = b.text(`#stepup-title ~ [data-passkey] [data-passkey-status]`)
	}
	if status != "No se usó la llave de acceso. Puede intentarlo de nuevo." {
		t.Errorf("the refused passkey: %q", status)
	}
}
