package i18n_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"testing"

	"github.com/careloop/careloop/internal/platform/i18n"
)

func catalog(t *testing.T) *i18n.Catalog {
	t.Helper()
	c, err := i18n.New(i18n.Source{FS: os.DirFS("testdata"), Dir: "a"}, i18n.Source{FS: os.DirFS("testdata"), Dir: "b"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMessages(t *testing.T) {
	c := catalog(t)
	es := c.For("es")
	if got := es.T("hello", "Name", "Ana"); got != "Hola, Ana" {
		t.Errorf("es hello = %q", got)
	}
	if got := es.T("results", "Count", 1); got != "1 resultado nuevo" {
		t.Errorf("es one = %q", got)
	}
	if got := c.For("en").T("results", "Count", 3); got != "3 new results" {
		t.Errorf("en other = %q", got)
	}
	if got := es.T("only.english"); got != "Only in English" {
		t.Errorf("fallback to English = %q", got)
	}
	if got := es.T("no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key = %q", got)
	}
	if got := es.T("bye"); got != "Adiós" {
		t.Errorf("second source = %q", got)
	}
	if es.Dir() != "ltr" || es.Lang() != "es" || es.Name != "Español" {
		t.Errorf("es = %+v", es.Language)
	}
}

func TestMissing(t *testing.T) {
	got := catalog(t).Missing()
	want := map[string][]string{"es": {"+extra", "only.english"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Missing = %v, want %v", got, want)
	}
}

func TestNegotiate(t *testing.T) {
	c := catalog(t)
	cases := []struct {
		name, cookie, profile, accept, want string
	}{
		{"nothing", "", "", "", "en"},
		{"browser Spanish of Mexico", "", "", "es-MX,es;q=0.9,en;q=0.5", "es"},
		{"browser prefers French, then Spanish", "", "", "fr-CA, es;q=0.8", "es"},
		{"browser French only", "", "", "fr", "en"},
		{"profile beats browser", "", "es", "en-US", "es"},
		{"switcher beats profile", "en", "es", "es", "en"},
		{"unknown cookie ignored", "xx", "", "es", "es"},
		{"garbage header", "", "", ";;;q=x", "en"},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: i18n.CookieName, Value: tc.cookie})
		}
		if tc.accept != "" {
			r.Header.Set("Accept-Language", tc.accept)
		}
		if got := c.Negotiate(r, tc.profile).Lang(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	dup := os.DirFS("testdata")
	if _, err := i18n.New(i18n.Source{FS: dup, Dir: "a"}, i18n.Source{FS: dup, Dir: "a"}); err == nil {
		t.Error("a key defined twice was accepted")
	}
	if _, err := i18n.New(); err == nil {
		t.Error("a catalog without English was accepted")
	}
}

func TestRightToLeft(t *testing.T) {
	c, err := i18n.New(i18n.Source{FS: os.DirFS("testdata"), Dir: "rtl"})
	if err != nil {
		t.Fatal(err)
	}
	ar := c.For("ar")
	if ar.Dir() != "rtl" || ar.Lang() != "ar" || c.For("en").Dir() != "ltr" {
		t.Errorf("ar: %s %s", ar.Lang(), ar.Dir())
	}
	if got := ar.T("hello", "Name", "Ana"); got != "مرحبا، Ana" {
		t.Errorf("ar hello = %q", got)
	}
}
