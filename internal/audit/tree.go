package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// hasher is the RFC 6962 tree hasher (SHA-256) of the log.
var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hashChildren}

// HashLeaf returns the RFC 6962 leaf hash of an entry's canonical bytes.
func HashLeaf(canonical []byte) []byte { return hasher.HashLeaf(canonical) }

// hashChildren is RFC 6962's hash of an inner node, SHA-256(0x01 || left ||
// right), as hasher.HashChildren computes it but without a hash state on
// the heap: sequencing and verifying compute one or more per entry.
func hashChildren(l, r []byte) []byte {
	if len(l) != sha256.Size || len(r) != sha256.Size {
		return hasher.HashChildren(l, r)
	}
	sum := sumChildren(l, r)
	return sum[:]
}

// sumChildren is hashChildren of two 32-byte hashes, as an array.
func sumChildren(l, r []byte) [sha256.Size]byte {
	var in [1 + 2*sha256.Size]byte
	in[0] = rfc6962.RFC6962NodeHashPrefix
	copy(in[1:], l)
	copy(in[1+sha256.Size:], r)
	return sha256.Sum256(in[:])
}

// hashArena hands out the 32-byte slices of hashes that live as long as
// one another (a sequencer turn's), carved from larger allocations.
type hashArena struct{ slab []byte }

// hashArenaSlab is how many hashes one allocation of a hashArena holds.
const hashArenaSlab = 64

// alloc returns an empty slice with room for one hash.
func (a *hashArena) alloc() []byte {
	if cap(a.slab)-len(a.slab) < sha256.Size {
		a.slab = make([]byte, 0, hashArenaSlab*sha256.Size)
	}
	k := len(a.slab)
	a.slab = a.slab[:k+sha256.Size]
	return a.slab[k:k:len(a.slab)]
}

// hashChildren is hashChildren with the result in a.
func (a *hashArena) hashChildren(l, r []byte) []byte {
	if len(l) != sha256.Size || len(r) != sha256.Size {
		return hasher.HashChildren(l, r)
	}
	sum := sumChildren(l, r)
	return append(a.alloc(), sum[:]...)
}

// leafHasher computes RFC 6962 leaf hashes, SHA-256(0x00 || bytes), with
// one hash state for many. It is not safe for concurrent use.
type leafHasher struct{ h hash.Hash }

func newLeafHasher() *leafHasher { return &leafHasher{h: sha256.New()} }

// leafPrefix is written before a leaf's bytes; one slice for all, since a
// literal handed to the hash state would be allocated per leaf.
var leafPrefix = []byte{rfc6962.RFC6962LeafHashPrefix}

// sum returns the leaf hash of b.
func (lh *leafHasher) sum(b []byte) []byte {
	return lh.appendSum(make([]byte, 0, sha256.Size), b)
}

// appendSum appends the leaf hash of b to dst and returns the result.
func (lh *leafHasher) appendSum(dst, b []byte) []byte {
	lh.h.Reset()
	lh.h.Write(leafPrefix)
	lh.h.Write(b)
	return lh.h.Sum(dst)
}

// tree is the sequencer's state.
type tree struct {
	size   uint64
	root   []byte
	rng    *compact.Range
	cursor int64 // SQLite: the last entry pos sequenced
}

// readTree reads the sequencer's state; lock takes the sequencer lock on
// PostgreSQL (on SQLite the write transaction is the lock). The range
// computes node hashes with rf.
func readTree(ctx context.Context, q queryer, lock bool, rf *compact.RangeFactory) (*tree, error) {
	query := "SELECT size, root, compact, cursor FROM audit_tree WHERE id = 1"
	if lock {
		query += " FOR UPDATE"
	}
	var size, cursor int64
	var root, packed []byte
	if err := q.QueryRowContext(ctx, query).Scan(&size, &root, &packed, &cursor); err != nil {
		return nil, fmt.Errorf("read tree state: %w", err)
	}
	if len(packed)%hasher.Size() != 0 {
		return nil, fmt.Errorf("tree state: compact range of %d bytes", len(packed))
	}
	var hashes [][]byte
	for i := 0; i < len(packed); i += hasher.Size() {
		hashes = append(hashes, packed[i:i+hasher.Size()])
	}
	rng, err := rf.NewRange(0, uint64(size), hashes)
	if err != nil {
		return nil, fmt.Errorf("tree state: %w", err)
	}
	return &tree{size: uint64(size), root: root, rng: rng, cursor: cursor}, nil
}

