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
