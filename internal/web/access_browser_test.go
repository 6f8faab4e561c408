package web_test

// Browser tests of the access pages: proxy access (/account/access), "who
// looked at my record" (/account/record-access) and break-glass
// (/staff/emergency-access and its review).

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// record stores a FHIR resource of the site's organisation.
func (s *site) record(t testing.TB, typ, id, raw string) {
	t.Helper()
	ctx := context.Background()
	err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.app.Resources.CreateTx(ctx, tx, s.org.ID, typ, id, []byte(raw))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// linked adds an account with the test password linked to a FHIR record
// (Patient/… for a patient, Practitioner/… for clinical staff).
func (s *site) linked(t testing.TB, email, name string, role identity.Role, ref string) {
	t.Helper()
	hash, err := identity.HashPassword(password, identity.DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		return s.app.Accounts.CreateTx(ctx, tx, &identity.Account{OrgID: s.org.ID, Email: email, DisplayName: name, Role: role, FHIRRef: ref}, hash)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// settleAudit makes the audit entries written so far searchable: out of
// the spool and sequenced into the log, as the running server's sequencer
// does within a second.
func (s *site) settleAudit(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if err := s.app.Audit.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.app.Audit.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
}

// enrollTOTP sets up an authenticator app on the security page, which
// leaves the session with a second factor verified now, and returns the
// app's secret.
func (b *browser) enrollTOTP() string {
	b.t.Helper()
	b.open("/account/security")
	b.click(`form[action="/account/security/totp"] button`, "/account/security/totp")
	secret := strings.ReplaceAll(b.text(`[data-testid=totp-secret]`), " ", "")
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	b.set("#code", code)
	b.click(`form[action="/account/security/totp/confirm"] button`, "/account/security")
	if b.text(`[data-testid=totp-on]`) == "" {
		b.t.Fatalf("enrolling an authenticator app failed: %s", b.text("main"))
	}
	return secret
}

// rows returns the text of the elements matching css, one string each.
func (b *browser) rows(css string) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.textContent.replace(/\s+/g, " ").trim())`, css))
}

// set sets the value of a form field, empty values included.
func (b *browser) set(css, value string) {
	b.t.Helper()
	if !eval[bool](b, fmt.Sprintf(`(e => e ? (e.value = %q, true) : false)(document.querySelector(%q))`, value, css)) {
		b.t.Fatalf("no field %s at %s", css, b.path())
	}
}

// fetch reads path with the browser's session, as a script of the page
// would: the status and the body.
func (b *browser) fetch(path string) (int, string) {
	b.t.Helper()
	out := eval[struct {
		Status int
		Body   string
	}](b, fmt.Sprintf(`fetch(%q).then(async r => ({Status: r.status, Body: await r.text()}))`, path))
	return out.Status, out.Body
}

// get answers a GET of path with c's session cookie: the status and body.
func get(t *testing.T, c *http.Client, s *site, path string) (int, string) {
	t.Helper()
	resp, err := c.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

const adaPatient = `{"resourceType":"Patient","id":"ada","name":[{"family":"Okafor","given":["Ada"]}],"birthDate":"1961-05-04"}`

func TestBrowserProxyAccess(t *testing.T) {
	s := startSite(t)
	s.record(t, "Patient", "ada", adaPatient)
	s.linked(t, "ada@example.org", "Ada Okafor", identity.RolePatient, "Patient/ada")
	s.person(t, "cara@example.org", "Cara Okafor", identity.RoleCaregiver)
	s.person(t, "nina@example.org", "Nina Nurse", identity.RoleNurse)
	caregiver := apiSignIn(t, s, "cara@example.org")
	if st, _ := get(t, caregiver, s, "/fhir/Patient/ada"); st != http.StatusNotFound {
		t.Fatalf("caregiver before any grant reads Patient/ada: %d, want 404", st)
	}

	b := newBrowser(t, s)
	b.signIn("ada@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	b.click(`a[href="/account/access"]`, "/account/access")
	if n := len(b.rows(`[data-testid=proxy]`)); n != 0 {
		t.Errorf("a new patient lists %d proxies", n)
	}
	b.checkA11y("the access page, nothing granted")

	// A patient without a second factor is asked to set one up first.
	if got := b.text(`[data-testid=stepup-needed]`); !strings.Contains(got, "set up a second factor") {
		t.Errorf("without a second factor the page says %q", got)
	}
	secret := b.enrollTOTP()

	// Eleven minutes later the factor is too old to grant access.
	s.shift.Store(int64(11 * time.Minute))
	b.open("/account/access")
	if got := b.text(`[data-testid=stepup-needed]`); !strings.Contains(got, "confirm it is you") {
		t.Errorf("with a stale factor the page says %q", got)
	}
	b.set("#caregiver_email", "cara@example.org")
	b.click(`form[action="/account/access"] button[type=submit]`, "/account/access")
	if got := b.errorSummary(); !strings.Contains(got, "confirm it is you") {
		t.Errorf("granting with a stale factor: error summary %q", got)
	}
	if st, _ := get(t, caregiver, s, "/fhir/Patient/ada"); st != http.StatusNotFound {
		t.Errorf("a refused grant opened the record: %d", st)
	}
	b.checkA11y("the access page asking to confirm")

	// The page's step-up prompt is the security page's.
	b.click(`[data-testid=stepup-needed] a`, "/account/security")
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.set("#stepup-code", next)
	b.click(`form[action="/account/security/confirm"] button`, "/account/security")
	b.open("/account/access")
	if got := b.text(`[data-testid=stepup-needed]`); got != "" {
		t.Errorf("after confirming the page still asks: %q", got)
	}

	tests := []struct {
		name, email, expires, field, want string
	}{
		{"no email", "", "", "caregiver_email", "Enter the email"},
		{"unknown account", "nobody@example.org", "", "caregiver_email", "No account uses nobody@example.org"},
		{"staff account", "nina@example.org", "", "caregiver_email", "staff account"},
		{"a past day", "cara@example.org", "2020-01-01", "expires_at", "in the future"},
	}
	for _, tt := range tests {
		b.set("#caregiver_email", tt.email)
		b.set("#expires_at", tt.expires)
		b.click(`form[action="/account/access"] button[type=submit]`, "/account/access")
		if got := b.errorSummary(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: error summary %q, want %q", tt.name, got, tt.want)
		}
		if got := b.attr(`.error-summary a`, "href"); got != "#"+tt.field {
			t.Errorf("%s: error summary links to %q, want #%s", tt.name, got, tt.field)
		}
		if got := b.attr("#"+tt.field, "aria-invalid"); got != "true" {
			t.Errorf("%s: %s aria-invalid = %q", tt.name, tt.field, got)
		}
	}
	b.checkA11y("the access page with an error")

	until := time.Now().UTC().AddDate(1, 0, 0).Format(time.DateOnly)
	b.set("#caregiver_email", "cara@example.org")
	b.set("#expires_at", until)
	b.set("#reason", "Helps me with appointments")
	b.click(`form[action="/account/access"] button[type=submit]`, "/account/access")
	if got := b.text(".flash"); !strings.Contains(got, "cara@example.org can now see your record") {
		t.Errorf("after granting the page says %q: %s", got, b.errorSummary())
	}
	rows := b.rows(`[data-testid=proxy][data-open]`)
	if len(rows) != 1 || !strings.Contains(rows[0], "Cara Okafor (cara@example.org)") || !strings.Contains(rows[0], "Helps me with appointments") {
		t.Errorf("open grants listed: %q", rows)
	}
	b.checkA11y("the access page with a grant")

	// The caregiver reaches the record through the FHIR API with their
	// session cookie, and sees on their own page whose record they hold.
	if st, body := get(t, caregiver, s, "/fhir/Patient/ada"); st != http.StatusOK || !strings.Contains(body, "Okafor") {
		t.Errorf("caregiver with a grant reads Patient/ada: %d %.200s", st, body)
	}
	if st, body := get(t, caregiver, s, "/account/access"); st != http.StatusOK || !strings.Contains(body, "Ada Okafor") {
		t.Errorf("caregiver's access page: %d, lists Ada: %v", st, strings.Contains(body, "Ada Okafor"))
	}

	b.click(`[data-testid=proxy][data-open] form button`, "/account/access")
	if got := b.text(".flash"); got != "The access is ended." {
		t.Errorf("after revoking the page says %q", got)
	}
	if n := len(b.rows(`[data-testid=proxy][data-open]`)); n != 0 {
		t.Errorf("open grants after revoking: %d", n)
	}
	if st, _ := get(t, caregiver, s, "/fhir/Patient/ada"); st != http.StatusNotFound {
		t.Errorf("caregiver after the revocation reads Patient/ada: %d, want 404", st)
	}

	// Patients' pages are not for staff, nor staff pages for patients.
	b.open("/staff/emergency-access")
	if got := b.text("h1"); got != "Not allowed" {
		t.Errorf("a patient opening the emergency-access page: h1 %q", got)
	}
}

func TestBrowserRecordAccess(t *testing.T) {
	s := startSite(t)
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Patient", "ada", adaPatient)
	s.record(t, "Encounter", "enc-ada", `{"resourceType":"Encounter","id":"enc-ada","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"subject":{"reference":"Patient/ada"},"participant":[{"individual":{"reference":"Practitioner/doc"}}]}`)
	s.linked(t, "ada@example.org", "Ada Okafor", identity.RolePatient, "Patient/ada")
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.person(t, "cara@example.org", "Cara Okafor", identity.RoleCaregiver)

	b := newBrowser(t, s)
	b.signIn("ada@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	b.click(`a[href="/account/record-access"]`, "/account/record-access")
	if got := b.text(`[data-testid=no-record-access]`); got == "" {
		t.Errorf("a record nobody looked at lists: %q", b.rows(`[data-testid=record-access]`))
	}
	b.checkA11y("the record-access page, empty")
	b.signOut()

	// The clinician, with their second factor, reads the record through
	// the FHIR API with the browser's session; a caregiver without a grant
	// is refused.
	b.signIn("doc@example.org", "/account/security")
	b.enrollTOTP()
	if st, body := b.fetch("/fhir/Patient/ada"); st != http.StatusOK || !strings.Contains(body, "Okafor") {
		t.Fatalf("the clinician reading Patient/ada gets %d %.200s", st, body)
	}
	b.signOut()
	if st, _ := get(t, apiSignIn(t, s, "cara@example.org"), s, "/fhir/Patient/ada"); st != http.StatusNotFound {
		t.Errorf("a caregiver without a grant reads Patient/ada: %d", st)
	}
	s.settleAudit(t)

	b.signIn("ada@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	b.open("/account/record-access")
	rows := b.rows(`[data-testid=record-access]`)
	var read, refused bool
	for _, r := range rows {
		if strings.Contains(r, "Dr Dee Doc") && strings.Contains(r, "Clinician") && strings.Contains(r, "Viewed Patient/ada") &&
			strings.Contains(r, "Care") && strings.Contains(r, "Allowed") {
			read = true
		}
		if strings.Contains(r, "Cara Okafor") && strings.Contains(r, "Refused") {
			refused = true
		}
	}
	if !read || !refused {
		t.Errorf("record-access rows (clinician's read %v, caregiver's refused attempt %v): %q", read, refused, rows)
	}
	if n := len(b.rows(`[data-testid=record-access][data-refused]`)); n != 1 {
		t.Errorf("refused attempts marked: %d, want 1", n)
	}
	b.checkA11y("the record-access page with entries")

	// The page's own reads are recorded, and not listed back to the
	// patient.
	s.settleAudit(t)
	b.open("/account/record-access")
	if again := b.rows(`[data-testid=record-access]`); len(again) != len(rows) {
		t.Errorf("after a second look the page lists %d entries, want %d", len(again), len(rows))
	}
	var logged int
	if err := s.app.DB.Read.QueryRow(`SELECT count(*) FROM audit_entry`).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged == 0 {
		t.Errorf("no audit entries stored")
	}
}

// TestBrowserBreakGlass runs on every engine of the run: the open
// emergency accesses are the pages' own query.
func TestBrowserBreakGlass(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) { testBreakGlass(t, startMailSiteOn(t, e).site) })
	}
}

func testBreakGlass(t *testing.T, s *site) {
	s.record(t, "Practitioner", "doc", `{"resourceType":"Practitioner","id":"doc","name":[{"family":"Doc"}]}`)
	s.record(t, "Patient", "bob", `{"resourceType":"Patient","id":"bob","name":[{"family":"Brown","given":["Bob"]}]}`)
	s.linked(t, "doc@example.org", "Dr Dee Doc", identity.RoleClinician, "Practitioner/doc")
	s.person(t, "cora@example.org", "Cora Compliance", identity.RoleCompliance)

	b := newBrowser(t, s)
	b.signIn("doc@example.org", "/account/security")
	b.open("/staff/emergency-access")
	b.waitFor("/account/security") // staff enroll a second factor first
	b.enrollTOTP()
	if st, body := b.fetch("/fhir/Patient/bob"); st != http.StatusNotFound {
		t.Fatalf("a patient outside the clinician's care before break-glass: %d %.200s", st, body)
	}

	b.open("/account")
	b.click(`a[href="/staff/emergency-access"]`, "/staff/emergency-access")
	if got := b.text(`[data-testid=emergency-warning]`); !strings.Contains(got, "recorded") || !strings.Contains(got, "reviews") {
		t.Errorf("emergency warning %q", got)
	}
	b.checkA11y("the emergency-access page")

	tests := []struct {
		name, patient, reason, field, want string
	}{
		{"nothing", "", "", "patient", "Enter the patient"},
		{"unknown patient", "nobody", "Unconscious in the emergency department", "patient", "not known"},
		{"a keystroke for a reason", "bob", "x", "reason", "in a sentence"},
	}
	for _, tt := range tests {
		b.set("#patient", tt.patient)
		b.set("#reason", tt.reason)
		b.click(`form[action="/staff/emergency-access"] button`, "/staff/emergency-access")
		if got := b.errorSummary(); !strings.Contains(got, tt.want) {
			t.Errorf("%s: error summary %q, want %q", tt.name, got, tt.want)
		}
		if got := b.attr("#"+tt.field, "aria-invalid"); got != "true" {
			t.Errorf("%s: %s aria-invalid = %q", tt.name, tt.field, got)
		}
	}
	if n := len(b.rows(`[data-testid=break-glass]`)); n != 0 {
		t.Errorf("refused attempts opened %d emergency accesses", n)
	}
	b.checkA11y("the emergency-access page with errors")

	b.set("#patient", "bob")
	b.set("#reason", "Unconscious in the emergency department")
	b.click(`form[action="/staff/emergency-access"] button`, "/staff/emergency-access")
	if got := b.text(".flash"); !strings.Contains(got, "Emergency access to Patient/bob is open until") {
		t.Errorf("after breaking the glass: %q %s", got, b.errorSummary())
	}
	if rows := b.rows(`[data-testid=break-glass]`); len(rows) != 1 || !strings.Contains(rows[0], "Bob Brown") {
		t.Errorf("open emergency accesses: %q", rows)
	}
	b.checkA11y("the emergency-access page with an open access")
	if st, body := b.fetch("/fhir/Patient/bob"); st != http.StatusOK || !strings.Contains(body, "Brown") {
		t.Errorf("after break-glass the clinician reads Patient/bob: %d %.200s", st, body)
	}
	b.open("/staff/emergency-access/review")
	if got := b.text("h1"); got != "Not allowed" {
		t.Errorf("a clinician opening the review page: h1 %q", got)
	}
	b.open("/account")
	b.signOut()

	b.signIn("cora@example.org", "/account/security")
	b.enrollTOTP()
	b.open("/account")
	b.click(`a[href="/staff/emergency-access/review"]`, "/staff/emergency-access/review")
	items := b.rows(`[data-testid=unreviewed]`)
	if len(items) != 1 || !strings.Contains(items[0], "Dr Dee Doc") || !strings.Contains(items[0], "Unconscious in the emergency department") {
		t.Fatalf("unreviewed emergency accesses: %q", items)
	}
	b.checkA11y("the review page")

	b.click(`[data-testid=unreviewed] form button`, "")
	field := b.attr(`[data-testid=unreviewed] textarea`, "id")
	if got := b.errorSummary(); !strings.Contains(got, "Write what the review found") {
		t.Errorf("reviewing without a note: error summary %q", got)
	}
	if got := b.attr(`.error-summary a`, "href"); got != "#"+field {
		t.Errorf("error summary links to %q, want #%s", got, field)
	}
	b.checkA11y("the review page with an error")

	b.set(`[data-testid=unreviewed] textarea`, "Confirmed with the ED roster")
	b.click(`[data-testid=unreviewed] form button`, "/staff/emergency-access/review")
	if got := b.text(".flash"); !strings.Contains(got, "reviewed") {
		t.Errorf("after reviewing: %q %s", got, b.errorSummary())
	}
	if got := b.text(`[data-testid=no-unreviewed]`); got == "" {
		t.Errorf("still unreviewed: %q", b.rows(`[data-testid=unreviewed]`))
	}
	b.checkA11y("the review page, all reviewed")
}
