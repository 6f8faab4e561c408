package signin_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/mail"
	"github.com/careloop/careloop/internal/platform/mail/mailtest"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

// patients is the FHIR store as the lifecycle sees it: dates of birth by
// Patient id.
type patients map[string]string

func (p patients) BirthDate(_ context.Context, _, id string) (string, error) {
	dob, ok := p[id]
	if !ok {
		return "", errs.NotFoundf("no Patient/%s", id)
	}
	return dob, nil
}

// lifecycleFixture is the /auth API with the account lifecycle, on real
// stores, sending its emails from a real job queue through a real SMTP
// server on loopback (STARTTLS with a self-signed certificate, AUTH
// PLAIN), with a settable clock.
type lifecycleFixture struct {
	t        *testing.T
	d        *db.DB
	srv      *httptest.Server
	smtp     *mailtest.Server
	sender   *mail.SMTP
	queue    *jobs.Queue // nil while stopped
	mailer   *signin.Mailer
	mailKey  []byte
	life     *signin.Lifecycle
	logs     *syncBuffer // what the lifecycle logged
	accounts *identity.Store
	org      *tenant.Organization
	mu       sync.Mutex
	now      time.Time
}

// fixtureOptions change a lifecycleFixture.
type fixtureOptions struct {
	// sender wraps the SMTP sender the jobs send through.
	sender func(mail.Sender) mail.Sender
	// stopped leaves the job queue stopped: emails are queued, not sent.
	stopped bool
}

const (
	goodPassword = "correct horse battery staple"
	newPassword  = "violet anchor drifting lantern"
	baseURL      = "https://careloop.test"
)

