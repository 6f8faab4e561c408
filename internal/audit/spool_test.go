package audit

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

func spoolEntry(i int) Entry {
	return Entry{OrgID: "org", Type: TypeRest, Subtype: []Coding{Interaction("read")}, Action: Read,
		Agent: Agent{Subject: "account/a", Role: "clinician"}, Patients: []string{"Patient/p"},
		Entities: []Entity{{What: "Observation/" + string(rune('a'+i%26))}}, RequestID: "r"}
}

func countEntries(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	if err := d.Read.QueryRow("SELECT count(*) FROM audit_entry").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSpoolIngestsOnce records through the spool, and checks that every
// entry reaches the database exactly once: while running, after a crash
// that left entries in the spool, after a record torn in half by a crash,
// and after an ingest whose progress was committed just before a crash.
func TestSpoolIngestsOnce(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		l, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			if err := l.Record(ctx, spoolEntry(i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := countEntries(t, d); n != 50 {
			t.Fatalf("after a clean close: %d entries, want 50", n)
		}

		// A crash: entries written to the spool, the process gone before
		// the ingester ran. Then half a record, cut by the crash.
		sp, err := openSpool(ctx, d, dir)
		if err != nil {
			t.Fatal(err)
		}
		var records []byte
		for i := range 7 {
			e := spoolEntry(i)
			if err := e.normalize(time.Now()); err != nil {
				t.Fatal(err)
			}
			records = appendRecord(records, &e)
		}
		if err := sp.write(records); err != nil {
			t.Fatal(err)
		}
		end := sp.size
		sp.close()
		f, err := os.OpenFile(filepath.Join(dir, spoolName), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{0, 0, 1, 0, 9, 9, 9, 9, 1, 2}, end); err != nil { // a torn record
			t.Fatal(err)
		}
		f.Close()

		l, err = New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Record(ctx, spoolEntry(99)); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if n := countEntries(t, d); n != 58 {
			t.Fatalf("after the crash: %d entries, want 58 (50 + 7 spooled + 1)", n)
		}

		// Everything ingested: a new start ingests nothing again, and the
		// log, sequenced, verifies.
		sp, err = openSpool(ctx, d, dir)
		if err != nil {
			t.Fatal(err)
		}
		if sp.pending() {
			t.Error("a fully ingested spool has entries pending after a restart")
		}
		sp.close()
		l, err = New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		for {
			n, err := l.Sequence(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		if n := countEntries(t, d); n != 58 {
			t.Fatalf("after a restart: %d entries, want 58", n)
		}
	})
}

// TestSpoolFailsClosed checks that Record reports an error when the spool
// cannot be written, so that the read it audits fails: once the space the
// spool holds is used up and no more can be had (the file is closed here,
// as when the disk went away), Record fails, and it keeps failing.
func TestSpoolFailsClosed(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	l, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.spool.f.Close() // the disk went away
	ctx := context.Background()
	var failed error
	for i := 0; i < 2*spoolReserve/500 && failed == nil; i++ {
		failed = l.Record(ctx, spoolEntry(i))
	}
	if failed == nil {
		t.Fatal("Record succeeded with the spool unwritable")
	}
	if err := l.Record(ctx, spoolEntry(1)); err == nil {
		t.Fatal("Record succeeded after a failed one with the spool still unwritable")
	}
}

// fillSpool writes copies of e, each with an id of its own, until the
// spool is large enough to rotate, and returns how many it wrote.
func fillSpool(t *testing.T, sp *spool, e Entry) int {
	t.Helper()
	n := 0
	for sp.size < spoolRotateAt {
		var batch []byte
		for range 1000 {
			c := e
			c.ID = ""
			if err := c.normalize(time.Now()); err != nil {
				t.Fatal(err)
			}
			batch = appendRecord(batch, &c)
			n++
		}
		if err := sp.write(batch); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// openTestSpool opens a spool in a new folder on a new SQLite database;
// the test's end closes it.
func openTestSpool(t *testing.T) (*db.DB, *spool) {
	t.Helper()
	d := dbtest.Open(t, db.SQLite)
	sp, err := openSpool(context.Background(), d, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.close() })
	return d, sp
}

// TestSpoolRotates checks that a fully ingested, large spool starts a new
// generation and that entries before and after are all stored once.
func TestSpoolRotates(t *testing.T) {
	ctx := context.Background()
	d, sp := openTestSpool(t)
	e := spoolEntry(1)
	if err := e.normalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	total := 0
	total += fillSpool(t, sp, e)
	gen := sp.gen
	if err := sp.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if sp.gen == gen || sp.size != sp.head {
		t.Fatalf("no new generation after ingesting %d bytes", spoolRotateAt)
	}
	if err := sp.write(appendRecord(nil, &e)); err != nil {
		t.Fatal(err)
	}
	if err := sp.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(t, d); n != total+1 {
		t.Fatalf("%d entries, want %d", n, total+1)
	}
	total++
	if !spoolMapped {
		return
	}
	// The ingester prepares the next generation's file, and more room
	// before the mapping fills, so that Record never waits for either.
	if sp.next == nil {
		t.Fatal("no next generation prepared after an ingest")
	}
	prepared := sp.next.gen
	total += fillSpool(t, sp, e)
	if sp.reserved-sp.size >= spoolReserve/2 {
		t.Fatalf("%d of %d reserved bytes used: the test wants the mapping over half full", sp.size, sp.reserved)
	}
	if err := sp.ahead(); err != nil {
		t.Fatal(err)
	}
	if sp.reserved-sp.size < spoolReserve/2 {
		t.Fatalf("after ahead %d of %d reserved bytes are used", sp.size, sp.reserved)
	}
	if err := sp.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	if sp.gen != prepared {
		t.Fatalf("rotated to generation %s, not the one prepared (%s)", sp.gen, prepared)
	}
	if n := countEntries(t, d); n != total {
		t.Fatalf("%d entries, want %d", n, total)
	}
}

// TestSpoolIngestsLargeRecord checks that an entry larger than one ingest
// reads at a time is ingested whole, with the entries around it.
func TestSpoolIngestsLargeRecord(t *testing.T) {
	ctx := context.Background()
	d, sp := openTestSpool(t)
	var records []byte
	var want []int
	for i := range 3 {
		e := spoolEntry(i)
		if i == 1 {
			e.OutcomeDesc = strings.Repeat("x", spoolReadMax+1000)
		}
		if err := e.normalize(time.Now()); err != nil {
			t.Fatal(err)
		}
		records = appendRecord(records, &e)
		want = append(want, len(e.Canonical()))
	}
	if err := sp.write(records); err != nil {
		t.Fatal(err)
	}
	if err := sp.ingest(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := d.Read.Query("SELECT length(body) FROM audit_entry ORDER BY pos")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stored entries of %v bytes, want %v", got, want)
	}
}

// TestSpoolHasOneUser checks that a spool serves one open log at a time:
// a second log on the same folder (another careloop process on the same
// data folder) fails to start and names the folder, and leaves the first
// log's entries alone; once the first is closed, the folder opens again.
func TestSpoolHasOneUser(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	first, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Record(ctx, spoolEntry(1)); err != nil {
		t.Fatal(err)
	}
	second, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
	if err == nil {
		second.Close()
		t.Fatal("a second log opened a spool in use")
	}
	if !errors.Is(err, errSpoolInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second log: %v; want errSpoolInUse naming %s", err, dir)
	}
	if _, statErr := os.Stat(filepath.Join(dir, spoolName)); statErr != nil {
		t.Fatalf("the first log's spool after the second tried to open it: %v", statErr)
	}
	if err := first.Record(ctx, spoolEntry(2)); err != nil {
		t.Fatalf("the first log after a second tried to open its spool: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(t, d); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	again, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
	if err != nil {
		t.Fatalf("the spool after its log closed: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolCutShort checks a spool file that holds less than the database
// says was ingested from it (cut short or replaced, as when two processes
// wrote it at once): the log starts, every entry recorded afterwards is
// stored (none counts as ingested already), and the old file is kept.
func TestSpoolCutShort(t *testing.T) {
	ctx := context.Background()
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	l, err := New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := l.Record(ctx, spoolEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var gen string
	var ingested int64
	if err := d.Read.QueryRow("SELECT generation, ingested FROM audit_spool").Scan(&gen, &ingested); err != nil {
		t.Fatal(err)
	}
	// The last 12 entries' records go missing from the file.
	path := filepath.Join(dir, spoolName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := int64(strings.IndexByte(string(data), '\n') + 1)
	cut := head + int64(len(validPrefix(data[head:ingested]))/20*8)
	if err := os.Truncate(path, cut); err != nil {
		t.Fatal(err)
	}

	var logged strings.Builder
	l, err = New(Config{DB: d, Origin: "careloop/test", SpoolDir: dir,
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Record(ctx, spoolEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := countEntries(t, d); n != 25 {
		t.Fatalf("%d entries, want 25: the entries recorded after the restart were not all stored", n)
	}
	if !strings.Contains(logged.String(), "starts anew") {
		t.Errorf("nothing logged about the spool cut short: %q", logged.String())
	}
	if kept, err := os.Stat(path + "." + gen); err != nil || kept.Size() != cut {
		t.Errorf("the old spool file: %v, %v; want it kept, %d bytes", kept, err, cut)
	}
}
