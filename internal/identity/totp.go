package identity

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"

	"github.com/careloop/careloop/internal/platform/errs"
)

// The TOTP parameters careloop uses: those every authenticator app supports
// (RFC 6238 defaults). Changing them would invalidate enrolled apps.
const (
	// TOTPIssuer names careloop in authenticator apps.
	TOTPIssuer = "careloop"
	// TOTPPeriod is the length of a time step.
	TOTPPeriod = 30 * time.Second
	// TOTPDigits is the length of a code.
	TOTPDigits = 6
	// TOTPSkew is how many time steps before and after the current one are
	// accepted, for clocks that drift and people who type slowly.
	TOTPSkew = 1
	// TOTPEnrollmentTTL is how long a begun enrolment waits for its first
	// code before it must be begun again.
	TOTPEnrollmentTTL = 15 * time.Minute
)

// totpSecretBytes is the length of a TOTP secret: 160 bits, as RFC 4226
// recommends for HMAC-SHA1.
const totpSecretBytes = 20

// purposeTOTP is the associated data tag of sealed TOTP secrets.
const purposeTOTP = "totp secret"

// TOTPEnrollment is what a person needs to add careloop to an authenticator
// app: show URI as a QR code and Secret for typing in. Both carry the
// secret: show them once, over TLS, and never log or store them. Its String,
// GoString and LogValue methods redact both, so that a stray %v or slog
// attribute does not leak them.
type TOTPEnrollment struct {
	// Secret is the base32 secret (RFC 4648, no padding).
	Secret string
	// URI is the otpauth://totp/careloop:email?… key URI.
	URI string
	// Expires is when the enrolment must have been confirmed.
	Expires time.Time
}

// String returns a redacted description.
func (e TOTPEnrollment) String() string {
	return "TOTPEnrollment{secret redacted, expires " + e.Expires.Format(time.RFC3339) + "}"
}

// GoString returns a redacted description.
func (e TOTPEnrollment) GoString() string { return e.String() }

// LogValue returns a redacted description.
func (e TOTPEnrollment) LogValue() slog.Value { return slog.StringValue(e.String()) }

// BeginTOTPTx starts enrolling an authenticator app for the account: it
// makes a new random secret, stores it sealed as pending, and returns what
// to show the person. A pending secret is never accepted for sign-in; it
// becomes the account's authenticator app only when ConfirmTOTPTx receives
// a code from it within TOTPEnrollmentTTL. Beginning again replaces the
// pending secret; an app already confirmed keeps working until the new one
// is confirmed. An unknown account is an errs.NotFound.
//
// The caller must make sure the person is signed in (and recently
// re-authenticated, when an app is already enrolled).
func (s *FactorStore) BeginTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) (*TOTPEnrollment, error) {
	email, err := s.lockAccount(ctx, tx, orgID, accountID)
	if err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      TOTPIssuer,
		AccountName: email,
		Period:      uint(TOTPPeriod / time.Second),
		SecretSize:  totpSecretBytes,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("identity: generate TOTP secret: %w", err)
	}
	now := s.now()
	sealed := s.seal(purposeTOTP, orgID, accountID, []byte(key.Secret()))
	if _, err := tx.ExecContext(ctx, `INSERT INTO account_totp (org_id, account_id, pending_secret, pending_since) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org_id, account_id) DO UPDATE SET pending_secret = excluded.pending_secret, pending_since = excluded.pending_since`,
		orgID, accountID, sealed, now); err != nil {
		return nil, fmt.Errorf("identity: begin TOTP enrolment: %w", err)
	}
	return &TOTPEnrollment{Secret: key.Secret(), URI: key.URL(), Expires: now.Add(TOTPEnrollmentTTL)}, nil
}

