package identity_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/identity/webauthntest"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

const (
	testRPID   = "careloop.test"
	testOrigin = "https://careloop.test"
)

// passkeyFixture is a database with two organisations and a Passkeys
// service whose clock the test moves.
type passkeyFixture struct {
	ctx      context.Context
	d        *db.DB
	pk       *identity.Passkeys
	clock    atomic.Int64 // Unix nanoseconds
	orgA     *tenant.Organization
	orgB     *tenant.Organization
	accounts int
}

func newPasskeyFixture(t *testing.T, d *db.DB) *passkeyFixture {
	t.Helper()
	f := &passkeyFixture{ctx: context.Background(), d: d,
		orgA: &tenant.Organization{Slug: "a", Name: "A"}, orgB: &tenant.Organization{Slug: "b", Name: "B"}}
	f.clock.Store(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC).UnixNano())
	orgs := tenant.NewStore(d)
	if err := d.InTx(f.ctx, func(tx *sql.Tx) error {
		if err := orgs.CreateTx(f.ctx, tx, f.orgA); err != nil {
			return err
		}
		return orgs.CreateTx(f.ctx, tx, f.orgB)
	}); err != nil {
		t.Fatal(err)
	}
	cfg := identity.PasskeyConfig{RPID: testRPID, Origins: []string{testOrigin}, Now: f.now}
	pk, err := identity.NewPasskeys(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.pk = pk
	return f
}

func (f *passkeyFixture) now() time.Time { return time.Unix(0, f.clock.Load()).UTC() }

func (f *passkeyFixture) advance(d time.Duration) { f.clock.Add(int64(d)) }