func (f *lifecycleFixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *lifecycleFixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newLifecycleFixture(t *testing.T, d *db.DB) *lifecycleFixture {
	t.Helper()
	return newLifecycleFixtureWith(t, d, fixtureOptions{})
}

func newLifecycleFixtureWith(t *testing.T, d *db.DB, opts fixtureOptions) *lifecycleFixture {
	t.Helper()
	ctx := context.Background()
	f := &lifecycleFixture{t: t, d: d, now: time.Now().UTC().Truncate(30 * time.Second).Add(time.Second), logs: &syncBuffer{}}
	f.org = &tenant.Organization{Slug: "riverside", Name: "Riverside Clinic"}
	f.accounts = identity.NewStore(d)
	cheap := identity.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		if err := tenant.NewStore(d).CreateTx(ctx, tx, f.org); err != nil {
			return err
		}
		for _, a := range []*identity.Account{
			{OrgID: f.org.ID, Email: "admin@example.org", DisplayName: "Ada Admin", Role: identity.RoleAdmin},
			{OrgID: f.org.ID, Email: "coordinator@example.org", DisplayName: "Cora", Role: identity.RoleCoordinator},
			{OrgID: f.org.ID, Email: "tech@example.org", DisplayName: "Tess", Role: identity.RoleTechnician},
			{OrgID: f.org.ID, Email: "nurse@example.org", DisplayName: "Nina", Role: identity.RoleNurse},
		} {
			h, _ := identity.HashPassword(goodPassword, cheap)
			if err := f.accounts.CreateTx(ctx, tx, a, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	factors, err := identity.NewFactorStore(d, key)
	if err != nil {
		t.Fatal(err)
	}
	factors.Now = f.clock
	tokens, err := identity.NewTokens(d, key)
	if err != nil {
		t.Fatal(err)
	}
	tokens.Now = f.clock
	sessions := session.NewStore(d, session.Policy{})
	sessions.SetClock(f.clock)
	th := signin.NewThrottle(d)
	th.SetClock(f.clock)

	f.smtp = mailtest.Start(t, mailtest.Options{STARTTLS: true, User: "careloop", Password: "mail pass"})
	sender, err := mail.NewSMTP(f.smtp.URL, "careloop <no-reply@careloop.test>")
	if err != nil {
		t.Fatal(err)
	}
	sender.TLSConfig = &tls.Config{RootCAs: f.smtp.CertPool()}
	f.sender = sender
	log := slog.New(slog.NewTextHandler(f.logs, nil))
	var through mail.Sender = sender
	if opts.sender != nil {
		through = opts.sender(sender)
	}
	inserter, err := jobs.New(d, jobs.Config{}) // the requests' side inserts only
	if err != nil {
		t.Fatal(err)
	}
	f.mailKey = make([]byte, signin.EmailKeySize)
	rand.Read(f.mailKey)
	if f.mailer, err = signin.NewMailer(d, inserter, f.mailKey, through, log); err != nil {
		t.Fatal(err)
	}

	svc := &signin.Service{DB: d, Accounts: f.accounts, Factors: factors, Sessions: sessions, Throttle: th, Log: log}
	life := &signin.Lifecycle{Service: svc, Accounts: f.accounts, Tokens: tokens, Mail: f.mailer, BaseURL: baseURL, PasswordParams: cheap,
		Patients: patients{"p1": "1980-05-17", "p2": "1975-01-02", "p3": "1990-07", "p4": "2001-11-30"}}
	f.life = life
	t.Cleanup(f.stopQueue)
	if !opts.stopped {
		f.startQueue()
	}
	mux := http.NewServeMux()
	(&signin.API{Service: svc, Orgs: tenant.NewStore(d), Accounts: f.accounts, Enroll: factors, Lifecycle: life}).Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *lifecycleFixture) client(ua string) *client { return newClient(f.t, f.srv.URL, ua) }

func (f *lifecycleFixture) code(secret string) string {
	c, err := totp.GenerateCode(secret, f.clock())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// signInWithTOTP signs c in as email, enrolling an authenticator app at
// the first sign-in, and returns the app's secret. The session then has a
// fresh second factor.
func (f *lifecycleFixture) signInWithTOTP(c *client, email, password, secret string) string {
	f.t.Helper()
	status, out := c.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": email, "password": password})
	if status != 200 {
		f.t.Fatalf("sign in %s: %d %v", email, status, out)
	}
	if out["stage"] == "factor" {
		f.advance(30 * time.Second) // a new time step: each code works once
		if status, out = c.do("POST", "/auth/signin/factor", map[string]string{"code": f.code(secret)}); status != 200 || out["stage"] != "signed-in" {
			f.t.Fatalf("factor for %s: %d %v", email, status, out)
		}
		return secret
	}
	if out["must_enroll"] != true {
		f.t.Fatalf("sign in %s: %v", email, out)
	}
	status, out = c.do("POST", "/auth/factors/totp", nil)
	secret, _ = out["secret"].(string)
	if status != 200 || secret == "" {
		f.t.Fatalf("begin TOTP for %s: %d %v", email, status, out)
	}
	if status, out = c.do("POST", "/auth/factors/totp/confirm", map[string]string{"code": f.code(secret)}); status != 204 {
		f.t.Fatalf("confirm TOTP for %s: %d %v", email, status, out)
	}
	return secret
}

var tokenInLink = regexp.MustCompile(`https://careloop\.test(/[a-z-]+)\?(\S+)`)

// linkIn returns the page path and token of the link in a message.
func linkIn(t *testing.T, m mailtest.Message) (path, token string) {
	t.Helper()
	match := tokenInLink.FindStringSubmatch(m.Body())
	if match == nil {
		t.Fatalf("no link in %q", m.Body())
	}
	q, err := url.ParseQuery(match[2])
	if err != nil || q.Get("org") != "riverside" {
		t.Fatalf("link query %q: %v", match[2], err)
	}
	return match[1], q.Get("token")
}

// startQueue starts a job queue, as a process that starts would, working
// the lifecycle's jobs.
func (f *lifecycleFixture) startQueue() {
	f.t.Helper()
	w := river.NewWorkers()
	signin.AddWorkers(w, func() (*signin.Lifecycle, error) { return f.life, nil })
	q, err := jobs.New(f.d, jobs.Config{Workers: w, PollInterval: 20 * time.Millisecond})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := q.Start(context.Background()); err != nil {
		f.t.Fatal(err)
	}
	f.queue = q
}

// stopQueue stops the job queue, as a process that stops would.
func (f *lifecycleFixture) stopQueue() {
	if f.queue == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.queue.Stop(ctx); err != nil {
		f.t.Errorf("stop the job queue: %v", err)
	}
	f.queue = nil
}

// settle waits until no job of the account lifecycle is left to work now:
// every email queued so far has been sent or given up. It fails the test
// after a minute: a bound so that a broken test ends, not a measure.
func (f *lifecycleFixture) settle() {
	f.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		err := f.d.Read.QueryRow(`SELECT count(*) FROM river_job WHERE kind LIKE 'signin.%' AND state IN ('available', 'running', 'retryable', 'scheduled', 'pending')`).Scan(&n)
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d account jobs still to work after a minute", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mailTo waits for the n-th message (from 1) to addr, in the order sent.
func (f *lifecycleFixture) mailTo(addr string, n int) mailtest.Message {
	f.t.Helper()
	f.settle()
	got := f.smtp.To(addr)
	if len(got) < n {
		f.t.Fatalf("%d messages to %s, want %d", len(got), addr, n)
	}
	return got[n-1]
}

// noHealthData checks that a message says nothing a stranger should not
// read: no dates of birth, no record ids.
func noHealthData(t *testing.T, m mailtest.Message) {
	t.Helper()
	// The links' random tokens may hold any short string: look at the text
	// around them.
	text := linkPattern.ReplaceAllString(m.Body(), "<link>")
	for _, bad := range []string{"1980", "1975", "Patient/", "p1", "p2"} {
		if strings.Contains(text, bad) || strings.Contains(m.Header("Subject"), bad) {
			t.Errorf("message %q carries %q", m.Header("Subject"), bad)
		}
	}
	if !m.TLS || m.AuthUser != "careloop" {
		t.Errorf("message sent without TLS or AUTH: tls %v user %q", m.TLS, m.AuthUser)
	}
}

// linkPattern matches the links of emails.
var linkPattern = regexp.MustCompile(`https?://\S+`)

func TestInvitationAcceptEnrollAndSignIn(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		admin := f.client("Admin laptop")
		f.signInWithTOTP(admin, "admin@example.org", goodPassword, "")

		// Who may invite, and what.
		tech := f.client("Tech")
		f.signInWithTOTP(tech, "tech@example.org", goodPassword, "")
		refused := []struct {
			name   string
			c      *client
			body   map[string]string
			status int
		}{
			{name: "not an admin", c: tech, body: map[string]string{"email": "x@example.org", "role": "nurse"}, status: 403},
			{name: "patient role", c: admin, body: map[string]string{"email": "x@example.org", "role": "patient"}, status: 400},
			{name: "unknown role", c: admin, body: map[string]string{"email": "x@example.org", "role": "janitor"}, status: 400},
			{name: "bad email", c: admin, body: map[string]string{"email": "x@@example.org", "role": "nurse"}, status: 400},
			{name: "existing account", c: admin, body: map[string]string{"email": "Nurse@example.org", "role": "nurse"}, status: 409},
		}
		for _, tc := range refused {
			if status, out := tc.c.do("POST", "/auth/invitations", tc.body); status != tc.status {
				t.Errorf("%s: %d %v, want %d", tc.name, status, out, tc.status)
			}
		}

		status, out := admin.do("POST", "/auth/invitations", map[string]string{"email": "Clara@Example.org", "role": "clinician", "name": "Clara"})
		if status != 201 || out["email"] != "clara@example.org" || out["role"] != "clinician" {
			t.Fatalf("invite: %d %v", status, out)
		}
		first := f.mailTo("clara@example.org", 1)
		noHealthData(t, first)
		if path, _ := linkIn(t, first); path != "/invitation" {
			t.Errorf("invitation link to %s", path)
		}
		_, oldToken := linkIn(t, first)
		// Inviting again replaces the open invitation.
		admin.do("POST", "/auth/invitations", map[string]string{"email": "clara@example.org", "role": "clinician"})
		_, token := linkIn(t, f.mailTo("clara@example.org", 2))
		status, out = admin.do("GET", "/auth/invitations", nil)
		if list, _ := out["invitations"].([]any); status != 200 || len(list) != 1 {
			t.Fatalf("open invitations: %d %v", status, out)
		}

		clara := f.client("Clara's laptop")
		accept := func(token, password string) (int, map[string]any) {
			return clara.do("POST", "/auth/invitations/accept", map[string]string{"org": "riverside", "token": token, "name": "Clara Oswald", "password": password})
		}
		if status, out = accept(oldToken, goodPassword); status != 401 {
			t.Fatalf("a replaced invitation: %d %v", status, out)
		}
		if status, out = accept(token, "clara oswald"); status != 400 || !strings.Contains(message(out), "guess") {
			t.Fatalf("a weak password: %d %v", status, out)
		}
		// The weak password spent nothing: the link still works.
		if status, out = accept(token, goodPassword); status != 200 || out["stage"] != "signed-in" || out["must_enroll"] != true {
			t.Fatalf("accept: %d %v", status, out)
		}
		if status, out = f.client("Other").do("POST", "/auth/invitations/accept", map[string]string{"org": "riverside", "token": token, "name": "X", "password": goodPassword}); status != 401 {
			t.Fatalf("an invitation accepted twice: %d %v", status, out)
		}
		acct, _, err := f.accounts.ByEmail(context.Background(), f.org.ID, "clara@example.org")
		if err != nil || acct.Role != identity.RoleClinician || acct.DisplayName != "Clara Oswald" {
			t.Fatalf("account %+v %v", acct, err)
		}
		if at, err := f.accounts.EmailVerifiedAt(context.Background(), f.org.ID, acct.ID); err != nil || at.IsZero() {
			t.Errorf("an invited account's email is not verified: %v %v", at, err)
		}
		if status, out = admin.do("GET", "/auth/invitations", nil); len(out["invitations"].([]any)) != 0 {
			t.Errorf("the accepted invitation is still open: %d %v", status, out)
		}
		// Must enroll a second factor; then sign in with it.
		secret := f.signInWithTOTP(clara, "clara@example.org", goodPassword, "")
		clara.do("POST", "/auth/signout", nil)
		status, out = clara.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": "clara@example.org", "password": goodPassword})
		if status != 200 || out["stage"] != "factor" {
			t.Fatalf("sign-in after enrolling: %d %v", status, out)
		}
		f.advance(30 * time.Second)
		if status, out = clara.do("POST", "/auth/signin/factor", map[string]string{"code": f.code(secret)}); status != 200 || out["stage"] != "signed-in" {
			t.Fatalf("TOTP: %d %v", status, out)
		}

		// Revoked and expired invitations open nothing.
		admin.do("POST", "/auth/invitations", map[string]string{"email": "rev@example.org", "role": "nurse"})
		_, revoked := linkIn(t, f.mailTo("rev@example.org", 1))
		_, out = admin.do("GET", "/auth/invitations", nil)
		id := out["invitations"].([]any)[0].(map[string]any)["id"].(string)
		if status, _ = admin.do("DELETE", "/auth/invitations/"+id, nil); status != 204 {
			t.Fatalf("revoke: %d", status)
		}
		if status, _ = admin.do("DELETE", "/auth/invitations/"+id, nil); status != 404 {
			t.Fatalf("revoke twice: %d", status)
		}
		admin.do("POST", "/auth/invitations", map[string]string{"email": "late@example.org", "role": "nurse"})
		_, late := linkIn(t, f.mailTo("late@example.org", 1))
		f.advance(72*time.Hour + time.Minute)
		for name, tok := range map[string]string{"revoked": revoked, "expired": late} {
			if status, out = f.client("X").do("POST", "/auth/invitations/accept", map[string]string{"org": "riverside", "token": tok, "name": "X", "password": goodPassword}); status != 401 {
				t.Errorf("%s invitation: %d %v", name, status, out)
			}
		}
	})
}

func TestPatientActivation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		nurse := f.client("Ward PC")
		f.signInWithTOTP(nurse, "nurse@example.org", goodPassword, "")
		tech := f.client("Lab PC")
		f.signInWithTOTP(tech, "tech@example.org", goodPassword, "")

		codeFor := []struct {
			name    string
			c       *client
			patient string
			status  int
		}{
			{name: "a technician", c: tech, patient: "Patient/p1", status: 403},
			{name: "no such patient", c: nurse, patient: "Patient/nobody", status: 404},
			{name: "a partial birth date", c: nurse, patient: "p3", status: 422},
			{name: "not an id", c: nurse, patient: "Patient/../x", status: 400},
		}
		for _, tc := range codeFor {
			if status, out := tc.c.do("POST", "/auth/activation-codes", map[string]string{"patient": tc.patient}); status != tc.status {
				t.Errorf("%s: %d %v, want %d", tc.name, status, out, tc.status)
			}
		}
		status, out := nurse.do("POST", "/auth/activation-codes", map[string]string{"patient": "Patient/p1"})
		code, _ := out["code"].(string)
		if status != 201 || !regexp.MustCompile(`^[0-9A-Z]{5}-[0-9A-Z]{5}$`).MatchString(code) || out["patient"] != "Patient/p1" {
			t.Fatalf("activation code: %d %v", status, out)
		}

		pat := f.client("Pat's phone")
		activate := func(code, dob, email string) (int, map[string]any) {
			return pat.do("POST", "/auth/activate", map[string]string{"org": "riverside", "code": code, "birth_date": dob,
				"email": email, "password": goodPassword, "name": "Pat Doe"})
		}
		wrongCode := "ZZZZZ-ZZZZZ"
		if code == wrongCode {
			wrongCode = "YYYYY-YYYYY"
		}
		_, wrongAnswer := activate(wrongCode, "1980-05-17", "pat@example.org")
		cases := []struct {
			name, code, dob string
			status          int
		}{
			{name: "wrong date of birth", code: code, dob: "1980-05-18", status: 401},
			{name: "another patient's date", code: code, dob: "1975-01-02", status: 401},
			{name: "wrong code", code: wrongCode, dob: "1980-05-17", status: 401},
			{name: "malformed date", code: code, dob: "17/05/1980", status: 400},
			{name: "date in the future", code: code, dob: "2999-01-01", status: 400},
		}
		for _, tc := range cases {
			status, out := activate(tc.code, tc.dob, "pat@example.org")
			if status != tc.status {
				t.Errorf("%s: %d %v, want %d", tc.name, status, out, tc.status)
			}
			if status == 401 && message(out) != message(wrongAnswer) {
				t.Errorf("%s: answer %q differs from a wrong code's %q", tc.name, message(out), message(wrongAnswer))
			}
		}
		// Lower case and without the hyphen is the same code.
		status, out = activate(strings.ToLower(strings.ReplaceAll(code, "-", "")), "1980-05-17", "Pat@Example.org")
		if status != 201 || out["stage"] != "signed-in" || out["offer_factor"] != true {
			t.Fatalf("activate: %d %v", status, out)
		}
		acct, _, err := f.accounts.ByEmail(context.Background(), f.org.ID, "pat@example.org")
		if err != nil || acct.Role != identity.RolePatient || acct.FHIRRef != "Patient/p1" {
			t.Fatalf("account %+v %v", acct, err)
		}
		// Signed in without a second factor, offered one.
		if status, _ = pat.do("GET", "/auth/sessions", nil); status != 200 {
			t.Errorf("sessions after activation: %d", status)
		}
		if status, _ = pat.do("POST", "/auth/factors/totp", nil); status != 200 {
			t.Errorf("enrolling after activation: %d", status)
		}
		// The code works once; the record has its account.
		if status, out = f.client("Other").do("POST", "/auth/activate", map[string]string{"org": "riverside", "code": code, "birth_date": "1980-05-17",
			"email": "other@example.org", "password": goodPassword, "name": "Other"}); status != 401 {
			t.Errorf("a code used twice: %d %v", status, out)
		}
		if status, _ = nurse.do("POST", "/auth/activation-codes", map[string]string{"patient": "p1"}); status != 409 {
			t.Errorf("a code for a record that has an account: %d", status)
		}
		// The verification link arrives, and works.
		verify := f.mailTo("pat@example.org", 1)
		noHealthData(t, verify)
		path, token := linkIn(t, verify)
		if path != "/verify-email" {
			t.Errorf("verification link to %s", path)
		}
		if status, out = pat.do("POST", "/auth/email/verify", map[string]string{"org": "riverside", "token": token}); status != 200 {
			t.Fatalf("verify: %d %v", status, out)
		}
		if at, _ := f.accounts.EmailVerifiedAt(context.Background(), f.org.ID, acct.ID); at.IsZero() {
			t.Error("email not verified")
		}

		// Wrong dates of birth void a code after MaxActivationFailures.
		_, out = nurse.do("POST", "/auth/activation-codes", map[string]string{"patient": "p2"})
		code2 := out["code"].(string)
		guesser := f.client("Guesser")
		for i := range identity.MaxActivationFailures {
			guesser.do("POST", "/auth/activate", map[string]string{"org": "riverside", "code": code2, "birth_date": time.Date(1975, 2, 1+i, 0, 0, 0, 0, time.UTC).Format(time.DateOnly),
				"email": "p2@example.org", "password": goodPassword, "name": "Pee Two"})
		}
		if status, out = f.client("Owner").do("POST", "/auth/activate", map[string]string{"org": "riverside", "code": code2, "birth_date": "1975-01-02",
			"email": "p2@example.org", "password": goodPassword, "name": "Pee Two"}); status != 401 {
			t.Errorf("a code after %d wrong dates: %d %v", identity.MaxActivationFailures, status, out)
		}

		// Expired codes open nothing.
		_, out = nurse.do("POST", "/auth/activation-codes", map[string]string{"patient": "p4"})
		code4 := out["code"].(string)
		f.advance(30*24*time.Hour + time.Minute)
		if status, out = f.client("Late").do("POST", "/auth/activate", map[string]string{"org": "riverside", "code": code4, "birth_date": "2001-11-30",
			"email": "p4@example.org", "password": goodPassword, "name": "Pee Four"}); status != 401 {
			t.Errorf("an expired code: %d %v", status, out)
		}
	})
}

