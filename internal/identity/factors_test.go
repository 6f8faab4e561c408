package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

// factorFixture is a migrated database with two organisations, an account
// in each, and a FactorStore whose clock the test sets.
type factorFixture struct {
	d     *db.DB
	s     *identity.FactorStore
	key   []byte
	clock time.Time
	a, b  *identity.Account // a in organisation A, b in organisation B
}

func newFactorFixture(t *testing.T, d *db.DB) *factorFixture {
	t.Helper()
	ctx := context.Background()
	f := &factorFixture{d: d, key: make([]byte, identity.FactorKeySize)}
	rand.Read(f.key)
	s, err := identity.NewFactorStore(d, f.key)
	if err != nil {
		t.Fatal(err)
	}
	f.s = s
	// 2026-11-23T10:00:05Z: 5 s into a time step.
	f.clock = time.Date(2026, 11, 23, 10, 0, 5, 0, time.UTC)
	s.Now = func() time.Time { return f.clock }
	orgs, accts := tenant.NewStore(d), identity.NewStore(d)
	oa, ob := &tenant.Organization{Slug: "a", Name: "A"}, &tenant.Organization{Slug: "b", Name: "B"}
	f.a = &identity.Account{OrgID: "", Email: "ana.silva@clinic.example", DisplayName: "Ana Silva", Role: identity.RoleClinician}
	f.b = &identity.Account{OrgID: "", Email: "ben@lab.example", DisplayName: "Ben", Role: identity.RoleNurse}
	if err := d.InTx(ctx, func(tx *sql.Tx) error {
		if err := orgs.CreateTx(ctx, tx, oa); err != nil {
			return err
		}
		if err := orgs.CreateTx(ctx, tx, ob); err != nil {
			return err
		}
		f.a.OrgID, f.b.OrgID = oa.ID, ob.ID
		if err := accts.CreateTx(ctx, tx, f.a, "$argon2id$x"); err != nil {
			return err
		}
		return accts.CreateTx(ctx, tx, f.b, "$argon2id$x")
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *factorFixture) begin(t *testing.T, a *identity.Account) *identity.TOTPEnrollment {
	t.Helper()
	e, err := f.s.BeginTOTP(context.Background(), a.OrgID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *factorFixture) confirm(a *identity.Account, code string) error {
	return f.s.ConfirmTOTP(context.Background(), a.OrgID, a.ID, code)
}

func (f *factorFixture) verify(a *identity.Account, code string) error {
	return f.s.VerifyTOTP(context.Background(), a.OrgID, a.ID, code)
}

// enrol begins and confirms an authenticator app for a with the code of
// the current step and returns its secret.
func (f *factorFixture) enrol(t *testing.T, a *identity.Account) string {
	t.Helper()
	e := f.begin(t, a)
	if err := f.confirm(a, code(t, e.Secret, f.clock)); err != nil {
		t.Fatalf("confirm: %v", err)
	}
	return e.Secret
}

func (f *factorFixture) factors(t *testing.T, a *identity.Account) identity.FactorSummary {
	t.Helper()
	sum, err := f.s.Factors(context.Background(), a.OrgID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// code computes the TOTP code of secret at t independently of careloop,
// with pquerna/otp and the RFC 6238 parameters.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// otherCode returns a six-digit code that is not the code of secret at any
// step within two of at.
func otherCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	near := map[string]bool{}
	for i := -2; i <= 2; i++ {
		near[code(t, secret, at.Add(time.Duration(i)*30*time.Second))] = true
	}
	for n := 0; ; n++ {
		c := fmt.Sprintf("%06d", (n*7919+123456)%1000000)
		if !near[c] {
			return c
		}
	}
}

func TestNewFactorStoreRefusesBadKeys(t *testing.T) {
	for _, n := range []int{0, 16, 24, 31, 33} {
		if _, err := identity.NewFactorStore(nil, make([]byte, n)); err == nil {
			t.Errorf("a %d-byte key was accepted", n)
		}
	}
}

func TestTOTPEnrolment(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		a := f.a
		if sum := f.factors(t, a); sum != (identity.FactorSummary{}) || sum.HasSecondFactor() {
			t.Fatalf("new account has factors: %+v", sum)
		}
		e := f.begin(t, a)
		u, err := url.Parse(e.URI)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/careloop:"+a.Email || q.Get("issuer") != "careloop" ||
			q.Get("secret") != e.Secret || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
			t.Errorf("key URI %q", e.URI)
		}
		if len(e.Secret) != 32 { // 160 bits in base32
			t.Errorf("secret of %d characters", len(e.Secret))
		}
		if !e.Expires.Equal(f.clock.Add(identity.TOTPEnrollmentTTL)) {
			t.Errorf("expires %v", e.Expires)
		}
		// The enrolment never prints its secret by accident.
		var logged bytes.Buffer
		slog.New(slog.NewTextHandler(&logged, nil)).Info("enrolment", "e", e, "v", *e)
		for _, s := range []string{fmt.Sprint(e), fmt.Sprintf("%v %+v %#v %s", *e, *e, *e, *e), logged.String()} {
			if strings.Contains(s, e.Secret) || strings.Contains(s, "otpauth") {
				t.Errorf("enrolment printed its secret: %s", s)
			}
		}
		if sum := f.factors(t, a); !sum.TOTPPending || sum.TOTP || sum.HasSecondFactor() {
			t.Errorf("after begin: %+v", sum)
		}

		// The secret is stored encrypted: neither its text nor its bytes
		// are in the row.
		var sealed []byte
		if err := d.Read.QueryRow("SELECT pending_secret FROM account_totp WHERE org_id = $1 AND account_id = $2", a.OrgID, a.ID).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		raw, _ := otp.NewKeyFromURL(e.URI)
		if bytes.Contains(sealed, []byte(e.Secret)) || bytes.Contains(bytes.ToLower(sealed), []byte(strings.ToLower(raw.Secret()))) || len(sealed) < 20+16 {
			t.Errorf("pending secret stored in the clear or too short: %x", sealed)
		}

		// A pending secret is no second factor.
		if err := f.verify(a, code(t, e.Secret, f.clock)); errs.CodeOf(err) != errs.NotFound || !errors.Is(err, identity.ErrNoTOTP) {
			t.Errorf("verify against a pending secret: %v", err)
		}
		// A wrong first code leaves the enrolment pending.
		if err := f.confirm(a, otherCode(t, e.Secret, f.clock)); errs.CodeOf(err) != errs.Invalid || !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("confirm with a wrong code: %v", err)
		}
		for _, bad := range []string{"", "12345", "1234567", "12a456", "１２３４５６"} {
			if err := f.confirm(a, bad); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("confirm %q: %v", bad, err)
			}
		}
		// Apps show "123 456": spaces are fine.
		c := code(t, e.Secret, f.clock)
		if err := f.confirm(a, c[:3]+" "+c[3:]); err != nil {
			t.Fatalf("confirm: %v", err)
		}
		if sum := f.factors(t, a); !sum.TOTP || sum.TOTPPending || !sum.HasSecondFactor() {
			t.Errorf("after confirm: %+v", sum)
		}
		if err := f.confirm(a, c); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("second confirm: %v", err)
		}
		// The code that confirmed is spent.
		if err := f.verify(a, c); !errors.Is(err, identity.ErrCodeReplayed) {
			t.Errorf("confirming code reused: %v", err)
		}
		f.clock = f.clock.Add(30 * time.Second)
		if err := f.verify(a, code(t, e.Secret, f.clock)); err != nil {
			t.Errorf("next code: %v", err)
		}
		// Another organisation's account of the same id sees nothing.
		if sum, err := f.s.Factors(context.Background(), f.b.OrgID, a.ID); err != nil || sum != (identity.FactorSummary{}) {
			t.Errorf("factors across organisations: %+v %v", sum, err)
		}
		if err := f.d.InTx(context.Background(), func(tx *sql.Tx) error {
			return f.s.VerifyTOTPTx(context.Background(), tx, f.b.OrgID, a.ID, code(t, e.Secret, f.clock.Add(30*time.Second)))
		}); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("verify across organisations: %v", err)
		}
		// Unknown accounts cannot enrol.
		if err := f.d.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := f.s.BeginTOTPTx(context.Background(), tx, f.b.OrgID, a.ID)
			return err
		}); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("begin for an account of another organisation: %v", err)
		}
	})
}

