// Package fhir stores FHIR R4 resources per organisation and serves them
// through the FHIR R4 REST API at /fhir.
//
// Resources are kept as received, plus their id and meta.versionId and
// meta.lastUpdated, in a versioned table: the current version in
// fhir_resources and every version, current included, in
// fhir_resource_history. Every write also rewrites the resource's rows in
// the typed search index tables and inserts a fhir.resources_changed job,
// all in one transaction.
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
}

// Ref returns "Type/id".
func (s *Stored) Ref() string { return s.Type + "/" + s.ID }

// IndexEntry is one row of the search index: the value of one search
// parameter of one resource. Kind says which fields matter: "token" (System,
// Code, Display), "string" and "uri" (Value, normalised for strings), "date" (Low, High: Unix ms,
// [Low, High)), "string" also Display (the value as written, for :exact),
// "reference" (TargetType, TargetID, URL), "quantity"
// (Number, System, Code, Unit), "number" (Number).
type IndexEntry struct {
	Param, Kind                  string
	System, Code, Display, Value string
	Low, High                    int64
	TargetType, TargetID, URL    string
	Number                       float64
	Unit                         string
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
	now     func() time.Time
	stats   statsKeeper
}

// NewStore returns a Store on d that announces changes through jobs and
// indexes resources with ix (nil: no search index).
func NewStore(d *db.DB, jobs JobInserter, ix Indexer) *Store {
	return &Store{db: d, jobs: jobs, indexer: ix, now: func() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }}
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
	types map[string]bool
	refs  []string
}

func (c *changeSet) add(s *Stored) {
	if c.types == nil {
		c.types = map[string]bool{}
	}
	c.types[s.Type] = true
	c.refs = append(c.refs, fmt.Sprintf("%s/%s/_history/%d", s.Type, s.ID, s.VersionID))
}

// announce inserts one fhir.resources_changed job for the changes in tx.
func (s *Store) announce(ctx context.Context, tx *sql.Tx, orgID string, c *changeSet) error {
	if len(c.refs) == 0 {
		return nil
	}
	args := ResourcesChangedArgs{OrgID: orgID, Refs: c.refs}
	for t := range c.types {
		args.Types = append(args.Types, t)
	}
	sort.Strings(args.Types)
	if _, err := s.jobs.InsertTx(ctx, tx, args, nil); err != nil {
		return fmt.Errorf("fhir: announce changes: %w", err)
	}
	return nil
}

// current returns the current version row of a resource in tx, locking it
// on PostgreSQL; ok is false when the resource was never stored.
func (s *Store) current(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (version int64, deleted, ok bool, err error) {
	q := "SELECT version_id, deleted FROM fhir_resources WHERE org_id = $1 AND resource_type = $2 AND id = $3"
	if s.db.Dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	err = tx.QueryRowContext(ctx, q, orgID, typ, id).Scan(&version, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, false, nil
	}
	if err != nil {
		return 0, false, false, fmt.Errorf("fhir: read %s/%s: %w", typ, id, err)
	}
	return version, deleted, true, nil
}

// write stores version of a resource: raw is stamped with id and meta, the
// current row replaced, a history row added and the index rewritten.
func (s *Store) write(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, version int64, exists, deleted bool) (*Stored, error) {
	now := s.now()
	var content []byte
	if !deleted {
		var err error
		if content, err = stamp(raw, id, version, now); err != nil {
			return nil, err
		}
	}
	var err error
	if exists {
		_, err = tx.ExecContext(ctx, `UPDATE fhir_resources SET version_id = $4, last_updated = $5, deleted = $6, content = $7
			WHERE org_id = $1 AND resource_type = $2 AND id = $3`, orgID, typ, id, version, now, deleted, string(content))
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO fhir_resources (org_id, resource_type, id, version_id, last_updated, deleted, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, orgID, typ, id, version, now, deleted, string(content))
	}
	if err != nil {
		return nil, fmt.Errorf("fhir: store %s/%s: %w", typ, id, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_resource_history (org_id, resource_type, id, version_id, last_updated, deleted, content)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, orgID, typ, id, version, now, deleted, string(content)); err != nil {
		if isUniqueViolation(err) {
			return nil, errs.Wrap(err, errs.Conflict, fmt.Sprintf("%s/%s was changed at the same time by another request; retry", typ, id))
		}
		return nil, fmt.Errorf("fhir: store history of %s/%s: %w", typ, id, err)
	}
	if err := s.reindex(ctx, tx, orgID, typ, id, content, exists); err != nil {
		return nil, err
	}
	return &Stored{Type: typ, ID: id, VersionID: version, LastUpdated: now, Deleted: deleted, JSON: content}, nil
}

func isUniqueViolation(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint") || strings.Contains(m, "SQLSTATE 23505") || strings.Contains(m, "duplicate key")
}

// indexTables are the search index tables, one per kind.
var indexTables = []string{"fhir_idx_token", "fhir_idx_string", "fhir_idx_date", "fhir_idx_reference", "fhir_idx_quantity", "fhir_idx_number", "fhir_idx_uri"}

// reindex replaces the index rows of a resource with those of content
// (none when content is empty: a deletion).
func (s *Store) reindex(ctx context.Context, tx *sql.Tx, orgID, typ, id string, content []byte, existed bool) error {
	if s.indexer == nil {
		return nil
	}
	if existed {
		for _, t := range indexTables {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE org_id = $1 AND resource_type = $2 AND id = $3", orgID, typ, id); err != nil {
				return fmt.Errorf("fhir: unindex %s/%s: %w", typ, id, err)
			}
		}
	}
	if len(content) == 0 {
		return nil
	}
	entries, err := s.indexer.Index(typ, content)
	if err != nil {
		return err
	}
	return insertIndex(ctx, tx, orgID, typ, id, entries)
}

// indexColumns are the value columns of each index table, after org_id,
// resource_type, id and param.
var indexColumns = map[string][]string{
	"token":     {"system", "code", "display"},
	"string":    {"value", "exact"},
	"uri":       {"value"},
	"date":      {"low", "high"},
	"reference": {"target_type", "target_id", "url"},
	"quantity":  {"value", "system", "code", "unit"},
	"number":    {"value"},
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
	}
	return nil
}

