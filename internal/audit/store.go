package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
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
	rows := make([][]any, len(es))
	for i := range es {
		rows[i] = []any{es[i].ID, es[i].Canonical()}
	}
	return insertEntryRows(ctx, tx, dialect, rows)
}

// insertEntryRows stores rows of (id, canonical bytes) as insertEntries
// does.
func insertEntryRows(ctx context.Context, tx execer, dialect db.Dialect, rows [][]any) error {
	if err := insertRows(ctx, tx, "INSERT INTO audit_entry (id, body) VALUES ", 2, dialect, rows); err != nil {
		return err
	}
	if dialect == db.SQLite {
		return nil
	}
	for i := range rows {
		rows[i] = rows[i][:1]
	}
	return insertRows(ctx, tx, "INSERT INTO audit_pending (entry_id) VALUES ", 1, dialect, rows)
}

// insertRows inserts rows with multi-row INSERT statements of 256, 128 … 1
// rows, so that few distinct statements exist (each is prepared once per
// connection) and few round trips are made, with d's placeholders (see
// [db.Dialect.AppendPlaceholders]).
func insertRows(ctx context.Context, tx execer, prefix string, ncols int, d db.Dialect, rows [][]any) error {
	for len(rows) > 0 {
		n := chunk(len(rows))
		args := make([]any, 0, n*ncols)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, multiRow(prefix, ncols, n, d), args...); err != nil {
			return fmt.Errorf("%s…: %w", strings.TrimSpace(prefix[:min(len(prefix), 30)]), err)
		}
		rows = rows[n:]
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

var sqlCache sync.Map // string key → statement text

// multiRow returns prefix followed by n rows of ncols placeholders.
func multiRow(prefix string, ncols, n int, d db.Dialect) string {
	key := prefix + "|" + strconv.Itoa(ncols) + "|" + strconv.Itoa(n) + "|" + string(d)
	if s, ok := sqlCache.Load(key); ok {
		return s.(string)
	}
	var b strings.Builder
	b.WriteString(prefix)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		d.AppendPlaceholders(&b, i*ncols, ncols)
	}
	s := b.String()
	sqlCache.Store(key, s)
	return s
}
