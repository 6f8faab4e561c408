package web_test

// Browser tests of the account lifecycle pages: invitation, activation,
// registration, email verification and change, recovery. careloop sends
// its emails through a real SMTP server on loopback (mailtest), and the
// tests follow the links they carry, as people do.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

const newPassword = "amber lighthouse quietly hums"

// mailSite is a running careloop, like startSite's, whose emails go to an
// SMTP server on loopback, with its job workers running.
type mailSite struct {
	*site
	smtp *mailtest.Server
}

// startMailSite starts a careloop on a fresh SQLite database.
func startMailSite(t testing.TB) *mailSite { return startMailSiteOn(t, db.SQLite) }

// startMailSiteOn starts a careloop on a fresh database of engine e.
func startMailSiteOn(t testing.TB, e db.Dialect) *mailSite {
	t.Helper()
	smtp := mailtest.Start(t, mailtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_, opts := dbtest.OpenWithOptions(t, e)
	dsn := "sqlite:" + opts.SQLitePath
	if e == db.Postgres {
		dsn = opts.PostgresURL
	}
	s := &site{base: fmt.Sprintf("http://localhost:%d", port), port: port}
	cfg, err := config.Parse("serve", config.Store|config.Server, []string{"--db", dsn,
		"--data-dir", t.TempDir(), "--addr", ln.Addr().String(), "--base-url", s.base,
		"--smtp-url", smtp.URL + "?tls=none", "--mail-from", "careloop <no-reply@careloop.test>"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if s.app, err = app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.app.Close() })
	s.app.Sessions.SetClock(func() time.Time { return time.Now().UTC().Add(time.Duration(s.shift.Load())) })
	ctx, stop := context.WithCancel(context.Background())
	if err := s.app.Jobs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stop()
		_ = s.app.Jobs.Stop(context.Background())
	})
	srv := &http.Server{Handler: s.app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	s.org = &tenant.Organization{Slug: "riverside", Name: "Riverside Family Clinic"}
	if err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error { return s.app.Orgs.CreateTx(ctx, tx, s.org) }); err != nil {
		t.Fatal(err)
	}
	return &mailSite{site: s, smtp: smtp}
}

// lifecycle returns the account lifecycle as the command line builds it
// (careloop user invite, activation-code): its emails go to the same
// SMTP server.
func (s *mailSite) lifecycle(t testing.TB) *signin.Lifecycle {
	t.Helper()
	l, err := s.app.AccountLifecycle()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Mail.Wait)
	return l
}