// maxRowsPerInsert keeps a multi-row INSERT well under both engines'
// parameter limits.
const maxRowsPerInsert = 200

// insertIndex writes entries with one multi-row INSERT per table (and per
// 200 rows): a resource has dozens of entries, and statements, not rows,
// are what costs.
func insertIndex(ctx context.Context, tx *sql.Tx, orgID, typ, id string, entries []IndexEntry) error {
	byKind := map[string][]*IndexEntry{}
	for i := range entries {
		e := &entries[i]
		if _, ok := indexColumns[e.Kind]; !ok {
			return fmt.Errorf("fhir: index %s/%s: unknown index kind %q", typ, id, e.Kind)
		}
		byKind[e.Kind] = append(byKind[e.Kind], e)
	}
	var b strings.Builder
	for _, kind := range []string{"token", "string", "uri", "date", "reference", "quantity", "number"} {
		rows := byKind[kind]
		cols := indexColumns[kind]
		for len(rows) > 0 {
			n := min(len(rows), maxRowsPerInsert)
			b.Reset()
			b.WriteString("INSERT INTO fhir_idx_")
			b.WriteString(kind)
			b.WriteString(" (org_id, resource_type, id, param, ")
			b.WriteString(strings.Join(cols, ", "))
			b.WriteString(") VALUES ")
			args := make([]any, 0, 3+n*(1+len(cols)))
			args = append(args, orgID, typ, id)
			for r := 0; r < n; r++ {
				if r > 0 {
					b.WriteString(", ")
				}
				b.WriteString("($1, $2, $3")
				args = append(args, rows[r].Param)
				fmt.Fprintf(&b, ", $%d", len(args))
				for _, v := range rows[r].values() {
					args = append(args, v)
					fmt.Fprintf(&b, ", $%d", len(args))
				}
				b.WriteByte(')')
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("fhir: index %s/%s: %w", typ, id, err)
			}
			rows = rows[n:]
		}
	}
	return nil
}

// CreateTx stores a new resource in tx under id, or a new random id when id
// is empty, and announces it. An id in use is an errs.Conflict.
func (s *Store) CreateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte) (*Stored, error) {
	var c changeSet
	st, err := s.createTx(ctx, tx, orgID, typ, id, raw, &c)
	if err != nil {
		return nil, err
	}
	return st, s.announce(ctx, tx, orgID, &c)
}

