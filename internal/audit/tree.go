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
	var in [1 + 2*sha256.Size]byte
	in[0] = rfc6962.RFC6962NodeHashPrefix
	copy(in[1:], l)
	copy(in[1+sha256.Size:], r)
	sum := sha256.Sum256(in[:])
	return sum[:]
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
	lh.h.Reset()
	lh.h.Write(leafPrefix)
	lh.h.Write(b)
	return lh.h.Sum(make([]byte, 0, sha256.Size))
}

// tree is the sequencer's state.
type tree struct {
	size   uint64
	root   []byte
	rng    *compact.Range
	cursor int64 // SQLite: the last entry pos sequenced
}

// readTree reads the sequencer's state; lock takes the sequencer lock on
// PostgreSQL (on SQLite the write transaction is the lock).
func readTree(ctx context.Context, q queryer, lock bool) (*tree, error) {
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
	rng, err := rangeFactory.NewRange(0, uint64(size), hashes)
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
// over its members.
func (f *searchFields) parse(body []byte) error {
	if !gjson.ValidBytes(body) {
		return errors.New("not valid JSON")
	}
	// The bytes are read in place, viewed as a string (gjson takes
	// strings); every value kept is cloned, so none refers to body after.
	root := gjson.Parse(unsafe.String(unsafe.SliceData(body), len(body)))
	if !root.IsObject() {
		return errors.New("not a JSON object")
	}
	var bad error
	root.ForEach(func(key, v gjson.Result) bool {
		switch key.Str {
		case "org":
			f.OrgID = strings.Clone(v.String())
		case "recorded":
			f.Recorded = strings.Clone(v.String())
		case "action":
			f.Action = strings.Clone(v.String())
		case "outcome":
			if v.Type != gjson.Number {
				bad = fmt.Errorf("outcome is %s, not a number", v.Type)
				return false
			}
			f.Outcome = int(v.Int())
		case "agent":
			f.Subject = strings.Clone(v.Get("subject").String())
		case "patients":
			v.ForEach(func(_, p gjson.Result) bool {
				f.Patients = append(f.Patients, strings.Clone(p.String()))
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
// the sequencer takes the lock.
type pendingEntry struct {
	seq, pos int64
	id       string
	hash     []byte
	fields   searchFields
	recorded int64
}

// errRaced says another sequencer moved the tree between reading and locking.
var errRaced = errors.New("audit: another sequencer ran")

// sequenceOnce sequences up to limit entries. The entries are read, hashed
// and decoded before the write transaction, so that the one writer (on
// SQLite) is held only for the inserts; if another sequencer moved the tree
// meanwhile the batch is dropped and read again.
func (l *Log) sequenceOnce(ctx context.Context, limit int) (n int, raced bool, err error) {
	sqlite := l.db.Dialect == db.SQLite
	before, err := readTree(ctx, l.db.Read, false)
	if err != nil {
		return 0, false, err
	}
	var rows *sql.Rows
	if sqlite {
		rows, err = l.db.Read.QueryContext(ctx, "SELECT 0, pos, id, body FROM audit_entry WHERE pos > $1 ORDER BY pos LIMIT $2", before.cursor, limit)
	} else {
		rows, err = l.db.Read.QueryContext(ctx, `SELECT p.seq, e.pos, e.id, e.body FROM audit_pending p
			JOIN audit_entry e ON e.id = p.entry_id ORDER BY p.seq LIMIT $1`, limit)
	}
	if err != nil {
		return 0, false, fmt.Errorf("read pending: %w", err)
	}
	var batch []pendingEntry
	lh := newLeafHasher()
	for rows.Next() {
		var pe pendingEntry
		var body sql.RawBytes
		if err := rows.Scan(&pe.seq, &pe.pos, &pe.id, &body); err != nil {
			rows.Close()
			return 0, false, fmt.Errorf("read pending: %w", err)
		}
		pe.hash = lh.sum(body)
		// The search columns come from the leaf bytes themselves. An entry
		// that does not decode is still a leaf, found by no search.
		if err := pe.fields.parse(body); err != nil {
			l.log.Warn("audit: entry not indexed for search", "entry", pe.id, "err", err)
			pe.fields = searchFields{}
		} else if when, err := time.Parse(recordedLayout, pe.fields.Recorded); err != nil {
			l.log.Warn("audit: entry not indexed for search", "entry", pe.id, "err", err)
			pe.fields = searchFields{}
		} else {
			pe.recorded = when.UnixMicro()
		}
		batch = append(batch, pe)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, false, fmt.Errorf("read pending: %w", err)
	}
	if len(batch) == 0 {
		return 0, false, nil
	}
	err = l.db.InTx(ctx, func(tx *sql.Tx) error {
		t, err := readTree(ctx, tx, !sqlite)
		if err != nil {
			return err
		}
		// Under the lock: if the tree is as it was, nobody sequenced the
		// batch since it was read.
		if t.size != before.size || t.cursor != before.cursor {
			return errRaced
		}
		var seqs, leaves, nodes, patients [][]any
		visit := func(id compact.NodeID, hash []byte) {
			nodes = append(nodes, []any{int64(id.Level), int64(id.Index), hash})
		}
		cursor := t.cursor
		for _, pe := range batch {
			idx := int64(t.rng.End())
			if err := t.rng.Append(pe.hash, visit); err != nil {
				return err
			}
			seqs = append(seqs, []any{pe.seq})
			cursor = pe.pos
			f := &pe.fields
			leaves = append(leaves, []any{idx, pe.pos, pe.id, pe.hash, f.OrgID, pe.recorded, f.Subject, f.Action, f.Outcome})
			for _, p := range f.Patients {
				patients = append(patients, []any{f.OrgID, p, pe.recorded, idx})
			}
		}
		for _, ins := range []struct {
			prefix string
			ncols  int
			rows   [][]any
		}{
			{"INSERT INTO audit_leaf (idx, entry_pos, entry_id, hash, org_id, recorded, subject, action, outcome) VALUES ", 9, leaves},
			{"INSERT INTO audit_node (level, idx, hash) VALUES ", 3, nodes},
			{"INSERT INTO audit_patient (org_id, patient, recorded, idx) VALUES ", 4, patients},
		} {
			if err := insertRows(ctx, tx, ins.prefix, ins.ncols, l.db.Dialect, ins.rows); err != nil {
				return err
			}
		}
		for !sqlite && len(seqs) > 0 {
			k := chunk(len(seqs))
			args := make([]any, k)
			for i := range k {
				args[i] = seqs[i][0]
			}
			if _, err := tx.ExecContext(ctx, "DELETE FROM audit_pending WHERE seq IN "+l.db.Dialect.Placeholders(0, k), args...); err != nil {
				return fmt.Errorf("clear pending: %w", err)
			}
			seqs = seqs[k:]
		}
		root, err := t.rng.GetRootHash(nil)
		if err != nil {
			return err
		}
		var packed []byte
		for _, h := range t.rng.Hashes() {
			packed = append(packed, h...)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE audit_tree SET size = $1, root = $2, compact = $3, cursor = $4 WHERE id = 1",
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
	t, err := readTree(ctx, l.db.Read, false)
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
			err = l.db.Read.QueryRowContext(ctx, "SELECT hash FROM audit_node WHERE level = $1 AND idx = $2", int64(id.Level), int64(id.Index)).Scan(&out[i])
		}
		if err != nil {
			return nil, fmt.Errorf("audit: tree node (%d, %d): %w", id.Level, id.Index, err)
		}
	}
	return out, nil
}