// searchFields are the fields of an entry's canonical bytes that the
// search index holds; reading only them keeps sequencing cheap.
type searchFields struct {
	OrgID    string
	Recorded string
	Action   string
	Outcome  int
	Subject  string // the agent's
	Patients []string
}

// parse reads the search fields from an entry's canonical bytes in one pass
// over its members. The strings refer to body (valid only while body is),
// and f.Patients's array is reused.
func (f *searchFields) parse(body []byte) error {
	*f = searchFields{Patients: f.Patients[:0]}
	if !gjson.ValidBytes(body) {
		return errors.New("not valid JSON")
	}
	// The bytes are read in place, viewed as a string (gjson takes strings).
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if !root.IsObject() {
		return errors.New("not a JSON object")
	}
	var bad error
	root.ForEach(func(key, v gjson.Result) bool {
		switch key.Str {
		case "org":
			f.OrgID = v.String()
		case "recorded":
			f.Recorded = v.String()
		case "action":
			f.Action = v.String()
		case "outcome":
			if v.Type != gjson.Number {
				bad = fmt.Errorf("outcome is %s, not a number", v.Type)
				return false
			}
			f.Outcome = int(v.Int())
		case "agent":
			f.Subject = v.Get("subject").String()
		case "patients":
			v.ForEach(func(_, p gjson.Result) bool {
				f.Patients = append(f.Patients, p.String())
				return true
			})
		}
		return true
	})
	return bad
}

// sequenceBatch is how many pending entries one sequencer transaction takes.
const sequenceBatch = 4096

// Sequence gives every pending entry the next leaf index, in the order they
// were stored, and stores the leaves (hash and search columns), the new tree
// nodes, the patient index rows and the new tree size and root. It returns the number of
// entries sequenced. One sequencer runs at a time across processes (the
// tree state row is its lock); others wait for it.
func (l *Log) Sequence(ctx context.Context) (int, error) {
	total := 0
	for {
		n, raced, err := l.sequenceOnce(ctx, sequenceBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("audit: sequence: %w", err)
		}
		if n < sequenceBatch && !raced {
			return total, nil
		}
	}
}

// pendingEntry is an entry read for sequencing, hashed and decoded before
// the sequencer takes the lock. The values that go into the inserts are
// held as the insert arguments they become (any): as the driver returned
// them, or boxed once, so that a value used in several rows is not boxed
// again for each.
type pendingEntry struct {
	seq, pos, id any // as read: int64, int64, string
	posN         int64
	hash         []byte
	hashArg      any // hash
	idx          any // the leaf index (int64), given under the lock
	recorded     any // Unix microseconds (int64); 0 if not indexed
	outcome      int64
	org, subject any // strings; "" if not indexed
	action       any
	patients     []any // strings
}

// nodeRow is an audit_node row.
type nodeRow struct {
	key  int64 // nodeKey of the node
	hash []byte
}

// nodeKey is audit_node's key of the inner node at level (>= 1) and index
// idx: the index of the last leaf it covers, times 64, plus its level.
// Nodes are completed in the order of their last leaf, and the nodes one
// leaf completes in the order of their levels, so each new key is the
// largest yet: the table's B-tree grows at its end (keyed by level and
// index, each level's new nodes went into its middle). A tree of fewer than
// 2^57 leaves fits.
func nodeKey(level uint, idx uint64) int64 {
	return int64(((idx+1)<<level-1)<<6 | uint64(level))
}

// seqScratch holds the buffers of a sequencer turn, reused by later turns
// so that a turn's garbage grows with the rows it stores and not with its
// own bookkeeping. Everything in it is cleared at the end of a turn; the
// buffers stay (at most a few MB, after batches of sequenceBatch).
type seqScratch struct {
	batch    []pendingEntry
	patients []any // pendingEntry.patients point into it
	prows    [][4]any
	nodes    []nodeRow
	args     []any
	fields   searchFields
	boxes    map[string]any // strings of the turn, each boxed once
}