// createTx is CreateTx recording the change in c instead of announcing it.
func (s *Store) createTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, c *changeSet) (*Stored, error) {
	if id == "" {
		id = NewID()
	}
	version, deleted, exists, err := s.current(ctx, tx, orgID, typ, id)
	if err != nil {
		return nil, err
	}
	if exists && !deleted {
		return nil, errs.Conflictf("%s/%s already exists", typ, id)
	}
	st, err := s.write(ctx, tx, orgID, typ, id, raw, version+1, exists, false)
	if err != nil {
		return nil, err
	}
	c.add(st)
	return st, nil
}

// UpdateTx stores raw as the next version of typ/id in tx, creating the
// resource when it does not exist (created is then true). When ifMatch is
// not zero the current version must equal it, else errs.PreconditionFailed.
func (s *Store) UpdateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, ifMatch int64) (st *Stored, created bool, err error) {
	var c changeSet
	st, created, err = s.updateTx(ctx, tx, orgID, typ, id, raw, ifMatch, &c)
	if err != nil {
		return nil, false, err
	}
	return st, created, s.announce(ctx, tx, orgID, &c)
}

// updateTx is UpdateTx recording the change in c instead of announcing it.
func (s *Store) updateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, ifMatch int64, c *changeSet) (st *Stored, created bool, err error) {
	version, deleted, exists, err := s.current(ctx, tx, orgID, typ, id)
	if err != nil {
		return nil, false, err
	}
	if ifMatch != 0 && (!exists || version != ifMatch) {
		return nil, false, errs.E(errs.PreconditionFailed, fmt.Sprintf("%s/%s is at version %d, not %d (If-Match)", typ, id, version, ifMatch))
	}
	st, err = s.write(ctx, tx, orgID, typ, id, raw, version+1, exists, false)
	if err != nil {
		return nil, false, err
	}
	c.add(st)
	return st, !exists || deleted, nil
}

// DeleteTx marks typ/id deleted in tx with a new version, keeping its
// history. Deleting a missing or already deleted resource changes nothing
// and returns nil.
func (s *Store) DeleteTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*Stored, error) {
	var c changeSet
	st, err := s.deleteTx(ctx, tx, orgID, typ, id, &c)
	if err != nil {
		return nil, err
	}
	return st, s.announce(ctx, tx, orgID, &c)
}

// deleteTx is DeleteTx recording the change in c instead of announcing it.
func (s *Store) deleteTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, c *changeSet) (*Stored, error) {
	version, deleted, exists, err := s.current(ctx, tx, orgID, typ, id)
	if err != nil || !exists || deleted {
		return nil, err
	}
	st, err := s.write(ctx, tx, orgID, typ, id, nil, version+1, true, true)
	if err != nil {
		return nil, err
	}
	c.add(st)
	return st, nil
}

// PutTx stores rs for the organisation in tx, each as the next version of
// its id (version 1 when new), and inserts one fhir.resources_changed job
// for the batch. Nothing is stored if any resource is invalid.
func (s *Store) PutTx(ctx context.Context, tx *sql.Tx, orgID string, rs []Resource) ([]Stored, error) {
	for _, r := range rs {
		if err := check(r); err != nil {
			return nil, err
		}
	}
	out := make([]Stored, 0, len(rs))
	var c changeSet
	for _, r := range rs {
		version, _, exists, err := s.current(ctx, tx, orgID, r.Type, r.ID)
		if err != nil {
			return nil, err
		}
		st, err := s.write(ctx, tx, orgID, r.Type, r.ID, r.JSON, version+1, exists, false)
		if err != nil {
			return nil, err
		}
		c.add(st)
		out = append(out, *st)
	}
	return out, s.announce(ctx, tx, orgID, &c)
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
	err := q.QueryRowContext(ctx, `SELECT version_id, last_updated, deleted, content FROM fhir_resources
		WHERE org_id = $1 AND resource_type = $2 AND id = $3`, orgID, typ, id).
		Scan(&st.VersionID, &st.LastUpdated, &st.Deleted, &content)
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
	return &st, nil
}

// VRead returns one version of a resource, or errs.NotFound.
func (s *Store) VRead(ctx context.Context, orgID, typ, id string, version int64) (*Stored, error) {
	st := Stored{Type: typ, ID: id, VersionID: version}
	var content string
	err := s.db.Read.QueryRowContext(ctx, `SELECT last_updated, deleted, content FROM fhir_resource_history
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
	rows, err := s.db.Read.QueryContext(ctx, `SELECT resource_type, id, version_id, last_updated, deleted, content FROM fhir_resource_history
		WHERE `+strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY last_updated DESC, resource_type DESC, id DESC, version_id DESC LIMIT %d", count+1), args...)
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
