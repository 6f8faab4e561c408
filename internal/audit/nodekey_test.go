package audit

import (
	"bytes"
	"context"
	"testing"

	"github.com/transparency-dev/merkle/proof"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
)

// TestNodeKeysGrow checks nodeKey against the nodes a tree completes leaf
// by leaf: every key must be larger than every key before it.
func TestNodeKeysGrow(t *testing.T) {
	last := int64(-1)
	for leaf := uint64(0); leaf < 1<<12; leaf++ {
		// Appending leaf completes the nodes at the levels of its trailing
		// ones: level L has index leaf>>L, in the order of L.
		for level := uint(1); leaf>>(level-1)&1 == 1 && level < 64; level++ {
			k := nodeKey(level, leaf>>level)
			if k <= last {
				t.Fatalf("leaf %d, level %d: key %d after %d", leaf, level, k, last)
			}
			last = k
		}
	}
}

// TestNodeKeyMigration sequences a tree of 13 leaves, takes the schema
// down to migration 21, adds the leaf rows that sequencers before migration
// 22 stored, and goes up again: down, each inner node must be back at its
// (level, index) with its hash; up, at its key, without the leaf rows; and
// the tree's proofs must still verify and the log verify as untouched.
func TestNodeKeyMigration(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		l := newTestLog(t, d, nil)
		fill(t, l, 13)
		cp, _, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// The complete inner nodes of 13 leaves: 6 at level 1, 3 at level
		// 2, 1 at level 3.
		want := map[int64]bool{}
		for level := uint(1); level <= 3; level++ {
			for idx := uint64(0); idx < 13>>level; idx++ {
				want[nodeKey(level, idx)] = true
			}
		}
		byKey := func() map[int64][]byte {
			t.Helper()
			out := map[int64][]byte{}
			rows, err := d.Read.QueryContext(ctx, "SELECT k, hash FROM audit_node")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var k int64
				var h []byte
				if err := rows.Scan(&k, &h); err != nil {
					t.Fatal(err)
				}
				out[k] = h
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		before := byKey()
		if len(before) != len(want) {
			t.Fatalf("%d nodes stored, want %d", len(before), len(want))
		}
		for k := range want {
			if before[k] == nil {
				t.Fatalf("no node at key %d", k)
			}
		}

		if err := d.MigrateTo(ctx, 21); err != nil {
			t.Fatal(err)
		}
		rows, err := d.Read.QueryContext(ctx, "SELECT level, idx, hash FROM audit_node")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var level, idx int64
			var h []byte
			if err := rows.Scan(&level, &idx, &h); err != nil {
				t.Fatal(err)
			}
			if k := nodeKey(uint(level), uint64(idx)); !bytes.Equal(before[k], h) {
				t.Errorf("down: node (%d, %d) has another hash than key %d had", level, idx, k)
			}
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if n != len(want) {
			t.Errorf("down: %d nodes, want %d", n, len(want))
		}

		// Before migration 22 the sequencer also stored each leaf's hash
		// at level 0, which nothing read; going up must leave such rows out.
		dbtest.MustExec(t, d, "INSERT INTO audit_node (level, idx, hash) SELECT 0, idx, hash FROM audit_leaf")

		if err := d.MigrateTo(ctx, 22); err != nil {
			t.Fatal(err)
		}
		after := byKey()
		if len(after) != len(before) {
			t.Fatalf("up again: %d nodes, want %d", len(after), len(before))
		}
		for k, h := range before {
			if !bytes.Equal(after[k], h) {
				t.Errorf("up again: key %d has another hash", k)
			}
		}
		for i := range cp.Size {
			leaf, p, err := l.InclusionProof(ctx, i, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := proof.VerifyInclusion(hasher, i, cp.Size, leaf, p, cp.Root); err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, cp.Size, err)
			}
		}
		rep, err := l.Verify(ctx, VerifyOptions{})
		if err != nil || !rep.OK() || rep.Leaves != 13 {
			t.Fatalf("verify after the migrations: %+v, %v", rep, err)
		}
	})
}
