package fhir

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// A writer collects the resource versions of one database transaction and
// stores them together: new resources with one multi-row INSERT per few
// dozen resources, and the index rows of all of them with one multi-row
// INSERT per table per few hundred rows. Statements, not rows, are what
// costs on both engines.
//
// Versions are written when flush is called; until then reads in the same
// transaction do not see them. Callers flush before any read that could
// (conditional searches), and a transaction never writes the same resource
// twice, so nothing else can observe the difference.
type writer struct {
	s       *Store
	orgID   string
	todo    []pending
	changes changeSet
}

// pending is a version waiting for flush.
type pending struct {
	st *Stored
	// rk is the resource's key. Until flush, 0 marks a new resource, to be
	// inserted (and given its key); otherwise its current row is moved to
	// history and overwritten.
	rk      int64
	entries []IndexEntry // search index rows; nil for a deletion
	where   int          // bundle entry, for errors; -1 outside bundles
}

func (s *Store) writer(orgID string) *writer { return &writer{s: s, orgID: orgID} }

// stampFor returns the prepared stampable when it was made for id.
func (p *prepared) stampFor(id string) *stampable {
	if p == nil || p.stampID != id {
		return nil
	}
	return p.stamp
}

// prepared is what can be computed from a resource before its transaction:
// its search index entries, and the resource ready to be stamped with its
// version and time (for the id stampID).
type prepared struct {
	entries []IndexEntry
	done    bool
	stamp   *stampable
	stampID string
}

// add stamps raw (nil for a deletion) as the version after cur of typ/id
// and queues it. p carries index entries computed earlier; when p is nil
// they are computed here.
// live is the change of the number of live resources of typ: +1 for a new
// resource or one created again after its deletion, -1 for a deletion.
func (w *writer) add(typ, id string, raw []byte, cur currentRow, live int64, p *prepared, where int) (*Stored, error) {
	now := w.s.now()
	st := &Stored{Type: typ, ID: id, VersionID: cur.version + 1, LastUpdated: now, Deleted: raw == nil}
	pd := pending{st: st, rk: cur.rk, where: where}
	if raw != nil {
		sp := p.stampFor(id)
		if sp == nil {
			var err error
			if sp, err = prepareStamp(raw, id); err != nil {
				return nil, err
			}
		}
		st.JSON = sp.stamp(st.VersionID, now)
		if w.s.compartment != nil {
			st.Patients, st.CompartmentKnown = w.s.compartment(typ, id, raw)
		}
		if p != nil && p.done {
			pd.entries = p.entries
		} else if w.s.indexer != nil {
			var err error
			if pd.entries, err = w.s.indexer.Index(typ, st.JSON); err != nil {
				return nil, err
			}
		}
	}
	w.todo = append(w.todo, pd)
	w.changes.add(st, live)
	return st, nil
}

// create queues a new resource under id, or under a new id when id is
// empty. fresh says that id was just made by NewID and so cannot be in use,
// which saves a lookup. An id in use is an errs.Conflict.
func (w *writer) create(ctx context.Context, tx *sql.Tx, typ, id string, fresh bool, raw []byte, p *prepared, where int) (*Stored, error) {
	if id == "" {
		id, fresh = NewID(), true
	}
	if fresh {
		return w.add(typ, id, raw, currentRow{}, 1, p, where)
	}
	cur, err := w.s.current(ctx, tx, w.orgID, typ, id)
	if err != nil {
		return nil, err
	}
	if cur.exists() && !cur.deleted {
		return nil, errs.Conflictf("%s/%s already exists", typ, id)
	}
	return w.add(typ, id, raw, cur, 1, p, where)
}

// update queues raw as the next version of typ/id, creating the resource
// when it does not exist (created is then true). When ifMatch is not zero
// the current version must equal it, else errs.PreconditionFailed.
func (w *writer) update(ctx context.Context, tx *sql.Tx, typ, id string, raw []byte, ifMatch int64, p *prepared, where int) (st *Stored, created bool, err error) {
	cur, err := w.s.current(ctx, tx, w.orgID, typ, id)
	if err != nil {
		return nil, false, err
	}
	if ifMatch != 0 && (!cur.exists() || cur.version != ifMatch) {
		return nil, false, errs.E(errs.PreconditionFailed, fmt.Sprintf("%s/%s is at version %d, not %d (If-Match)", typ, id, cur.version, ifMatch))
	}
	created = !cur.exists() || cur.deleted
	var live int64
	if created {
		live = 1
	}
	st, err = w.add(typ, id, raw, cur, live, p, where)
	if err != nil {
		return nil, false, err
	}
	return st, created, nil
}

