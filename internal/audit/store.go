package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/careloop/careloop/internal/platform/db"
)

// execer is what inserts need: a transaction or a pool.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// queryer is what reads need: a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// insertEntries stores entries for the sequencer. On PostgreSQL they are
// also listed in audit_pending (see the migration for why).
func insertEntries(ctx context.Context, tx execer, dialect db.Dialect, es []Entry) error {
	vals := make([]any, 0, 2*len(es))
	for i := range es {
		vals = append(vals, es[i].ID, es[i].Canonical())
	}
	return insertEntryRows(ctx, tx, dialect, vals)
}

// insertEntryRows stores entries as insertEntries does, given as vals:
// id, canonical bytes, id, canonical bytes… (ids as strings).
func insertEntryRows(ctx context.Context, tx execer, dialect db.Dialect, vals []any) error {
	n := len(vals) / 2
	var args []any
	err := insertRows(ctx, tx, "INSERT INTO audit_entry (id, body) VALUES ", 2, dialect, n, &args,
		func(args []any, i int) []any { return append(args, vals[2*i], vals[2*i+1]) })
	if err != nil || dialect == db.SQLite {
		return err
	}
	return insertRows(ctx, tx, "INSERT INTO audit_pending (entry_id) VALUES ", 1, dialect, n, &args,
		func(args []any, i int) []any { return append(args, vals[2*i]) })
}

// insertRows inserts n rows with multi-row INSERT statements of 256, 128 …
// 1 rows, so that few distinct statements exist (each is prepared once per
// connection) and few round trips are made, with d's placeholders (see
// [db.Dialect.AppendPlaceholders]). row appends the ncols values of row i
// to args and returns it. Each statement's arguments are gathered in *buf,
// which is reused from statement to statement (and may be passed in from
// an earlier call) and left cleared, so that it holds on to no values.
func insertRows(ctx context.Context, tx execer, prefix string, ncols int, d db.Dialect, n int, buf *[]any, row func(args []any, i int) []any) error {
	for i := 0; i < n; {
		k := chunk(n - i)
		args := (*buf)[:0]
		if cap(args) < k*ncols {
			args = make([]any, 0, k*ncols)
		}
		for j := i; j < i+k; j++ {
			args = row(args, j)
		}
		_, err := tx.ExecContext(ctx, multiRow(prefix, ncols, k, d), args...)
		clear(args)
		*buf = args[:0]
		if err != nil {
			return fmt.Errorf("%s…: %w", strings.TrimSpace(prefix[:min(len(prefix), 30)]), err)
		}
		i += k
	}
	return nil
}

// chunk returns the largest power of two up to 256 not above n.
func chunk(n int) int {
	c := 256
	for c > n {
		c >>= 1
	}
	return c
}

// multiRowKey names a statement of multiRow.
type multiRowKey struct {
	prefix   string
	ncols, n int
	d        db.Dialect
}

var (
	sqlCacheMu sync.RWMutex
	sqlCache   = map[multiRowKey]string{} // statement texts
)

// multiRow returns prefix followed by n rows of ncols placeholders.
func multiRow(prefix string, ncols, n int, d db.Dialect) string {
	key := multiRowKey{prefix, ncols, n, d}
	sqlCacheMu.RLock()
	s, ok := sqlCache[key]
	sqlCacheMu.RUnlock()
	if ok {
		return s
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		d.AppendPlaceholders(&b, i*ncols, ncols)
	}
	s = b.String()
	sqlCacheMu.Lock()
	sqlCache[key] = s
	sqlCacheMu.Unlock()
	return s
}
