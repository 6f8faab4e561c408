package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// The changes an account goes through after it is created: a new password,
// a verified or changed email, a link to the person's Patient record.
// Each takes the caller's transaction, so that spending the token that
// allowed it happens in the same commit.

// StaffRole reports whether r is a staff role, one an invitation may give.
func StaffRole(r Role) bool { return roles[r] && r != RolePatient && r != RoleCaregiver }

// NormalizeEmail returns the lower-case address of email, or an
// errs.Invalid on the field "email" when it is not one plain address.
func NormalizeEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return "", errs.Invalidf("email", "%q is not an email address.", clipText(email, 80))
	}
	return strings.ToLower(email), nil
}

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func changed(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("identity: %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("identity: %s: %w", what, err)
	}
	if n == 0 {
		return notFoundAccount()
	}
	return nil
}

// SetPasswordTx replaces the account's password hash. An unknown account
// is an errs.NotFound.
func (s *Store) SetPasswordTx(ctx context.Context, tx *sql.Tx, orgID, accountID, passwordHash string) error {
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET password_hash = $3 WHERE org_id = $1 AND id = $2", orgID, accountID, passwordHash)
	if err := changed(res, err, "set password"); err != nil {
		return err
	}
	return record(ctx, s.Audit, tx, orgID, accountID, "password changed")
}

// MarkEmailVerifiedTx records that the account's current email reached
// its owner at the time given.
func (s *Store) MarkEmailVerifiedTx(ctx context.Context, tx *sql.Tx, orgID, accountID string, at time.Time) error {
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET email_verified_at = $3 WHERE org_id = $1 AND id = $2", orgID, accountID, at.UTC())
	return changed(res, err, "verify email")
}

// ChangeEmailTx switches the account to a new, verified email. An email
// another account of the organisation uses is an errs.Conflict.
func (s *Store) ChangeEmailTx(ctx context.Context, tx *sql.Tx, orgID, accountID, email string, verifiedAt time.Time) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM accounts WHERE org_id = $1 AND email = $2 AND id <> $3", orgID, email, accountID).Scan(&n); err != nil {
		return fmt.Errorf("identity: change email: %w", err)
	}
	if n > 0 {
		return errs.E(errs.Conflict, "Another account of this organisation uses that email.")
	}
	res, err := tx.ExecContext(ctx, "UPDATE accounts SET email = $3, email_verified_at = $4 WHERE org_id = $1 AND id = $2", orgID, accountID, email, verifiedAt.UTC())
	if err := changed(res, err, "change email"); err != nil {
		return err
	}
	return record(ctx, s.Audit, tx, orgID, accountID, "email changed")
}

// EmailVerifiedAt returns when the account's email was verified, or the
// zero time when it has not been.
func (s *Store) EmailVerifiedAt(ctx context.Context, orgID, accountID string) (time.Time, error) {
	var at sql.NullTime
	err := s.db.Read.QueryRowContext(ctx, "SELECT email_verified_at FROM accounts WHERE org_id = $1 AND id = $2", orgID, accountID).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, notFoundAccount()
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("identity: read account: %w", err)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return at.Time.UTC(), nil
}

// LinkPatientTx makes a patient account the person of Patient/patientID
// and forgets its pending registration. A Patient another account already
// is, or an account that is not an unlinked patient, is an errs.Conflict.
func (s *Store) LinkPatientTx(ctx context.Context, tx *sql.Tx, orgID, accountID, patientID string) error {
	ref := "Patient/" + patientID
	var role, current string
	err := tx.QueryRowContext(ctx, "SELECT role, fhir_ref FROM accounts WHERE org_id = $1 AND id = $2", orgID, accountID).Scan(&role, &current)
	if errors.Is(err, sql.ErrNoRows) {
		return notFoundAccount()
	}
	if err != nil {
		return fmt.Errorf("identity: link patient: %w", err)
	}
	if Role(role) != RolePatient || current != "" {
		return errs.E(errs.Conflict, "This account is already linked to a record, or is not a patient's account.")
	}
	if err := patientFree(ctx, tx, orgID, ref); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE accounts SET fhir_ref = $3 WHERE org_id = $1 AND id = $2", orgID, accountID, ref); err != nil {
		return fmt.Errorf("identity: link patient: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM patient_registrations WHERE org_id = $1 AND account_id = $2", orgID, accountID); err != nil {
		return fmt.Errorf("identity: link patient: %w", err)
	}
	return record(ctx, s.Audit, tx, orgID, accountID, "account linked to "+ref)
}

