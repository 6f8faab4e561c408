package fhir

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

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
// memory lacks reads the committed pairs again, and adds in its own
// transaction, for that transaction only, the ones still missing.
type paramIDs struct {
	db *db.DB
	// ids is replaced, never changed, so that known takes no lock.
	ids atomic.Pointer[map[paramName]int64]
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

// resolve returns the numbers of names for use in tx, adding to
// fhir_index_params, in tx, the pairs it does not hold yet.
func (k *paramIDs) resolve(ctx context.Context, tx *sql.Tx, names []paramName) (map[paramName]int64, error) {
	// What others committed since the memory was filled: read on a
	// connection of its own, so it sees committed rows only.
	committed, err := readParamIDs(ctx, k.db.Read)
	if err != nil {
		return nil, err
	}
	// Every committed pair is in committed: it replaces what was known.
	k.ids.Store(&committed)
	out := make(map[paramName]int64, len(names))
	var missing []paramName
	for _, n := range names {
		if id, ok := committed[n]; ok {
			out[n] = id
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	var b strings.Builder
	b.WriteString("INSERT INTO fhir_index_params (resource_type, param) VALUES ")
	args := make([]any, 0, 2*len(missing))
	for i, n := range missing {
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
	// The transaction's own view: the pairs just added, or added by
	// another transaction that committed meanwhile.
	mine, err := readParamIDs(ctx, tx)
	if err != nil {
		return nil, err
	}
	for _, n := range missing {
		id, ok := mine[n]
		if !ok {
			return nil, fmt.Errorf("fhir: search parameter %s of %s has no number after it was added", n.param, n.typ)
		}
		out[n] = id
	}
	return out, nil
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
