// Package tenant keeps the organisations (clinics, labs, hospitals) that
// share one careloop. Every other table that holds data carries the id of
// the organisation it belongs to, and every store method takes it, so one
// organisation can never see another's data.
package tenant

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Organization is one tenant.
type Organization struct {
	ID        string // opaque, assigned at creation
	Slug      string // short unique name used in URLs: lowercase letters, digits, hyphens
	Name      string // display name
	CreatedAt time.Time
}

var slugPattern = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// Store reads and writes organisations.
type Store struct{ db *db.DB }

// NewStore returns a Store on d.
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// CreateTx stores a new organisation in tx, filling in ID and CreatedAt when
// empty. A slug in use is an errs.Conflict; a malformed slug or empty name
// is an errs.Invalid.
func (s *Store) CreateTx(ctx context.Context, tx *sql.Tx, o *Organization) error {
	if !slugPattern.MatchString(o.Slug) {
		return errs.Invalidf("slug", "slug %q must be 1 to 64 lowercase letters, digits or inner hyphens", o.Slug)
	}
	if o.Name == "" {
		return errs.Invalidf("name", "an organisation needs a name")
	}
	if o.ID == "" {
		o.ID = rand.Text()
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now().UTC()
	}
	var exists int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM organizations WHERE slug = $1", o.Slug).Scan(&exists); err != nil {
		return fmt.Errorf("tenant: create %s: %w", o.Slug, err)
	}
	if exists > 0 {
		return errs.E(errs.Conflict, fmt.Sprintf("an organisation with slug %q already exists", o.Slug))
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)",
		o.ID, o.Slug, o.Name, o.CreatedAt); err != nil {
		return fmt.Errorf("tenant: create %s: %w", o.Slug, err)
	}
	return nil
}

// BySlug returns the organisation with the slug, or an errs.NotFound.
func (s *Store) BySlug(ctx context.Context, slug string) (*Organization, error) {
	return s.one(ctx, s.db.Read, "WHERE slug = $1", slug)
}

// ByID returns the organisation with the id, or an errs.NotFound.
func (s *Store) ByID(ctx context.Context, id string) (*Organization, error) {
	return s.one(ctx, s.db.Read, "WHERE id = $1", id)
}

// BySlugTx is BySlug inside tx.
func (s *Store) BySlugTx(ctx context.Context, tx *sql.Tx, slug string) (*Organization, error) {
	return s.one(ctx, tx, "WHERE slug = $1", slug)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) one(ctx context.Context, q queryer, where string, args ...any) (*Organization, error) {
	var o Organization
	err := q.QueryRowContext(ctx, "SELECT id, slug, name, created_at FROM organizations "+where, args...).
		Scan(&o.ID, &o.Slug, &o.Name, &o.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no such organisation")
	}
	if err != nil {
		return nil, fmt.Errorf("tenant: read organisation: %w", err)
	}
	o.CreatedAt = o.CreatedAt.UTC()
	return &o, nil
}

// List returns every organisation, by slug.
func (s *Store) List(ctx context.Context) ([]Organization, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT id, slug, name, created_at FROM organizations ORDER BY slug")
	if err != nil {
		return nil, fmt.Errorf("tenant: list: %w", err)
	}
	defer rows.Close()
	var out []Organization
	for rows.Next() {
		var o Organization
		if err := rows.Scan(&o.ID, &o.Slug, &o.Name, &o.CreatedAt); err != nil {
			return nil, fmt.Errorf("tenant: list: %w", err)
		}
		o.CreatedAt = o.CreatedAt.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}
