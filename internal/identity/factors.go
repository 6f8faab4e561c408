package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// FactorKeySize is the length in bytes of the key a FactorStore encrypts
// second-factor secrets with (AES-256).
const FactorKeySize = 32

// Errors a FactorStore wraps as the internal cause of the errs.Error it
// returns, so that callers can tell the cases apart with errors.Is (to count
// failed attempts for rate limiting, for example) while clients see only
// the safe message.
var (
	// ErrNoTOTP: the account has no confirmed authenticator app (or, when
	// confirming, no enrolment in progress).
	ErrNoTOTP = errors.New("identity: no authenticator app")
	// ErrCodeInvalid: the one-time or recovery code does not match.
	ErrCodeInvalid = errors.New("identity: code does not match")
	// ErrCodeReplayed: the TOTP code matches but its time step, or a later
	// one, was already accepted for the account.
	ErrCodeReplayed = errors.New("identity: code already used")
)

// FactorStore keeps the second factors of accounts: authenticator apps
// (TOTP, RFC 6238) and recovery codes. Secrets of authenticator apps are
// encrypted at rest with AES-256-GCM, bound to their organisation and
// account, so that a copy of the database alone does not reveal them and a
// secret moved to another account's row does not decrypt. Recovery codes
// are stored only as hashes.
//
// Methods whose names end in Tx do all their work in the caller's
// transaction, so a sign-in can record its session and audit entry in the
// same commit (on SQLite, code inside a transaction must not use the pools).
// Each has a counterpart without Tx that runs in a transaction of its own.
// Factors and RecoveryCodesLeft read through the read pool. A FactorStore is safe
// for concurrent use; the replay guard holds across goroutines, processes
// and nodes because it is enforced by the database.
//
// Nothing here logs, and no error carries a secret or a code.
type FactorStore struct {
	db   *db.DB
	aead cipher.AEAD

	// Now returns the current time; nil means time.Now. Tests set it before
	// the first call to pin TOTP time steps. It must not change while calls
	// are running.
	Now func() time.Time
	// Audit, if not nil, records every change of a second factor or of the
	// recovery codes, in the change's transaction. Set it before use.
	Audit SecurityRecorder
}

// NewFactorStore returns a FactorStore on d that encrypts secrets with key,
// which must be FactorKeySize random bytes kept outside the database (the
// caller reads it from configuration). The key is copied. Changing the key
// makes every enrolled authenticator app unreadable: until key rotation
// exists, keep it for the life of the database.
func NewFactorStore(d *db.DB, key []byte) (*FactorStore, error) {
	if len(key) != FactorKeySize {
		return nil, fmt.Errorf("identity: the second-factor key has %d bytes, want %d", len(key), FactorKeySize)
	}
	block, err := aes.NewCipher(append([]byte(nil), key...))
	if err != nil {
		return nil, fmt.Errorf("identity: second-factor key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("identity: second-factor key: %w", err)
	}
	return &FactorStore{db: d, aead: aead}, nil
}

func (s *FactorStore) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// sealVersion leads every sealed secret, so that another format or key can
// be told apart later (key rotation).
const sealVersion = 1

// secretAAD binds a sealed secret to its purpose and owner.
func secretAAD(purpose, orgID, accountID string) []byte {
	return []byte("careloop " + purpose + "\x00" + orgID + "\x00" + accountID)
}

// seal encrypts plain for the account: version byte, then the random
// nonce, ciphertext and tag of AES-GCM.
func (s *FactorStore) seal(purpose, orgID, accountID string, plain []byte) []byte {
	return s.aead.Seal([]byte{sealVersion}, nil, plain, secretAAD(purpose, orgID, accountID))
}

// open decrypts what seal made for the same purpose and account.
func (s *FactorStore) open(purpose, orgID, accountID string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, errors.New("identity: sealed secret of unknown format")
	}
	plain, err := s.aead.Open(nil, nil, sealed[1:], secretAAD(purpose, orgID, accountID))
	if err != nil {
		// The key differs from the one that sealed, or the row was
		// tampered with or moved: never accept such a secret.
		return nil, fmt.Errorf("identity: decrypt %s: %w", purpose, err)
	}
	return plain, nil
}

