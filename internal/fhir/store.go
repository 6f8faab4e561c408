// Package fhir stores FHIR R4 resources per organisation and serves them
// through the FHIR R4 REST API at /fhir.
//
// Resources are kept as received, plus their id and meta.versionId and
// meta.lastUpdated: the current version in fhir_resources and every earlier
// version in fhir_resource_history, so each version's JSON is stored once.
// Every write also rewrites the resource's rows in the typed search index
// tables and announces its changes (an outbox item that keeps the counts
// per type, and the reactions of other modules: OnWrite), all in one
// transaction.
package fhir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
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
	JSON        []byte // with id and meta.versionId/lastUpdated set; empty for a deletion
	// Patients are the ids of the patients in whose compartment this
	// version is, as the Store's compartment function found them when the
	// version was written; meaningful only when CompartmentKnown. Versions
	// written before the Store kept compartments, earlier versions and
	// deletions leave it unknown: read the JSON then.
	Patients         []string
	CompartmentKnown bool
}

// CompartmentFunc returns the ids of the patients in whose compartment a
// resource is; ok is false when it cannot tell.
type CompartmentFunc func(typ, id string, raw []byte) (patients []string, ok bool)

// Ref returns "Type/id".
func (s *Stored) Ref() string { return s.Type + "/" + s.ID }

// IndexEntry is one row of the search index: the value of one search
// parameter of one resource. Kind says which fields matter: "token" (System,
// Code, Display), "string" and "uri" (Value, normalised for strings), "date" (Low, High: Unix ms,
// [Low, High)), "string" also Display (the value as written, for :exact),
// "reference" (TargetType, TargetID, URL), "quantity"
// (Number, System, Code, Unit), "number" (Number). "composite" is one
// value of one component of a composite parameter: Node numbers the node
// of the resource the composite's expression selected, Part the component
// (from 0), and the fields of the component's own kind hold the value.
type IndexEntry struct {
	Param, Kind                  string
	System, Code, Display, Value string
	Low, High                    int64
	TargetType, TargetID, URL    string
	Number                       float64
	Unit                         string
	Node, Part                   int
}

// Indexer computes the search index entries of a resource.
type Indexer interface {
	Index(resourceType string, raw []byte) ([]IndexEntry, error)
}

// JobInserter inserts a job in a transaction; *jobs.Queue is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Store reads and writes resources. It is safe for concurrent use.
type Store struct {
	db      *db.DB
	jobs    JobInserter
	indexer Indexer
	params  *paramIDs
	now     func() time.Time
	stats   statsKeeper
	// onWrite are the other modules' reactions to writes (OnWrite).
	onWrite []func(ctx context.Context, tx *sql.Tx, c ResourcesChangedArgs) error
	// compartment, when set, is kept with every version written
	// (KeepCompartments).
	compartment CompartmentFunc
}

// KeepCompartments makes the store record with each version it writes the
// patients f finds for it, and return them with the current version
// (Stored.Patients), so that readers that need them (the access policy,
// the audit log) do not read the JSON again. Call it before the store is
// used.
func (s *Store) KeepCompartments(f CompartmentFunc) { s.compartment = f }

// patientsColumn is the value of fhir_resources.patients for st: the ids
// separated by spaces, or NULL when unknown.
func patientsColumn(st *Stored) any {
	if !st.CompartmentKnown {
		return nil
	}
	return strings.Join(st.Patients, " ")
}

// setPatients fills st's compartment from a fhir_resources.patients value.
func setPatients(st *Stored, col sql.NullString) {
	if col.Valid {
		st.Patients, st.CompartmentKnown = strings.Fields(col.String), true
	}
}

// OnWrite makes every write transaction also call f with its changes, in
// the same transaction, so that a module reacts to writes without ever
// missing one: f typically enqueues an outbox item for the module's
// consumer. f must be quick, must not keep c, and fails the write when it
// fails. Call OnWrite while wiring, before the Store is used: it is not
// safe to call concurrently with writes.
func (s *Store) OnWrite(f func(ctx context.Context, tx *sql.Tx, c ResourcesChangedArgs) error) {
	s.onWrite = append(s.onWrite, f)
}