func TestSelfRegistrationVerifyAndStaffLink(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		reg := func(c *client, email, name, dob string) (int, map[string]any) {
			return c.do("POST", "/auth/register", map[string]string{"org": "riverside", "email": email, "password": goodPassword, "name": name, "birth_date": dob})
		}
		sam := f.client("Sam's laptop")
		status, first := reg(sam, "sam@example.org", "Sam Roe", "1975-01-02")
		if status != 202 {
			t.Fatalf("register: %d %v", status, first)
		}
		// An email that has an account gets exactly the same answer.
		for _, email := range []string{"sam@example.org", "nurse@example.org"} {
			f.settle()
			status, again := reg(f.client("Prober"), email, "Someone Else", "1990-01-01")
			if status != 202 || message(again) != message(first) || again["status"] != first["status"] {
				t.Errorf("registering %s again: %d %v, want %v", email, status, again, first)
			}
		}
		if status, out := reg(sam, "sam@example.org", "Sam", "1975-13-40"); status != 400 {
			t.Errorf("a bad date: %d %v", status, out)
		}
		if status, out := sam.do("POST", "/auth/register", map[string]string{"org": "riverside", "email": "sam3@example.org", "password": "password1", "name": "Sam", "birth_date": "1975-01-02"}); status != 400 {
			t.Errorf("a weak password: %d %v", status, out)
		}
		verify := f.mailTo("sam@example.org", 1)
		if !strings.Contains(verify.Header("Subject"), "Confirm") {
			t.Fatalf("first message to sam: %q", verify.Header("Subject"))
		}
		tried := f.mailTo("sam@example.org", 2)
		if !strings.Contains(tried.Header("Subject"), "tried to register") || strings.Contains(tried.Body(), "token=") {
			t.Errorf("second message to sam: %q %q", tried.Header("Subject"), tried.Body())
		}
		if got := f.mailTo("nurse@example.org", 1); !strings.Contains(got.Header("Subject"), "tried to register") {
			t.Errorf("message to the nurse: %q", got.Header("Subject"))
		}
		noHealthData(t, verify)

		// Signed in before verification: no record, nothing to list for staff.
		if status, out := sam.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": "sam@example.org", "password": goodPassword}); status != 200 || out["must_enroll"] != nil {
			t.Fatalf("sign-in of a registered patient: %d %v", status, out)
		}
		coord := f.client("Coordinator")
		f.signInWithTOTP(coord, "coordinator@example.org", goodPassword, "")
		if _, out := coord.do("GET", "/auth/registrations", nil); len(out["registrations"].([]any)) != 0 {
			t.Errorf("an unverified registration is listed: %v", out)
		}
		// Resend replaces the first link.
		if status, out := sam.do("POST", "/auth/email/resend", nil); status != 202 {
			t.Fatalf("resend: %d %v", status, out)
		}
		_, oldToken := linkIn(t, verify)
		_, token := linkIn(t, f.mailTo("sam@example.org", 3))
		if status, _ := sam.do("POST", "/auth/email/verify", map[string]string{"org": "riverside", "token": oldToken}); status != 401 {
			t.Errorf("a replaced verification link: %d", status)
		}
		if status, out := sam.do("POST", "/auth/email/verify", map[string]string{"org": "riverside", "token": token}); status != 200 {
			t.Fatalf("verify: %d %v", status, out)
		}
		if status, _ := sam.do("POST", "/auth/email/verify", map[string]string{"org": "riverside", "token": token}); status != 401 {
			t.Errorf("a verification link used twice: %d", status)
		}
		if status, out := sam.do("POST", "/auth/email/resend", nil); status != 200 || out["verified"] != true {
			t.Errorf("resend when verified: %d %v", status, out)
		}

		status, out := coord.do("GET", "/auth/registrations", nil)
		list, _ := out["registrations"].([]any)
		if status != 200 || len(list) != 1 || list[0].(map[string]any)["birth_date"] != "1975-01-02" {
			t.Fatalf("registrations: %d %v", status, out)
		}
		id := list[0].(map[string]any)["account"].(string)
		nurse := f.client("Nurse")
		f.signInWithTOTP(nurse, "nurse@example.org", goodPassword, "")
		links := []struct {
			name    string
			c       *client
			patient string
			status  int
		}{
			{name: "a nurse may not", c: nurse, patient: "Patient/p2", status: 403},
			{name: "another date of birth", c: coord, patient: "Patient/p1", status: 422},
			{name: "no such patient", c: coord, patient: "Patient/zz", status: 404},
		}
		for _, tc := range links {
			if status, out := tc.c.do("POST", "/auth/registrations/"+id+"/link", map[string]string{"patient": tc.patient}); status != tc.status {
				t.Errorf("%s: %d %v, want %d", tc.name, status, out, tc.status)
			}
		}
		if status, out := coord.do("POST", "/auth/registrations/"+id+"/link", map[string]string{"patient": "Patient/p2"}); status != 204 {
			t.Fatalf("link: %d %v", status, out)
		}
		acct, err := f.accounts.ByID(context.Background(), f.org.ID, id)
		if err != nil || acct.FHIRRef != "Patient/p2" {
			t.Fatalf("linked account %+v %v", acct, err)
		}
		if _, out := coord.do("GET", "/auth/registrations", nil); len(out["registrations"].([]any)) != 0 {
			t.Errorf("a linked registration is still listed: %v", out)
		}
		if got := f.mailTo("sam@example.org", 4); !strings.Contains(got.Header("Subject"), "ready") {
			t.Errorf("no message that the account is ready: %q", got.Header("Subject"))
		}
	})
}

