package identity

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/ttlcache"
)

// Role is what an account may do in its organisation.
type Role string

// The roles of careloop.
const (
	RolePatient     Role = "patient"
	RoleCaregiver   Role = "caregiver"
	RoleClinician   Role = "clinician"
	RoleNurse       Role = "nurse"
	RoleTechnician  Role = "technician"
	RoleCoordinator Role = "care-coordinator"
	RoleCompliance  Role = "compliance-officer"
	RoleAdmin       Role = "org-admin"
)

var roles = map[Role]bool{RolePatient: true, RoleCaregiver: true, RoleClinician: true, RoleNurse: true,
	RoleTechnician: true, RoleCoordinator: true, RoleCompliance: true, RoleAdmin: true}

// Account is a person who signs in to one organisation.
type Account struct {
	OrgID       string
	ID          string
	Email       string // lower case
	DisplayName string
	Role        Role
	FHIRRef     string // Patient/… or Practitioner/… this person is, if any
	CreatedAt   time.Time
}

// Store reads and writes accounts and API keys.
type Store struct {
	db      *db.DB
	apiKeys *ttlcache.Cache[string, *APIKey] // by token hash
	// Audit, if not nil, records password and email changes and links to
	// patients' records, in the change's transaction. Set it before use.
	Audit SecurityRecorder
}

// NewStore returns a Store on d.
func NewStore(d *db.DB) *Store {
	return &Store{db: d, apiKeys: ttlcache.New[string, *APIKey](10000)}
}

// CreateTx stores a in tx with the given password hash, filling in ID and
// CreatedAt when empty. An email already used in the organisation is an
// errs.Conflict; a malformed email or unknown role an errs.Invalid.
func (s *Store) CreateTx(ctx context.Context, tx *sql.Tx, a *Account, passwordHash string) error {
	addr, err := mail.ParseAddress(a.Email)
	if err != nil || addr.Address != a.Email {
		return errs.Invalidf("email", "%q is not an email address", a.Email)
	}
	a.Email = strings.ToLower(a.Email)
	if !roles[a.Role] {
		return errs.Invalidf("role", "%q is not a role", a.Role)
	}
	if a.ID == "" {
		a.ID = rand.Text()
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now().UTC()
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM accounts WHERE org_id = $1 AND email = $2", a.OrgID, a.Email).Scan(&n); err != nil {
		return fmt.Errorf("identity: create account: %w", err)
	}
	if n > 0 {
		return errs.E(errs.Conflict, "an account with this email already exists")
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (org_id, id, email, display_name, role, fhir_ref, password_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.OrgID, a.ID, a.Email, a.DisplayName, string(a.Role), a.FHIRRef, passwordHash, a.CreatedAt); err != nil {
		return fmt.Errorf("identity: create account: %w", err)
	}
	return nil
}

// ByEmail returns the organisation's account with the email and its
// password hash, or an errs.NotFound.
func (s *Store) ByEmail(ctx context.Context, orgID, email string) (*Account, string, error) {
	var a Account
	var role, hash string
	err := s.db.Read.QueryRowContext(ctx, `SELECT org_id, id, email, display_name, role, fhir_ref, password_hash, created_at
		FROM accounts WHERE org_id = $1 AND email = $2`, orgID, strings.ToLower(email)).
		Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &hash, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", notFoundAccount()
	}
	if err != nil {
		return nil, "", fmt.Errorf("identity: read account: %w", err)
	}
	a.Role = Role(role)
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, hash, nil
}

func notFoundAccount() error { return errs.NotFoundf("no such account") }
