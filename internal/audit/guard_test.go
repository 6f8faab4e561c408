package audit

import (
	"context"
	"testing"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// logState is what the log's own writes change: the tree's size and the
// number of checkpoints stored.
type logState struct{ size, checkpoints int }

// spanGuard is a LockGuard that notes the log's state at each Hold and at
// its release.
type spanGuard struct {
	t     testing.TB
	d     *db.DB
	spans [][2]logState
	open  int
}

func (g *spanGuard) state() logState {
	var s logState
	if err := g.d.Read.QueryRow("SELECT (SELECT size FROM audit_tree WHERE id = 1), (SELECT count(*) FROM audit_checkpoint)").Scan(&s.size, &s.checkpoints); err != nil {
		g.t.Fatal(err)
	}
	return s
}

func (g *spanGuard) Hold() func() {
	g.open++
	before := g.state()
	return func() {
		g.open--
		g.spans = append(g.spans, [2]logState{before, g.state()})
	}
}

// TestLockGuardSpansTheLogsWrites checks that the guard is held around
// each of the log's own writes, sequencing and storing a checkpoint: taken
// before the write and released after it is committed.
func TestLockGuardSpansTheLogsWrites(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		g := &spanGuard{t: t, d: d}
		l, err := New(Config{DB: d, Origin: "careloop/test.example", Seed: testSeed, LockGuard: g})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.Record(ctx, readEntry("u", "Patient/1"), readEntry("u", "Patient/2"), readEntry("u", "Patient/3")); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Sequence(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := l.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		want := [][2]logState{
			{{0, 0}, {3, 0}}, // the three entries sequenced
			{{3, 0}, {3, 1}}, // the checkpoint stored
		}
		if g.open != 0 || len(g.spans) != len(want) || g.spans[0] != want[0] || g.spans[1] != want[1] {
			t.Fatalf("guard spans %v (%d still held), want %v", g.spans, g.open, want)
		}
	})
}