// delete queues a deletion of typ/id: a new version marked deleted. A
// missing or already deleted resource changes nothing (nil, nil).
func (w *writer) delete(ctx context.Context, tx *sql.Tx, typ, id string, where int) (*Stored, error) {
	cur, err := w.s.current(ctx, tx, w.orgID, typ, id)
	if err != nil || !cur.exists() || cur.deleted {
		return nil, err
	}
	return w.add(typ, id, nil, cur, -1, nil, where)
}

// resourcesPerInsert is the most new resources one INSERT stores; with
// eight columns each that stays far below both engines' parameter limits.
const resourcesPerInsert = 64

// rowsPerInsert are the sizes of the multi-row INSERTs of index rows, tried
// largest first. A few fixed sizes keep the number of distinct statements,
// which are prepared and cached per connection, small.
var rowsPerInsert = []int{256, 64, 16, 4, 1}

// flush writes the queued versions in tx.
func (w *writer) flush(ctx context.Context, tx *sql.Tx) error {
	if len(w.todo) == 0 {
		return nil
	}
	todo := w.todo
	w.todo = nil
	var fresh []*pending
	for i := range todo {
		p := &todo[i]
		if p.rk == 0 {
			fresh = append(fresh, p)
			continue
		}
		if err := w.replace(ctx, tx, p); err != nil {
			return p.wrap(err)
		}
	}
	for len(fresh) > 0 {
		n := min(len(fresh), resourcesPerInsert)
		if err := w.insertResources(ctx, tx, fresh[:n]); err != nil {
			return err
		}
		fresh = fresh[n:]
	}
	return w.insertIndex(ctx, tx, todo)
}

// wrap attributes err to the bundle entry of p.
func (p pending) wrap(err error) error {
	if p.where < 0 {
		return err
	}
	return withEntry(err, p.where)
}

// replace moves the current row of p's resource to history, overwrites it
// with p's version and removes its index rows.
func (w *writer) replace(ctx context.Context, tx *sql.Tx, p *pending) error {
	st := p.st
	if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_resource_history (org_id, resource_type, id, version_id, last_updated, deleted, content)
		SELECT org_id, resource_type, id, version_id, last_updated, deleted, content FROM fhir_resources
		WHERE rk = $1`, p.rk); err != nil {
		if isUniqueViolation(err) {
			return errs.Wrap(err, errs.Conflict, fmt.Sprintf("%s was changed at the same time by another request; retry", st.Ref()))
		}
		return fmt.Errorf("fhir: keep history of %s: %w", st.Ref(), err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE fhir_resources SET version_id = $2, last_updated = $3, deleted = $4, content = $5, patients = $7
		WHERE rk = $1 AND version_id = $6`,
		p.rk, st.VersionID, st.LastUpdated, st.Deleted, string(st.JSON), st.VersionID-1, patientsColumn(st))
	if err != nil {
		return fmt.Errorf("fhir: store %s: %w", st.Ref(), err)
	}
	if n, err := res.RowsAffected(); err == nil && n != 1 {
		return errs.Conflictf("%s was changed at the same time by another request; retry", st.Ref())
	}
	if w.s.indexer == nil {
		return nil
	}
	return unindex(ctx, tx, p)
}

// unindex removes the index rows of p's resource.
func unindex(ctx context.Context, tx *sql.Tx, p *pending) error {
	for _, t := range indexTables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t+" WHERE res = $1", p.rk); err != nil {
			return fmt.Errorf("fhir: unindex %s: %w", p.st.Ref(), err)
		}
	}
	return nil
}

