package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
)

// testSeed is a fixed signing seed for tests.
var testSeed = bytes.Repeat([]byte{7}, ed25519.SeedSize)

func newTestLog(t testing.TB, d *db.DB, pub Publisher) *Log {
	t.Helper()
	l, err := New(Config{DB: d, Origin: "careloop/test.example", Seed: testSeed, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readEntry returns a valid entry about patient p by user u.
func readEntry(u, p string) Entry {
	return Entry{
		OrgID: "org1", Type: TypeRest, Subtype: []Coding{Interaction("read")}, Action: Read, Outcome: Success,
		Agent:    Agent{Subject: u, Role: "physician", PurposeOfUse: "TREAT", ClientID: "web", Address: "192.0.2.1"},
		Patients: []string{p}, Entities: []Entity{{What: p}}, RequestID: "req-" + u,
	}
}

// fill records n entries through Record and sequences them.
func fill(t testing.TB, l *Log, n int) []string {
	t.Helper()
	ctx := context.Background()
	var start int
	if err := l.db.Read.QueryRow("SELECT count(*) FROM audit_entry").Scan(&start); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for j := range n {
		i := start + j
		e := readEntry(fmt.Sprintf("Practitioner/%d", i%7), fmt.Sprintf("Patient/%d", i%5))
		e.ID = fmt.Sprintf("e-%05d", i)
		ids[j] = e.ID
		if err := l.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Sequence(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestCanonicalIsStableAndRoundTrips(t *testing.T) {
	e := readEntry("Practitioner/1", "Patient/2")
	e.Patients = []string{"Patient/b", "Patient/a", "Patient/b"}
	if err := e.normalize(time.Date(2026, 1, 2, 3, 4, 5, 6789, time.FixedZone("x", 3600))); err != nil {
		t.Fatal(err)
	}
	a, b := e.Canonical(), e.Canonical()
	if !bytes.Equal(a, b) {
		t.Fatal("canonical bytes differ between calls")
	}
	if !bytes.Contains(a, []byte(`"recorded":"2026-01-02T02:04:05.000006Z"`)) {
		t.Errorf("recorded time not UTC to the microsecond: %s", a)
	}
	if !slices.Equal(e.Patients, []string{"Patient/a", "Patient/b"}) {
		t.Errorf("patients not sorted and unique: %v", e.Patients)
	}
	back, err := ParseEntry(a)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Canonical(), a) {
		t.Errorf("round trip changed the bytes:\n%s\n%s", a, back.Canonical())
	}
}

func TestInvalidEntriesStoreNothing(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		l := newTestLog(t, d, nil)
		ctx := context.Background()
		tests := []struct {
			name  string
			edit  func(*Entry)
			field string
		}{
			{"no type", func(e *Entry) { e.Type = Coding{} }, "type"},
			{"bad action", func(e *Entry) { e.Action = "X" }, "action"},
			{"bad outcome", func(e *Entry) { e.Outcome = 3 }, "outcome"},
			{"bad patient", func(e *Entry) { e.Patients = []string{"Observation/1"} }, "patients"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				good := readEntry("u", "Patient/1")
				bad := readEntry("u", "Patient/1")
				tc.edit(&bad)
				err := l.Record(ctx, good, bad)
				if errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != tc.field {
					t.Fatalf("Record: %v, want invalid %s", err, tc.field)
				}
			})
		}
		var n int
		d.Read.QueryRow("SELECT count(*) FROM audit_entry").Scan(&n)
		if n != 0 {
			t.Fatalf("%d entries stored after invalid input", n)
		}
	})
}

func TestUntouchedLogVerifiesAndProofsCheck(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		l := newTestLog(t, d, FolderPublisher{Dir: dir})
		var cps []*Checkpoint
		for _, n := range []int{1, 6, 10, 16, 4} {
			fill(t, l, n)
			cp, issued, err := l.Checkpoint(ctx)
			if err != nil || !issued {
				t.Fatalf("checkpoint: %v issued=%v", err, issued)
			}
			cps = append(cps, cp)
		}
		// No growth, no new checkpoint.
		if _, issued, err := l.Checkpoint(ctx); err != nil || issued {
			t.Fatalf("checkpoint without growth: issued=%v err=%v", issued, err)
		}
		pub, err := ReadFolder(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(pub) != len(cps)+1 {
			t.Fatalf("published %d files, want %d checkpoints and latest", len(pub), len(cps))
		}
		latest, _ := os.ReadFile(filepath.Join(dir, "latest"))
		if !bytes.Equal(latest, cps[len(cps)-1].Note) {
			t.Errorf("latest is not the newest checkpoint")
		}
		rep, err := l.Verify(ctx, VerifyOptions{Published: pub})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Leaves != 37 || rep.Checkpoints != 5 || rep.Published != 6 {
			t.Fatalf("untouched log: %+v", rep)
		}

		// Every inclusion proof against every checkpoint, and every
		// consistency proof between checkpoints, with the library's verifiers.
		for _, cp := range cps {
			size, root, err := l.OpenCheckpoint(cp.Note)
			if err != nil || size != cp.Size {
				t.Fatalf("open checkpoint: %v", err)
			}
			for i := range size {
				leaf, p, err := l.InclusionProof(ctx, i, size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyInclusion(hasher, i, size, leaf, p, root); err != nil {
					t.Fatalf("inclusion %d in %d: %v", i, size, err)
				}
			}
			for _, older := range cps {
				if older.Size > cp.Size {
					continue
				}
				p, err := l.ConsistencyProof(ctx, older.Size, cp.Size)
				if err != nil {
					t.Fatal(err)
				}
				if err := proof.VerifyConsistency(hasher, older.Size, cp.Size, p, older.Root, root); err != nil {
					t.Fatalf("consistency %d→%d: %v", older.Size, cp.Size, err)
				}
			}
		}
		// A proof against the wrong root fails.
		leaf, p, _ := l.InclusionProof(ctx, 3, cps[1].Size)
		if proof.VerifyInclusion(hasher, 3, cps[1].Size, leaf, p, cps[2].Root) == nil {
			t.Fatal("an inclusion proof verified against another tree's root")
		}
		// By entry id.
		idx, err := l.LeafIndex(ctx, "e-00003")
		if err != nil || idx != 3 {
			t.Fatalf("leaf of e-00003: %d %v", idx, err)
		}
		if _, err := l.LeafIndex(ctx, "nope"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("leaf of an unknown entry: %v", err)
		}
		// Bad sizes are invalid input.
		for _, c := range [][2]uint64{{0, 0}, {5, 3}, {0, 1000}} {
			if _, _, err := l.InclusionProof(ctx, c[0], c[1]); errs.CodeOf(err) != errs.Invalid {
				t.Errorf("inclusion %v: %v", c, err)
			}
		}
		if _, err := l.ConsistencyProof(ctx, 5, 3); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("consistency 5→3: %v", err)
		}
	})
}

// tamper is a change made directly in the database, and the finding
// Verify must report for it.
type tamper struct {
	name  string
	do    func(t *testing.T, d *db.DB)
	kind  FindingKind
	index int64
	id    string
	other int64
}

// forge stores a made-up entry directly, behind the log's back, at pos -5,
// and returns its bytes.
func forge(t *testing.T, d *db.DB) []byte {
	e := readEntry("Practitioner/x", "Patient/1")
	e.ID = "forged"
	e.normalize(time.Now())
	q := "INSERT INTO audit_entry (pos, id, body) VALUES (-5, 'forged', $1)"
	if d.Dialect == db.Postgres {
		q = "INSERT INTO audit_entry (pos, id, body) OVERRIDING SYSTEM VALUE VALUES (-5, 'forged', $1)"
	}
	dbtest.MustExec(t, d, q, e.Canonical())
	return e.Canonical()
}

// shiftLeaves renumbers the leaves from idx on by delta (+1 or -1).
func shiftLeaves(t *testing.T, d *db.DB, from, delta int) {
	dbtest.MustExec(t, d, "UPDATE audit_leaf SET idx = -idx - 1 WHERE idx >= $1", from)
	dbtest.MustExec(t, d, "UPDATE audit_leaf SET idx = -idx - 1 + $1 WHERE idx < 0", delta)
}

func TestVerifyNamesTampering(t *testing.T) {
	tests := []tamper{
		{
			name: "one byte of an entry changed",
			do: func(t *testing.T, d *db.DB) {
				var body []byte
				d.Read.QueryRow("SELECT body FROM audit_entry WHERE id = 'e-00011'").Scan(&body)
				i := bytes.Index(body, []byte("physician"))
				body[i] = 'P'
				dbtest.MustExec(t, d, "UPDATE audit_entry SET body = $1 WHERE id = 'e-00011'", body)
			},
			kind: Altered, index: 11, id: "e-00011", other: -1,
		},
		{
			name: "one byte changed and the leaf hash updated to match",
			do: func(t *testing.T, d *db.DB) {
				var body []byte
				d.Read.QueryRow("SELECT body FROM audit_entry WHERE id = 'e-00011'").Scan(&body)
				body[bytes.Index(body, []byte("physician"))] = 'P'
				dbtest.MustExec(t, d, "UPDATE audit_entry SET body = $1 WHERE id = 'e-00011'", body)
				dbtest.MustExec(t, d, "UPDATE audit_leaf SET hash = $1 WHERE idx = 11", HashLeaf(body))
			},
			// The stored nodes tell the pair of leaves apart from the rest,
			// not the one from the other.
			kind: Altered, index: 10, id: "e-00010", other: 11,
		},
		{
			name: "an entry deleted",
			do:   func(t *testing.T, d *db.DB) { dbtest.MustExec(t, d, "DELETE FROM audit_entry WHERE id = 'e-00004'") },
			kind: Removed, index: 4, id: "e-00004", other: -1,
		},
		{
			name: "an entry and its leaf deleted",
			do: func(t *testing.T, d *db.DB) {
				dbtest.MustExec(t, d, "DELETE FROM audit_entry WHERE id = 'e-00007'")
				dbtest.MustExec(t, d, "DELETE FROM audit_leaf WHERE idx = 7")
			},
			kind: Removed, index: 7, other: -1,
		},
		{
			name: "an entry deleted and the later leaves renumbered",
			do: func(t *testing.T, d *db.DB) {
				dbtest.MustExec(t, d, "DELETE FROM audit_entry WHERE id = 'e-00007'")
				dbtest.MustExec(t, d, "DELETE FROM audit_leaf WHERE idx = 7")
				shiftLeaves(t, d, 8, -1)
				dbtest.MustExec(t, d, "UPDATE audit_tree SET size = size - 1")
			},
			// The stored nodes name the pair of leaves the entry was in.
			kind: Removed, index: 6, other: 7,
		},
		{
			name: "an entry inserted",
			do:   func(t *testing.T, d *db.DB) { forge(t, d) },
			kind: Inserted, index: -1, id: "forged", other: -1,
		},
		{
			name: "an entry inserted with a leaf at the end",
			do: func(t *testing.T, d *db.DB) {
				body := forge(t, d)
				dbtest.MustExec(t, d, "INSERT INTO audit_leaf (idx, entry_pos, entry_id, hash, org_id, recorded, subject, action, outcome) VALUES (20, -5, 'forged', $1, 'org1', 1, 'x', 'R', 0)", HashLeaf(body))
			},
			kind: Inserted, index: 20, id: "forged", other: -1,
		},
		{
			name: "an entry inserted in the middle and the later leaves renumbered",
			do: func(t *testing.T, d *db.DB) {
				body := forge(t, d)
				shiftLeaves(t, d, 6, 1)
				dbtest.MustExec(t, d, "INSERT INTO audit_leaf (idx, entry_pos, entry_id, hash, org_id, recorded, subject, action, outcome) VALUES (6, -5, 'forged', $1, 'org1', 1, 'x', 'R', 0)", HashLeaf(body))
				dbtest.MustExec(t, d, "UPDATE audit_tree SET size = size + 1")
			},
			kind: Inserted, index: 6, id: "forged", other: -1,
		},
		{
			name: "two entries swapped",
			do: func(t *testing.T, d *db.DB) {
				var a, b []byte
				d.Read.QueryRow("SELECT body FROM audit_entry WHERE id = 'e-00002'").Scan(&a)
				d.Read.QueryRow("SELECT body FROM audit_entry WHERE id = 'e-00015'").Scan(&b)
				dbtest.MustExec(t, d, "UPDATE audit_entry SET body = $1 WHERE id = 'e-00002'", b)
				dbtest.MustExec(t, d, "UPDATE audit_entry SET body = $1 WHERE id = 'e-00015'", a)
			},
			kind: Reordered, index: 2, id: "e-00002", other: 15,
		},
		{
			name: "two leaves pointed at each other's entries",
			do: func(t *testing.T, d *db.DB) {
				var p5, p9 int64
				d.Read.QueryRow("SELECT entry_pos FROM audit_leaf WHERE idx = 5").Scan(&p5)
				d.Read.QueryRow("SELECT entry_pos FROM audit_leaf WHERE idx = 9").Scan(&p9)
				dbtest.MustExec(t, d, "UPDATE audit_leaf SET entry_pos = -1 WHERE idx = 5")
				dbtest.MustExec(t, d, "UPDATE audit_leaf SET entry_pos = $1 WHERE idx = 9", p5)
				dbtest.MustExec(t, d, "UPDATE audit_leaf SET entry_pos = $1 WHERE idx = 5", p9)
			},
			kind: Reordered, index: 5, id: "e-00005", other: 9,
		},
	}
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					d := dbtest.Open(t, e)
					l := newTestLog(t, d, nil)
					ctx := context.Background()
					fill(t, l, 20)
					if _, _, err := l.Checkpoint(ctx); err != nil {
						t.Fatal(err)
					}
					rep, err := l.Verify(ctx, VerifyOptions{})
					if err != nil || !rep.OK() {
						t.Fatalf("before tampering: %v %v", err, rep.Findings)
					}
					tc.do(t, d)
					rep, err = l.Verify(ctx, VerifyOptions{})
					if err != nil {
						t.Fatal(err)
					}
					if rep.OK() {
						t.Fatal("verify found nothing")
					}
					f := rep.Findings[0]
					if f.Kind != tc.kind || f.Index != tc.index || f.EntryID != tc.id || f.OtherIndex != tc.other {
						t.Fatalf("first finding %+v, want %s at %d (%q, other %d); all: %v", f, tc.kind, tc.index, tc.id, tc.other, rep.Findings)
					}
					for _, f := range rep.Findings[1:] {
						if f.Kind != CheckpointMismatch && f.Kind != tc.kind {
							t.Errorf("unexpected further finding %v", f)
						}
					}
				})
			}
		})
	}
}

