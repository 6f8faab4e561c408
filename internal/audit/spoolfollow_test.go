package audit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// spoolRecords encodes n new entries (each with an id of its own) as spool
// records.
func spoolRecords(t *testing.T, n int) []byte {
	t.Helper()
	var b []byte
	for i := range n {
		e := spoolEntry(i)
		if err := e.normalize(time.Now()); err != nil {
			t.Fatal(err)
		}
		b = appendRecord(b, &e)
	}
	return b
}

func countDistinct(t *testing.T, d *db.DB) (rows, ids int) {
	t.Helper()
	if err := d.Read.QueryRow("SELECT count(*), count(DISTINCT id) FROM audit_entry").Scan(&rows, &ids); err != nil {
		t.Fatal(err)
	}
	return rows, ids
}

// followedSpool opens a spool on a new SQLite database, as a server
// does, and a follower of it, as the audit worker does; the test's end
// closes both.
func followedSpool(t *testing.T) (*db.DB, *spool, *spoolFollower) {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	sp, err := openSpool(context.Background(), d, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.close() })
	f := newSpoolFollower(d, dir)
	t.Cleanup(f.close)
	return d, sp, f
}

// TestSpoolFollowed checks the audit worker's side of the spool: a
// follower stores what the writer wrote, leaves a record that is still
// being copied in for its next turn, and follows the writer into a new
// generation.
func TestSpoolFollowed(t *testing.T) {
	ctx := context.Background()
	d, sp, f := followedSpool(t)
	ingest := func(want int) {
		t.Helper()
		n, err := f.ingest(ctx, noGuard{})
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("the follower stored %d entries, want %d", n, want)
		}
	}
	if err := sp.write(spoolRecords(t, 3)); err != nil {
		t.Fatal(err)
	}
	ingest(3)
	ingest(0)

	// A record half copied in: its length and checksum are there, not
	// all of its body.
	rec := spoolRecords(t, 1)
	if err := sp.write(rec[:len(rec)-10]); err != nil {
		t.Fatal(err)
	}
	ingest(0)
	if err := sp.write(rec[len(rec)-10:]); err != nil {
		t.Fatal(err)
	}
	ingest(1)

	// The writer learns from the database that all is ingested, starts a
	// new generation, and the follower moves to it.
	total := 4 + fillSpool(t, sp, spoolEntry(2))
	ingest(total - 4)
	gen := sp.gen
	if _, _, err := sp.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sp.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if sp.gen == gen {
		t.Fatal("the writer started no new generation once the follower had ingested everything")
	}
	if err := sp.write(spoolRecords(t, 2)); err != nil {
		t.Fatal(err)
	}
	ingest(2)
	total += 2
	if rows, ids := countDistinct(t, d); rows != total || ids != total {
		t.Fatalf("%d entries (%d distinct), want %d", rows, ids, total)
	}
}

// TestSpoolIngestedFromBothSides has the writer and a follower ingest the
// same spool at once while records keep coming: each entry is stored
// exactly once.
func TestSpoolIngestedFromBothSides(t *testing.T) {
	ctx := context.Background()
	d, sp, f := followedSpool(t)

	const batches, per = 200, 25
	done := make(chan struct{})
	var wg sync.WaitGroup
	var errs [2]error
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				errs[0] = sp.ingest(ctx)
				return
			default:
			}
			if err := sp.ingest(ctx); err != nil {
				errs[0] = err
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := f.ingest(ctx, noGuard{}); err != nil {
				errs[1] = err
				return
			}
		}
	}()
	for range batches {
		if err := sp.write(spoolRecords(t, per)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("writer's ingest: %v; follower's: %v", errs[0], errs[1])
	}
	if rows, ids := countDistinct(t, d); rows != batches*per || ids != batches*per {
		t.Fatalf("%d entries (%d distinct), want %d once each", rows, ids, batches*per)
	}
}

// TestSpoolWriterTakesOver checks that a log whose spool another process
// should ingest does not ingest at once, and stores the entries itself
// once they have waited longer than spoolTakeover (the worker is starved
// of CPU, or gone).
func TestSpoolWriterTakesOver(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, db.SQLite)
	l, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.IngestElsewhere(true)
	for i := range 5 {
		if err := l.Record(ctx, spoolEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * spoolGather)
	if n := countEntries(t, d); n != 0 {
		t.Fatalf("%d entries stored at once, want them left to the other process", n)
	}
	start := time.Now()
	for countEntries(t, d) != 5 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%d of 5 entries stored 20 s on", countEntries(t, d))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("taken over after %v", time.Since(start).Round(time.Millisecond))
}

// FuzzParseRecords feeds the spool's record parser arbitrary bytes, as a
// damaged or tampered spool file would: it never reads past the data, and
// what it accepts is whole records, each with its entry's id.
func FuzzParseRecords(f *testing.F) {
	var good []byte
	for i := range 3 {
		e := spoolEntry(i)
		e.ID = "e-" + string(rune('a'+i))
		e.Recorded = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		good = appendRecord(good, &e)
	}
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append([]byte{0, 0, 0, 5, 1, 2, 3, 4}, "hello"...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, off, err := parseRecords(data, 0, nil)
		if err != nil {
			return
		}
		if off < 0 || off > len(data) || len(vals)%2 != 0 {
			t.Fatalf("covers %d of %d bytes with %d values", off, len(data), len(vals))
		}
		at := 0
		for i := 0; i < len(vals); i += 2 {
			body, next, ok := nextRecord(data[at:])
			if !ok || string(body) != string(vals[i+1].([]byte)) || vals[i].(string) == "" {
				t.Fatalf("value %d is not the record at %d", i/2, at)
			}
			at += next
		}
		if at != off {
			t.Fatalf("the records end at %d, the parser says %d", at, off)
		}
	})
}