func TestSelfRegisteredPatientLinksWithActivationCode(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		kim := f.client("Kim")
		kim.do("POST", "/auth/register", map[string]string{"org": "riverside", "email": "kim@example.org", "password": goodPassword, "name": "Kim", "birth_date": "2001-11-30"})
		f.mailTo("kim@example.org", 1)
		if status, out := kim.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": "kim@example.org", "password": goodPassword}); status != 200 {
			t.Fatalf("sign in: %d %v", status, out)
		}
		nurse := f.client("Nurse")
		f.signInWithTOTP(nurse, "nurse@example.org", goodPassword, "")
		_, out := nurse.do("POST", "/auth/activation-codes", map[string]string{"patient": "p4"})
		code := out["code"].(string)
		if status, out := kim.do("POST", "/auth/activate/link", map[string]string{"code": code, "birth_date": "2001-11-29"}); status != 401 {
			t.Errorf("wrong date: %d %v", status, out)
		}
		if status, out := kim.do("POST", "/auth/activate/link", map[string]string{"code": code, "birth_date": "2001-11-30"}); status != 204 {
			t.Fatalf("link: %d %v", status, out)
		}
		acct, _, _ := f.accounts.ByEmail(context.Background(), f.org.ID, "kim@example.org")
		if acct.FHIRRef != "Patient/p4" {
			t.Errorf("linked to %q", acct.FHIRRef)
		}
		if status, _ := kim.do("POST", "/auth/activate/link", map[string]string{"code": code, "birth_date": "2001-11-30"}); status != 409 {
			t.Errorf("linking twice: %d", status)
		}
	})
}