// ConfirmTOTPTx finishes an enrolment begun with BeginTOTPTx: when code is
// a current code of the pending secret, that secret becomes the account's
// authenticator app (replacing any earlier one) and the code's time step
// counts as used. Errors, all *errs.Error:
//   - errs.Invalid (field "code") when code is not six digits or does not
//     match (cause ErrCodeInvalid); the enrolment stays pending;
//   - errs.NotFound (cause ErrNoTOTP) when no enrolment is pending;
//   - errs.Conflict when the enrolment expired or was begun again meanwhile.
func (s *FactorStore) ConfirmTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) error {
	c, ok := normalizeTOTPCode(code)
	if !ok {
		return errs.Invalidf("code", "Enter the %d-digit code your authenticator app shows for careloop.", TOTPDigits)
	}
	var sealed []byte
	var since sql.NullTime
	err := tx.QueryRowContext(ctx, "SELECT pending_secret, pending_since FROM account_totp WHERE org_id = $1 AND account_id = $2",
		orgID, accountID).Scan(&sealed, &since)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sealed == nil) {
		return errs.Wrap(ErrNoTOTP, errs.NotFound, "No authenticator app set-up is in progress; begin again.")
	}
	if err != nil {
		return fmt.Errorf("identity: confirm TOTP: %w", err)
	}
	now := s.now()
	if !since.Valid || !now.Before(since.Time.Add(TOTPEnrollmentTTL)) {
		return errs.E(errs.Conflict, "The authenticator app set-up has expired; begin again and scan the new code.")
	}
	secret, err := s.open(purposeTOTP, orgID, accountID, sealed)
	if err != nil {
		return fmt.Errorf("identity: confirm TOTP: %w", err)
	}
	steps, err := matchingSteps(string(secret), c, now)
	if err != nil {
		return fmt.Errorf("identity: confirm TOTP: %w", err)
	}
	if len(steps) == 0 {
		return &errs.Error{Code: errs.Invalid, Field: "code", Err: ErrCodeInvalid,
			Message: "That code does not match. Check that the device's clock is right and enter the code shown now."}
	}
	// Compare-and-set on the pending secret read above: a concurrent
	// confirmation or a new enrolment makes this one fail.
	res, err := tx.ExecContext(ctx, `UPDATE account_totp SET secret = pending_secret, confirmed_at = $1, last_step = $2,
		pending_secret = NULL, pending_since = NULL
		WHERE org_id = $3 AND account_id = $4 AND pending_secret = $5`, now, steps[len(steps)-1], orgID, accountID, sealed)
	if err != nil {
		return fmt.Errorf("identity: confirm TOTP: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("identity: confirm TOTP: %w", err)
	} else if n != 1 {
		return errs.E(errs.Conflict, "The authenticator app set-up changed meanwhile; begin again.")
	}
	return record(ctx, s.Audit, tx, orgID, accountID, "authenticator app enrolled")
}