func TestVerifyChecksCheckpoints(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		dir := t.TempDir()
		l := newTestLog(t, d, FolderPublisher{Dir: dir})
		fill(t, l, 5)
		first, _, _ := l.Checkpoint(ctx)
		fill(t, l, 5)
		if _, _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		// Someone removes a checkpoint from the database and forges another.
		dbtest.MustExec(t, d, "DELETE FROM audit_checkpoint WHERE size = $1", int64(first.Size))
		dbtest.MustExec(t, d, "UPDATE audit_checkpoint SET note = $1 WHERE size = 10", strings.Replace(string(first.Note), "\n5\n", "\n10\n", 1))
		pub, _ := ReadFolder(dir)
		rep, err := l.Verify(ctx, VerifyOptions{Published: pub})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, f := range rep.Findings {
			if f.Kind != CheckpointMismatch {
				t.Errorf("unexpected %v", f)
			}
			msgs = append(msgs, f.Message)
		}
		all := strings.Join(msgs, "\n")
		for _, want := range []string{"stored checkpoint of size 10", "(size 5) is missing from the database"} {
			if !strings.Contains(all, want) {
				t.Errorf("findings lack %q:\n%s", want, all)
			}
		}
	})
}

func TestRecordFailsWhenTheStoreFails(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		l := newTestLog(t, d, nil)
		ctx := context.Background()
		if err := l.Record(ctx, readEntry("u", "Patient/1")); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if err := l.Record(ctx, readEntry("u", "Patient/1")); err == nil {
			t.Fatal("Record succeeded on a closed database")
		}
		l.Close()
		if err := l.Record(ctx, readEntry("u", "Patient/1")); !errors.Is(err, ErrClosed) {
			t.Fatalf("Record after Close: %v", err)
		}
	})
}