// box returns v as an insert argument: a copy of v, boxed, the same for
// equal strings within a turn (most entries of a turn share their
// organisation and action, and many their user and patient).
func (sc *seqScratch) box(v string) any {
	if b, ok := sc.boxes[v]; ok {
		return b
	}
	if sc.boxes == nil {
		sc.boxes = map[string]any{}
	}
	v = strings.Clone(v)
	b := any(v)
	sc.boxes[v] = b
	return b
}

// reset clears sc for the next turn.
func (sc *seqScratch) reset() {
	clear(sc.batch)
	sc.batch = sc.batch[:0]
	clear(sc.patients)
	sc.patients = sc.patients[:0]
	clear(sc.prows)
	sc.prows = sc.prows[:0]
	clear(sc.nodes)
	sc.nodes = sc.nodes[:0]
	clear(sc.args)
	sc.args = sc.args[:0]
	clear(sc.fields.Patients)
	sc.fields = searchFields{Patients: sc.fields.Patients[:0]}
	clear(sc.boxes)
}

// errRaced says another sequencer moved the tree between reading and locking.
var errRaced = errors.New("audit: another sequencer ran")

// sequenceOnce sequences up to limit entries. The entries are read, hashed
// and decoded before the write transaction, so that the one writer (on
// SQLite) is held only for the inserts; if another sequencer moved the tree
// meanwhile the batch is dropped and read again.
func (l *Log) sequenceOnce(ctx context.Context, limit int) (n int, raced bool, err error) {
	sqlite := l.db.Dialect == db.SQLite
	// qctx is the context of the turn's statements other than BEGIN. On
	// SQLite a statement under a context that can be cancelled costs a
	// goroutine watching it (the driver's, and database/sql's for rows),
	// about a tenth of a small turn; there the statements wait for no lock
	// (reads do not, and the write transaction takes the lock at BEGIN,
	// under ctx) and run for at most milliseconds, so they do without
	// ctx's cancellation. A cancelled ctx still stops the turn: checked
	// before it starts, and database/sql rolls the transaction back, so
	// that its next statement fails. On PostgreSQL statements may wait on
	// locks or the network, and keep ctx.
	qctx := ctx
	if sqlite {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		qctx = context.WithoutCancel(ctx)
	}
	before, err := readTree(qctx, l.db.Read, false, rangeFactory)
	if err != nil {
		return 0, false, err
	}
	var rows *sql.Rows
	if sqlite {
		rows, err = l.db.Read.QueryContext(qctx, "SELECT 0, pos, id, body FROM audit_entry WHERE pos > $1 ORDER BY pos LIMIT $2", before.cursor, limit)
	} else {
		rows, err = l.db.Read.QueryContext(qctx, `SELECT p.seq, e.pos, e.id, e.body FROM audit_pending p
			JOIN audit_entry e ON e.id = p.entry_id ORDER BY p.seq LIMIT $1`, limit)
	}
	if err != nil {
		return 0, false, fmt.Errorf("read pending: %w", err)
	}
	// Turns of one Log normally run one at a time (Run); one that overlaps
	// (a direct call of Sequence) works with buffers of its own.
	var sc *seqScratch
	if l.seqMu.TryLock() {
		sc = &l.seqScratch
		defer l.seqMu.Unlock()
	} else {
		sc = new(seqScratch)
	}
	defer sc.reset()
	batch := sc.batch[:0]
	lh := newLeafHasher()
	var arena hashArena // the leaf and node hashes of the turn
	f := &sc.fields
	for rows.Next() {
		// The entry is read in place in the batch (a pendingEntry of its
		// own would escape to the heap through Scan).
		batch = append(batch, pendingEntry{})
		pe := &batch[len(batch)-1]
		var body sql.RawBytes
		// seq, pos and id are scanned into interfaces: the driver's values,
		// already boxed, become the insert arguments as they are.
		if err := rows.Scan(&pe.seq, &pe.pos, &pe.id, &body); err != nil {
			rows.Close()
			return 0, false, fmt.Errorf("read pending: %w", err)
		}
		pos, ok := pe.pos.(int64)
		_, okID := pe.id.(string)
		if !ok || !okID {
			rows.Close()
			return 0, false, fmt.Errorf("read pending: entry position %T and id %T", pe.pos, pe.id)
		}
		pe.posN = pos
		pe.hash = lh.appendSum(arena.alloc(), body)
		pe.hashArg = pe.hash
		// The search columns come from the leaf bytes themselves. An entry
		// that does not decode is still a leaf, found by no search.
		pe.recorded = int64(0)
		if err := f.parse(body); err != nil {
			l.log.Warn("audit: entry not indexed for search", "entry", pe.id, "err", err)
			*f = searchFields{Patients: f.Patients[:0]}
		} else if when, err := time.Parse(recordedLayout, f.Recorded); err != nil {
			l.log.Warn("audit: entry not indexed for search", "entry", pe.id, "err", err)
			*f = searchFields{Patients: f.Patients[:0]}
		} else {
			pe.recorded = when.UnixMicro()
		}
		pe.outcome = int64(f.Outcome)
		pe.org, pe.subject, pe.action = sc.box(f.OrgID), sc.box(f.Subject), sc.box(f.Action)
		k := len(sc.patients)
		for _, p := range f.Patients {
			sc.patients = append(sc.patients, sc.box(p))
		}
		pe.patients = sc.patients[k:len(sc.patients):len(sc.patients)]
	}
	sc.batch = batch
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, false, fmt.Errorf("read pending: %w", err)
	}
	if len(batch) == 0 {
		return 0, false, nil
	}
	release := l.guard.Hold()
	defer release()
	err = l.db.InTx(ctx, func(tx *sql.Tx) error {
		t, err := readTree(qctx, tx, !sqlite, &compact.RangeFactory{Hash: arena.hashChildren})
		if err != nil {
			return err
		}
		// Under the lock: if the tree is as it was, nobody sequenced the
		// batch since it was read.
		if t.size != before.size || t.cursor != before.cursor {
			return errRaced
		}
		nodes := sc.nodes[:0]
		visit := func(id compact.NodeID, hash []byte) {
			if id.Level == 0 {
				return // a leaf: its hash is in audit_leaf
			}
			nodes = append(nodes, nodeRow{nodeKey(id.Level, id.Index), hash})
		}
		prows := sc.prows[:0]
		for i := range batch {
			pe := &batch[i]
			pe.idx = int64(t.rng.End())
			if err := t.rng.Append(pe.hash, visit); err != nil {
				return err
			}
			for _, p := range pe.patients {
				prows = append(prows, [4]any{pe.org, p, pe.recorded, pe.idx})
			}
		}
		sc.nodes, sc.prows = nodes, prows
		cursor := batch[len(batch)-1].posN
		if err := insertRows(qctx, tx, "INSERT INTO audit_leaf (idx, entry_pos, entry_id, hash, org_id, recorded, subject, action, outcome) VALUES ",
			9, l.db.Dialect, len(batch), &sc.args, func(args []any, i int) []any {
				pe := &batch[i]
				return append(args, pe.idx, pe.pos, pe.id, pe.hashArg, pe.org, pe.recorded, pe.subject, pe.action, pe.outcome)
			}); err != nil {
			return err
		}
		if err := insertRows(qctx, tx, "INSERT INTO audit_node (k, hash) VALUES ",
			2, l.db.Dialect, len(nodes), &sc.args, func(args []any, i int) []any {
				return append(args, nodes[i].key, nodes[i].hash)
			}); err != nil {
			return err
		}
		if err := insertRows(qctx, tx, "INSERT INTO audit_patient (org_id, patient, recorded, idx) VALUES ",
			4, l.db.Dialect, len(prows), &sc.args, func(args []any, i int) []any {
				return append(args, prows[i][:]...)
			}); err != nil {
			return err
		}
		for done := 0; !sqlite && done < len(batch); {
			k := chunk(len(batch) - done)
			args := sc.args[:0]
			for _, pe := range batch[done : done+k] {
				args = append(args, pe.seq)
			}
			_, err := tx.ExecContext(qctx, "DELETE FROM audit_pending WHERE seq IN "+l.db.Dialect.Placeholders(0, k), args...)
			clear(args)
			sc.args = args[:0]
			if err != nil {
				return fmt.Errorf("clear pending: %w", err)
			}
			done += k
		}
		root, err := t.rng.GetRootHash(nil)
		if err != nil {
			return err
		}
		var packed []byte
		for _, h := range t.rng.Hashes() {
			packed = append(packed, h...)
		}
		if _, err := tx.ExecContext(qctx, "UPDATE audit_tree SET size = $1, root = $2, compact = $3, cursor = $4 WHERE id = 1",
			int64(t.rng.End()), root, packed, cursor); err != nil {
			return fmt.Errorf("store tree state: %w", err)
		}
		return nil
	})
	if errors.Is(err, errRaced) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, err
	}
	return len(batch), false, nil
}