// VerifyTOTPTx checks a code from the account's confirmed authenticator
// app. It returns nil when code is the code of the current time step or of
// one within TOTPSkew steps, and that step is later than every step
// accepted before for the account; the step is then recorded, so the same
// code (or an older one) is never accepted again. The check and the record
// are one conditional UPDATE, so of concurrent verifications of one code,
// in any number of processes, exactly one succeeds. If tx rolls back, the
// step is not recorded and the code may be used again.
//
// Errors, all *errs.Error: errs.Invalid (field "code") for input that is
// not six digits; errs.Unauthorized for a wrong code (cause ErrCodeInvalid)
// or a code already used (cause ErrCodeReplayed); errs.NotFound (cause
// ErrNoTOTP) when no authenticator app is confirmed. The caller must limit
// failed attempts per account: six digits fall to unlimited guessing.
func (s *FactorStore) VerifyTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID, code string) error {
	c, ok := normalizeTOTPCode(code)
	if !ok {
		return errs.Invalidf("code", "Enter the %d-digit code your authenticator app shows for careloop.", TOTPDigits)
	}
	var sealed []byte
	var last int64
	err := tx.QueryRowContext(ctx, "SELECT secret, last_step FROM account_totp WHERE org_id = $1 AND account_id = $2",
		orgID, accountID).Scan(&sealed, &last)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sealed == nil) {
		return errs.Wrap(ErrNoTOTP, errs.NotFound, "No authenticator app is set up for this account.")
	}
	if err != nil {
		return fmt.Errorf("identity: verify TOTP: %w", err)
	}
	secret, err := s.open(purposeTOTP, orgID, accountID, sealed)
	if err != nil {
		return fmt.Errorf("identity: verify TOTP: %w", err)
	}
	steps, err := matchingSteps(string(secret), c, s.now())
	if err != nil {
		return fmt.Errorf("identity: verify TOTP: %w", err)
	}
	if len(steps) == 0 {
		return errs.Wrap(ErrCodeInvalid, errs.Unauthorized, "That code is not valid. Enter the code your authenticator app shows now.")
	}
	step := int64(-1)
	for _, st := range steps { // ascending: take the earliest step not yet used
		if st > last {
			step = st
			break
		}
	}
	replayed := errs.Wrap(ErrCodeReplayed, errs.Unauthorized, "That code has already been used. Wait for the next code in your authenticator app.")
	if step < 0 {
		return replayed
	}
	// The replay guard: accept the step only if it is later than the last
	// accepted one, in the same statement that records it. On PostgreSQL a
	// concurrent UPDATE of the row waits for this one and then re-evaluates
	// its WHERE against the new last_step; on SQLite writers are serialised.
	res, err := tx.ExecContext(ctx, `UPDATE account_totp SET last_step = $1
		WHERE org_id = $2 AND account_id = $3 AND secret = $4 AND last_step < $1`, step, orgID, accountID, sealed)
	if err != nil {
		return fmt.Errorf("identity: verify TOTP: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("identity: verify TOTP: %w", err)
	} else if n != 1 {
		return replayed
	}
	return nil
}

// RemoveTOTPTx removes the account's authenticator app, confirmed or
// pending. Recovery codes stay. An account without one is an errs.NotFound.
// The caller must make sure the person recently re-authenticated, and that
// policy allows the account to be without a second factor.
func (s *FactorStore) RemoveTOTPTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) error {
	res, err := tx.ExecContext(ctx, "DELETE FROM account_totp WHERE org_id = $1 AND account_id = $2", orgID, accountID)
	if err != nil {
		return fmt.Errorf("identity: remove TOTP: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("identity: remove TOTP: %w", err)
	} else if n == 0 {
		return errs.Wrap(ErrNoTOTP, errs.NotFound, "No authenticator app is set up for this account.")
	}
	return record(ctx, s.Audit, tx, orgID, accountID, "authenticator app removed")
}

// normalizeTOTPCode returns code without spaces (apps show "123 456"), if
// what is left is TOTPDigits ASCII digits.
func normalizeTOTPCode(code string) (string, bool) {
	if len(code) > 32 {
		return "", false
	}
	b := make([]byte, 0, TOTPDigits)
	for i := 0; i < len(code); i++ {
		switch c := code[i]; {
		case c == ' ' || c == '\t':
		case c >= '0' && c <= '9':
			b = append(b, c)
		default:
			return "", false
		}
	}
	return string(b), len(b) == TOTPDigits
}

// totpStep returns the RFC 6238 time step of t.
func totpStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// matchingSteps returns, in ascending order, the time steps within TOTPSkew
// of now's whose code is code. Every candidate is computed and compared in
// constant time, so timing does not tell which step matched.
func matchingSteps(secret, code string, now time.Time) ([]int64, error) {
	cur := totpStep(now)
	var out []int64
	for st := cur - TOTPSkew; st <= cur+TOTPSkew; st++ {
		if st < 0 {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(st), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return nil, fmt.Errorf("compute TOTP code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			out = append(out, st)
		}
	}
	return out, nil
}