// lockAccount returns the email of the account, or an errs.NotFound, and
// locks the account's row until tx ends, so that changes to its factors
// made by concurrent transactions happen one after the other. (On SQLite
// transactions are serialised already and FOR UPDATE does not exist.)
func (s *FactorStore) lockAccount(ctx context.Context, tx *sql.Tx, orgID, accountID string) (string, error) {
	q := "SELECT email FROM accounts WHERE org_id = $1 AND id = $2"
	if s.db.Dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	var email string
	err := tx.QueryRowContext(ctx, q, orgID, accountID).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", errs.NotFoundf("no such account")
	}
	if err != nil {
		return "", fmt.Errorf("identity: read account: %w", err)
	}
	return email, nil
}

// FactorSummary says which second factors an account has, for policy (staff
// must enrol before they see health data) and for the sign-in page (which
// factors to offer).
type FactorSummary struct {
	// TOTP is true when an authenticator app is confirmed.
	TOTP bool
	// TOTPPending is true while an authenticator app enrolment is begun,
	// not confirmed and not expired.
	TOTPPending bool
	// RecoveryCodes is how many unused recovery codes are left.
	RecoveryCodes int
}

// HasSecondFactor reports whether the account can prove a second factor on
// its own. Recovery codes do not count: they are the way back in when the
// factor is lost, not a factor to enrol instead of one.
func (f FactorSummary) HasSecondFactor() bool { return f.TOTP }

// Factors returns the second factors of the account. An unknown account has
// none: the zero summary and no error.
func (s *FactorStore) Factors(ctx context.Context, orgID, accountID string) (FactorSummary, error) {
	var sum FactorSummary
	var confirmed, pending sql.NullTime
	err := s.db.Read.QueryRowContext(ctx, "SELECT confirmed_at, pending_since FROM account_totp WHERE org_id = $1 AND account_id = $2",
		orgID, accountID).Scan(&confirmed, &pending)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return sum, fmt.Errorf("identity: read factors: %w", err)
	default:
		sum.TOTP = confirmed.Valid
		sum.TOTPPending = pending.Valid && s.now().Before(pending.Time.Add(TOTPEnrollmentTTL))
	}
	n, err := s.RecoveryCodesLeft(ctx, orgID, accountID)
	if err != nil {
		return sum, err
	}
	sum.RecoveryCodes = n
	return sum, nil
}

// The methods below run their Tx counterpart in a transaction of their own,
// for callers that have nothing else to commit with it.

// BeginTOTP is BeginTOTPTx in a transaction of its own.
func (s *FactorStore) BeginTOTP(ctx context.Context, orgID, accountID string) (e *TOTPEnrollment, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		e, err = s.BeginTOTPTx(ctx, tx, orgID, accountID)
		return err
	})
	return e, err
}

// ConfirmTOTP is ConfirmTOTPTx in a transaction of its own.
func (s *FactorStore) ConfirmTOTP(ctx context.Context, orgID, accountID, code string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.ConfirmTOTPTx(ctx, tx, orgID, accountID, code) })
}

// VerifyTOTP is VerifyTOTPTx in a transaction of its own: when it returns
// nil the code's time step is recorded as used.
func (s *FactorStore) VerifyTOTP(ctx context.Context, orgID, accountID, code string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.VerifyTOTPTx(ctx, tx, orgID, accountID, code) })
}

// RemoveTOTP is RemoveTOTPTx in a transaction of its own.
func (s *FactorStore) RemoveTOTP(ctx context.Context, orgID, accountID string) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return s.RemoveTOTPTx(ctx, tx, orgID, accountID) })
}

// GenerateRecoveryCodes is GenerateRecoveryCodesTx in a transaction of its
// own.
func (s *FactorStore) GenerateRecoveryCodes(ctx context.Context, orgID, accountID string) (codes []string, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		codes, err = s.GenerateRecoveryCodesTx(ctx, tx, orgID, accountID)
		return err
	})
	return codes, err
}

// UseRecoveryCode is UseRecoveryCodeTx in a transaction of its own: when it
// returns no error the code is spent.
func (s *FactorStore) UseRecoveryCode(ctx context.Context, orgID, accountID, code string) (left int, err error) {
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		left, err = s.UseRecoveryCodeTx(ctx, tx, orgID, accountID, code)
		return err
	})
	return left, err
}
