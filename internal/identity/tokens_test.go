package identity_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

func TestParseActivationCode(t *testing.T) {
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{name: "as shown", in: "7K2M9-QC4XR", want: "7k2m9qc4xr", ok: true},
		{name: "lower case, spaces", in: " 7k2m9 qc4xr ", want: "7k2m9qc4xr", ok: true},
		{name: "o and i and l read as digits", in: "OIL00-00000", want: "0110000000", ok: true},
		{name: "too short", in: "7K2M9-QC4X", ok: false},
		{name: "too long", in: "7K2M9-QC4XR1", ok: false},
		{name: "u is not in the alphabet", in: "7K2M9-QC4XU", ok: false},
		{name: "punctuation", in: "7K2M9/QC4XR", ok: false},
		{name: "empty", in: "", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := identity.ParseActivationCode(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseActivationCode(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
	for range 100 {
		code := identity.NewSecret(identity.PurposeActivation)
		c, ok := identity.ParseActivationCode(code)
		if !ok || identity.FormatActivationCode(c) != code {
			t.Fatalf("a new code %q does not parse back: %q %v", code, c, ok)
		}
	}
}

func newTokens(t *testing.T, d *db.DB) (*identity.Tokens, string, *time.Time) {
	t.Helper()
	ctx := context.Background()
	org := &tenant.Organization{Slug: "t", Name: "T"}
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, org) }); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, identity.TokenKeySize)
	rand.Read(key)
	tokens, err := identity.NewTokens(d, key)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tokens.Now = func() time.Time { return now }
	return tokens, org.ID, &now
}

func TestTokensAreSingleUseHashedAndExpire(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tokens, orgID, now := newTokens(t, d)
		issue := func(tok *identity.Token) string {
			var secret string
			if err := d.InTx(ctx, func(tx *sql.Tx) (err error) { secret, err = tokens.IssueTx(ctx, tx, tok); return err }); err != nil {
				t.Fatal(err)
			}
			return secret
		}
		find := func(p identity.Purpose, secret string) (*identity.Token, error) {
			var tok *identity.Token
			err := d.InTx(ctx, func(tx *sql.Tx) (err error) { tok, err = tokens.FindTx(ctx, tx, orgID, p, secret); return err })
			return tok, err
		}
		secret := issue(&identity.Token{OrgID: orgID, Purpose: identity.PurposeRecovery, AccountID: "a1", Email: "a@example.org"})

		// Only a keyed hash is stored.
		var stored string
		if err := d.Read.QueryRowContext(ctx, "SELECT token_hash FROM account_tokens WHERE org_id = $1", orgID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, secret) || stored != tokens.Hash(identity.PurposeRecovery, secret) {
			t.Fatalf("stored %q for secret %q", stored, secret)
		}
		// The wrong purpose finds nothing.
		if _, err := find(identity.PurposeVerifyEmail, secret); !errors.Is(err, identity.ErrTokenInvalid) || errs.CodeOf(err) != errs.Unauthorized {
			t.Errorf("found with the wrong purpose: %v", err)
		}
		tok, err := find(identity.PurposeRecovery, secret)
		if err != nil || tok.AccountID != "a1" || !tok.ExpiresAt.Equal(tok.CreatedAt.Add(30*time.Minute)) {
			t.Fatalf("find: %+v %v", tok, err)
		}

		// Consumed by one of many concurrent transactions.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := d.InTx(ctx, func(tx *sql.Tx) error { return tokens.ConsumeTx(ctx, tx, tok) })
				if err == nil {
					mu.Lock()
					won++
					mu.Unlock()
				} else if !errors.Is(err, identity.ErrTokenInvalid) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("a token was consumed %d times", won)
		}
		if _, err := find(identity.PurposeRecovery, secret); !errors.Is(err, identity.ErrTokenInvalid) {
			t.Errorf("a consumed token is found: %v", err)
		}

		// A new token for the account replaces the open one; tokens expire.
		s1 := issue(&identity.Token{OrgID: orgID, Purpose: identity.PurposeVerifyEmail, AccountID: "a1", Email: "a@example.org"})
		s2 := issue(&identity.Token{OrgID: orgID, Purpose: identity.PurposeVerifyEmail, AccountID: "a1", Email: "a@example.org"})
		other := issue(&identity.Token{OrgID: orgID, Purpose: identity.PurposeVerifyEmail, AccountID: "a2", Email: "b@example.org"})
		if _, err := find(identity.PurposeVerifyEmail, s1); err == nil {
			t.Error("a replaced token is found")
		}
		if _, err := find(identity.PurposeVerifyEmail, s2); err != nil {
			t.Errorf("the new token: %v", err)
		}
		*now = now.Add(24*time.Hour + time.Second)
		for _, s := range []string{s2, other} {
			if _, err := find(identity.PurposeVerifyEmail, s); !errors.Is(err, identity.ErrTokenInvalid) {
				t.Errorf("an expired token is found: %v", err)
			}
		}
		for _, bad := range []string{"", "short", strings.Repeat("!", 43), secret + "x"} {
			if _, err := find(identity.PurposeRecovery, bad); !errors.Is(err, identity.ErrTokenInvalid) {
				t.Errorf("malformed %q: %v", bad, err)
			}
		}
	})
}

func TestActivationCodeVoidAfterFailures(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		tokens, orgID, _ := newTokens(t, d)
		var code string
		tok := &identity.Token{OrgID: orgID, Purpose: identity.PurposeActivation, Subject: "Patient/p1"}
		if err := d.InTx(ctx, func(tx *sql.Tx) (err error) { code, err = tokens.IssueTx(ctx, tx, tok); return err }); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= identity.MaxActivationFailures; i++ {
			var void bool
			err := d.InTx(ctx, func(tx *sql.Tx) (err error) {
				found, err := tokens.FindTx(ctx, tx, orgID, identity.PurposeActivation, strings.ToLower(code))
				if err != nil {
					return err
				}
				void, err = tokens.FailTx(ctx, tx, found)
				return err
			})
			if err != nil {
				t.Fatalf("failure %d: %v", i, err)
			}
			if void != (i == identity.MaxActivationFailures) {
				t.Fatalf("failure %d: void %v", i, void)
			}
		}
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			_, err := tokens.FindTx(ctx, tx, orgID, identity.PurposeActivation, code)
			return err
		})
		if !errors.Is(err, identity.ErrTokenInvalid) {
			t.Fatalf("a void code is found: %v", err)
		}
	})
}

func BenchmarkTokenHash(b *testing.B) {
	key := make([]byte, identity.TokenKeySize)
	tokens, _ := identity.NewTokens(nil, key)
	secret := identity.NewSecret(identity.PurposeRecovery)
	for b.Loop() {
		tokens.Hash(identity.PurposeRecovery, secret)
	}
}