func TestTOTPEnrolmentExpiresAndReplaces(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		a := f.a
		e := f.begin(t, a)
		f.clock = f.clock.Add(identity.TOTPEnrollmentTTL)
		if err := f.confirm(a, code(t, e.Secret, f.clock)); errs.CodeOf(err) != errs.Conflict {
			t.Errorf("confirm after expiry: %v", err)
		}
		if sum := f.factors(t, a); sum.TOTPPending || sum.TOTP {
			t.Errorf("expired enrolment: %+v", sum)
		}

		old := f.enrol(t, a)
		// Beginning again keeps the confirmed app working until the new
		// one is confirmed.
		f.clock = f.clock.Add(time.Minute)
		e = f.begin(t, a)
		if err := f.verify(a, code(t, old, f.clock)); err != nil {
			t.Errorf("old app during re-enrolment: %v", err)
		}
		if sum := f.factors(t, a); !sum.TOTP || !sum.TOTPPending {
			t.Errorf("during re-enrolment: %+v", sum)
		}
		// A second begin replaces the first pending secret.
		first := e
		e = f.begin(t, a)
		f.clock = f.clock.Add(time.Minute)
		if err := f.confirm(a, code(t, first.Secret, f.clock)); !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("confirm with the replaced pending secret: %v", err)
		}
		if err := f.confirm(a, code(t, e.Secret, f.clock)); err != nil {
			t.Fatal(err)
		}
		f.clock = f.clock.Add(time.Minute)
		if err := f.verify(a, code(t, old, f.clock)); !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("old app after re-enrolment: %v", err)
		}
		if err := f.verify(a, code(t, e.Secret, f.clock)); err != nil {
			t.Errorf("new app: %v", err)
		}

		// Removal.
		rm := func() error { return f.s.RemoveTOTP(context.Background(), a.OrgID, a.ID) }
		if err := rm(); err != nil {
			t.Fatal(err)
		}
		if sum := f.factors(t, a); sum.TOTP || sum.TOTPPending {
			t.Errorf("after removal: %+v", sum)
		}
		f.clock = f.clock.Add(time.Minute)
		if err := f.verify(a, code(t, e.Secret, f.clock)); !errors.Is(err, identity.ErrNoTOTP) {
			t.Errorf("verify after removal: %v", err)
		}
		if err := rm(); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("second removal: %v", err)
		}
	})
}