// patient stores a Patient record with a date of birth.
func (s *mailSite) patient(t testing.TB, id, birthDate string) {
	t.Helper()
	ctx := context.Background()
	raw := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":"Okafor","given":["Ada"]}],"birthDate":%q}`, id, birthDate)
	err := s.app.DB.InTx(ctx, func(tx *sql.Tx) error {
		_, err := s.app.Resources.CreateTx(ctx, tx, s.org.ID, "Patient", id, []byte(raw))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// mail waits for the n-th message (from 1) to addr whose subject has
// subject in it, and returns it; other messages (such as notices of a new
// sign-in) are passed over. The minute is a bound so that a broken test
// ends, not a measure of speed.
func (s *mailSite) mail(t testing.TB, addr, subject string, n int) mailtest.Message {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var got []mailtest.Message
		for _, m := range s.smtp.To(addr) {
			if strings.Contains(m.Header("Subject"), subject) {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages to %s about %q, want %d", len(got), addr, subject, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Subjects of careloop's emails, as the tests look for them.
const (
	invitationSubject = "Your invitation to"
	verifySubject     = "Confirm your email address"
	recoverySubject   = "Reset your careloop password"
)

var linkPattern = regexp.MustCompile(`http://localhost:\d+(/[a-z-]+)\?(\S+)`)

// linkIn returns the path and query of the careloop link in m, checking
// that it is for path and the test's organisation.
func linkIn(t testing.TB, m mailtest.Message, path string) string {
	t.Helper()
	match := linkPattern.FindStringSubmatch(m.Body())
	if match == nil {
		t.Fatalf("no link in %q", m.Body())
	}
	q, err := url.ParseQuery(match[2])
	if err != nil || q.Get("org") != "riverside" || match[1] != path {
		t.Fatalf("link %s?%s, want %s for riverside (%v)", match[1], match[2], path, err)
	}
	return match[1] + "?" + match[2]
}

// errorSummary returns the text of the page's error summary, "" without.
func (b *browser) errorSummary() string { return b.text(".error-summary") }

func (b *browser) attr(css, name string) string {
	b.t.Helper()
	return eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{getAttribute:()=>""}).getAttribute(%q)||""`, css, name))
}

func TestBrowserInvitation(t *testing.T) {
	s := startMailSite(t)
	l := s.lifecycle(t)
	if _, _, err := l.Invite(context.Background(), s.org, signin.Invitation{Email: "nina@example.org", Role: identity.RoleNurse, Name: "Nina", By: "cli"}); err != nil {
		t.Fatal(err)
	}
	link := linkIn(t, s.mail(t, "nina@example.org", invitationSubject, 1), "/invitation")
	b := newBrowser(t, s.site)

	b.open("/invitation")
	if got := b.text("[data-testid=link-invalid]"); !strings.Contains(got, "incomplete") {
		t.Errorf("invitation page without a token says %q", got)
	}
	b.checkA11y("the invitation page, incomplete link")

	// The link is looked at, not spent: who it is for, the name suggested.
	b.open(link)
	if got := b.attr("#name", "value"); got != "Nina" {
		t.Errorf("the invitation form suggests the name %q, want Nina", got)
	}
	if got, role := b.text("[data-testid=invitee-email]"), b.text("[data-testid=invitee-role]"); got != "nina@example.org" || role != "Nurse" {
		t.Errorf("the invitation form says it is for %q as %q", got, role)
	}
	b.checkA11y("the invitation form")
	b.fill("#name", "Nina Nurse")
	b.fill("#password", "password")
	b.click(`form[action="/invitation"] button[type=submit]`, "/invitation")
	if got := b.errorSummary(); !strings.Contains(got, "password") {
		t.Errorf("a common password: error summary %q", got)
	}
	if got := b.attr("#password", "aria-invalid"); got != "true" {
		t.Errorf("password aria-invalid = %q", got)
	}
	if got := b.attr(".error-summary a", "href"); got != "#password" {
		t.Errorf("error summary links to %q, want #password", got)
	}
	b.checkA11y("the invitation form with a weak password")

	// The refused password spent nothing: the same form works.
	b.fill("#password", password)
	b.click(`form[action="/invitation"] button[type=submit]`, "/account/security")
	if got := b.text(".flash"); !strings.Contains(got, "Welcome, Nina Nurse") {
		t.Errorf("after accepting, the flash says %q", got)
	}
	if got := b.text("[data-testid=must-enroll]"); !strings.Contains(got, "Set up a second factor to continue") {
		t.Errorf("accepted staff are not asked to enroll: %q", got)
	}
	b.open("/account")
	b.waitFor("/account/security")
	b.signOut()

	// The link works once, and says so as soon as it is opened again.
	b.open(link)
	if got := b.text("[data-testid=link-invalid]"); !strings.Contains(got, "has been used already") || !strings.Contains(got, "invite you again") {
		t.Errorf("a used invitation link shows %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll("form[action='/invitation']").length`); n != 0 {
		t.Errorf("a used invitation link still shows the form")
	}
	b.checkA11y("the invitation page, used link")

	// The account exists, with the name and password chosen.
	b.signIn("nina@example.org", "/account/security")
}

func TestBrowserActivation(t *testing.T) {
	s := startMailSite(t)
	s.patient(t, "p1", "1980-05-17")
	l := s.lifecycle(t)
	code, err := l.CreateActivationCode(context.Background(), s.org.ID, "Patient/p1", "cli")
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, s.site)

	b.open("/signin")
	b.click("[data-testid=activate]", "/activate")
	if typ := b.attr("#org", "type"); typ != "hidden" {
		t.Errorf("with one organisation the organisation field is %q, want hidden", typ)
	}
	b.checkA11y("the activation form")

	b.click(`form[action="/activate"] button[type=submit]`, "/activate")
	if n := eval[int](b, `document.querySelectorAll(".error-summary li").length`); n != 5 {
		t.Errorf("an empty form names %d problems, want 5 (code, birth date, name, email, password): %s", n, b.errorSummary())
	}
	b.checkA11y("the activation form, empty")

	fill := func(birthDate string) {
		b.fill("#code", strings.ToLower(code.Code))
		b.fill("#birth_date", birthDate)
		b.fill("#name", "Ada Okafor")
		b.fill("#email", "ada@example.org")
		b.fill("#password", password)
	}
	const generic = "The activation code or the date of birth is not right, or the code has expired."
	tests := []struct {
		name, code, birthDate string
	}{
		{"wrong date of birth", code.Code, "1981-05-17"},
		{"wrong code", "ZZZZZ-ZZZZZ", "1980-05-17"},
	}
	for _, tt := range tests {
		fill(tt.birthDate)
		b.fill("#code", tt.code)
		b.click(`form[action="/activate"] button[type=submit]`, "/activate")
		if got := b.errorSummary(); !strings.Contains(got, generic) {
			t.Errorf("%s: error summary %q, want the generic answer", tt.name, got)
		}
		if got := b.attr("#code", "aria-invalid"); got != "true" {
			t.Errorf("%s: code aria-invalid = %q", tt.name, got)
		}
		if got := eval[string](b, `document.getElementById("password").value`); got != "" {
			t.Errorf("%s: the password was sent back to the page", tt.name)
		}
		b.checkA11y("the activation form, " + tt.name)
	}

	fill("1980-05-17")
	b.click(`form[action="/activate"] button[type=submit]`, "/account")
	if got := b.text(".flash"); !strings.Contains(got, "Your account is ready") {
		t.Errorf("after activating, the flash says %q", got)
	}
	if got := b.text("[data-testid=offer-factor]"); !strings.Contains(got, "Set up a second factor") {
		t.Errorf("no second factor offered: %q", got)
	}
	if got := b.text("[data-testid=email-status]"); got != "(not confirmed yet)" {
		t.Errorf("email status after activating %q", got)
	}
	b.checkA11y("the account page after activation")

	// A new link replaces the first; the first then opens nothing.
	first := linkIn(t, s.mail(t, "ada@example.org", verifySubject, 1), "/verify-email")
	b.click("#resend", "/account")
	if got := b.text(".flash"); !strings.Contains(got, "We sent a new link") {
		t.Errorf("after asking for a new link: %q", got)
	}
	second := linkIn(t, s.mail(t, "ada@example.org", verifySubject, 2), "/verify-email")
	b.open(first)
	b.click(`form[action="/verify-email"] button`, "/verify-email")
	if got := b.text("[data-testid=link-invalid]"); !strings.Contains(got, "account page") {
		t.Errorf("a replaced link shows %q", got)
	}
	b.checkA11y("the verify page, replaced link, signed in")
	b.open(second)
	b.click(`form[action="/verify-email"] button`, "/account")
	if got := b.text("[data-testid=email-status]"); got != "(confirmed)" {
		t.Errorf("email status after following the link %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll("#resend").length`); n != 0 {
		t.Errorf("a confirmed email still offers to send the link again")
	}
}

func TestBrowserRegistrationAndVerifyEmail(t *testing.T) {
	s := startMailSite(t)
	s.person(t, "taken@example.org", "Tom Taken", identity.RolePatient)
	b := newBrowser(t, s.site)

	b.open("/signin")
	if got := b.text("#new-here"); got != "New here?" {
		t.Errorf("sign-in page heading %q", got)
	}
	b.click("[data-testid=register]", "/register")
	b.checkA11y("the registration form")

	b.fill("#name", "Rui Costa")
	b.fill("#birth_date", "1975-01-02")
	b.fill("#email", "not an address")
	b.fill("#password", password)
	b.click(`form[action="/register"] button[type=submit]`, "/register")
	if got := b.attr("#email", "aria-invalid"); got != "true" {
		t.Errorf("a malformed email: aria-invalid = %q (%s)", got, b.errorSummary())
	}
	b.checkA11y("the registration form, malformed email")

	register := func(email string) string {
		b.open("/register")
		b.fill("#name", "Rui Costa")
		b.fill("#birth_date", "1975-01-02")
		b.fill("#email", email)
		b.fill("#password", password)
		b.click(`form[action="/register"] button[type=submit]`, "/register/sent")
		return b.text("main")
	}
	fresh := register("rui@example.org")
	b.checkA11y("the registration answer")
	// The same answer for an email that has an account; its owner is told.
	if taken := register("taken@example.org"); taken != fresh {
		t.Errorf("registration answers differ:\nnew:   %s\ntaken: %s", fresh, taken)
	}
	s.mail(t, "taken@example.org", "Someone tried to register with your email", 1)

	link := linkIn(t, s.mail(t, "rui@example.org", verifySubject, 1), "/verify-email")
	b.open(link)
	b.checkA11y("the verify page")
	// Opening the link spent nothing (mail scanners open links): the
	// button confirms.
	b.click(`form[action="/verify-email"] button`, "/signin")
	if got := b.text(".flash"); got != "Thank you: your email address is confirmed." {
		t.Errorf("after confirming: %q", got)
	}
	b.checkA11y("the sign-in page after confirming the email")

	b.open(link)
	b.click(`form[action="/verify-email"] button`, "/verify-email")
	if got := b.errorSummary(); !strings.Contains(got, "has been used already") {
		t.Errorf("a used link: %q", got)
	}
	b.checkA11y("the verify page, used link")

	b.signIn("rui@example.org", "/home")
	b.open("/account") // patients land on the portal's home
	if got := b.text("[data-testid=email-status]"); got != "(confirmed)" {
		t.Errorf("registered and confirmed, the account says %q", got)
	}
}

// enrollTOTP gives the account of c (signed in through the API) an
// authenticator app and returns its secret. The code confirming it used
// the current time step.
func enrollTOTP(t *testing.T, s *site, c *http.Client) string {
	t.Helper()
	resp, err := c.Post(s.base+"/auth/factors/totp", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Secret string `json:"secret"`
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || out.Secret == "" {
		t.Fatalf("begin TOTP: %d %v", resp.StatusCode, err)
	}
	code, err := totp.GenerateCode(out.Secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err = c.Post(s.base+"/auth/factors/totp/confirm", "application/json", strings.NewReader(fmt.Sprintf(`{"code":%q}`, code)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("confirm TOTP: %d", resp.StatusCode)
	}
	return out.Secret
}

func TestBrowserRecovery(t *testing.T) {
	s := startMailSite(t)
	s.person(t, "pam@example.org", "Pam Patel", identity.RolePatient)
	phone := apiSignIn(t, s.site, "pam@example.org")
	secret := enrollTOTP(t, s.site, phone)
	b := newBrowser(t, s.site)

	b.open("/signin")
	b.click("[data-testid=forgot]", "/recovery")
	b.checkA11y("the recovery form")
	request := func(email string) string {
		b.open("/recovery")
		b.fill("#email", email)
		b.click(`form[action="/recovery"] button[type=submit]`, "/recovery/sent")
		return b.text("main")
	}
	known := request("pam@example.org")
	b.checkA11y("the recovery answer")
	if unknown := request("nobody@example.org"); unknown != known {
		t.Errorf("recovery answers differ:\nknown:   %s\nunknown: %s", known, unknown)
	}

	link := linkIn(t, s.mail(t, "pam@example.org", recoverySubject, 1), "/recovery")
	b.open(link)
	b.checkA11y("the new-password form")
	b.fill("#password", "pam patel")
	b.click(`form[action="/recovery/reset"] button[type=submit]`, "/recovery/reset")
	if got := b.attr("#password", "aria-invalid"); got != "true" {
		t.Errorf("a guessable password: aria-invalid %q (%s)", got, b.errorSummary())
	}
	b.checkA11y("the new-password form, weak password")

	b.fill("#password", newPassword)
	b.click(`form[action="/recovery/reset"] button[type=submit]`, "/signin/factor")
	if got := b.text(".flash"); !strings.Contains(got, "confirm it is you with your second factor") {
		t.Errorf("after the new password: %q", got)
	}
	b.checkA11y("the second-factor page after recovery")
	// The page is not signed in yet: the second factor is still needed.
	b.open("/account")
	b.waitFor("/signin/factor")
	// The app's code of the enrollment's time step was spent; the next
	// step is accepted as clock skew.
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/signin/factor"] button`, "/home")
	b.open("/account") // patients land on the portal's home
	if got := b.text("[data-testid=name]"); got != "Pam Patel" {
		t.Errorf("signed in after recovery as %q", got)
	}
	if st := apiStatus(t, phone, s.base+"/auth/sessions"); st != http.StatusUnauthorized {
		t.Errorf("a session from before the reset still opens the API: %d", st)
	}
	s.mail(t, "pam@example.org", "Your careloop password was changed", 1)

	b.signOut()
	b.open(link)
	b.fill("#password", "another fine passphrase")
	b.click(`form[action="/recovery/reset"] button[type=submit]`, "/recovery/reset")
	if got := b.text("[data-testid=link-invalid]"); !strings.Contains(got, "Ask for a new link") {
		t.Errorf("a used recovery link shows %q", got)
	}
	b.checkA11y("the new-password page, used link")
}

func TestBrowserEmailChange(t *testing.T) {
	s := startMailSite(t)
	s.person(t, "eve@example.org", "Eve Evans", identity.RolePatient)
	secret := enrollTOTP(t, s.site, apiSignIn(t, s.site, "eve@example.org"))
	b := newBrowser(t, s.site)

	b.signIn("eve@example.org", "/signin/factor")
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/signin/factor"] button`, "/home")
	b.open("/account") // patients land on the portal's home

	// Eleven minutes on, the second factor of the sign-in is too old for
	// the change.
	s.shift.Store(int64(11 * time.Minute))
	b.open("/account")
	b.fill("#email", "eve.new@example.org")
	b.click(`form[action="/account/email"] button`, "/account/email")
	if got := b.errorSummary(); !strings.Contains(got, "confirm it is you") {
		t.Errorf("changing the email without a fresh factor: %q", got)
	}
	if got := b.attr("#email", "aria-invalid"); got != "true" {
		t.Errorf("email aria-invalid = %q", got)
	}
	b.checkA11y("the account page asking to confirm first")
	if n := len(s.smtp.To("eve.new@example.org")); n != 0 {
		t.Errorf("a refused change sent %d emails", n)
	}

	s.shift.Store(0)
	b.open("/account")
	b.fill("#email", "eve.new@example.org")
	b.click(`form[action="/account/email"] button`, "/account")
	if got := b.text(".flash"); !strings.Contains(got, "We sent a link to the new address") {
		t.Errorf("after asking for the change: %q", got)
	}
	if got := b.text("[data-testid=email]"); got != "eve@example.org" {
		t.Errorf("the email changed before the link was followed: %q", got)
	}
	s.mail(t, "eve@example.org", "A change of your careloop email address was requested", 1)
	b.open(linkIn(t, s.mail(t, "eve.new@example.org", verifySubject, 1), "/verify-email"))
	b.click(`form[action="/verify-email"] button`, "/account")
	if got := b.text("[data-testid=email]"); got != "eve.new@example.org" {
		t.Errorf("after following the link the account's email is %q", got)
	}
}

// TestLifecyclePages checks the lifecycle pages without a browser, on
// each database engine: their statuses, and that the answers that could
// tell whether an account exists do not.
func TestLifecyclePages(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) { testLifecyclePages(t, startMailSiteOn(t, e)) })
	}
}

func testLifecyclePages(t *testing.T, s *mailSite) {
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	type answer struct {
		status   int
		location string
	}
	do := func(t *testing.T, method, path string, form url.Values) (answer, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "text/html")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return answer{resp.StatusCode, resp.Header.Get("Location")}, string(body)
	}
	pages := []struct {
		name, path string
		status     int
		contains   string
	}{
		{"invitation without a token", "/invitation?org=riverside", 400, "This link is incomplete"},
		{"invitation link, wrong token", "/invitation?org=riverside&token=abc", 401, "This link is not valid"},
		{"invitation link, unknown organisation", "/invitation?org=elsewhere&token=abc", 401, "This link is not valid"},
		{"activation form", "/activate", 200, `action="/activate"`},
		{"registration form", "/register", 200, `action="/register"`},
		{"registration answer", "/register/sent", 200, "Check your email"},
		{"verify form", "/verify-email?org=riverside&token=abc", 200, `action="/verify-email"`},
		{"verify without a token", "/verify-email", 400, "This link is incomplete"},
		{"recovery form", "/recovery", 200, `action="/recovery"`},
		{"new-password form", "/recovery?org=riverside&token=abc", 200, `action="/recovery/reset"`},
		{"new-password form without an org", "/recovery?token=abc", 400, "This link is incomplete"},
		{"recovery answer", "/recovery/sent", 200, "If an account uses that email"},
	}
	for _, tt := range pages {
		t.Run(tt.name, func(t *testing.T) {
			got, body := do(t, "GET", tt.path, nil)
			if got.status != tt.status || !strings.Contains(body, tt.contains) {
				t.Errorf("GET %s: %d, want %d with %q: %.300s", tt.path, got.status, tt.status, tt.contains, body)
			}
		})
	}

	same := []struct {
		name, path string
		a, b       url.Values
		want       answer
	}{
		{"recovery: existing and unknown email", "/recovery",
			url.Values{"org": {"riverside"}, "email": {"pat@example.org"}},
			url.Values{"org": {"riverside"}, "email": {"nobody@example.org"}},
			answer{303, "/recovery/sent"}},
		{"recovery: unknown organisation", "/recovery",
			url.Values{"org": {"riverside"}, "email": {"pat@example.org"}},
			url.Values{"org": {"elsewhere"}, "email": {"pat@example.org"}},
			answer{303, "/recovery/sent"}},
		{"registration: existing and new email", "/register",
			url.Values{"org": {"riverside"}, "name": {"Pat Jones"}, "birth_date": {"1980-05-17"}, "email": {"pat@example.org"}, "password": {newPassword}},
			url.Values{"org": {"riverside"}, "name": {"Kim Lee"}, "birth_date": {"1980-05-17"}, "email": {"kim@example.org"}, "password": {newPassword}},
			answer{303, "/register/sent"}},
	}
	for _, tt := range same {
		t.Run(tt.name, func(t *testing.T) {
			ga, _ := do(t, "POST", tt.path, tt.a)
			gb, _ := do(t, "POST", tt.path, tt.b)
			if ga != tt.want || gb != tt.want {
				t.Errorf("answers %+v and %+v, want both %+v", ga, gb, tt.want)
			}
		})
	}

	bad := []struct {
		name, path string
		form       url.Values
		status     int
		contains   string
	}{
		{"invitation, unknown organisation", "/invitation", url.Values{"org": {"elsewhere"}, "token": {"abc"}, "password": {newPassword}}, 401, "This link is not valid"},
		{"invitation, wrong token", "/invitation", url.Values{"org": {"riverside"}, "token": {"abc"}, "password": {newPassword}}, 401, "This link is not valid"},
		{"verify, wrong token", "/verify-email", url.Values{"org": {"riverside"}, "token": {"abc"}}, 401, "This link is not valid"},
		{"reset, wrong token", "/recovery/reset", url.Values{"org": {"riverside"}, "token": {"abc"}, "password": {newPassword}}, 401, "This link is not valid"},
		{"activation, unknown organisation", "/activate", url.Values{"org": {"elsewhere"}, "code": {"7K2M9-QC4XR"}, "birth_date": {"1980-05-17"},
			"name": {"Ada"}, "email": {"ada@example.org"}, "password": {newPassword}}, 401, "The activation code or the date of birth is not right"},
		{"activation, malformed date", "/activate", url.Values{"org": {"riverside"}, "code": {"7K2M9-QC4XR"}, "birth_date": {"17/05/1980"},
			"name": {"Ada"}, "email": {"ada@example.org"}, "password": {newPassword}}, 400, "year-month-day"},
		{"registration, empty", "/register", url.Values{}, 400, "Enter your date of birth."},
		{"recovery, empty email", "/recovery", url.Values{"org": {"riverside"}}, 400, "Enter your email address."},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got, body := do(t, "POST", tt.path, tt.form)
			if got.status != tt.status || !strings.Contains(body, tt.contains) {
				t.Errorf("POST %s: %d, want %d with %q: %.300s", tt.path, got.status, tt.status, tt.contains, body)
			}
		})
	}
}

func TestBrowserStaffPages(t *testing.T) {
	s := startMailSite(t)
	s.person(t, "ada@example.org", "Ada Admin", identity.RoleAdmin)
	s.person(t, "pat@example.org", "Pat Jones", identity.RolePatient)
	s.patient(t, "p1", "1980-05-17")
	secret := enrollTOTP(t, s.site, apiSignIn(t, s.site, "ada@example.org"))
	b := newBrowser(t, s.site)

	// A patient has no business here.
	b.signIn("pat@example.org", "/home")
	b.open("/staff/invitations")
	if got := b.text("h1"); got != "Not allowed" {
		t.Errorf("a patient opening the staff page gets h1 %q", got)
	}
	b.open("/account")
	b.signOut()

	b.signIn("ada@example.org", "/signin/factor")
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.fill("#code", code)
	b.click(`form[action="/signin/factor"] button`, "/account")
	b.click(`a[href="/staff/invitations"]`, "/staff/invitations")
	if got := b.text("[data-testid=no-invitations]"); got != "No open invitations." {
		t.Errorf("invitations page at first: %q", got)
	}
	b.checkA11y("the invitations page")

	b.click(`form[action="/staff/invitations"] button`, "/staff/invitations")
	if got := b.attr("#email", "aria-invalid"); got != "true" {
		t.Errorf("inviting nobody: aria-invalid %q (%s)", got, b.errorSummary())
	}
	b.checkA11y("the invitations page, no email")

	b.fill("#email", "nell@example.org")
	b.do(chromedp.SetValue(chromedp.CSS("#role"), "nurse"))
	b.fill("#name", "Nell")
	b.click(`form[action="/staff/invitations"] button`, "/staff/invitations")
	if got := b.text(".flash"); !strings.Contains(got, "We sent the invitation to nell@example.org") {
		t.Errorf("after inviting: %q", got)
	}
	if got := b.text("[data-testid=invitation]"); !strings.Contains(got, "nell@example.org") || !strings.Contains(got, "Nurse") || !strings.Contains(got, "Ada Admin") {
		t.Errorf("the open invitation shows %q", got)
	}
	b.checkA11y("the invitations page with one open")
	link := linkIn(t, s.mail(t, "nell@example.org", invitationSubject, 1), "/invitation")

	b.click(`[data-testid=invitation] form button`, "/staff/invitations")
	if n := eval[int](b, `document.querySelectorAll("[data-testid=invitation]").length`); n != 0 {
		t.Errorf("after withdrawing, %d invitations listed", n)
	}

	// Eleven minutes on, inviting needs the second factor again.
	s.shift.Store(int64(11 * time.Minute))
	b.open("/staff/invitations")
	if got := b.text("[data-testid=stepup-needed]"); got == "" {
		t.Errorf("no step-up notice eleven minutes after the second factor")
	}
	b.fill("#email", "otto@example.org")
	b.click(`form[action="/staff/invitations"] button`, "/staff/invitations")
	if got := b.errorSummary(); !strings.Contains(got, "confirm it is you") {
		t.Errorf("inviting without a fresh factor: %q", got)
	}
	s.shift.Store(0)

	b.open("/staff/activation-codes")
	b.checkA11y("the activation-codes page")
	b.fill("#patient", "Patient/nobody")
	b.click(`form[action="/staff/activation-codes"] button`, "/staff/activation-codes")
	if got := b.attr("#patient", "aria-invalid"); got != "true" {
		t.Errorf("an unknown patient: aria-invalid %q (%s)", got, b.errorSummary())
	}
	b.fill("#patient", "Patient/p1")
	b.click(`form[action="/staff/activation-codes"] button`, "/staff/activation-codes")
	activation := b.text("[data-testid=activation-code]")
	if len(activation) != 11 {
		t.Fatalf("activation code on the page %q", activation)
	}
	b.checkA11y("the activation-codes page with a code")
	b.signOut()

	// The withdrawn invitation opens nothing; the code opens the record.
	b.open(link)
	if got := b.text("[data-testid=link-invalid]"); !strings.Contains(got, "This link is not valid") {
		t.Errorf("a withdrawn invitation: %q", got)
	}
	b.open("/activate")
	b.fill("#code", activation)
	b.fill("#birth_date", "1980-05-17")
	b.fill("#name", "Ada Okafor")
	b.fill("#email", "okafor@example.org")
	b.fill("#password", password)
	b.click(`form[action="/activate"] button[type=submit]`, "/account")
	if got := b.text("[data-testid=role]"); got != "Patient" {
		t.Errorf("activated with the code from the staff page, role %q", got)
	}
}
