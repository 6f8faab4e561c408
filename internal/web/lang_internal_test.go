package web

import (
	"strings"
	"testing"

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
