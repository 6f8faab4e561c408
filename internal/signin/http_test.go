package signin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/identity/webauthntest"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/session"
	"github.com/careloop/careloop/internal/signin"
	"github.com/careloop/careloop/internal/tenant"
)

// notices records what the sign-in service told people.
type notices struct {
	mu     sync.Mutex
	events []string
}

func (n *notices) RepeatedFailures(_ context.Context, a *identity.Account, address string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, "failures:"+a.Email)
}

func (n *notices) NewDevice(_ context.Context, a *identity.Account, ua, address string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, "new-device:"+a.ID+":"+ua)
}

func (n *notices) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.events...)
}

// client is a browser: a cookie jar and a user agent.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	ua   string
}

func newClient(t *testing.T, base, ua string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: base, http: &http.Client{Jar: jar}, ua: ua}
}

func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.ua)
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func message(m map[string]any) string {
	if e, ok := m["error"].(map[string]any); ok {
		s, _ := e["message"].(string)
		return s
	}
	s, _ := m["message"].(string)
	return s
}

// fixture is a sign-in server on real stores, with a settable clock.
type fixture struct {
	srv     *httptest.Server
	nurse   identity.Account
	factors *identity.FactorStore
	told    *notices
	mu      sync.Mutex
	now     time.Time
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// passkeyOrigin is the origin the passkey tests' pages run at.
const passkeyOrigin = "https://careloop.test"

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{now: time.Now().UTC().Truncate(30 * time.Second).Add(time.Second), told: &notices{}}
	org := &tenant.Organization{Slug: "riverside", Name: "Riverside"}
	accounts := identity.NewStore(d)
	cheap := identity.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		if err := tenant.NewStore(d).CreateTx(ctx, tx, org); err != nil {
			return err
		}
		for _, a := range []*identity.Account{
			{OrgID: org.ID, Email: "nurse@example.org", DisplayName: "Nurse", Role: identity.RoleNurse},
			{OrgID: org.ID, Email: "pat@example.org", DisplayName: "Pat", Role: identity.RolePatient},
		} {
			h, _ := identity.HashPassword("correct horse battery staple", cheap)
			if err := accounts.CreateTx(ctx, tx, a, h); err != nil {
				return err
			}
			if a.Role == identity.RoleNurse {
				f.nurse = *a
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, identity.FactorKeySize)
	rand.Read(key)
	if f.factors, err = identity.NewFactorStore(d, key); err != nil {
		t.Fatal(err)
	}
	f.factors.Now = f.clock
	sessions := session.NewStore(d, session.Policy{})
	sessions.SetClock(f.clock)
	th := signin.NewThrottle(d)
	th.SetClock(f.clock)
	passkeys, err := identity.NewPasskeys(d, identity.PasskeyConfig{RPID: "careloop.test", Origins: []string{passkeyOrigin}, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	svc := &signin.Service{DB: d, Accounts: accounts, Factors: f.factors, Passkeys: signin.PasskeyFactor{Passkeys: passkeys},
		Sessions: sessions, Throttle: th, Notices: f.told}
	mux := http.NewServeMux()
	(&signin.API{Service: svc, Orgs: tenant.NewStore(d), Accounts: accounts, Enroll: f.factors, Passkeys: passkeys}).Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func signIn(c *client, email, password string) (int, map[string]any) {
	return c.do("POST", "/auth/signin", map[string]string{"org": "riverside", "email": email, "password": password})
}

func TestSignInWithPasswordTOTPRecoveryCodesAndSessions(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		srv, nurse, told, clock, advance := f.srv, f.nurse, f.told, f.clock, f.advance
		code := func(secret string) string {
			c, err := totp.GenerateCode(secret, clock())
			if err != nil {
				t.Fatal(err)
			}
			return c
		}

		// Staff without a second factor: signed in, but told to enroll.
		laptop := newClient(t, srv.URL, "Laptop")
		status, out := signIn(laptop, "Nurse@Example.org", "correct horse battery staple")
		if status != 200 || out["stage"] != "signed-in" || out["must_enroll"] != true {
			t.Fatalf("first sign-in: %d %v", status, out)
		}
		status, out = laptop.do("POST", "/auth/factors/totp", nil)
		secret, _ := out["secret"].(string)
		if status != 200 || secret == "" || !strings.HasPrefix(out["uri"].(string), "otpauth://totp/") {
			t.Fatalf("begin TOTP: %d %v", status, out)
		}
		if status, out = laptop.do("POST", "/auth/factors/totp/confirm", map[string]string{"code": "000000"}); status != 400 || !strings.Contains(message(out), "does not match") {
			t.Fatalf("confirm with a wrong code: %d %v", status, out)
		}
		if status, out = laptop.do("POST", "/auth/factors/totp/confirm", map[string]string{"code": code(secret)}); status != 204 {
			t.Fatalf("confirm TOTP: %d %v", status, out)
		}
		status, out = laptop.do("POST", "/auth/factors/recovery-codes", nil)
		codes, _ := out["codes"].([]any)
		if status != 200 || len(codes) != identity.RecoveryCodeCount {
			t.Fatalf("recovery codes: %d %v", status, out)
		}
		if status, _ = laptop.do("POST", "/auth/signout", nil); status != 204 {
			t.Fatalf("sign out: %d", status)
		}
		if status, _ = laptop.do("GET", "/auth/sessions", nil); status != 401 {
			t.Fatalf("sessions after sign-out: %d", status)
		}

		// Now the password leads to the second factor.
		advance(30 * time.Second)
		status, out = signIn(laptop, "nurse@example.org", "correct horse battery staple")
		if status != 200 || out["stage"] != "factor" {
			t.Fatalf("sign-in with a factor enrolled: %d %v", status, out)
		}
		if status, _ = laptop.do("GET", "/auth/sessions", nil); status != 401 {
			t.Fatalf("a session awaiting its factor opened the sessions page: %d", status)
		}
		if status, out = laptop.do("POST", "/auth/signin/factor", map[string]string{"code": "123456"}); status != 401 {
			t.Fatalf("a wrong code: %d %v", status, out)
		}
		used := code(secret)
		if status, out = laptop.do("POST", "/auth/signin/factor", map[string]string{"code": used}); status != 200 || out["stage"] != "signed-in" {
			t.Fatalf("the right code: %d %v", status, out)
		}
		// The same code, in another browser within its 30 seconds: refused.
		phone := newClient(t, srv.URL, "Phone")
		signIn(phone, "nurse@example.org", "correct horse battery staple")
		if status, out = phone.do("POST", "/auth/signin/factor", map[string]string{"code": used}); status != 401 || !strings.Contains(message(out), "already been used") {
			t.Fatalf("a reused code: %d %v", status, out)
		}
		// A recovery code works once.
		rc := codes[0].(string)
		if status, out = phone.do("POST", "/auth/signin/factor", map[string]string{"code": rc}); status != 200 {
			t.Fatalf("a recovery code: %d %v", status, out)
		}
		tablet := newClient(t, srv.URL, "Tablet")
		signIn(tablet, "nurse@example.org", "correct horse battery staple")
		if status, _ = tablet.do("POST", "/auth/signin/factor", map[string]string{"code": rc}); status != 401 {
			t.Fatalf("a recovery code used twice: %d", status)
		}
		if got := told.list(); len(got) != 1 || got[0] != "new-device:"+nurse.ID+":Phone" {
			t.Errorf("notices: %v", got)
		}

		// Sessions: list, end the phone's, end all others.
		status, out = laptop.do("GET", "/auth/sessions", nil)
		list, _ := out["sessions"].([]any)
		if status != 200 || len(list) != 2 {
			t.Fatalf("sessions: %d %v", status, out)
		}
		var phoneID string
		for _, s := range list {
			m := s.(map[string]any)
			if m["user_agent"] == "Phone" {
				phoneID = m["id"].(string)
				if m["current"] != false {
					t.Errorf("the phone's session is marked current on the laptop")
				}
			}
		}
		if status, _ = laptop.do("DELETE", "/auth/sessions/"+phoneID, nil); status != 204 {
			t.Fatalf("end the phone's session: %d", status)
		}
		if status, _ = phone.do("GET", "/auth/sessions", nil); status != 401 {
			t.Fatalf("the phone after its session was ended: %d", status)
		}
		advance(31 * time.Second)
		signIn(phone, "nurse@example.org", "correct horse battery staple")
		phone.do("POST", "/auth/signin/factor", map[string]string{"code": code(secret)})
		// Ending the others ends the phone's and the tablet's sign-in that
		// still awaits its factor.
		if status, out = laptop.do("POST", "/auth/sessions/end-others", nil); status != 200 || out["ended"] != float64(2) {
			t.Fatalf("end others: %d %v", status, out)
		}
		if status, _ = phone.do("GET", "/auth/sessions", nil); status != 401 {
			t.Fatalf("the phone after sign-out everywhere: %d", status)
		}
		// Idle for 15 minutes: signed out.
		advance(16 * time.Minute)
		if status, _ = laptop.do("GET", "/auth/sessions", nil); status != 401 {
			t.Fatalf("the laptop after 16 idle minutes: %d", status)
		}

		// Unknown email and wrong password: the same answer.
		s1, o1 := signIn(tablet, "nobody@example.org", "correct horse battery staple")
		s2, o2 := signIn(tablet, "pat@example.org", "wrong password")
		if s1 != 401 || s2 != 401 || message(o1) != message(o2) || message(o1) == "" {
			t.Fatalf("unknown account %d %q, wrong password %d %q", s1, message(o1), s2, message(o2))
		}
		// A patient without a factor is signed in and not told to enroll.
		if status, out = signIn(tablet, "pat@example.org", "correct horse battery staple"); status != 200 || out["must_enroll"] != nil {
			t.Fatalf("patient sign-in: %d %v", status, out)
		}
		// Throttling: the fifth wrong password blocks the account, even
		// for the right password, with a message saying when to retry.
		for i := 0; i < 5; i++ {
			signIn(tablet, "pat@example.org", "wrong")
		}
		status, out = signIn(tablet, "pat@example.org", "correct horse battery staple")
		if status != 429 || !strings.Contains(message(out), "try again in 15 minutes") {
			t.Fatalf("after 5 failures: %d %v", status, out)
		}
		if got := told.list(); got[len(got)-1] != "failures:pat@example.org" {
			t.Errorf("no notice of repeated failures: %v", got)
		}
		advance(15 * time.Minute)
		if status, _ = signIn(tablet, "pat@example.org", "correct horse battery staple"); status != 200 {
			t.Fatalf("after the block: %d", status)
		}
	})
}

func TestPasskeyRegistrationAndSignIn(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		laptop := newClient(t, f.srv.URL, "Laptop")
		if status, out := signIn(laptop, "nurse@example.org", "correct horse battery staple"); status != 200 || out["must_enroll"] != true {
			t.Fatalf("sign-in: %d %v", status, out)
		}
		auth := webauthntest.New(passkeyOrigin)
		status, out := laptop.do("POST", "/auth/passkeys/register/begin", nil)
		if status != 200 {
			t.Fatalf("register begin: %d %v", status, out)
		}
		options, _ := json.Marshal(out)
		credential, err := auth.Create(options)
		if err != nil {
			t.Fatal(err)
		}
		status, out = laptop.do("POST", "/auth/passkeys/register/finish", map[string]any{"name": "Work laptop", "credential": json.RawMessage(credential)})
		if status != 201 || out["name"] != "Work laptop" {
			t.Fatalf("register finish: %d %v", status, out)
		}
		// The ceremony answers once.
		if status, _ = laptop.do("POST", "/auth/passkeys/register/finish", map[string]any{"name": "again", "credential": json.RawMessage(credential)}); status == 201 {
			t.Fatal("a registration ceremony finished twice")
		}
		laptop.do("POST", "/auth/signout", nil)

		// With a passkey the password leads to a second factor; the passkey
		// alone, verifying the person, signs in with no password.
		if _, out = signIn(laptop, "nurse@example.org", "correct horse battery staple"); out["stage"] != "factor" {
			t.Fatalf("password sign-in with a passkey registered: %v", out)
		}
		phone := newClient(t, f.srv.URL, "Phone")
		status, out = phone.do("POST", "/auth/passkeys/signin/begin", map[string]string{"org": "riverside"})
		if status != 200 {
			t.Fatalf("sign-in begin: %d %v", status, out)
		}
		options, _ = json.Marshal(out)
		assertion, err := auth.Get(options)
		if err != nil {
			t.Fatal(err)
		}
		status, out = phone.do("POST", "/auth/passkeys/signin/finish", map[string]any{"org": "riverside", "credential": json.RawMessage(assertion)})
		if status != 200 || out["stage"] != "signed-in" || out["must_enroll"] != nil {
			t.Fatalf("passkey sign-in: %d %v", status, out)
		}
		status, out = phone.do("GET", "/auth/sessions", nil)
		sessions, _ := out["sessions"].([]any)
		if status != 200 || len(sessions) != 1 || sessions[0].(map[string]any)["second_factor"] != true {
			t.Fatalf("sessions after passkey sign-in: %d %v", status, out)
		}
		// The same assertion again: refused.
		other := newClient(t, f.srv.URL, "Other")
		other.do("POST", "/auth/passkeys/signin/begin", map[string]string{"org": "riverside"})
		if status, _ = other.do("POST", "/auth/passkeys/signin/finish", map[string]any{"org": "riverside", "credential": json.RawMessage(assertion)}); status != 401 {
			t.Fatalf("a replayed assertion: %d", status)
		}
		// List and remove (the factor is fresh); then it signs in no more.
		status, out = phone.do("GET", "/auth/passkeys", nil)
		keys, _ := out["passkeys"].([]any)
		if status != 200 || len(keys) != 1 {
			t.Fatalf("passkeys: %d %v", status, out)
		}
		if status, _ = phone.do("DELETE", "/auth/passkeys/"+keys[0].(map[string]any)["id"].(string), nil); status != 204 {
			t.Fatalf("remove: %d", status)
		}
		_, out = other.do("POST", "/auth/passkeys/signin/begin", map[string]string{"org": "riverside"})
		options, _ = json.Marshal(out)
		if assertion, err = auth.Get(options); err != nil {
			t.Fatal(err)
		}
		if status, _ = other.do("POST", "/auth/passkeys/signin/finish", map[string]any{"org": "riverside", "credential": json.RawMessage(assertion)}); status != 401 {
			t.Fatalf("a removed passkey signed in: %d", status)
		}
	})
}
