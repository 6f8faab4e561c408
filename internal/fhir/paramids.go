package fhir

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
)

// paramName is a search parameter of a resource type, as index rows name
// it: by the number fhir_index_params gives the pair.
type paramName struct{ typ, param string }

// paramIDs are the numbers of the (resource type, search parameter) pairs
// that index rows carry in param_id instead of the two strings. A pair gets
// its number the first time a writer indexes a value of it, in the
// writer's transaction.
//
// Only numbers read outside every transaction are remembered: a number a
// transaction assigned vanishes if that transaction rolls back, and the
// next pair to be added may then get it. A writer that meets a pair the
// memory lacks adds it in its own transaction and uses the number there,
// for that transaction only; a read of the committed pairs then follows
// in the background. The writer never waits for that read: on PostgreSQL
// it needs a connection of the pool, and writers in transactions may hold
// them all.
type paramIDs struct {
	db *db.DB
	// ids is replaced, never changed, so that known takes no lock.
	ids        atomic.Pointer[map[paramName]int64]
	refreshing atomic.Bool
}

func newParamIDs(d *db.DB) *paramIDs {
	k := &paramIDs{db: d}
	k.ids.Store(&map[paramName]int64{})
	return k
}

// known returns the committed number of n, if it is remembered.
func (k *paramIDs) known(n paramName) (int64, bool) {
	id, ok := (*k.ids.Load())[n]
	return id, ok
}

// resolve returns the numbers of names, which the memory lacks, for use in
// tx, adding to fhir_index_params, in tx, the pairs it does not hold yet.
func (k *paramIDs) resolve(ctx context.Context, tx *sql.Tx, names []paramName) (map[paramName]int64, error) {
	defer k.refresh()
	var b strings.Builder
	b.WriteString("INSERT INTO fhir_index_params (resource_type, param) VALUES ")
	args := make([]any, 0, 2*len(names))
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		args = append(args, n.typ, n.param)
		k.db.Dialect.AppendPlaceholders(&b, len(args)-2, 2)
	}
	b.WriteString(" ON CONFLICT DO NOTHING")
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return nil, fmt.Errorf("fhir: add search parameters to fhir_index_params: %w", err)
	}
	// The transaction's own view: pairs committed, and pairs it added.
	visible, err := readParamIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	out := make(map[paramName]int64, len(names))
	for _, n := range names {
		id, ok := visible[n]
		if !ok {
			return nil, fmt.Errorf("fhir: search parameter %s of %s has no number after it was added", n.param, n.typ)
		}
		out[n] = id
	}
	return out, nil
}

// refresh reads the committed pairs into the memory, in the background,
// unless such a read is already under way. A read that starts before the
// transaction that added a pair commits misses it; the next writer to meet
// the pair starts another.
func (k *paramIDs) refresh() {
	if !k.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer k.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// Every committed pair is in the answer: it replaces what was
		// known. A failure leaves the memory as it was; the next writer
		// to miss a pair tries again.
		if ids, err := readParamIDs(ctx, k.db.Read); err == nil {
			k.ids.Store(&ids)
		}
	}()
}

// readParamIDs reads every pair of fhir_index_params (a few thousand at
// most: the R4 search parameters of every type).
func readParamIDs(ctx context.Context, q queryer) (map[paramName]int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT id, resource_type, param FROM fhir_index_params")
	if err != nil {
		return nil, fmt.Errorf("fhir: read fhir_index_params: %w", err)
	}
	defer rows.Close()
	out := map[paramName]int64{}
	for rows.Next() {
		var id int64
		var n paramName
		if err := rows.Scan(&id, &n.typ, &n.param); err != nil {
			return nil, fmt.Errorf("fhir: read fhir_index_params: %w", err)
		}
		out[n] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fhir: read fhir_index_params: %w", err)
	}
	return out, nil
}