// patientFree returns an errs.Conflict when an account already is the
// person of ref.
func patientFree(ctx context.Context, tx *sql.Tx, orgID, ref string) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM accounts WHERE org_id = $1 AND fhir_ref = $2", orgID, ref).Scan(&n); err != nil {
		return fmt.Errorf("identity: link patient: %w", err)
	}
	if n > 0 {
		return errs.E(errs.Conflict, "Another account is already linked to this patient's record.")
	}
	return nil
}

// PatientFreeTx returns an errs.Conflict when an account already is the
// person of Patient/patientID.
func (s *Store) PatientFreeTx(ctx context.Context, tx *sql.Tx, orgID, patientID string) error {
	return patientFree(ctx, tx, orgID, "Patient/"+patientID)
}

// Registration is a patient's account awaiting a match to their record.
type Registration struct {
	Account   Account
	BirthDate string // as the person gave it, YYYY-MM-DD
	Verified  bool   // the email was verified
	CreatedAt time.Time
}

// AddRegistrationTx records the date of birth a self-registered patient
// gave, for staff to match them to their record.
func (s *Store) AddRegistrationTx(ctx context.Context, tx *sql.Tx, orgID, accountID, birthDate string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, "INSERT INTO patient_registrations (org_id, account_id, birth_date, created_at) VALUES ($1, $2, $3, $4)",
		orgID, accountID, birthDate, at.UTC()); err != nil {
		return fmt.Errorf("identity: add registration: %w", err)
	}
	return nil
}

const registrationQuery = `SELECT a.org_id, a.id, a.email, a.display_name, a.role, a.fhir_ref, a.created_at, a.email_verified_at, r.birth_date, r.created_at
	FROM patient_registrations r JOIN accounts a ON a.org_id = r.org_id AND a.id = r.account_id
	WHERE r.org_id = $1 AND a.fhir_ref = ''`

func scanRegistration(row interface{ Scan(...any) error }) (*Registration, error) {
	var r Registration
	var role string
	var verified sql.NullTime
	a := &r.Account
	if err := row.Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &a.CreatedAt, &verified, &r.BirthDate, &r.CreatedAt); err != nil {
		return nil, err
	}
	a.Role, a.CreatedAt, r.CreatedAt, r.Verified = Role(role), a.CreatedAt.UTC(), r.CreatedAt.UTC(), verified.Valid
	return &r, nil
}

// Registrations returns the organisation's self-registered patients not
// yet matched to a record whose email is verified, oldest first.
func (s *Store) Registrations(ctx context.Context, orgID string) ([]Registration, error) {
	rows, err := s.db.Read.QueryContext(ctx, registrationQuery+" AND a.email_verified_at IS NOT NULL ORDER BY r.created_at, a.id", orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: list registrations: %w", err)
	}
	defer rows.Close()
	var out []Registration
	for rows.Next() {
		r, err := scanRegistration(rows)
		if err != nil {
			return nil, fmt.Errorf("identity: list registrations: %w", err)
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// RegistrationTx returns the pending registration of an account, or an
// errs.NotFound.
func (s *Store) RegistrationTx(ctx context.Context, tx *sql.Tx, orgID, accountID string) (*Registration, error) {
	r, err := scanRegistration(tx.QueryRowContext(ctx, registrationQuery+" AND a.id = $2", orgID, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("no registration awaiting a match for account %q", accountID)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read registration: %w", err)
	}
	return r, nil
}

// AccountSummary is an account as listed for operators.
type AccountSummary struct {
	Account
	EmailVerifiedAt time.Time // zero: not verified
}

// List returns the organisation's accounts ordered by email.
func (s *Store) List(ctx context.Context, orgID string) ([]AccountSummary, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT org_id, id, email, display_name, role, fhir_ref, created_at, email_verified_at
		FROM accounts WHERE org_id = $1 ORDER BY email`, orgID)
	if err != nil {
		return nil, fmt.Errorf("identity: list accounts: %w", err)
	}
	defer rows.Close()
	var out []AccountSummary
	for rows.Next() {
		var a AccountSummary
		var role string
		var verified sql.NullTime
		if err := rows.Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &a.CreatedAt, &verified); err != nil {
			return nil, fmt.Errorf("identity: list accounts: %w", err)
		}
		a.Role, a.CreatedAt = Role(role), a.CreatedAt.UTC()
		if verified.Valid {
			a.EmailVerifiedAt = verified.Time.UTC()
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