// account creates a new account in org.
func (f *passkeyFixture) account(t *testing.T, org *tenant.Organization) *identity.Account {
	t.Helper()
	f.accounts++
	a := &identity.Account{OrgID: org.ID, Email: "person" + string(rune('a'+f.accounts)) + "@example.org",
		DisplayName: "Person", Role: identity.RoleClinician}
	if err := f.d.InTx(f.ctx, func(tx *sql.Tx) error {
		return identity.NewStore(f.d).CreateTx(f.ctx, tx, a, "$argon2id$hash")
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

// register registers a passkey of auth for a and returns it.
func (f *passkeyFixture) register(t *testing.T, a *identity.Account, auth *webauthntest.Authenticator, name string) *identity.Passkey {
	t.Helper()
	c, err := f.pk.BeginRegistration(f.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Create(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.pk.FinishRegistration(f.ctx, a, c.ID, resp, name)
	if err != nil {
		t.Fatalf("finish registration: %v", err)
	}
	return p
}

// signIn runs a discoverable sign-in in org with auth.
func (f *passkeyFixture) signIn(t *testing.T, org *tenant.Organization, auth *webauthntest.Authenticator) (*identity.PasskeySignIn, error) {
	t.Helper()
	c, err := f.pk.BeginSignIn(f.ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := auth.Get(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	return f.pk.FinishSignIn(f.ctx, org.ID, c.ID, resp)
}

func (f *passkeyFixture) list(t *testing.T, a *identity.Account) []identity.Passkey {
	t.Helper()
	ps, err := f.pk.List(f.ctx, a.OrgID, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// wantUnauthorized fails t unless err is an errs.Unauthorized with msg.
// The internal cause (logged, never shown) must name why: wantCause checks it.
func wantUnauthorized(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if errs.CodeOf(err) != errs.Unauthorized {
		t.Fatalf("%s: got %v, want unauthorized", what, err)
	}
	if msg != "" && errs.MessageOf(err) != msg {
		t.Fatalf("%s: message %q, want %q", what, errs.MessageOf(err), msg)
	}
}

// wantCause fails t unless err's logged text contains cause.
func wantCause(t *testing.T, what string, err error, cause string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), cause) {
		t.Errorf("%s: cause %v does not say %q", what, err, cause)
	}
}

const notVerified = "The passkey could not be verified."

func TestPasskeys(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		f := newPasskeyFixture(t, d)

		t.Run("register and sign in", func(t *testing.T) {
			alice := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			c, err := f.pk.BeginRegistration(f.ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				RP   struct{ ID, Name string }
				User struct {
					ID, Name, DisplayName string
				}
				Challenge              string
				Timeout                int
				ExcludeCredentials     []any
				AuthenticatorSelection struct{ ResidentKey, UserVerification string }
			}
			if err := json.Unmarshal(c.Options, &opts); err != nil {
				t.Fatal(err)
			}
			handle, _ := base64.RawURLEncoding.DecodeString(opts.User.ID)
			switch {
			case opts.RP.ID != testRPID || opts.RP.Name != "careloop":
				t.Errorf("rp %+v", opts.RP)
			case len(handle) != 32 || strings.Contains(opts.User.ID, "example") || opts.User.Name != alice.Email:
				t.Errorf("user %+v: the handle must be 32 random bytes, not the email", opts.User)
			case opts.AuthenticatorSelection.ResidentKey != "preferred" || opts.AuthenticatorSelection.UserVerification != "preferred":
				t.Errorf("selection %+v", opts.AuthenticatorSelection)
			case len(opts.ExcludeCredentials) != 0 || len(opts.Challenge) < 22:
				t.Errorf("exclude %v challenge %q", opts.ExcludeCredentials, opts.Challenge)
			case opts.Timeout != int(identity.DefaultCeremonyTTL/time.Millisecond) || !c.ExpiresAt.Equal(f.now().Add(identity.DefaultCeremonyTTL)):
				t.Errorf("timeout %d expires %s", opts.Timeout, c.ExpiresAt)
			}
			resp, err := auth.Create(c.Options)
			if err != nil {
				t.Fatal(err)
			}
			p, err := f.pk.FinishRegistration(f.ctx, alice, c.ID, resp, "  Work laptop ")
			if err != nil {
				t.Fatal(err)
			}
			cred := auth.Credentials()[0]
			if p.ID != base64.RawURLEncoding.EncodeToString(cred.ID) || p.Name != "Work laptop" || p.AAGUID != "ca4e100b-7e57-4a11-9e00-5afe706b6579" ||
				strings.Join(p.Transports, ",") != "hybrid,internal" || p.Attachment != "platform" || p.SignCount != 0 ||
				!p.UserVerified || !p.BackupEligible || !p.BackedUp || p.PossiblyCloned || p.LastUsedAt != nil || !p.CreatedAt.Equal(f.now()) {
				t.Errorf("registered %+v", p)
			}
			if string(cred.UserHandle) != string(handle) {
				t.Error("the authenticator did not keep the user handle it was given")
			}

			// The handle is stable: a second registration sends the same one and
			// excludes the registered credential, which the authenticator refuses.
			c2, err := f.pk.BeginRegistration(f.ctx, alice)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(c2.Options), `"id":"`+opts.User.ID+`"`) || !strings.Contains(string(c2.Options), p.ID) {
				t.Errorf("second registration options %s: want the same user id and %s excluded", c2.Options, p.ID)
			}
			if _, err := auth.Create(c2.Options); !errors.Is(err, webauthntest.ErrInvalidState) {
				t.Errorf("re-registering an excluded authenticator: %v", err)
			}
			// The first answer does not answer the new challenge.
			if _, err := f.pk.FinishRegistration(f.ctx, alice, c2.ID, resp, ""); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("old answer to a new ceremony: %v", err)
			}

			f.advance(time.Minute)
			sc, err := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(sc.Options), "allowCredentials") || !strings.Contains(string(sc.Options), `"rpId":"careloop.test"`) {
				t.Errorf("discoverable options %s", sc.Options)
			}
			ar, err := auth.Get(sc.Options)
			if err != nil {
				t.Fatal(err)
			}
			s, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, sc.ID, ar)
			if err != nil {
				t.Fatal(err)
			}
			if s.Account.ID != alice.ID || s.Account.Email != alice.Email || s.Account.Role != identity.RoleClinician || !s.UserVerified ||
				s.Passkey.ID != p.ID || s.Passkey.SignCount != 1 || s.Passkey.LastUsedAt == nil || !s.Passkey.LastUsedAt.Equal(f.now()) {
				t.Errorf("signed in %+v with %+v", s.Account, s.Passkey)
			}

			// An authenticator that does not verify the user still signs in,
			// and the result says so.
			auth.UserVerifying = false
			s, err = f.signIn(t, f.orgA, auth)
			if err != nil || s.UserVerified || s.Passkey.SignCount != 2 || !s.Passkey.UserVerified {
				t.Errorf("sign-in without user verification: %+v %v", s, err)
			}
		})

		t.Run("second factor", func(t *testing.T) {
			bob := f.account(t, f.orgA)
			if _, err := f.pk.BeginSecondFactor(f.ctx, bob); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("second factor without passkeys: %v", err)
			}
			key, phone := webauthntest.New(testOrigin), webauthntest.New(testOrigin)
			key.Attachment, key.Transports, key.BackupEligible, key.BackedUp = "cross-platform", []string{"usb", "nfc"}, false, false
			pk1 := f.register(t, bob, key, "Security key")
			f.advance(time.Second)
			pk2 := f.register(t, bob, phone, "Phone")
			c, err := f.pk.BeginSecondFactor(f.ctx, bob)
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				AllowCredentials []struct{ ID string }
			}
			if err := json.Unmarshal(c.Options, &opts); err != nil || len(opts.AllowCredentials) != 2 ||
				opts.AllowCredentials[0].ID != pk1.ID || opts.AllowCredentials[1].ID != pk2.ID {
				t.Fatalf("allowCredentials %s %v", c.Options, err)
			}
			resp, err := key.Get(c.Options)
			if err != nil {
				t.Fatal(err)
			}
			s, err := f.pk.FinishSecondFactor(f.ctx, bob, c.ID, resp)
			if err != nil {
				t.Fatal(err)
			}
			if s.Account.ID != bob.ID || s.Passkey.ID != pk1.ID || s.Passkey.BackupEligible || s.Passkey.SignCount != 1 {
				t.Errorf("second factor %+v %+v", s.Account, s.Passkey)
			}
			// Another account's passkey does not pass as bob's second factor.
			other := f.account(t, f.orgA)
			otherAuth := webauthntest.New(testOrigin)
			f.register(t, other, otherAuth, "")
			c, _ = f.pk.BeginSecondFactor(f.ctx, bob)
			// Answer bob's challenge with its own credential.
			resp, err = otherAuth.Get([]byte(`{"challenge":"` + challengeOf(t, c.Options) + `"}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.pk.FinishSecondFactor(f.ctx, bob, c.ID, resp)
			wantUnauthorized(t, "another account's passkey", err, notVerified)
			wantCause(t, "another account's passkey", err, "not owned by the user")
			// A ceremony begun for bob cannot be finished for another account.
			c, _ = f.pk.BeginSecondFactor(f.ctx, bob)
			resp, _ = key.Get(c.Options)
			_, err = f.pk.FinishSecondFactor(f.ctx, other, c.ID, resp)
			wantUnauthorized(t, "bob's ceremony finished as another account", err, "")
		})

		t.Run("list rename remove", func(t *testing.T) {
			carol := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			p := f.register(t, carol, auth, "")
			if ps := f.list(t, carol); len(ps) != 1 || ps[0].Name != "Passkey" || ps[0].ID != p.ID {
				t.Fatalf("list %+v", ps)
			}
			if err := f.pk.Rename(f.ctx, carol.OrgID, carol.ID, p.ID, "Kitchen tablet"); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"", "   ", strings.Repeat("x", 101), "line\nbreak"} {
				if err := f.pk.Rename(f.ctx, carol.OrgID, carol.ID, p.ID, bad); errs.CodeOf(err) != errs.Invalid {
					t.Errorf("rename to %q: %v", bad, err)
				}
			}
			if ps := f.list(t, carol); ps[0].Name != "Kitchen tablet" {
				t.Errorf("renamed %+v", ps)
			}
			someone := f.account(t, f.orgA)
			if err := f.pk.Rename(f.ctx, someone.OrgID, someone.ID, p.ID, "Mine"); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("another account renamed carol's passkey: %v", err)
			}
			if err := f.pk.Remove(f.ctx, someone.OrgID, someone.ID, p.ID); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("another account removed carol's passkey: %v", err)
			}
			if err := f.pk.Remove(f.ctx, carol.OrgID, carol.ID, p.ID); err != nil {
				t.Fatal(err)
			}
			if ps := f.list(t, carol); len(ps) != 0 {
				t.Errorf("after removal %+v", ps)
			}
			if err := f.pk.Remove(f.ctx, carol.OrgID, carol.ID, p.ID); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("second removal: %v", err)
			}
			_, err := f.signIn(t, f.orgA, auth)
			wantUnauthorized(t, "removed passkey", err, notVerified)
			wantCause(t, "removed passkey", err, "no such credential")
		})

		t.Run("wrong origin", func(t *testing.T) {
			dave := f.account(t, f.orgA)
			// A sibling subdomain may use the RP ID in a browser, but is not
			// an allowed origin.
			sub := webauthntest.New("https://evil.careloop.test")
			c, _ := f.pk.BeginRegistration(f.ctx, dave)
			resp, err := sub.Create(c.Options)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.pk.FinishRegistration(f.ctx, dave, c.ID, resp, ""); errs.CodeOf(err) != errs.Invalid || !strings.Contains(err.Error(), "origin") {
				t.Errorf("registration from another origin: %v", err)
			}
			if ps := f.list(t, dave); len(ps) != 0 {
				t.Errorf("stored %+v", ps)
			}
			// A browser refuses a relying party id that does not suit the page.
			phish := webauthntest.New("https://careloop-login.example")
			c, _ = f.pk.BeginRegistration(f.ctx, dave)
			if _, err := phish.Create(c.Options); !errors.Is(err, webauthntest.ErrSecurity) {
				t.Errorf("browser check of the RP ID: %v", err)
			}
			// A registered credential answering a phishing page through a
			// hostile client is refused at sign-in.
			auth := webauthntest.New(testOrigin)
			f.register(t, dave, auth, "")
			auth.Origin, auth.IgnoreRPID = "https://careloop-login.example", true
			_, err = f.signIn(t, f.orgA, auth)
			wantUnauthorized(t, "sign-in from a phishing origin", err, notVerified)
			wantCause(t, "sign-in from a phishing origin", err, "Error validating origin")
			// So is plain http on the right host.
			auth.Origin = "http://careloop.test"
			_, err = f.signIn(t, f.orgA, auth)
			wantUnauthorized(t, "sign-in over http", err, notVerified)
		})

		t.Run("replayed challenge", func(t *testing.T) {
			erin := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			f.register(t, erin, auth, "")
			c, _ := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			resp, _ := auth.Get(c.Options)
			if _, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, c.ID, resp); err != nil {
				t.Fatal(err)
			}
			_, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, c.ID, resp)
			wantUnauthorized(t, "same ceremony twice", err, "The passkey request has expired or was already used; please try again.")
			c2, _ := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			_, err = f.pk.FinishSignIn(f.ctx, f.orgA.ID, c2.ID, resp)
			wantUnauthorized(t, "old answer to a new challenge", err, notVerified)
			wantCause(t, "old answer to a new challenge", err, "challenge")
			// A failed finish uses the ceremony up too.
			good, _ := auth.Get(c2.Options)
			_, err = f.pk.FinishSignIn(f.ctx, f.orgA.ID, c2.ID, good)
			wantUnauthorized(t, "retry after a failure", err, "")
			// A ceremony id of another organisation or kind is unknown.
			c3, _ := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			resp, _ = auth.Get(c3.Options)
			_, err = f.pk.FinishSignIn(f.ctx, f.orgB.ID, c3.ID, resp)
			wantUnauthorized(t, "ceremony of another organisation", err, "")
			c4, _ := f.pk.BeginRegistration(f.ctx, erin)
			_, err = f.pk.FinishSignIn(f.ctx, f.orgA.ID, c4.ID, resp)
			wantUnauthorized(t, "registration ceremony used to sign in", err, "")
		})

		t.Run("expired challenge", func(t *testing.T) {
			frank := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			c, _ := f.pk.BeginRegistration(f.ctx, frank)
			resp, _ := auth.Create(c.Options)
			f.advance(identity.DefaultCeremonyTTL)
			if _, err := f.pk.FinishRegistration(f.ctx, frank, c.ID, resp, ""); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("expired registration: %v", err)
			}
			f.register(t, frank, auth, "")
			sc, _ := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			ar, _ := auth.Get(sc.Options)
			f.advance(identity.DefaultCeremonyTTL - time.Second)
			if _, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, sc.ID, ar); err != nil {
				t.Fatalf("just in time: %v", err)
			}
			sc, _ = f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			ar, _ = auth.Get(sc.Options)
			f.advance(identity.DefaultCeremonyTTL + time.Second)
			_, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, sc.ID, ar)
			wantUnauthorized(t, "expired sign-in", err, "The passkey request has expired or was already used; please try again.")
			// Expired ceremonies are purged when new ones begin.
			f.advance(identity.DefaultCeremonyTTL + time.Second)
			if _, err := f.pk.BeginSignIn(f.ctx, f.orgA.ID); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := d.Read.QueryRow("SELECT count(*) FROM webauthn_ceremonies").Scan(&n); err != nil || n != 1 {
				t.Errorf("%d ceremonies left (%v), want only the new one", n, err)
			}
		})

		t.Run("counter going backwards", func(t *testing.T) {
			gina := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			p := f.register(t, gina, auth, "")
			for want := uint32(1); want <= 3; want++ {
				s, err := f.signIn(t, f.orgA, auth)
				if err != nil || s.Passkey.SignCount != want {
					t.Fatalf("sign-in %d: %+v %v", want, s, err)
				}
			}
			// A clone that was copied at count 1 signs with count 2 next.
			auth.Credentials()[0].SignCount = 1
			_, err := f.signIn(t, f.orgA, auth)
			msg := "This passkey has been blocked because it may have been copied. Sign in another way and remove it."
			wantUnauthorized(t, "counter going backwards", err, msg)
			wantCause(t, "counter going backwards", err, "signature counter 2 does not advance")
			ps := f.list(t, gina)
			if len(ps) != 1 || !ps[0].PossiblyCloned || ps[0].SignCount != 3 {
				t.Fatalf("after the clone %+v", ps)
			}
			// The flagged passkey stays refused, even with a counter ahead.
			auth.Credentials()[0].SignCount = 100
			_, err = f.signIn(t, f.orgA, auth)
			wantUnauthorized(t, "flagged passkey", err, msg)
			if _, err := f.pk.BeginSecondFactor(f.ctx, gina); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("second factor offered a flagged passkey: %v", err)
			}
			// Removing it and registering again works.
			if err := f.pk.Remove(f.ctx, gina.OrgID, gina.ID, p.ID); err != nil {
				t.Fatal(err)
			}
			f.register(t, gina, auth, "")
			if _, err := f.signIn(t, f.orgA, auth); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("authenticator that does not count", func(t *testing.T) {
			hana := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			auth.Counting = false
			f.register(t, hana, auth, "")
			for i := range 3 {
				if s, err := f.signIn(t, f.orgA, auth); err != nil || s.Passkey.SignCount != 0 {
					t.Fatalf("sign-in %d: %+v %v", i, s, err)
				}
			}
		})

		t.Run("other organisation", func(t *testing.T) {
			ivan := f.account(t, f.orgA)
			auth := webauthntest.New(testOrigin)
			p := f.register(t, ivan, auth, "")
			_, err := f.signIn(t, f.orgB, auth)
			wantUnauthorized(t, "passkey of organisation a in b", err, notVerified)
			wantCause(t, "passkey of organisation a in b", err, "no such credential in the organisation")
			// Listing, renaming and removing name the organisation too.
			if ps, err := f.pk.List(f.ctx, f.orgB.ID, ivan.ID); err != nil || len(ps) != 0 {
				t.Errorf("list in b: %+v %v", ps, err)
			}
			if err := f.pk.Rename(f.ctx, f.orgB.ID, ivan.ID, p.ID, "x"); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("rename in b: %v", err)
			}
			if err := f.pk.Remove(f.ctx, f.orgB.ID, ivan.ID, p.ID); errs.CodeOf(err) != errs.NotFound {
				t.Errorf("remove in b: %v", err)
			}
			// The same authenticator registers separately in b, with another
			// user handle, and each organisation finds only its own.
			judy := f.account(t, f.orgB)
			authB := webauthntest.New(testOrigin)
			f.register(t, judy, authB, "")
			if s, err := f.signIn(t, f.orgB, authB); err != nil || s.Account.ID != judy.ID || s.Account.OrgID != f.orgB.ID {
				t.Errorf("sign-in in b: %+v %v", s, err)
			}
			if s, err := f.signIn(t, f.orgA, auth); err != nil || s.Account.ID != ivan.ID {
				t.Errorf("sign-in in a: %+v %v", s, err)
			}
		})

		t.Run("user handle mismatch", func(t *testing.T) {
			kim, leo := f.account(t, f.orgA), f.account(t, f.orgA)
			authK, authL := webauthntest.New(testOrigin), webauthntest.New(testOrigin)
			f.register(t, kim, authK, "")
			f.register(t, leo, authL, "")
			// Kim's credential claiming to be Leo's account.
			authK.Credentials()[0].UserHandle = authL.Credentials()[0].UserHandle
			_, err := f.signIn(t, f.orgA, authK)
			wantUnauthorized(t, "user handle of another account", err, notVerified)
			wantCause(t, "user handle of another account", err, "user handle is not the credential owner's")
			authK.Credentials()[0].UserHandle = []byte("someone")
			_, err = f.signIn(t, f.orgA, authK)
			wantUnauthorized(t, "unknown user handle", err, notVerified)
			if ps := f.list(t, kim); ps[0].LastUsedAt != nil || ps[0].PossiblyCloned {
				t.Errorf("a refused sign-in changed the passkey: %+v", ps[0])
			}
		})

		t.Run("garbage", func(t *testing.T) {
			mia := f.account(t, f.orgA)
			c, _ := f.pk.BeginRegistration(f.ctx, mia)
			if _, err := f.pk.FinishRegistration(f.ctx, mia, c.ID, []byte(`{"id":"x"}`), ""); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("garbage registration: %v", err)
			}
			sc, _ := f.pk.BeginSignIn(f.ctx, f.orgA.ID)
			_, err := f.pk.FinishSignIn(f.ctx, f.orgA.ID, sc.ID, []byte(`not json`))
			wantUnauthorized(t, "garbage sign-in", err, notVerified)
			if _, err := f.pk.FinishRegistration(f.ctx, mia, "", nil, strings.Repeat("n", 101)); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("overlong name: %v", err)
			}
		})
	})
}

// challengeOf returns the challenge member of options.
func challengeOf(t *testing.T, options []byte) string {
	t.Helper()
	var o struct{ Challenge string }
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	return o.Challenge
}

func TestPasskeyConfigFromBaseURL(t *testing.T) {
	for _, tc := range []struct {
		base, rpID, origin, err string
	}{
		{base: "https://Careloop.Example.org:8443/app", rpID: "careloop.example.org", origin: "https://careloop.example.org:8443"},
		{base: "https://careloop.example.org", rpID: "careloop.example.org", origin: "https://careloop.example.org"},
		{base: "http://localhost:8080", rpID: "localhost", origin: "http://localhost:8080"},
		{base: "http://127.0.0.1:8080", err: "IP address"},
		{base: "https://[::1]:8443", err: "IP address"},
		{base: "http://careloop.example.org", err: "https"},
	} {
		u, err := url.Parse(tc.base)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := identity.PasskeyConfigFromBaseURL(u)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: got %v, want an error about %s", tc.base, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.RPID != tc.rpID || len(cfg.Origins) != 1 || cfg.Origins[0] != tc.origin {
			t.Errorf("%s: %+v %v", tc.base, cfg, err)
		}
		if _, err := identity.NewPasskeys(nil, cfg); err != nil {
			t.Errorf("%s: NewPasskeys: %v", tc.base, err)
		}
	}
	if _, err := identity.NewPasskeys(nil, identity.PasskeyConfig{RPID: testRPID}); err == nil {
		t.Error("NewPasskeys without origins succeeded")
	}
}
