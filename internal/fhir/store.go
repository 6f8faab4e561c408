// Package fhir stores FHIR R4 resources per organisation, versioned, with
// their JSON kept exactly as received.
//
// This is the storage core the FHIR REST API builds on. Every write stores
// the new current version and appends it to the history in one transaction,
// together with a fhir.resources_changed job that later work (counts now,
// result journeys next) reacts to.
package fhir

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Resource is a resource to store: its type, logical id and JSON.
type Resource struct {
	Type string
	ID   string
	JSON []byte
}

// Stored is a resource version as stored.
type Stored struct {
	Type        string
	ID          string
	VersionID   int64
	LastUpdated time.Time
	Deleted     bool
	JSON        []byte // as received; meta.versionId and meta.lastUpdated are in the fields above
}

// JobInserter inserts a job in a transaction; *jobs.Queue is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Store reads and writes resources.
type Store struct {
	db   *db.DB
	jobs JobInserter
	now  func() time.Time
}

// NewStore returns a Store on d that announces changes through jobs.
func NewStore(d *db.DB, jobs JobInserter) *Store {
	return &Store{db: d, jobs: jobs, now: func() time.Time { return time.Now().UTC() }}
}

var (
	typePattern = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// check validates the envelope of r: type and id well formed and matching
// the JSON. Deeper validation belongs to the FHIR API.
func check(r Resource) error {
	if !typePattern.MatchString(r.Type) {
		return errs.Invalidf("resourceType", "%q is not a FHIR resource type", r.Type)
	}
	if !idPattern.MatchString(r.ID) {
		return errs.Invalidf("id", "%q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", r.ID)
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(r.JSON, &head); err != nil {
		return errs.Invalidf("", "%s/%s is not valid JSON: %v", r.Type, r.ID, err)
	}
	if head.ResourceType != r.Type || head.ID != r.ID {
		return errs.Invalidf("id", "JSON says %s/%s but it was stored as %s/%s", head.ResourceType, head.ID, r.Type, r.ID)
	}
	return nil
}

// PutTx stores rs for the organisation in tx: a resource not seen before
// gets version 1, an existing one its next version. It inserts one
// fhir.resources_changed job for the whole batch in the same transaction.
// It returns the stored versions in the order of rs. Nothing is stored if
// any resource is invalid.
func (s *Store) PutTx(ctx context.Context, tx *sql.Tx, orgID string, rs []Resource) ([]Stored, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	for _, r := range rs {
		if err := check(r); err != nil {
			return nil, err
		}
	}
	now := s.now()
	out := make([]Stored, 0, len(rs))
	types := map[string]bool{}
	for _, r := range rs {
		var version int64
		err := tx.QueryRowContext(ctx, "SELECT version_id FROM fhir_resources WHERE org_id = $1 AND resource_type = $2 AND id = $3",
			orgID, r.Type, r.ID).Scan(&version)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			version = 1
			_, err = tx.ExecContext(ctx, `INSERT INTO fhir_resources (org_id, resource_type, id, version_id, last_updated, deleted, content)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, orgID, r.Type, r.ID, version, now, false, string(r.JSON))
		case err == nil:
			version++
			_, err = tx.ExecContext(ctx, `UPDATE fhir_resources SET version_id = $4, last_updated = $5, deleted = $6, content = $7
				WHERE org_id = $1 AND resource_type = $2 AND id = $3`, orgID, r.Type, r.ID, version, now, false, string(r.JSON))
		}
		if err != nil {
			return nil, fmt.Errorf("fhir: store %s/%s: %w", r.Type, r.ID, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_resource_history (org_id, resource_type, id, version_id, last_updated, deleted, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, orgID, r.Type, r.ID, version, now, false, string(r.JSON)); err != nil {
			return nil, fmt.Errorf("fhir: store history of %s/%s: %w", r.Type, r.ID, err)
		}
		types[r.Type] = true
		out = append(out, Stored{Type: r.Type, ID: r.ID, VersionID: version, LastUpdated: now, JSON: r.JSON})
	}
	changed := ResourcesChangedArgs{OrgID: orgID}
	for t := range types {
		changed.Types = append(changed.Types, t)
	}
	sort.Strings(changed.Types)
	if _, err := s.jobs.InsertTx(ctx, tx, changed, nil); err != nil {
		return nil, fmt.Errorf("fhir: announce changes: %w", err)
	}
	return out, nil
}

// Read returns the current version of a resource of the organisation, or an
// errs.NotFound, also when the resource belongs to another organisation.
func (s *Store) Read(ctx context.Context, orgID, resourceType, id string) (*Stored, error) {
	st := Stored{Type: resourceType, ID: id}
	var content string
	err := s.db.Read.QueryRowContext(ctx, `SELECT version_id, last_updated, deleted, content FROM fhir_resources
		WHERE org_id = $1 AND resource_type = $2 AND id = $3`, orgID, resourceType, id).
		Scan(&st.VersionID, &st.LastUpdated, &st.Deleted, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("%s/%s is not known", resourceType, id)
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: read %s/%s: %w", resourceType, id, err)
	}
	st.LastUpdated = st.LastUpdated.UTC()
	st.JSON = []byte(content)
	return &st, nil
}

// Counts returns the number of live resources of each type of the
// organisation, as last tallied by the fhir.resources_changed job.
func (s *Store) Counts(ctx context.Context, orgID string) (map[string]int64, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT resource_type, live FROM fhir_type_counts WHERE org_id = $1", orgID)
	if err != nil {
		return nil, fmt.Errorf("fhir: counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("fhir: counts: %w", err)
		}
		out[t] = n
	}
	return out, rows.Err()
}
