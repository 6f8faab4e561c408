package identity_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

func TestPasswordHash(t *testing.T) {
	hash, err := identity.HashPassword("correct horse battery staple", identity.DefaultPasswordParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q does not carry the OWASP parameters", hash)
	}
	again, _ := identity.HashPassword("correct horse battery staple", identity.DefaultPasswordParams)
	if again == hash {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"correct horse battery staple", true},
		{"correct horse battery stapl", false},
		{"", false},
		{"Correct horse battery staple", false},
	} {
		ok, err := identity.VerifyPassword(hash, tc.password)
		if err != nil || ok != tc.want {
			t.Errorf("verify %q: %v %v, want %v", tc.password, ok, err, tc.want)
		}
	}
	// Hashes made with other parameters still verify: they travel in the hash.
	cheap := identity.PasswordParams{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h2, _ := identity.HashPassword("pw", cheap)
	if ok, err := identity.VerifyPassword(h2, "pw"); !ok || err != nil {
		t.Errorf("cheap hash: %v %v", ok, err)
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=18$m=64,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=64,t=1,p=1$!!$a2V5"} {
		if _, err := identity.VerifyPassword(bad, "pw"); err == nil {
			t.Errorf("malformed hash %q verified without error", bad)
		}
	}
	if _, err := identity.HashPassword("", identity.DefaultPasswordParams); err == nil {
		t.Error("hashed an empty password")
	}
}

func TestAccountStoreContract(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		orgs := tenant.NewStore(d)
		a, b := &tenant.Organization{Slug: "a", Name: "A"}, &tenant.Organization{Slug: "b", Name: "B"}
		s := identity.NewStore(d)
		create := func(acct *identity.Account) error {
			return d.InTx(ctx, func(tx *sql.Tx) error { return s.CreateTx(ctx, tx, acct, "$argon2id$hash") })
		}
		if err := d.InTx(ctx, func(tx *sql.Tx) error {
			if err := orgs.CreateTx(ctx, tx, a); err != nil {
				return err
			}
			return orgs.CreateTx(ctx, tx, b)
		}); err != nil {
			t.Fatal(err)
		}
		if err := create(&identity.Account{OrgID: a.ID, Email: "Nurse@Example.org", DisplayName: "N", Role: identity.RoleNurse}); err != nil {
			t.Fatal(err)
		}
		got, hash, err := s.ByEmail(ctx, a.ID, "nurse@EXAMPLE.org")
		if err != nil || got.Email != "nurse@example.org" || got.Role != identity.RoleNurse || hash != "$argon2id$hash" {
			t.Fatalf("ByEmail: %+v %q %v", got, hash, err)
		}
		if _, _, err := s.ByEmail(ctx, b.ID, "nurse@example.org"); errs.CodeOf(err) != errs.NotFound {
			t.Errorf("organisation b found a's account: %v", err)
		}
		for name, tc := range map[string]struct {
			acct identity.Account
			code errs.Code
		}{
			"duplicate email": {identity.Account{OrgID: a.ID, Email: "nurse@example.org", Role: identity.RoleNurse}, errs.Conflict},
			"malformed email": {identity.Account{OrgID: a.ID, Email: "not an email", Role: identity.RoleNurse}, errs.Invalid},
			"named email":     {identity.Account{OrgID: a.ID, Email: "Nurse <n@example.org>", Role: identity.RoleNurse}, errs.Invalid},
			"unknown role":    {identity.Account{OrgID: a.ID, Email: "x@example.org", Role: "superuser"}, errs.Invalid},
		} {
			acct := tc.acct
			if err := create(&acct); errs.CodeOf(err) != tc.code {
				t.Errorf("%s: got %v, want %s", name, err, tc.code)
			}
		}
		// The same email in another organisation is another account.
		if err := create(&identity.Account{OrgID: b.ID, Email: "nurse@example.org", Role: identity.RoleNurse}); err != nil {
			t.Errorf("same email in b: %v", err)
		}
	})
}