func TestTOTPVerifyWindowAndReplay(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		a := f.a
		secret := f.enrol(t, a)
		step := 30 * time.Second

		// Skew: codes of the step before and after are accepted, two
		// steps away are not.
		f.clock = f.clock.Add(10 * step)
		now := f.clock
		for _, tc := range []struct {
			name string
			at   time.Time
			ok   bool
		}{
			{"two steps behind", now.Add(-2 * step), false},
			{"two steps ahead", now.Add(2 * step), false},
			{"one step behind", now.Add(-step), true},
			{"current step", now, true},
			{"one step ahead", now.Add(step), true},
		} {
			err := f.verify(a, code(t, secret, tc.at))
			if tc.ok && err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			if !tc.ok && (errs.CodeOf(err) != errs.Unauthorized || !errors.Is(err, identity.ErrCodeInvalid)) {
				t.Errorf("%s: got %v, want an invalid code", tc.name, err)
			}
		}
		// Every code of the window is now spent, and so is anything older
		// than the last step accepted, even within the window.
		for i := -1; i <= 1; i++ {
			if err := f.verify(a, code(t, secret, now.Add(time.Duration(i)*step))); errs.CodeOf(err) != errs.Unauthorized || !errors.Is(err, identity.ErrCodeReplayed) {
				t.Errorf("reused code of step %+d: %v", i, err)
			}
		}
		if msg := errs.MessageOf(f.verify(a, code(t, secret, now))); !strings.Contains(msg, "already been used") {
			t.Errorf("replay message %q", msg)
		}
		// One step later the code of "one step ahead" is the current code,
		// still spent; the step after it works.
		f.clock = now.Add(step)
		if err := f.verify(a, code(t, secret, f.clock)); !errors.Is(err, identity.ErrCodeReplayed) {
			t.Errorf("spent code, now current: %v", err)
		}
		if err := f.verify(a, code(t, secret, f.clock.Add(step))); err != nil {
			t.Errorf("next step: %v", err)
		}
		// Wrong codes and malformed input.
		f.clock = f.clock.Add(10 * step)
		if err := f.verify(a, otherCode(t, secret, f.clock)); errs.CodeOf(err) != errs.Unauthorized || !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("wrong code: %v", err)
		}
		for _, bad := range []string{"", "abcdef", "1234567", strings.Repeat("1", 1000)} {
			if err := f.verify(a, bad); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("verify %q: %v", bad, err)
			}
		}
		// A refused code, like a rolled-back transaction, spends nothing.
		c := code(t, secret, f.clock)
		rollback := errors.New("roll back")
		if err := d.InTx(context.Background(), func(tx *sql.Tx) error {
			if err := f.s.VerifyTOTPTx(context.Background(), tx, a.OrgID, a.ID, c); err != nil {
				return err
			}
			return rollback
		}); err != rollback {
			t.Fatalf("rolled back verify: %v", err)
		}
		if err := f.verify(a, c); err != nil {
			t.Errorf("code after a rolled-back use: %v", err)
		}
	})
}