func TestRecoveryStillNeedsTheSecondFactor(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		laptop := f.client("Laptop")
		secret := f.signInWithTOTP(laptop, "nurse@example.org", goodPassword, "")

		// The same answer for an account, an unknown email and an unknown
		// organisation.
		phone := f.client("Phone")
		ask := func(org, email string) (int, map[string]any) {
			return phone.do("POST", "/auth/recovery", map[string]string{"org": org, "email": email})
		}
		status, known := ask("riverside", "Nurse@example.org")
		if status != 202 {
			t.Fatalf("recovery: %d %v", status, known)
		}
		for _, tc := range []struct{ org, email string }{{"riverside", "nobody@example.org"}, {"no-such-org", "nurse@example.org"}} {
			if status, out := ask(tc.org, tc.email); status != 202 || message(out) != message(known) || out["status"] != known["status"] {
				t.Errorf("recovery for %s at %s: %d %v, want %v", tc.email, tc.org, status, out, known)
			}
		}
		if status, _ := ask("riverside", "not an email"); status != 400 {
			t.Errorf("a malformed email: %d", status)
		}
		msg := f.mailTo("nurse@example.org", 1)
		noHealthData(t, msg)
		if n := len(f.smtp.To("nobody@example.org")); n != 0 {
			t.Errorf("%d messages to an unknown address", n)
		}
		path, token := linkIn(t, msg)
		if path != "/recovery" {
			t.Errorf("recovery link to %s", path)
		}
		complete := func(c *client, token, password string) (int, map[string]any) {
			return c.do("POST", "/auth/recovery/complete", map[string]string{"org": "riverside", "token": token, "password": password})
		}
		if status, out := complete(phone, token, "nina nurse"); status != 400 {
			t.Fatalf("a weak new password: %d %v", status, out)
		}
		status, out := complete(phone, token, newPassword)
		if status != 200 || out["stage"] != "factor" {
			t.Fatalf("recovery with a factor enrolled: %d %v", status, out)
		}
		// Not signed in yet: the second factor is still needed.
		if status, _ = phone.do("GET", "/auth/sessions", nil); status != 401 {
			t.Errorf("a recovered session opened the sessions page before its factor: %d", status)
		}
		// Every other session ended.
		if status, _ = laptop.do("GET", "/auth/sessions", nil); status != 401 {
			t.Errorf("the laptop's session survived the password reset: %d", status)
		}
		f.advance(30 * time.Second)
		if status, out = phone.do("POST", "/auth/signin/factor", map[string]string{"code": f.code(secret)}); status != 200 || out["stage"] != "signed-in" {
			t.Fatalf("factor after recovery: %d %v", status, out)
		}
		if status, out = complete(f.client("Again"), token, newPassword); status != 401 {
			t.Errorf("a recovery link used twice: %d %v", status, out)
		}
		if got := f.mailTo("nurse@example.org", 2); !strings.Contains(got.Header("Subject"), "password was changed") {
			t.Errorf("no notice of the change: %q", got.Header("Subject"))
		}
		// The old password is gone, the new one works.
		other := f.client("Tablet")
		if status, _ = other.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": "nurse@example.org", "password": goodPassword}); status != 401 {
			t.Errorf("the old password: %d", status)
		}
		if status, out = other.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": "nurse@example.org", "password": newPassword}); status != 200 || out["stage"] != "factor" {
			t.Errorf("the new password: %d %v", status, out)
		}

		// A link expires after 30 minutes.
		ask("riverside", "nurse@example.org")
		_, late := linkIn(t, f.mailTo("nurse@example.org", 3))
		f.advance(31 * time.Minute)
		if status, out = complete(f.client("Late"), late, "another long passphrase here"); status != 401 {
			t.Errorf("an expired recovery link: %d %v", status, out)
		}
		// An account without a second factor is signed in by the link;
		// staff must then enroll one.
		ask("riverside", "tech@example.org")
		_, techToken := linkIn(t, f.mailTo("tech@example.org", 1))
		if status, out = complete(f.client("Tech"), techToken, newPassword); status != 200 || out["stage"] != "signed-in" || out["must_enroll"] != true {
			t.Errorf("recovery without a factor: %d %v", status, out)
		}
	})
}

