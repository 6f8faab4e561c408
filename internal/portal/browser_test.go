package portal_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/web/browsertest"
)

// shoot saves a screenshot of the page into CARELOOP_SCREENSHOTS, when set
// (docs/screenshots is made this way).
func shoot(b *browsertest.Browser, name string) {
	if dir := os.Getenv("CARELOOP_SCREENSHOTS"); dir != "" {
		b.Screenshot(filepath.Join(dir, name+".png"))
	}
}

// TestBrowserPortal walks the demo patient through the portal in headless
// Chromium: sign in, home, a new abnormal result with its trend, booking
// a follow-up with the keyboard alone, Spanish, display choices, the
// downloads; axe-core checks every page at phone and desktop widths.
func TestBrowserPortal(t *testing.T) {
	s := startSite(t, dbtest.Engines()[0]) // the run's engine: CI runs it on each
	b := browsertest.New(t, s.base, 1280, 900)

	// The way in, at both widths, before signing in.
	for _, w := range []struct {
		suffix        string
		width, height int
		mobile        bool
	}{{"-phone", 375, 812, true}, {"", 1280, 900, false}} {
		b.Viewport(w.width, w.height, w.mobile)
		for _, path := range []string{"/signin", "/activate", "/register", "/recovery"} {
			b.Open(path)
			b.CheckA11y(path + w.suffix)
		}
	}
	b.Open("/signin")
	b.Fill("#email", demoPatient)
	b.Fill("#password", demo.DemoPassword)
	b.Click(`form[action="/signin"] button[type=submit]`, "")
	b.Open("/home")
	if got := b.Text("h1"); got != "Your health at a glance" {
		t.Fatalf("home h1 %q (at %s)", got, b.Path())
	}

	abnormal := s.journeyOf(t, journey.Abnormal)
	critical := s.journeyOf(t, journey.Critical)
	pages := []struct{ name, path string }{
		{"home", "/home"}, {"results", "/results"}, {"result-abnormal", "/results/" + abnormal.ID},
		{"result-critical", "/results/" + critical.ID}, {"appointments", "/appointments"},
		{"display", "/account/display"}, {"data", "/account/data"}, {"summary", "/account/data/summary"},
		// The patient's account pages, served by internal/web.
		{"account", "/account"}, {"messages", "/account/messages"}, {"notifications", "/account/notifications"},
		{"access", "/account/access"}, {"record-access", "/account/record-access"}, {"security", "/account/security"},
		{"sessions", "/account/sessions"},
	}
	check := func(suffix string) {
		for _, p := range pages {
			b.Open(p.path)
			b.CheckA11y(p.name + suffix)
			shoot(b, p.name+suffix)
		}
	}
	check("")
	b.Viewport(375, 812, true)
	check("-phone")
	// Nothing is wider than a small phone's screen.
	for _, p := range pages[:3] {
		b.Open(p.path)
		if w := browsertest.Eval[int](b, `document.documentElement.scrollWidth`); w > 375 {
			t.Errorf("%s is %d px wide on a 375 px phone", p.name, w)
		}
	}
	b.Viewport(1280, 900, false)

	// The abnormal result: in words and icon, its trend drawn and tabled.
	b.Open("/results/" + abnormal.ID)
	if got := b.Text(".reading .badge"); !strings.Contains(got, "Higher than usual") || !strings.Contains(got, "▲") {
		t.Errorf("abnormal shown as %q", got)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll(".chart.trend svg circle, .chart.trend svg path, .chart.trend svg polygon").length`); n < 5 {
		t.Errorf("the trend draws %d marks", n)
	}

	// Booking with the keyboard alone: Tab to the first free time, Space
	// to choose it, Tab to Continue, Enter; then Tab to "Book this time".
	m := orderLink.FindStringSubmatch(browsertest.Eval[string](b, `document.documentElement.outerHTML`))
	if m == nil {
		b.Open("/home")
		m = orderLink.FindStringSubmatch(browsertest.Eval[string](b, `document.documentElement.outerHTML`))
	}
	if m == nil {
		t.Fatal("no follow-up to book")
	}
	order, _ := url.QueryUnescape(m[1])
	b.Open("/book?order=" + url.QueryEscape(order))
	b.CheckA11y("book")
	shoot(b, "book")
	tabTo := func(want string) {
		t.Helper()
		for i := 0; i < 80; i++ {
			b.Press(kb.Tab)
			if strings.Contains(b.Focused(), want) {
				return
			}
		}
		t.Fatalf("Tab never reached %q (last focus %q)", want, b.Focused())
	}
	tabTo("INPUT#slot-")
	b.Press(" ")
	if !browsertest.Eval[bool](b, `document.activeElement.checked`) {
		t.Fatal("Space did not choose the time")
	}
	tabTo("Continue")
	b.PressAndWait("/book/confirm", kb.Enter)
	b.CheckA11y("book-confirm")
	shoot(b, "book-confirm")
	tabTo("Book this time")
	b.PressAndWait("", kb.Enter)
	if !strings.HasPrefix(b.Path(), "/appointments/") || !strings.Contains(b.Text(".flash"), "Your visit is booked") {
		t.Fatalf("after booking: %s %q", b.Path(), b.Text(".flash"))
	}
	b.CheckA11y("appointment")
	shoot(b, "appointment")

	// Spanish, with the switcher of the page.
	b.Click(`form.lang-switch button[value="es"]`, "")
	if lang := browsertest.Eval[string](b, `document.documentElement.lang`); lang != "es" {
		t.Fatalf("after switching the language is %q", lang)
	}
	b.Open("/results/" + abnormal.ID)
	if got := b.Text(".reading .badge"); !strings.Contains(got, "Más alto de lo habitual") {
		t.Errorf("Spanish result says %q", got)
	}
	b.CheckA11y("result-es")
	shoot(b, "result-es")
	b.Open("/home")
	b.CheckA11y("home-es")

	// Display choices: the largest text, high contrast, back to English.
	b.Open("/account/display")
	b.Do(chromedp.Click(chromedp.CSS("#text-larger")), chromedp.Click(chromedp.CSS("#contrast-high")),
		chromedp.SetValue(chromedp.CSS("#lang"), "en"))
	b.Click(`form[action="/account/display"] button[type=submit]`, "/account/display")
	if cls := browsertest.Eval[string](b, `document.documentElement.className`); cls != "text-larger contrast-high" {
		t.Errorf("display class %q", cls)
	}
	if lang := browsertest.Eval[string](b, `document.documentElement.lang`); lang != "en" {
		t.Errorf("language after saving English: %q", lang)
	}
	b.Open("/results/" + abnormal.ID)
	b.CheckA11y("result-high-contrast")
	shoot(b, "result-high-contrast")
}