// TestTOTPConcurrentUseOfOneCode is the replay guard under a race: many
// sign-ins with the same code at the same moment, each in its own
// transaction; exactly one may succeed.
func TestTOTPConcurrentUseOfOneCode(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		secret := f.enrol(t, f.a)
		for round := range 5 {
			f.clock = f.clock.Add(30 * time.Second)
			c := code(t, secret, f.clock)
			const n = 8
			var wg sync.WaitGroup
			start := make(chan struct{})
			results := make(chan error, n)
			for range n {
				wg.Go(func() {
					<-start
					results <- f.verify(f.a, c)
				})
			}
			close(start)
			wg.Wait()
			close(results)
			won := 0
			for err := range results {
				switch {
				case err == nil:
					won++
				case errors.Is(err, identity.ErrCodeReplayed):
				default:
					t.Errorf("round %d: unexpected error %v", round, err)
				}
			}
			if won != 1 {
				t.Fatalf("round %d: %d of %d concurrent uses of one code succeeded, want exactly 1", round, won, n)
			}
		}
	})
}

func TestTOTPSecretBoundToKeyAndAccount(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		ctx := context.Background()
		secret := f.enrol(t, f.a)
		f.clock = f.clock.Add(time.Minute)
		c := code(t, secret, f.clock)

		// Another key cannot read the secret: an internal error, never a
		// success.
		other, err := identity.NewFactorStore(d, bytes.Repeat([]byte{7}, identity.FactorKeySize))
		if err != nil {
			t.Fatal(err)
		}
		other.Now = f.s.Now
		err = d.InTx(ctx, func(tx *sql.Tx) error { return other.VerifyTOTPTx(ctx, tx, f.a.OrgID, f.a.ID, c) })
		if err == nil || errs.CodeOf(err) != errs.Internal {
			t.Errorf("verify with another key: %v", err)
		}

		// A sealed secret copied to another account's row does not open.
		if err := d.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT INTO account_totp (org_id, account_id, secret, confirmed_at, last_step) SELECT $1, $2, secret, confirmed_at, -1 FROM account_totp WHERE org_id = $3 AND account_id = $4",
				f.b.OrgID, f.b.ID, f.a.OrgID, f.a.ID); err != nil {
				return err
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := f.verify(f.b, c); err == nil || errs.CodeOf(err) != errs.Internal {
			t.Errorf("verify with a secret moved to another account: %v", err)
		}
		if err := f.verify(f.a, c); err != nil {
			t.Errorf("owner: %v", err)
		}
	})
}