func TestRecoveryRequestsAreThrottled(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		c := f.client("Spammer")
		for i := range signin.RecoveryAddressLimit.Failures + 1 {
			status, out := c.do("POST", "/auth/recovery", map[string]string{"org": "riverside", "email": "nurse@example.org"})
			want := 202
			if i == signin.RecoveryAddressLimit.Failures {
				want = 429
			}
			if status != want {
				t.Fatalf("request %d: %d %v, want %d", i+1, status, out, want)
			}
			f.settle()
		}
		// The account's own limit capped the emails.
		if n := len(f.smtp.To("nurse@example.org")); n != signin.RecoveryAccountLimit.Failures {
			t.Errorf("%d recovery emails, want %d", n, signin.RecoveryAccountLimit.Failures)
		}
	})
}

func TestEmailChangeSwitchesOnlyWhenFollowed(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newLifecycleFixture(t, d)
		nurse := f.client("Nurse")
		f.signInWithTOTP(nurse, "nurse@example.org", goodPassword, "")
		if status, out := nurse.do("POST", "/auth/email/change", map[string]string{"email": "nina@example.net"}); status != 202 {
			t.Fatalf("change: %d %v", status, out)
		}
		notice := f.mailTo("nurse@example.org", 1)
		if !strings.Contains(notice.Header("Subject"), "change") || strings.Contains(notice.Body(), "token=") {
			t.Errorf("notice to the old address: %q %q", notice.Header("Subject"), notice.Body())
		}
		_, token := linkIn(t, f.mailTo("nina@example.net", 1))
		if a, _, err := f.accounts.ByEmail(context.Background(), f.org.ID, "nurse@example.org"); err != nil || a == nil {
			t.Fatalf("the email changed before the link was followed: %v", err)
		}
		if status, out := f.client("Mail app").do("POST", "/auth/email/verify", map[string]string{"org": "riverside", "token": token}); status != 200 {
			t.Fatalf("verify: %d %v", status, out)
		}
		a, _, err := f.accounts.ByEmail(context.Background(), f.org.ID, "nina@example.net")
		if err != nil {
			t.Fatalf("the email did not change: %v", err)
		}
		if at, _ := f.accounts.EmailVerifiedAt(context.Background(), f.org.ID, a.ID); at.IsZero() {
			t.Error("the new email is not verified")
		}
		// Without a fresh second factor: refused.
		f.advance(signin.StepUpWithin + time.Minute)
		if status, out := nurse.do("POST", "/auth/email/change", map[string]string{"email": "n@example.net"}); status != 403 {
			t.Errorf("change without step-up: %d %v", status, out)
		}
	})
}