func TestAppendTxRollsBackWithTheWrite(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		l := newTestLog(t, d, nil)
		ctx := context.Background()
		boom := errors.New("write failed")
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			if err := l.AppendTx(ctx, tx, readEntry("u", "Patient/1")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n, _ := l.Sequence(ctx); n != 0 {
			t.Fatalf("%d entries of a rolled back write were sequenced", n)
		}
	})
}

func TestConcurrentAppendsLoseNothing(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		// Two logs on one database stand for two careloop nodes: both run
		// a sequencer while entries arrive.
		node := func() *Log {
			l, err := New(Config{DB: d, Origin: "careloop/test.example", Seed: testSeed, SequenceInterval: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		}
		l, l2 := node(), node()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		runDone := make(chan struct{}, 2)
		go func() { l.Run(ctx); runDone <- struct{}{} }()
		go func() { l2.Run(ctx); runDone <- struct{}{} }()
		const writers, each = 16, 25
		var wg sync.WaitGroup
		errc := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					e := readEntry(fmt.Sprintf("u%d", w), "Patient/1")
					e.ID = fmt.Sprintf("w%02d-%03d", w, i)
					node := l
					if w%4 >= 2 {
						node = l2
					}
					var err error
					if w%2 == 0 {
						err = node.Record(ctx, e)
					} else {
						err = d.InTx(ctx, func(tx *sql.Tx) error { return node.AppendTx(ctx, tx, e) })
					}
					if err != nil {
						errc <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}
		cancel()
		<-runDone
		<-runDone
		if _, err := l.Sequence(context.Background()); err != nil {
			t.Fatal(err)
		}
		rows, err := d.Read.Query("SELECT idx, entry_id FROM audit_leaf ORDER BY idx")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := map[string]bool{}
		var next int64
		for rows.Next() {
			var idx int64
			var id string
			rows.Scan(&idx, &id)
			if idx != next {
				t.Fatalf("leaf %d after %d: indices not consecutive", idx, next-1)
			}
			next++
			seen[id] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("%d entries sequenced, want %d", len(seen), writers*each)
		}
		size, _, _ := l.Size(context.Background())
		if size != writers*each {
			t.Fatalf("tree size %d", size)
		}
	})
}