func TestRecoveryCodes(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newFactorFixture(t, d)
		ctx := context.Background()
		a := f.a
		gen := func(a *identity.Account) []string {
			t.Helper()
			codes, err := f.s.GenerateRecoveryCodes(ctx, a.OrgID, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			return codes
		}
		use := func(a *identity.Account, c string) (left int, err error) {
			return f.s.UseRecoveryCode(ctx, a.OrgID, a.ID, c)
		}
		if _, err := use(a, "7k2m9q-c4xr0d-h8tvwa-3pz5ye"); errs.CodeOf(err) != errs.Unauthorized || !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("use before any were generated: %v", err)
		}
		codes := gen(a)
		if len(codes) != identity.RecoveryCodeCount {
			t.Fatalf("%d codes", len(codes))
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if len(c) != 27 || strings.Count(c, "-") != 3 || seen[c] {
				t.Errorf("code %q malformed or repeated", c)
			}
			seen[c] = true
		}
		// Stored hashed: no code appears in the table.
		rows, err := d.Read.Query("SELECT code_hash, salt FROM account_recovery_codes WHERE org_id = $1 AND account_id = $2", a.OrgID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var h, s string
			if err := rows.Scan(&h, &s); err != nil {
				t.Fatal(err)
			}
			for _, c := range codes {
				if strings.Contains(h+s, strings.ReplaceAll(c, "-", "")) {
					t.Errorf("code %s stored in the clear", c)
				}
			}
		}
		rows.Close()
		if sum := f.factors(t, a); sum.RecoveryCodes != 10 || sum.HasSecondFactor() {
			t.Errorf("summary %+v: recovery codes alone are no second factor", sum)
		}

		// Each code works once, typed any way a person might.
		left, err := use(a, codes[0])
		if err != nil || left != 9 {
			t.Fatalf("first use: %d %v", left, err)
		}
		if _, err := use(a, codes[0]); errs.CodeOf(err) != errs.Unauthorized || !errors.Is(err, identity.ErrCodeInvalid) {
			t.Errorf("second use: %v", err)
		}
		sloppy := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
		sloppy = strings.NewReplacer("1", "l", "0", "O").Replace(sloppy)
		if left, err := use(a, " "+sloppy+" "); err != nil || left != 8 {
			t.Errorf("code typed as %q: %d %v", sloppy, left, err)
		}
		// Not across accounts or organisations.
		bcodes := gen(f.b)
		if _, err := use(a, bcodes[0]); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("b's code for a: %v", err)
		}
		if err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := f.s.UseRecoveryCodeTx(ctx, tx, f.b.OrgID, a.ID, codes[2])
			return err
		}); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("a's code in organisation b: %v", err)
		}
		for _, bad := range []string{"", "not a code", codes[2][:20], codes[2] + "x", "uuuuuu-uuuuuu-uuuuuu-uuuuuu"} {
			if _, err := use(a, bad); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("use %q: %v", bad, err)
			}
		}
		if n, err := f.s.RecoveryCodesLeft(ctx, a.OrgID, a.ID); err != nil || n != 8 {
			t.Errorf("left: %d %v", n, err)
		}

		// Concurrent use of one code: exactly one wins.
		const n = 8
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				_, err := use(a, codes[3])
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case !errors.Is(err, identity.ErrCodeInvalid):
					t.Errorf("concurrent use: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if won != 1 {
			t.Errorf("%d of %d concurrent uses of one recovery code succeeded, want 1", won, n)
		}

		// Concurrent regenerations leave exactly one set: the last one.
		sets := make(chan []string, 4)
		var gwg sync.WaitGroup
		for range 4 {
			gwg.Go(func() {
				c, err := f.s.GenerateRecoveryCodes(ctx, a.OrgID, a.ID)
				if err != nil {
					t.Errorf("concurrent generation: %v", err)
				}
				sets <- c
			})
		}
		gwg.Wait()
		close(sets)
		if n, err := f.s.RecoveryCodesLeft(ctx, a.OrgID, a.ID); err != nil || n != identity.RecoveryCodeCount {
			t.Errorf("after concurrent generations: %d codes %v", n, err)
		}
		working := 0
		for set := range sets {
			if len(set) > 0 {
				if _, err := use(a, set[0]); err == nil {
					working++
				}
			}
		}
		if working != 1 {
			t.Errorf("%d sets of codes work after concurrent generations, want 1", working)
		}

		// Regenerating replaces every code, used or not.
		fresh := gen(a)
		if _, err := use(a, codes[4]); errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("old code after regeneration: %v", err)
		}
		if left, err := use(a, fresh[9]); err != nil || left != 9 {
			t.Errorf("fresh code: %d %v", left, err)
		}
		if n, _ := f.s.RecoveryCodesLeft(ctx, f.b.OrgID, f.b.ID); n != 10 {
			t.Errorf("b's codes changed with a's: %d", n)
		}
		if err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := f.s.GenerateRecoveryCodesTx(ctx, tx, f.b.OrgID, a.ID)
			return err
		}); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("generate for an unknown account: %v", err)
		}
	})
}
