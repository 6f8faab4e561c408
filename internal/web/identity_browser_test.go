package web_test

// Browser tests of the last identity pages: a self-registered patient
// linking their record with an activation code (/account/link-record),
// and staff matching registrations to records (/staff/registrations).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
)

// registerAndVerify registers a patient on /register and confirms the
// email with the link careloop sends, in the browser.
func (b *browser) registerAndVerify(s *mailSite, name, birthDate, email string) {
	b.t.Helper()
	b.open("/register")
	b.fill("#name", name)
	b.fill("#birth_date", birthDate)
	b.fill("#email", email)
	b.fill("#password", password)
	b.click(`form[action="/register"] button[type=submit]`, "/register/sent")
	b.open(linkIn(b.t, s.mail(b.t, email, verifySubject, 1), "/verify-email"))
	b.click(`form[action="/verify-email"] button`, "/signin")
}

// register registers a patient through the JSON API, as another device
// would.
func (s *mailSite) register(t *testing.T, name, birthDate, email string) {
	t.Helper()
	body := fmt.Sprintf(`{"org":%q,"name":%q,"birth_date":%q,"email":%q,"password":%q}`, s.org.Slug, name, birthDate, email, password)
	resp, err := http.Post(s.base+"/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("register %s: %s", email, resp.Status)
	}
}

