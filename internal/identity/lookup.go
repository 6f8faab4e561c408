package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ByID returns the organisation's account with the id, or an errs.NotFound.
func (s *Store) ByID(ctx context.Context, orgID, id string) (*Account, error) {
	var a Account
	var role string
	err := s.db.Read.QueryRowContext(ctx, `SELECT org_id, id, email, display_name, role, fhir_ref, created_at
		FROM accounts WHERE org_id = $1 AND id = $2`, orgID, id).
		Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundAccount()
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read account: %w", err)
	}
	a.Role = Role(role)
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}

// ByFHIRRef returns the organisation's account linked to the record
// ("Patient/id"), or an errs.NotFound. A record has at most one account.
func (s *Store) ByFHIRRef(ctx context.Context, orgID, ref string) (*Account, error) {
	var a Account
	var role string
	err := s.db.Read.QueryRowContext(ctx, `SELECT org_id, id, email, display_name, role, fhir_ref, created_at
		FROM accounts WHERE org_id = $1 AND fhir_ref = $2 AND fhir_ref <> ''`, orgID, ref).
		Scan(&a.OrgID, &a.ID, &a.Email, &a.DisplayName, &role, &a.FHIRRef, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFoundAccount()
	}
	if err != nil {
		return nil, fmt.Errorf("identity: read the account of %s: %w", ref, err)
	}
	a.Role = Role(role)
	a.CreatedAt = a.CreatedAt.UTC()
	return &a, nil
}