// NewStore returns a Store on d that announces changes through jobs and
// indexes resources with ix (nil: no search index).
func NewStore(d *db.DB, jobs JobInserter, ix Indexer) *Store {
	return &Store{db: d, jobs: jobs, indexer: ix, params: newParamIDs(d), now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
}

var (
	typePattern = regexp.MustCompile(`^[A-Z][A-Za-z]{1,63}$`)
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// check validates the envelope of r: type and id well formed and matching
// the JSON. Deeper validation belongs to the API.
func check(r Resource) error {
	if !typePattern.MatchString(r.Type) {
		return errs.Invalidf("resourceType", "%q is not a FHIR resource type", r.Type)
	}
	if !idPattern.MatchString(r.ID) {
		return errs.Invalidf("id", "%q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", r.ID)
	}
	t, id, err := head(r.JSON)
	if err != nil {
		return errs.Invalidf("", "%s/%s is not valid JSON: %v", r.Type, r.ID, errs.MessageOf(err))
	}
	if t != r.Type || id != r.ID {
		return errs.Invalidf("id", "JSON says %s/%s but it was stored as %s/%s", t, id, r.Type, r.ID)
	}
	return nil
}

// changeSet collects what a transaction changed, for the job that follows.
type changeSet struct {
	live map[string]int64 // type -> change of its live resources
	refs []string
}

func (c *changeSet) add(s *Stored, live int64) {
	if c.live == nil {
		c.live = map[string]int64{}
	}
	c.live[s.Type] += live
	c.refs = append(c.refs, fmt.Sprintf("%s/%s/_history/%d", s.Type, s.ID, s.VersionID))
}

// announce enqueues the changes in tx for the counts per type
// (CountsTopic) and hands them to the modules that asked with OnWrite.
func (s *Store) announce(ctx context.Context, tx *sql.Tx, orgID string, c *changeSet) error {
	if len(c.refs) == 0 {
		return nil
	}
	args := ResourcesChangedArgs{OrgID: orgID, Refs: c.refs, Live: c.live}
	for t := range c.live {
		args.Types = append(args.Types, t)
	}
	sort.Strings(args.Types)
	if err := enqueueCounts(ctx, tx, orgID, c.live); err != nil {
		return err
	}
	for _, f := range s.onWrite {
		if err := f(ctx, tx, args); err != nil {
			return fmt.Errorf("fhir: announce changes: %w", err)
		}
	}
	return nil
}

// currentRow is what a write needs to know of a resource's current version.
// A zero currentRow is a resource never stored.
type currentRow struct {
	rk      int64 // the resource's key (fhir_resources.rk), 0 when never stored
	version int64
	deleted bool
}

func (c currentRow) exists() bool { return c.rk != 0 }

// current returns the current version row of a resource in tx, locking it
// on PostgreSQL.
func (s *Store) current(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (currentRow, error) {
	q := "SELECT rk, version_id, deleted FROM fhir_resources WHERE org_id = $1 AND resource_type = $2 AND id = $3"
	if s.db.Dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	var c currentRow
	err := tx.QueryRowContext(ctx, q, orgID, typ, id).Scan(&c.rk, &c.version, &c.deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return currentRow{}, nil
	}
	if err != nil {
		return currentRow{}, fmt.Errorf("fhir: read %s/%s: %w", typ, id, err)
	}
	return c, nil
}

func isUniqueViolation(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint") || strings.Contains(m, "SQLSTATE 23505") || strings.Contains(m, "duplicate key")
}

// indexTables are the search index tables, one per kind.
var indexTables = []string{"fhir_idx_token", "fhir_idx_string", "fhir_idx_date", "fhir_idx_reference", "fhir_idx_quantity", "fhir_idx_number", "fhir_idx_uri", "fhir_idx_composite"}

// indexColumns are the value columns of each index table, after res (the
// resource's rk), resource_type and param.
var indexColumns = map[string][]string{
	"token":     {"system", "code", "display"},
	"string":    {"value", "exact"},
	"uri":       {"value"},
	"date":      {"low", "high"},
	"reference": {"target_type", "target_id", "url"},
	"quantity":  {"value", "system", "code", "unit"},
	"number":    {"value"},
	"composite": {"node", "part", "system", "code", "display", "value", "low", "high", "num", "unit", "target_type", "target_id", "url"},
}

func (e *IndexEntry) values() []any {
	switch e.Kind {
	case "token":
		return []any{e.System, e.Code, e.Display}
	case "string":
		return []any{e.Value, e.Display}
	case "uri":
		return []any{e.Value}
	case "date":
		return []any{e.Low, e.High}
	case "reference":
		return []any{e.TargetType, e.TargetID, e.URL}
	case "quantity":
		return []any{e.Number, e.System, e.Code, e.Unit}
	case "number":
		return []any{e.Number}
	case "composite":
		return []any{e.Node, e.Part, e.System, e.Code, e.Display, e.Value, e.Low, e.High, e.Number, e.Unit, e.TargetType, e.TargetID, e.URL}
	}
	return nil
}

// queryer is a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Read returns the current version of a resource of the organisation: an
// errs.NotFound when it never existed in this organisation (also when it
// belongs to another), an errs.Gone when it was deleted.
func (s *Store) Read(ctx context.Context, orgID, typ, id string) (*Stored, error) {
	return s.read(ctx, s.db.Read, orgID, typ, id)
}

// ReadTx is Read inside tx.
func (s *Store) ReadTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*Stored, error) {
	return s.read(ctx, tx, orgID, typ, id)
}

func (s *Store) read(ctx context.Context, q queryer, orgID, typ, id string) (*Stored, error) {
	st := Stored{Type: typ, ID: id}
	var content string
	var patients sql.NullString
	err := q.QueryRowContext(ctx, `SELECT version_id, last_updated, deleted, content, patients FROM fhir_resources
		WHERE org_id = $1 AND resource_type = $2 AND id = $3`, orgID, typ, id).
		Scan(&st.VersionID, &st.LastUpdated, &st.Deleted, &content, &patients)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("%s/%s is not known", typ, id)
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: read %s/%s: %w", typ, id, err)
	}
	st.LastUpdated = st.LastUpdated.UTC()
	st.JSON = []byte(content)
	if st.Deleted {
		return &st, errs.E(errs.Gone, fmt.Sprintf("%s/%s was deleted", typ, id))
	}
	setPatients(&st, patients)
	return &st, nil
}

// VRead returns one version of a resource, or errs.NotFound.
func (s *Store) VRead(ctx context.Context, orgID, typ, id string, version int64) (*Stored, error) {
	st := Stored{Type: typ, ID: id, VersionID: version}
	var content string
	err := s.db.Read.QueryRowContext(ctx, `SELECT last_updated, deleted, content FROM fhir_resources
		WHERE org_id = $1 AND resource_type = $2 AND id = $3 AND version_id = $4
		UNION ALL SELECT last_updated, deleted, content FROM fhir_resource_history
		WHERE org_id = $1 AND resource_type = $2 AND id = $3 AND version_id = $4`, orgID, typ, id, version).
		Scan(&st.LastUpdated, &st.Deleted, &content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("%s/%s has no version %d", typ, id, version)
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: vread %s/%s/%d: %w", typ, id, version, err)
	}
	st.LastUpdated = st.LastUpdated.UTC()
	st.JSON = []byte(content)
	if st.Deleted {
		return &st, errs.E(errs.Gone, fmt.Sprintf("version %d of %s/%s is a deletion", version, typ, id))
	}
	return &st, nil
}

// HistoryQuery selects versions for History: of one resource (Type and ID),
// of a type (Type), or of the whole organisation.
type HistoryQuery struct {
	Type, ID string
	Since    time.Time // only versions at or after, when not zero
	Before   *Cursor   // page: versions strictly older than the cursor
	Count    int       // page size
}

// Cursor marks a position in history: a version's time and identity.
type Cursor struct {
	Time    time.Time
	Type    string
	ID      string
	Version int64
}

// History returns versions newest first, at most q.Count, and whether more
// follow.
func (s *Store) History(ctx context.Context, orgID string, q HistoryQuery) ([]Stored, bool, error) {
	where := []string{"org_id = $1"}
	args := []any{orgID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if q.Type != "" {
		add("resource_type = ?", q.Type)
	}
	if q.ID != "" {
		add("id = ?", q.ID)
	}
	if !q.Since.IsZero() {
		add("last_updated >= ?", q.Since.UTC())
	}
	if c := q.Before; c != nil {
		args = append(args, c.Time.UTC(), c.Type, c.ID, c.Version)
		n := len(args)
		where = append(where, fmt.Sprintf("(last_updated < $%d OR (last_updated = $%d AND (resource_type, id, version_id) < ($%d, $%d, $%d)))", n-3, n-3, n-2, n-1, n))
	}
	count := q.Count
	if count <= 0 {
		count = 50
	}
	// Current versions and earlier ones live in two tables; both engines
	// merge the two index-ordered scans rather than sort everything.
	cond := strings.Join(where, " AND ")
	rows, err := s.db.Read.QueryContext(ctx, `SELECT resource_type, id, version_id, last_updated, deleted, content FROM (
		SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir_resources WHERE `+cond+`
		UNION ALL
		SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir_resource_history WHERE `+cond+`
		) v`+fmt.Sprintf(" ORDER BY last_updated DESC, resource_type DESC, id DESC, version_id DESC LIMIT %d", count+1), args...)
	if err != nil {
		return nil, false, fmt.Errorf("fhir: history: %w", err)
	}
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var st Stored
		var content string
		if err := rows.Scan(&st.Type, &st.ID, &st.VersionID, &st.LastUpdated, &st.Deleted, &content); err != nil {
			return nil, false, fmt.Errorf("fhir: history: %w", err)
		}
		st.LastUpdated = st.LastUpdated.UTC()
		st.JSON = []byte(content)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("fhir: history: %w", err)
	}
	more := len(out) > count
	if more {
		out = out[:count]
	}
	return out, more, nil
}

// Counts returns the number of live resources of each type of the
// organisation, as last tallied from the writes' outbox items (CountsTopic).
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