// registerAndVerify registers a patient through the JSON API and confirms
// the email with the token of the link careloop sends.
func (s *mailSite) registerAndVerify(t *testing.T, name, birthDate, email string) {
	t.Helper()
	s.register(t, name, birthDate, email)
	q, err := url.ParseQuery(strings.SplitN(linkIn(t, s.mail(t, email, verifySubject, 1), "/verify-email"), "?", 2)[1])
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"org":%q,"token":%q}`, s.org.Slug, q.Get("token"))
	resp, err := http.Post(s.base+"/auth/email/verify", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("verify %s: %s", email, resp.Status)
	}
}

// fhirRef returns the record the account of email is linked to.
func (s *mailSite) fhirRef(t *testing.T, email string) string {
	t.Helper()
	a, _, err := s.app.Accounts.ByEmail(context.Background(), s.org.ID, email)
	if err != nil {
		t.Fatal(err)
	}
	return a.FHIRRef
}

func TestBrowserLinkRecord(t *testing.T) {
	s := startMailSite(t)
	s.patient(t, "p1", "1980-05-17")
	code, err := s.lifecycle(t).CreateActivationCode(context.Background(), s.org.ID, "Patient/p1", "cli")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.site)
	b.registerAndVerify(s, "Ada Okafor", "1980-05-17", "ada@example.org")
	b.signIn("ada@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	if got := b.text("[data-testid=record-status]"); !strings.Contains(got, "not linked to your record yet") {
		t.Errorf("a registered patient's account says %q about the record", got)
	}
	b.checkA11y("the account page of a patient without a record")
	b.click(`a[href="/account/link-record"]`, "/account/link-record")
	b.checkA11y("the link-record form")

	b.click(`form[action="/account/link-record"] button`, "/account/link-record")
	if n := eval[int](b, `document.querySelectorAll(".error-summary li").length`); n != 2 {
		t.Errorf("an empty form names %d problems, want 2 (code, date of birth): %s", n, b.errorSummary())
	}
	b.checkA11y("the link-record form, empty")

	// A wrong date of birth: the service's one answer, on the code, and
	// nothing linked.
	b.fill("#code", strings.ToLower(code.Code))
	b.fill("#birth_date", "1981-05-17")
	b.click(`form[action="/account/link-record"] button`, "/account/link-record")
	if got := b.errorSummary(); !strings.Contains(got, identity.WrongActivationMessage) {
		t.Errorf("a wrong date of birth: error summary %q", got)
	}
	if got := b.attr("#code", "aria-invalid"); got != "true" {
		t.Errorf("a wrong date of birth: code aria-invalid = %q", got)
	}
	if ref := s.fhirRef(t, "ada@example.org"); ref != "" {
		t.Errorf("a wrong date of birth linked the account to %q", ref)
	}
	b.checkA11y("the link-record form, wrong date of birth")

	b.fill("#birth_date", "17/05/1980")
	b.click(`form[action="/account/link-record"] button`, "/account/link-record")
	if got := b.attr("#birth_date", "aria-invalid"); got != "true" {
		t.Errorf("a malformed date: birth_date aria-invalid = %q (%s)", got, b.errorSummary())
	}

	b.fill("#code", code.Code)
	b.fill("#birth_date", "1980-05-17")
	b.click(`form[action="/account/link-record"] button`, "/account")
	if got := b.text(".flash"); !strings.Contains(got, "linked to your record") {
		t.Errorf("after linking, the flash says %q", got)
	}
	if got := b.text("[data-testid=record-status]"); got != "Your account is linked to your record." {
		t.Errorf("after linking, the account says %q", got)
	}
	if ref := s.fhirRef(t, "ada@example.org"); ref != "Patient/p1" {
		t.Errorf("the account is linked to %q, want Patient/p1", ref)
	}
	if n := eval[int](b, `document.querySelectorAll("a[href='/account/link-record']").length`); n != 0 {
		t.Errorf("a linked account still offers to link a record")
	}
	b.checkA11y("the account page with the record linked")
	b.open("/account/link-record")
	if got := b.text("[data-testid=already-linked]"); got == "" {
		t.Errorf("the link-record page of a linked account shows the form: %s", b.text("main"))
	}
}

func TestBrowserRegistrations(t *testing.T) {
	s := startMailSite(t)
	s.patient(t, "p1", "1980-05-17")
	s.patient(t, "p2", "1975-01-02")
	s.patient(t, "p3", "1975-01-02")
	s.linked(t, "other@example.org", "Oli Other", identity.RolePatient, "Patient/p3")
	s.person(t, "cora@example.org", "Cora Coordinator", identity.RoleCoordinator)
	secret := enrollTOTP(t, s.site, apiSignIn(t, s.site, "cora@example.org"))
	s.registerAndVerify(t, "Rui Costa", "1975-01-02", "rui@example.org")
	// Registered, not confirmed: not listed (the service lists confirmed
	// ones only).
	s.register(t, "Una Unconfirmed", "1975-01-02", "una@example.org")
	s.mail(t, "una@example.org", verifySubject, 1)
	b := newBrowser(t, s.site)

	b.signIn("cora@example.org", "/signin/factor")
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/signin/factor"] button`, "/account")
	b.click(`a[href="/staff/registrations"]`, "/staff/registrations")
	b.open("/staff/registrations")
	rows := b.rows("[data-testid=registration]")
	if len(rows) != 1 || !strings.Contains(rows[0], "Rui Costa") || !strings.Contains(rows[0], "rui@example.org") ||
		!strings.Contains(rows[0], "(confirmed)") || !strings.Contains(rows[0], "1975-01-02") {
		t.Fatalf("waiting registrations: %q", rows)
	}
	b.checkA11y("the registrations page with one waiting")

	form := `[data-testid=registration] form button`
	field := eval[string](b, `document.querySelector("[data-testid=registration] input[name=patient]").id`)
	refused := []struct{ name, patient, says string }{
		{"no record", "", "Enter the id of this person's Patient record"},
		{"an unknown record", "Patient/zz", "no Patient/zz"},
		{"another date of birth", "Patient/p1", "does not match the record's"},
		{"a record with an account", "Patient/p3", "Another account is already linked"},
	}
	for _, tc := range refused {
		b.set("#"+field, tc.patient)
		b.click(form, "/staff/registrations/"+strings.TrimPrefix(field, "patient-")+"/link") // shown again where it was sent
		if got := b.errorSummary(); !strings.Contains(got, tc.says) {
			t.Errorf("%s: error summary %q, want %q", tc.name, got, tc.says)
		}
		if got := b.attr("#"+field, "aria-invalid"); got != "true" {
			t.Errorf("%s: aria-invalid %q", tc.name, got)
		}
		if got := b.attr(".error-summary a", "href"); got != "#"+field {
			t.Errorf("%s: the error summary links to %q, want #%s", tc.name, got, field)
		}
		if ref := s.fhirRef(t, "rui@example.org"); ref != "" {
			t.Fatalf("%s: the account got linked to %q", tc.name, ref)
		}
		b.checkA11y("the registrations page, " + tc.name)
	}

	b.set("#"+field, "p2")
	b.click(form, "/staff/registrations")
	if got := b.text(".flash"); !strings.Contains(got, "Rui Costa’s account (rui@example.org) is linked to Patient/p2") {
		t.Errorf("after linking, the flash says %q", got)
	}
	if got := b.text("[data-testid=no-registrations]"); !strings.Contains(got, "No one is waiting") {
		t.Errorf("a linked registration is still listed: %q", b.rows("[data-testid=registration]"))
	}
	b.checkA11y("the registrations page, empty")
	if ref := s.fhirRef(t, "rui@example.org"); ref != "Patient/p2" {
		t.Errorf("the account is linked to %q, want Patient/p2", ref)
	}
	s.mail(t, "rui@example.org", "Your careloop account is ready", 1)
	b.signOut()

	// Rui sees the record linked.
	b.signIn("rui@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	if got := b.text("[data-testid=record-status]"); got != "Your account is linked to your record." {
		t.Errorf("the matched patient's account says %q", got)
	}
}