// Size returns the current tree size and root hash: the entries sequenced so
// far.
func (l *Log) Size(ctx context.Context) (uint64, []byte, error) {
	t, err := readTree(ctx, l.db.Read, false, rangeFactory)
	if err != nil {
		return 0, nil, fmt.Errorf("audit: %w", err)
	}
	return t.size, t.root, nil
}

// InclusionProof returns the RFC 6962 inclusion proof of leaf index in the
// tree of the given size, built from stored nodes, and the leaf hash. The
// size must not exceed the current tree size; bad arguments give an
// errs.Invalid error.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) (leafHash []byte, hashes [][]byte, err error) {
	cur, _, err := l.Size(ctx)
	if err != nil {
		return nil, nil, err
	}
	if size > cur {
		return nil, nil, errs.Invalidf("size", "The log has %d entries; there is no tree of size %d.", cur, size)
	}
	if index >= size {
		return nil, nil, errs.Invalidf("index", "Leaf index %d is not in a tree of size %d.", index, size)
	}
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, nil, errs.Wrap(err, errs.Invalid, "No inclusion proof for these numbers.")
	}
	leaf, err := l.nodeHashes(ctx, []compact.NodeID{compact.NewNodeID(0, index)})
	if err != nil {
		return nil, nil, err
	}
	hashes, err = l.rehash(ctx, nodes)
	if err != nil {
		return nil, nil, err
	}
	return leaf[0], hashes, nil
}