// discard is a Sender that sends nothing.
type discard struct{}

func (discard) Send(context.Context, mail.Message) error { return nil }

// BenchmarkRecoveryRequest measures the answer to a recovery request for
// an account that exists and for one that does not: the two should cost
// the same, since the request only queues a job with what was typed and
// everything that differs happens in the job (not worked here).
func BenchmarkRecoveryRequest(b *testing.B) {
	d := dbtest.Open(b, db.SQLite)
	ctx := context.Background()
	org := &tenant.Organization{Slug: "riverside", Name: "Riverside"}
	accounts := identity.NewStore(d)
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		if err := tenant.NewStore(d).CreateTx(ctx, tx, org); err != nil {
			return err
		}
		return accounts.CreateTx(ctx, tx, &identity.Account{OrgID: org.ID, Email: "nurse@example.org", DisplayName: "N", Role: identity.RoleNurse}, "x")
	})
	if err != nil {
		b.Fatal(err)
	}
	key := make([]byte, 32)
	tokens, _ := identity.NewTokens(d, key)
	factors, _ := identity.NewFactorStore(d, key)
	svc := &signin.Service{DB: d, Accounts: accounts, Factors: factors, Sessions: session.NewStore(d, session.Policy{}), Throttle: signin.NewThrottle(d)}
	inserter, err := jobs.New(d, jobs.Config{}) // no workers: the jobs are queued, not worked
	if err != nil {
		b.Fatal(err)
	}
	mailer, err := signin.NewMailer(d, inserter, key, discard{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	life := &signin.Lifecycle{Service: svc, Accounts: accounts, Tokens: tokens, Mail: mailer, BaseURL: baseURL}
	i := 0
	for _, email := range []string{"nurse@example.org", "nobody@example.org"} {
		b.Run(strings.Split(email, "@")[0], func(b *testing.B) {
			for b.Loop() {
				i++ // a new address per request, across runs: the same throttle work for both
				if err := life.RequestRecovery(ctx, org, email, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