func TestHTTPPublisher(t *testing.T) {
	var mu sync.Mutex
	var got [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := new(bytes.Buffer)
		b.ReadFrom(r.Body)
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, b.Bytes())
		mu.Unlock()
	}))
	defer srv.Close()
	d := dbtest.Open(t, db.SQLite)
	l := newTestLog(t, d, HTTPPublisher{URL: srv.URL})
	fill(t, l, 3)
	cp, _, err := l.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], cp.Note) {
		t.Fatalf("published %q", got)
	}
	l2 := newTestLog(t, d, HTTPPublisher{URL: srv.URL + "/404"})
	srv.Config.Handler = http.NotFoundHandler()
	fill(t, l2, 1)
	if _, _, err := l2.Checkpoint(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("publish to a failing endpoint: %v", err)
	}
}

func TestRunIssuesCheckpointsWhenTheTreeGrows(t *testing.T) {
	d := dbtest.Open(t, db.SQLite)
	dir := t.TempDir()
	l, err := New(Config{DB: d, Origin: "careloop/test.example", Seed: testSeed, Publisher: FolderPublisher{Dir: dir},
		CheckpointInterval: 10 * time.Millisecond, SequenceInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(size uint64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			cp, err := l.LatestCheckpoint(ctx)
			if err == nil && cp.Size == size {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no checkpoint of size %d issued: %v %v", size, cp, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// One commit, so that no checkpoint can fall between the three.
	if err := l.Record(ctx, readEntry("u", "Patient/1"), readEntry("u", "Patient/2"), readEntry("u", "Patient/3")); err != nil {
		t.Fatal(err)
	}
	waitFor(3)
	if err := l.Record(ctx, readEntry("u", "Patient/9")); err != nil {
		t.Fatal(err)
	}
	waitFor(4)
	// Many intervals without growth issue nothing more.
	time.Sleep(100 * time.Millisecond)
	cps, err := l.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 2 || cps[0].Size != 3 || cps[1].Size != 4 {
		t.Fatalf("checkpoints of sizes %v, want 3 and 4", sizesOf(cps))
	}
	pub, _ := ReadFolder(dir)
	if len(pub) != 3 {
		t.Fatalf("%d published files, want 2 checkpoints and latest", len(pub))
	}
}

func sizesOf(cps []*Checkpoint) []uint64 {
	var out []uint64
	for _, c := range cps {
		out = append(out, c.Size)
	}
	return out
}