// insertResources stores new resources with one INSERT and sets the key
// each was given.
func (w *writer) insertResources(ctx context.Context, tx *sql.Tx, ps []*pending) error {
	var b strings.Builder
	b.WriteString(w.s.insertInto())
	b.WriteString("fhir_resources (org_id, resource_type, id, version_id, last_updated, deleted, content, patients) VALUES ")
	args := make([]any, 0, 8*len(ps))
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		args = append(args, w.orgID, p.st.Type, p.st.ID, p.st.VersionID, p.st.LastUpdated, p.st.Deleted, string(p.st.JSON), patientsColumn(p.st))
		w.s.db.Dialect.AppendPlaceholders(&b, len(args)-8, 8)
	}
	// Neither engine promises RETURNING rows in the order of VALUES, so
	// each row says whose key it is.
	b.WriteString(" RETURNING rk, resource_type, id")
	rows, err := tx.QueryContext(ctx, b.String(), args...)
	if err == nil {
		err = w.readKeys(rows, ps)
	}
	if err != nil {
		if isUniqueViolation(err) {
			// Find the one that exists, to say which.
			for _, p := range ps {
				if cur, cerr := w.s.current(ctx, tx, w.orgID, p.st.Type, p.st.ID); cerr == nil && cur.exists() {
					return p.wrap(errs.Wrap(err, errs.Conflict, fmt.Sprintf("%s already exists", p.st.Ref())))
				}
			}
			return errs.Wrap(err, errs.Conflict, "a resource with the same id was stored at the same time; retry")
		}
		return fmt.Errorf("fhir: store %d resources: %w", len(ps), err)
	}
	return nil
}

// readKeys reads the rows of insertResources' RETURNING clause into the
// keys of ps, and closes them.
func (w *writer) readKeys(rows *sql.Rows, ps []*pending) error {
	defer rows.Close()
	byRef := make(map[[2]string]*pending, len(ps))
	for _, p := range ps {
		byRef[[2]string{p.st.Type, p.st.ID}] = p
	}
	n := 0
	for rows.Next() {
		var rk int64
		var ref [2]string
		if err := rows.Scan(&rk, &ref[0], &ref[1]); err != nil {
			return err
		}
		p := byRef[ref]
		if p == nil || p.rk != 0 {
			return fmt.Errorf("the key of %s/%s was returned unexpectedly", ref[0], ref[1])
		}
		p.rk = rk
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != len(ps) {
		return fmt.Errorf("%d keys returned for %d resources", n, len(ps))
	}
	return nil
}

// insertInto begins a multi-row INSERT. On SQLite it is INSERT OR FAIL: a
// plain INSERT that may fail after some of its rows makes SQLite keep a
// statement journal to undo just that statement, which costs more than a
// tenth of the insert; OR FAIL keeps what the statement did before it
// failed, and every caller fails the whole transaction then anyway.
func (s *Store) insertInto() string {
	if s.db.Dialect == db.SQLite {
		return "INSERT OR FAIL INTO "
	}
	return "INSERT INTO "
}

// indexRow is an index entry with the resource it belongs to and the
// number of its parameter (paramIDs).
type indexRow struct {
	rk, paramID int64
	e           *IndexEntry
}

// insertIndex writes the index rows of ps, grouped by table.
func (w *writer) insertIndex(ctx context.Context, tx *sql.Tx, ps []pending) error {
	byKind := map[string][]indexRow{}
	type at struct {
		kind string
		i    int
	}
	var unknown map[paramName][]at // pairs whose number the store does not know yet, and their rows
	for _, p := range ps {
		for i := range p.entries {
			e := &p.entries[i]
			if _, ok := indexColumns[e.Kind]; !ok {
				return fmt.Errorf("fhir: index %s: unknown index kind %q", p.st.Ref(), e.Kind)
			}
			n := paramName{p.st.Type, e.Param}
			id, ok := w.s.params.known(n)
			byKind[e.Kind] = append(byKind[e.Kind], indexRow{p.rk, id, e})
			if !ok {
				if unknown == nil {
					unknown = map[paramName][]at{}
				}
				unknown[n] = append(unknown[n], at{e.Kind, len(byKind[e.Kind]) - 1})
			}
		}
	}
	if unknown != nil {
		names := make([]paramName, 0, len(unknown))
		for n := range unknown {
			names = append(names, n)
		}
		ids, err := w.s.params.resolve(ctx, tx, names)
		if err != nil {
			return err
		}
		for n, rows := range unknown {
			for _, r := range rows {
				byKind[r.kind][r.i].paramID = ids[n]
			}
		}
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, kind := range kinds {
		rows := byKind[kind]
		cols := indexColumns[kind]
		for len(rows) > 0 {
			n := 1
			for _, size := range rowsPerInsert {
				if size <= len(rows) {
					n = size
					break
				}
			}
			b.Reset()
			b.WriteString(w.s.insertInto())
			b.WriteString("fhir_idx_")
			b.WriteString(kind)
			b.WriteString(" (res, param_id, ")
			b.WriteString(strings.Join(cols, ", "))
			b.WriteString(") VALUES ")
			width := 2 + len(cols)
			args := make([]any, 0, n*width)
			for r, row := range rows[:n] {
				if r > 0 {
					b.WriteString(", ")
				}
				args = append(args, row.rk, row.paramID)
				args = append(args, row.e.values()...)
				w.s.db.Dialect.AppendPlaceholders(&b, len(args)-width, width)
			}
			if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
				return fmt.Errorf("fhir: index %d %s rows: %w", n, kind, err)
			}
			rows = rows[n:]
		}
	}
	return nil
}

// finish flushes the queued versions and announces every change of the
// writer at once.
func (w *writer) finish(ctx context.Context, tx *sql.Tx) error {
	if err := w.flush(ctx, tx); err != nil {
		return err
	}
	return w.s.announce(ctx, tx, w.orgID, &w.changes)
}

// CreateTx stores a new resource in tx under id, or a new random id when id
// is empty, and announces it. An id in use is an errs.Conflict.
func (s *Store) CreateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte) (*Stored, error) {
	w := s.writer(orgID)
	st, err := w.create(ctx, tx, typ, id, false, raw, nil, -1)
	if err != nil {
		return nil, err
	}
	return st, w.finish(ctx, tx)
}

