package web

import (
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/signin"
)

// TestServiceMessages: the messages of the services' real errors are said
// in Spanish, and left as they are in English and when unknown.
func TestServiceMessages(t *testing.T) {
	cat, err := NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pages{cat: cat, english: englishKeys(cat)}
	es, en := cat.For("es"), cat.For("en")
	_, badEmail := identity.NormalizeEmail("not an address")
	tests := []struct {
		name string
		err  error
		want string // in Spanish
	}{
		{"wrong password", signin.WrongCredentials(), "El correo electrónico o la contraseña no son correctos."},
		{"invalid link", identity.InvalidLink(), "Este enlace no es válido: venció, ya se usó o fue reemplazado por uno más reciente."},
		{"wrong activation", identity.WrongActivation(), "El código de activación o la fecha de nacimiento no son correctos, o el código venció."},
		{"short password", identity.CheckPassword("violet"), "Una contraseña necesita al menos 8 caracteres; esta tiene 6."},
		{"common password", identity.CheckPassword("password123"), "Esta contraseña es demasiado fácil de adivinar."},
		{"only spaces", identity.CheckPassword("            "), "Una contraseña no puede tener solo espacios."},
		{"not an email", badEmail, `"not an address" no es un correo electrónico.`},
		{"unknown", errs.Invalidf("x", "Something careloop has no words for."), "Something careloop has no words for."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err == nil {
				t.Fatal("the service accepted it")
			}
			e := p.formErrors(es, tt.err, "password")
			if len(e.List) != 1 || !strings.HasPrefix(e.List[0].Message, tt.want) {
				t.Errorf("Spanish: %+v, want %q", e.List, tt.want)
			}
			if got := p.formErrors(en, tt.err, "password"); got.List[0].Message != errs.MessageOf(tt.err) {
				t.Errorf("English: %q, want the service's %q", got.List[0].Message, errs.MessageOf(tt.err))
			}
		})
	}
	if got := p.serviceMessage(es, "Too many failed attempts. For your security, signing in is paused; try again in 1 minute."); got !=
		"Demasiados intentos fallidos. Por su seguridad, el inicio de sesión está en pausa; inténtelo de nuevo en 1 minuto." {
		t.Errorf("one minute: %q", got)
	}
	if got := unknownOrg(en, "elsewhere"); errs.CodeOf(got) != errs.Invalid || errs.MessageOf(got) !=
		`There is no organisation "elsewhere" on this careloop. Check the name in the link or letter you were given.` {
		t.Errorf("unknown organisation: %q", errs.MessageOf(got))
	}
}

func TestLanding(t *testing.T) {
	for role, want := range map[identity.Role]string{identity.RolePatient: "/home", identity.RoleCaregiver: "/home",
		identity.RoleNurse: "/account", identity.RoleAdmin: "/account", "": "/account"} {
		if got := landing(string(role)); got != want {
			t.Errorf("landing(%q) = %s, want %s", role, got, want)
		}
	}
}

// TestAccountWords: the words built in code for the account's pages (a
// role, a moment, a device, what an audit entry did, the pages' own
// refusals) exist in Spanish, and English keeps its earlier words.
func TestAccountWords(t *testing.T) {
	cat, err := NewCatalog()
	if err != nil {
		t.Fatal(err)
	}
	p := &Pages{cat: cat, english: englishKeys(cat)}
	es, en := cat.For("es"), cat.For("en")
	for role, english := range roleNames {
		if got := roleIn(en, role); got != english {
			t.Errorf("%s in English: %q, want %q", role, got, english)
		}
		if got := roleIn(es, role); got == "" || strings.HasPrefix(got, "role.") || got == english && role != identity.RolePatient {
			t.Errorf("%s in Spanish: %q", role, got)
		}
	}
	if got := roleIn(es, "api-key"); got != "api-key" {
		t.Errorf("an unknown role: %q", got)
	}

	at := time.Date(2026, time.September, 7, 14, 5, 0, 0, time.FixedZone("x", 2*3600))
	if got, want := when(en, at), showTime(at); got != want {
		t.Errorf("when in English: %q, want %q", got, want)
	}
	if got := when(es, at); got != "7 de septiembre de 2026, 12:05 UTC" {
		t.Errorf("when in Spanish: %q", got)
	}
	for m := time.January; m <= time.December; m++ {
		d := time.Date(2026, m, 1, 0, 0, 0, 0, time.UTC)
		if got := when(en, d); got != showTime(d) {
			t.Errorf("%s in English: %q", m, got)
		}
		if got := when(es, d); strings.Contains(got, "time.") {
			t.Errorf("%s in Spanish: %q", m, got)
		}
	}

	chrome := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
	for ua, want := range map[string][2]string{
		chrome:                        {"Chrome on Linux", "Chrome en Linux"},
		"Go-http-client/1.1":          {"Unknown browser", "Navegador desconocido"},
		"Something (Windows NT 10.0)": {"Unknown browser on Windows", "Navegador desconocido en Windows"},
	} {
		if got := deviceIn(en, ua); got != want[0] || got != device(ua) {
			t.Errorf("device %q in English: %q, want %q (as device: %q)", ua, got, want[0], device(ua))
		}
		if got := deviceIn(es, ua); got != want[1] {
			t.Errorf("device %q in Spanish: %q, want %q", ua, got, want[1])
		}
	}

	read := &audit.Entry{Action: audit.Read, Entities: []audit.Entity{{What: "Observation/1"}, {What: "Observation/2"}, {What: "Observation/3"}, {What: "Observation/4"}}}
	if got := whatWords(en, read); got != "Viewed Observation/1, Observation/2, Observation/3 and 1 more" {
		t.Errorf("what in English: %q", got)
	}
	if got := whatWords(es, read); got != "Vio Observation/1, Observation/2, Observation/3 y 1 más" {
		t.Errorf("what in Spanish: %q", got)
	}

	for msg, want := range map[string]string{
		errs.MessageOf(stepUpRequired()):                                                   "Por su seguridad, primero confirme que es usted con su segundo factor.",
		"Your role does not allow this.":                                                   "Su función no le permite hacer esto.",
		"Sign in with your second factor to use this page.":                                "Inicie sesión con su segundo factor para usar esta página.",
		"A patient has access to their own record already.":                                "Un paciente ya tiene acceso a su propio expediente.",
		"No account uses cam@example.org here: the caregiver must have an account first.":  "Ninguna cuenta usa cam@example.org aquí",
		"nurse@example.org is a staff account; proxy access is for caregivers and family.": "nurse@example.org es una cuenta del personal",
	} {
		if got := p.serviceMessage(es, msg); !strings.HasPrefix(got, want) {
			t.Errorf("%q in Spanish: %q, want %q…", msg, got, want)
		}
		if got := p.serviceMessage(en, msg); got != msg {
			t.Errorf("%q in English: %q", msg, got)
		}
	}
}
