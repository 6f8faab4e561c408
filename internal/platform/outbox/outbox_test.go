package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// effects is what a test handler writes: one row per applied item, keyed
// by the item's payload, so that an item applied twice fails the batch
// (and the test) on the primary key.
const effects = `CREATE TABLE outbox_effects (payload TEXT PRIMARY KEY, org_id TEXT NOT NULL)`

// recorder is a handler that writes each item's effect in the batch's
// transaction and remembers the batches it committed.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	fail    func(it outbox.Item) error // nil: never fails
}

func (r *recorder) handle(ctx context.Context, tx *sql.Tx, items []outbox.Item) (func(), error) {
	var names []string
	for _, it := range items {
		if r.fail != nil {
			if err := r.fail(it); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO outbox_effects (payload, org_id) VALUES ($1, $2)", string(it.Payload), it.OrgID); err != nil {
			return nil, err
		}
		names = append(names, string(it.Payload))
	}
	return func() {
		r.mu.Lock()
		r.batches = append(r.batches, names)
		r.mu.Unlock()
	}, nil
}

func enqueue(t *testing.T, d *db.DB, topic string, payloads ...string) {
	t.Helper()
	err := d.InTx(context.Background(), func(tx *sql.Tx) error {
		for _, p := range payloads {
			if err := outbox.Enqueue(context.Background(), tx, topic, "org-1", []byte(p)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func applied(t *testing.T, d *db.DB) []string {
	t.Helper()
	rows, err := d.Read.Query("SELECT payload FROM outbox_effects ORDER BY payload")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%04d", prefix, i)
	}
	return out
}

func TestOutbox(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dbtest.MustExec(t, d, effects)

		t.Run("only committed items, in batches, in order, exactly once", func(t *testing.T) {
			dbtest.MustExec(t, d, "DELETE FROM outbox_effects")
			err := d.InTx(ctx, func(tx *sql.Tx) error {
				if err := outbox.Enqueue(ctx, tx, "t1", "org-1", []byte("rolled-back")); err != nil {
					return err
				}
				return errors.New("the write fails")
			})
			if err == nil {
				t.Fatal("the write should have failed")
			}
			want := names("a", 600)
			enqueue(t, d, "t1", want...)
			enqueue(t, d, "other", "not-mine")
			rec := &recorder{}
			c := outbox.New(outbox.Config{DB: d, Topic: "t1", Handler: rec.handle, Batch: 256})
			n, err := c.Drain(ctx)
			if err != nil || n != 600 {
				t.Fatalf("drained %d, %v; want 600", n, err)
			}
			if got := applied(t, d); !slices.Equal(got, want) {
				t.Fatalf("applied %d items, want the 600 committed ones (first %v)", len(got), got[:min(3, len(got))])
			}
			if len(rec.batches) != 3 || len(rec.batches[0]) != 256 || len(rec.batches[2]) != 88 {
				t.Fatalf("batches of %v items, want 256, 256, 88", lens(rec.batches))
			}
			var all []string
			for _, b := range rec.batches {
				all = append(all, b...)
			}
			if !slices.Equal(all, want) {
				t.Fatal("items were not applied in the order they were written")
			}
			if n, _ := c.Drain(ctx); n != 0 {
				t.Fatalf("a second drain applied %d items again", n)
			}
			waiting, failed, err := outbox.Backlog(ctx, d, "other")
			if err != nil || waiting != 1 || failed != 0 {
				t.Fatalf("the other topic's backlog: %d waiting, %d failed, %v", waiting, failed, err)
			}
		})

		t.Run("a failing item holds back nobody and is set aside after its attempts", func(t *testing.T) {
			dbtest.MustExec(t, d, "DELETE FROM outbox_effects")
			enqueue(t, d, "t2", "b1", "bad", "b2", "b3")
			rec := &recorder{fail: func(it outbox.Item) error {
				if string(it.Payload) == "bad" {
					return errors.New("cannot apply this one")
				}
				return nil
			}}
			now := time.Now()
			c := outbox.New(outbox.Config{DB: d, Topic: "t2", Handler: rec.handle, MaxAttempts: 2,
				Backoff: func(int) time.Duration { return time.Minute }, Now: func() time.Time { return now }})
			if _, err := c.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			if got := applied(t, d); !slices.Equal(got, []string{"b1", "b2", "b3"}) {
				t.Fatalf("applied %v, want the three good items (the failed batch's effects rolled back)", got)
			}
			var attempts int
			var lastErr string
			var due int64
			if err := d.Read.QueryRow("SELECT attempts, last_error, available_at FROM outbox WHERE topic = 't2'").Scan(&attempts, &lastErr, &due); err != nil {
				t.Fatal(err)
			}
			if attempts != 1 || !strings.Contains(lastErr, "cannot apply this one") || due != now.Add(time.Minute).UnixMilli() {
				t.Fatalf("after the first failure: attempts %d, error %q, due %d", attempts, lastErr, due)
			}
			if n, _ := c.Drain(ctx); n != 0 {
				t.Fatalf("an item in its backoff was tried again (%d)", n)
			}
			now = now.Add(2 * time.Minute)
			if _, err := c.Drain(ctx); err != nil {
				t.Fatal(err)
			}
			waiting, failed, err := outbox.Backlog(ctx, d, "t2")
			if err != nil || waiting != 0 || failed != 1 {
				t.Fatalf("after the last attempt: %d waiting, %d failed, %v", waiting, failed, err)
			}
			now = now.Add(time.Hour)
			if n, _ := c.Drain(ctx); n != 0 {
				t.Fatal("an item set aside was taken again")
			}
			rec.fail = nil
			if n, err := outbox.Retry(ctx, d, "t2"); err != nil || n != 1 {
				t.Fatalf("retry: %d, %v", n, err)
			}
			c = outbox.New(outbox.Config{DB: d, Topic: "t2", Handler: rec.handle})
			if n, err := c.Drain(ctx); err != nil || n != 1 {
				t.Fatalf("after retry: drained %d, %v", n, err)
			}
			if got := applied(t, d); !slices.Contains(got, "bad") {
				t.Fatal("the retried item was not applied")
			}
		})

		t.Run("a batch cut short is applied again whole", func(t *testing.T) {
			dbtest.MustExec(t, d, "DELETE FROM outbox_effects")
			enqueue(t, d, "t3", names("c", 10)...)
			cut, cancel := context.WithCancel(ctx)
			rec := &recorder{fail: func(it outbox.Item) error {
				if string(it.Payload) == "c0005" {
					cancel() // the process stops half way through the batch
					return cut.Err()
				}
				return nil
			}}
			c := outbox.New(outbox.Config{DB: d, Topic: "t3", Handler: rec.handle})
			if _, err := c.Drain(cut); err == nil {
				t.Fatal("the cut batch reported no error")
			}
			if got := applied(t, d); len(got) != 0 {
				t.Fatalf("%d effects of the cut batch were kept", len(got))
			}
			var attempts int
			if err := d.Read.QueryRow("SELECT COALESCE(MAX(attempts), -1) FROM outbox WHERE topic = 't3'").Scan(&attempts); err != nil || attempts != 0 {
				t.Fatalf("a stop counted as a failed attempt: %d, %v", attempts, err)
			}
			rec.fail = nil
			if n, err := c.Drain(ctx); err != nil || n != 10 {
				t.Fatalf("the next run drained %d, %v", n, err)
			}
			if got := applied(t, d); !slices.Equal(got, names("c", 10)) {
				t.Fatalf("applied %v", got)
			}
		})

		t.Run("consumers at once apply each item once", func(t *testing.T) {
			dbtest.MustExec(t, d, "DELETE FROM outbox_effects")
			want := names("d", 2000)
			rec := &recorder{}
			c := outbox.New(outbox.Config{DB: d, Topic: "t4", Handler: rec.handle, Batch: 50, Workers: 4, Poll: time.Millisecond})
			run, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { c.Run(run); close(done) }()
			for i := 0; i < len(want); i += 100 {
				enqueue(t, d, "t4", want[i:i+100]...)
				c.Wake()
			}
			deadline := time.Now().Add(time.Minute)
			for len(applied(t, d)) < len(want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			stop()
			<-done
			if got := applied(t, d); !slices.Equal(got, want) {
				t.Fatalf("applied %d of %d items", len(got), len(want))
			}
			if waiting, _, _ := outbox.Backlog(ctx, d, "t4"); waiting != 0 {
				t.Fatalf("%d items left", waiting)
			}
		})
	})
}

func lens(bs [][]string) []int {
	var out []int
	for _, b := range bs {
		out = append(out, len(b))
	}
	return out
}