// UpdateTx stores raw as the next version of typ/id in tx, creating the
// resource when it does not exist (created is then true). When ifMatch is
// not zero the current version must equal it, else errs.PreconditionFailed.
func (s *Store) UpdateTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string, raw []byte, ifMatch int64) (st *Stored, created bool, err error) {
	w := s.writer(orgID)
	st, created, err = w.update(ctx, tx, typ, id, raw, ifMatch, nil, -1)
	if err != nil {
		return nil, false, err
	}
	return st, created, w.finish(ctx, tx)
}

// DeleteTx marks typ/id deleted in tx with a new version, keeping its
// history. Deleting a missing or already deleted resource changes nothing
// and returns nil.
func (s *Store) DeleteTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*Stored, error) {
	w := s.writer(orgID)
	st, err := w.delete(ctx, tx, typ, id, -1)
	if err != nil || st == nil {
		return nil, err
	}
	return st, w.finish(ctx, tx)
}

// PutTx stores rs for the organisation in tx, each as the next version of
// its id (version 1 when new), and announces the batch's changes at once. Nothing is stored if any resource is invalid.
func (s *Store) PutTx(ctx context.Context, tx *sql.Tx, orgID string, rs []Resource) ([]Stored, error) {
	for _, r := range rs {
		if err := check(r); err != nil {
			return nil, err
		}
	}
	w := s.writer(orgID)
	out := make([]Stored, 0, len(rs))
	seen := map[string]bool{}
	for _, r := range rs {
		// A resource given twice: its first version must be stored before
		// the second reads the current version.
		if key := r.Type + "/" + r.ID; seen[key] {
			if err := w.flush(ctx, tx); err != nil {
				return nil, err
			}
			clear(seen)
		}
		seen[r.Type+"/"+r.ID] = true
		st, _, err := w.update(ctx, tx, r.Type, r.ID, r.JSON, 0, nil, -1)
		if err != nil {
			return nil, err
		}
		out = append(out, *st)
	}
	return out, w.finish(ctx, tx)
}
