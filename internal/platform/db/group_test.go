package db_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

func insertOrg(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $1, $1, CURRENT_TIMESTAMP)", id)
	return err
}

func orgIDs(t *testing.T, d *db.DB) map[string]bool {
	t.Helper()
	rows, err := d.Read.Query("SELECT id FROM organizations")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	return out
}

// TestInGroupTxIsolatesCalls: calls that arrive while another holds the
// writer share a transaction on SQLite, and each call's outcome is its own:
// what a failing or panicking call wrote is undone, what the others wrote
// is committed, and each caller gets its own error or panic.
func TestInGroupTxIsolatesCalls(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- d.InGroupTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				<-release
				return insertOrg(ctx, tx, "first")
			})
		}()
		boom := errors.New("boom")
		const n = 12
		results := make([]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer func() {
					if p := recover(); p != nil {
						results[i] = p
					}
				}()
				results[i] = d.InGroupTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
					if err := insertOrg(ctx, tx, fmt.Sprint("org-", i)); err != nil {
						return err
					}
					switch i % 4 {
					case 1:
						return fmt.Errorf("call %d: %w", i, boom)
					case 2:
						panic(fmt.Sprint("panic ", i))
					}
					return nil
				})
			})
		}
		time.Sleep(100 * time.Millisecond) // let the calls queue behind the first
		close(release)
		wg.Wait()
		if err := <-first; err != nil {
			t.Fatal(err)
		}
		ids := orgIDs(t, d)
		if !ids["first"] {
			t.Error("the first call's row is missing")
		}
		for i, r := range results {
			id := fmt.Sprint("org-", i)
			switch i % 4 {
			case 1:
				if err, _ := r.(error); !errors.Is(err, boom) || ids[id] {
					t.Errorf("call %d: got %v, row stored %v; want its own error and no row", i, r, ids[id])
				}
			case 2:
				if r != fmt.Sprint("panic ", i) || ids[id] {
					t.Errorf("call %d: got %v, row stored %v; want its own panic and no row", i, r, ids[id])
				}
			default:
				if r != nil || !ids[id] {
					t.Errorf("call %d: got %v, row stored %v; want success and its row", i, r, ids[id])
				}
			}
		}
		if d.Dialect == db.SQLite {
			groups, calls := d.GroupCommits()
			if calls != n+1 || groups >= calls {
				t.Errorf("%d calls in %d transactions; want %d calls sharing fewer transactions", calls, groups, n+1)
			}
		}
	})
}

// TestInGroupTxCancelledWhileQueued: a call whose caller gives up before
// its turn does not run, and the others are not affected.
func TestInGroupTxCancelledWhileQueued(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		release := make(chan struct{})
		first := make(chan error, 1)
		go func() {
			first <- d.InGroupTx(context.Background(), func(ctx context.Context, tx *sql.Tx) error {
				<-release
				return insertOrg(ctx, tx, "first")
			})
		}()
		time.Sleep(20 * time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		gone := make(chan error, 1)
		go func() {
			gone <- d.InGroupTx(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertOrg(ctx, tx, "gone") })
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		if d.Dialect == db.SQLite {
			// On SQLite the call waits for the writer and sees its context
			// done at its turn; on PostgreSQL it may have run already.
			close(release)
			if err := <-gone; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled call: %v", err)
			}
			if orgIDs(t, d)["gone"] {
				t.Error("the cancelled call's row was stored")
			}
		} else {
			close(release)
			<-gone
		}
		if err := <-first; err != nil || !orgIDs(t, d)["first"] {
			t.Fatalf("first call: %v", err)
		}
	})
}