// LeafIndex returns the leaf index of the entry with the given id, or an
// errs.NotFound error if it has none (yet).
func (l *Log) LeafIndex(ctx context.Context, entryID string) (uint64, error) {
	var idx int64
	err := l.db.Read.QueryRowContext(ctx, "SELECT idx FROM audit_leaf WHERE entry_id = $1 ORDER BY idx LIMIT 1", entryID).Scan(&idx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errs.NotFoundf("Audit entry %s has no leaf index (it is unknown or not yet sequenced).", entryID)
	}
	if err != nil {
		return 0, fmt.Errorf("audit: leaf of %s: %w", entryID, err)
	}
	return uint64(idx), nil
}

// ConsistencyProof returns the RFC 6962 consistency proof between the trees
// of sizes from and to (from <= to <= current size), built from stored nodes.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	cur, _, err := l.Size(ctx)
	if err != nil {
		return nil, err
	}
	if to > cur {
		return nil, errs.Invalidf("to", "The log has %d entries; there is no tree of size %d.", cur, to)
	}
	if from > to {
		return nil, errs.Invalidf("from", "A consistency proof needs from (%d) <= to (%d).", from, to)
	}
	nodes, err := proof.Consistency(from, to)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "No consistency proof for these sizes.")
	}
	return l.rehash(ctx, nodes)
}

func (l *Log) rehash(ctx context.Context, nodes proof.Nodes) ([][]byte, error) {
	hs, err := l.nodeHashes(ctx, nodes.IDs)
	if err != nil {
		return nil, err
	}
	out, err := nodes.Rehash(hs, hashChildren)
	if err != nil {
		return nil, fmt.Errorf("audit: proof: %w", err)
	}
	return out, nil
}

// nodeHashes reads stored node hashes: leaf hashes for level 0, inner nodes
// above.
func (l *Log) nodeHashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		var err error
		if id.Level == 0 {
			err = l.db.Read.QueryRowContext(ctx, "SELECT hash FROM audit_leaf WHERE idx = $1", int64(id.Index)).Scan(&out[i])
		} else {
			err = l.db.Read.QueryRowContext(ctx, "SELECT hash FROM audit_node WHERE k = $1", nodeKey(id.Level, id.Index)).Scan(&out[i])
		}
		if err != nil {
			return nil, fmt.Errorf("audit: tree node (%d, %d): %w", id.Level, id.Index, err)
		}
	}
	return out, nil
}
