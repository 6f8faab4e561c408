package audit

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/careloop/careloop/internal/platform/db"
)

// FindingKind says what Verify found wrong.
type FindingKind string

// The kinds of findings.
const (
	// Altered: an entry's bytes no longer hash to its leaf.
	Altered FindingKind = "altered"
	// Removed: a leaf or the entry it points to is gone.
	Removed FindingKind = "removed"
	// Inserted: an entry or leaf exists that the sequencer never made.
	Inserted FindingKind = "inserted"
	// Reordered: an entry sits at another entry's leaf (two were swapped).
	Reordered FindingKind = "reordered"
	// CheckpointMismatch: a checkpoint's signature is bad, a stored and a
	// published checkpoint disagree, or the recomputed tree does not match a
	// checkpoint.
	CheckpointMismatch FindingKind = "checkpoint"
)

// Finding is one problem Verify found. Index is the leaf index concerned
// (-1 when none) and EntryID the entry (empty when unknown); a reordering
// also names the other leaf.
type Finding struct {
	Kind       FindingKind
	Index      int64
	EntryID    string
	OtherIndex int64
	OtherID    string
	Message    string
}

// String describes the finding in one line.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(string(f.Kind))
	if f.Index >= 0 {
		fmt.Fprintf(&b, " leaf %d", f.Index)
	}
	if f.EntryID != "" {
		fmt.Fprintf(&b, " entry %s", f.EntryID)
	}
	if f.OtherIndex >= 0 {
		fmt.Fprintf(&b, " with leaf %d", f.OtherIndex)
		if f.OtherID != "" {
			fmt.Fprintf(&b, " entry %s", f.OtherID)
		}
	}
	b.WriteString(": ")
	b.WriteString(f.Message)
	return b.String()
}

// VerifyOptions adds evidence from outside the database to Verify.
type VerifyOptions struct {
	// Published are checkpoint notes published outside the database, as
	// ReadFolder returns them.
	Published []PublishedFile
}

// Report is the result of Verify.
type Report struct {
	Leaves      uint64 // leaves read
	TreeSize    uint64 // tree size recorded by the sequencer
	Pending     int64  // entries stored and not yet sequenced
	Checkpoints int    // stored checkpoints checked
	Published   int    // published checkpoints checked
	Signed      bool   // whether signatures were checked (the log has a key)
	Findings    []Finding
}

// OK reports whether Verify found nothing wrong.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// maxGapFindings bounds the findings listed for one run of missing leaves.
const maxGapFindings = 100

// Verify recomputes the Merkle tree from the stored entries, in leaf order,
// and checks it against every stored checkpoint and every published one in
// opts. It names each entry that was altered, removed, inserted or
// reordered, by leaf index and entry id, and each checkpoint the entries do
// not match. The error is for failures to read; problems with the log are
// findings in the report.
func (l *Log) Verify(ctx context.Context, opts VerifyOptions) (*Report, error) {
	rep := &Report{Signed: l.verifier != nil}
	add := func(f Finding) { rep.Findings = append(rep.Findings, f) }
	noIdx := int64(-1)

	// The checkpoints the entries must match: size → root.
	want := map[uint64][]byte{}
	stored, err := l.Checkpoints(ctx)
	if err != nil {
		return nil, err
	}
	rep.Checkpoints = len(stored)
	for _, cp := range stored {
		root := cp.Root
		if l.verifier != nil {
			size, r, err := l.OpenCheckpoint(cp.Note)
			if err != nil {
				add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("stored checkpoint of size %d: %v", cp.Size, err)})
				continue
			}
			if size != cp.Size || !bytes.Equal(r, cp.Root) {
				add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("stored checkpoint of size %d: its columns do not match its signed note (size %d)", cp.Size, size)})
			}
			root = r
			cp.Size = size
		}
		want[cp.Size] = root
	}
	for _, p := range opts.Published {
		rep.Published++
		size, root, err := l.OpenCheckpoint(p.Note)
		if err != nil {
			add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("published checkpoint %s: %v", p.Name, err)})
			continue
		}
		if r, ok := want[size]; !ok {
			if !slices.ContainsFunc(stored, func(c *Checkpoint) bool { return c.Size == size }) {
				add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("published checkpoint %s (size %d) is missing from the database", p.Name, size)})
			}
		} else if !bytes.Equal(r, root) {
			add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("published checkpoint %s (size %d) differs from the stored one", p.Name, size)})
		}
		want[size] = root // what was published outside is the evidence
	}
	sizes := make([]uint64, 0, len(want))
	for s := range want {
		sizes = append(sizes, s)
	}
	slices.Sort(sizes)

	// Only the size and cursor of the sequencer's state are used: the
	// state itself may have been tampered with.
	var t struct {
		size   uint64
		cursor int64
	}
	if err := l.db.Read.QueryRowContext(ctx, "SELECT size, cursor FROM audit_tree WHERE id = 1").Scan(&t.size, &t.cursor); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rep.TreeSize = t.size
	pendingQuery := "SELECT count(*) FROM audit_pending"
	if l.db.Dialect == db.SQLite {
		pendingQuery = "SELECT count(*) FROM audit_entry WHERE pos > $1"
	}
	var pendingArgs []any
	if l.db.Dialect == db.SQLite {
		pendingArgs = []any{t.cursor}
	}
	if err := l.db.Read.QueryRowContext(ctx, pendingQuery, pendingArgs...).Scan(&rep.Pending); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}

	// Stream the leaves in order, recompute each leaf hash and the tree.
	rows, err := l.db.Read.QueryContext(ctx, `SELECT l.idx, l.entry_pos, l.entry_id, l.hash, e.body FROM audit_leaf l
		LEFT JOIN audit_entry e ON e.pos = l.entry_pos ORDER BY l.idx`)
	if err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	type mismatch struct {
		idx            int64
		id             string
		computed, kept []byte
	}
	var (
		mismatches []mismatch
		rng        = rangeFactory.NewEmptyRange(0)
		lh         = newLeafHasher()
		recomputed []byte // the recomputed leaf hashes, in order
		next       int64  // the leaf index expected next
		firstLeaf  = int64(-1)
		withBody   int64
		ci         int // next checkpoint in sizes to check
		badSizes   []uint64
		beyond     []Finding
		idx, pos   int64
		seenPos    []int64 // entry positions of the leaves
		id         string
		kept, body sql.RawBytes
	)
	leafFinding := func(f Finding) {
		add(f)
		if firstLeaf < 0 || f.Index < firstLeaf {
			firstLeaf = f.Index
		}
	}
	checkRoots := func() error {
		for ci < len(sizes) && sizes[ci] <= rng.End() {
			if sizes[ci] == rng.End() {
				root, err := rng.GetRootHash(nil)
				if err != nil {
					return err
				}
				if !bytes.Equal(root, want[sizes[ci]]) {
					badSizes = append(badSizes, sizes[ci])
					add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("the entries do not make the tree of the checkpoint of size %d", sizes[ci])})
				}
			}
			ci++
		}
		return nil
	}
	if err := checkRoots(); err != nil {
		return nil, err
	}
	for rows.Next() {
		if err := rows.Scan(&idx, &pos, &id, &kept, &body); err != nil {
			return nil, fmt.Errorf("audit: verify: %w", err)
		}
		rep.Leaves++
		if idx > next {
			for j := next; j < idx && j < next+maxGapFindings; j++ {
				leafFinding(Finding{Kind: Removed, Index: j, OtherIndex: noIdx, Message: "the leaf and its entry are missing"})
			}
			if idx-next > maxGapFindings {
				add(Finding{Kind: Removed, Index: next + maxGapFindings, OtherIndex: noIdx, Message: fmt.Sprintf("and %d more leaves up to %d are missing", idx-next-maxGapFindings, idx-1)})
			}
		}
		next = idx + 1
		if uint64(idx) >= t.size && len(beyond) < maxGapFindings {
			beyond = append(beyond, Finding{Kind: Inserted, Index: idx, EntryID: id, OtherIndex: noIdx, Message: fmt.Sprintf("leaf beyond the tree size %d the sequencer recorded", t.size)})
		}
		if body == nil {
			leafFinding(Finding{Kind: Removed, Index: idx, EntryID: id, OtherIndex: noIdx, Message: "the entry of this leaf is gone"})
			continue
		}
		withBody++
		seenPos = append(seenPos, pos)
		h := lh.sum(body)
		recomputed = append(recomputed, h...)
		if !bytes.Equal(h, kept) {
			mismatches = append(mismatches, mismatch{idx: idx, id: id, computed: h, kept: slices.Clone(kept)})
			if firstLeaf < 0 || idx < firstLeaf {
				firstLeaf = idx
			}
		}
		if err := rng.Append(h, nil); err != nil {
			return nil, err
		}
		if err := checkRoots(); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	rows.Close()
	for ; ci < len(sizes); ci++ {
		badSizes = append(badSizes, sizes[ci])
		add(Finding{Kind: CheckpointMismatch, Index: noIdx, OtherIndex: noIdx, Message: fmt.Sprintf("a checkpoint covers %d entries but the log holds %d", sizes[ci], rng.End())})
	}

	// An entry at another's leaf was moved there; two such are a swap.
	byKept := map[string]int{}
	for i, m := range mismatches {
		byKept[string(m.kept)] = i
	}
	paired := map[int]bool{}
	for i, m := range mismatches {
		if paired[i] {
			continue
		}
		j, ok := byKept[string(m.computed)]
		if !ok || j == i {
			add(Finding{Kind: Altered, Index: m.idx, EntryID: m.id, OtherIndex: noIdx, Message: "the entry's bytes do not match its leaf hash"})
			continue
		}
		o := mismatches[j]
		if bytes.Equal(o.computed, m.kept) {
			paired[j] = true
			add(Finding{Kind: Reordered, Index: m.idx, EntryID: m.id, OtherIndex: o.idx, OtherID: o.id, Message: "the two entries were swapped"})
		} else {
			add(Finding{Kind: Reordered, Index: m.idx, EntryID: m.id, OtherIndex: o.idx, OtherID: o.id, Message: "this leaf holds the entry that belongs at the other leaf"})
		}
	}

	// A checkpoint that no finding about a single leaf explains means leaves
	// were rewritten together with their hashes, or renumbered: the stored
	// inner nodes, which such an edit leaves alone, say where.
	var shift int
	if len(badSizes) > 0 && (firstLeaf < 0 || uint64(firstLeaf) >= badSizes[0]) {
		f, sh, err := l.localize(ctx, recomputed, badSizes[0])
		if err != nil {
			return nil, err
		}
		if f != nil {
			add(*f)
			shift = sh
		}
	}
	// Leaves past the recorded tree size, or missing at its end; after a
	// renumbering found above these are its echo, not news.
	if shift <= 0 {
		rep.Findings = append(rep.Findings, beyond...)
	}
	if leaves := next; uint64(leaves) < t.size && shift >= 0 {
		add(Finding{Kind: Removed, Index: leaves, OtherIndex: noIdx, Message: fmt.Sprintf("the leaves from %d to %d are missing (the tree size is %d)", leaves, t.size-1, t.size)})
	}

	// Entries that are neither in a leaf nor waiting for one were inserted
	// behind the sequencer's back.
	var total int64
	if err := l.db.Read.QueryRowContext(ctx, "SELECT count(*) FROM audit_entry").Scan(&total); err != nil {
		return nil, fmt.Errorf("audit: verify: %w", err)
	}
	if total > withBody+rep.Pending {
		if err := l.orphans(ctx, t.cursor, seenPos, add); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		switch {
		case a.Index < 0 && b.Index >= 0:
			return 1
		case b.Index < 0 && a.Index >= 0:
			return -1
		case a.Index < b.Index:
			return -1
		case a.Index > b.Index:
			return 1
		}
		return 0
	})
	return rep, nil
}

// localizeWindow is how many pairs of leaves after a divergence must agree
// with the stored nodes for an explanation to be accepted.
const localizeWindow = 8

// localize finds where the recomputed leaf hashes first disagree with the
// stored level-1 nodes (each the hash of a pair of original leaves) below
// size, and which single edit explains the disagreement: an entry inserted
// (the later leaves moved up by one: shift 1), removed (moved down: shift
// -1) or altered with its leaf hash (shift 0). It returns nil when the
// nodes do not say.
func (l *Log) localize(ctx context.Context, rec []byte, size uint64) (*Finding, int, error) {
	hs := hasher.Size()
	n := len(rec) / hs
	leaf := func(j int) []byte {
		if j < 0 || j >= n {
			return nil
		}
		return rec[j*hs : (j+1)*hs]
	}
	// The level-1 nodes below size/2, in order of their keys (which is
	// their order by index), among the other levels' nodes.
	rows, err := l.db.Read.QueryContext(ctx, "SELECT k, hash FROM audit_node WHERE k < $1 AND k % 64 = 1 ORDER BY k", nodeKey(1, size/2))
	if err != nil {
		return nil, 0, fmt.Errorf("audit: verify: %w", err)
	}
	var stored [][]byte
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("audit: verify: %w", err)
		}
		if k != nodeKey(1, uint64(len(stored))) {
			break // a gap in the nodes: stop where they are complete
		}
		stored = append(stored, h)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, 0, fmt.Errorf("audit: verify: %w", err)
	}
	pairOK := func(q int, orig func(int) []byte) (ok, checked bool) {
		a, b := orig(2*q), orig(2*q+1)
		if a == nil || b == nil || q >= len(stored) {
			return true, false
		}
		return bytes.Equal(hashChildren(a, b), stored[q]), true
	}
	p := -1
	for q := range stored {
		if ok, checked := pairOK(q, leaf); checked && !ok {
			p = q
			break
		}
	}
	if p < 0 {
		return nil, 0, nil
	}
	explains := func(orig func(int) []byte, skip int) bool {
		checked := 0
		for q := p; q < p+localizeWindow && q < len(stored); q++ {
			if q == skip {
				continue
			}
			ok, c := pairOK(q, orig)
			if !ok {
				return false
			}
			if c {
				checked++
			}
		}
		return checked > 0
	}
	for _, d := range []int{2 * p, 2*p + 1} {
		inserted := func(j int) []byte {
			if j < d {
				return leaf(j)
			}
			return leaf(j + 1)
		}
		if explains(inserted, -1) {
			id, err := l.leafEntryID(ctx, d)
			if err != nil {
				return nil, 0, err
			}
			return &Finding{Kind: Inserted, Index: int64(d), EntryID: id, OtherIndex: -1, Message: "an entry was inserted here and the later leaves renumbered"}, 1, nil
		}
	}
	// A removed leaf's hash is unknown, so the pair it was in cannot be
	// checked: the nodes name the pair, not which of the two.
	removed := func(j int) []byte {
		switch {
		case j < 2*p+1:
			return leaf(j)
		case j == 2*p+1:
			return nil
		}
		return leaf(j - 1)
	}
	if explains(removed, p) {
		return &Finding{Kind: Removed, Index: int64(2 * p), OtherIndex: int64(2*p + 1), Message: "the entry at this leaf or the other was removed and the later leaves renumbered"}, -1, nil
	}
	if explains(leaf, p) {
		id, err := l.leafEntryID(ctx, 2*p)
		if err != nil {
			return nil, 0, err
		}
		return &Finding{Kind: Altered, Index: int64(2 * p), EntryID: id, OtherIndex: int64(2*p + 1),
			Message: "this entry or the one at the other leaf was rewritten together with its leaf hash"}, 0, nil
	}
	return &Finding{Kind: CheckpointMismatch, Index: int64(2 * p), OtherIndex: -1, Message: "the leaves diverge from the stored tree from here on"}, 0, nil
}

func (l *Log) leafEntryID(ctx context.Context, idx int) (string, error) {
	var id string
	err := l.db.Read.QueryRowContext(ctx, "SELECT entry_id FROM audit_leaf WHERE idx = $1", int64(idx)).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("audit: verify: %w", err)
	}
	return id, nil
}

// orphans reports entries in no leaf (seen holds the entry positions of
// the leaves) and not pending.
func (l *Log) orphans(ctx context.Context, cursor int64, seen []int64, add func(Finding)) error {
	slices.Sort(seen)
	pending := map[string]bool{}
	query := "SELECT pos, id FROM audit_entry WHERE pos <= $1 ORDER BY pos"
	args := []any{cursor}
	if l.db.Dialect != db.SQLite {
		query, args = "SELECT pos, id FROM audit_entry ORDER BY pos", nil
		rows, err := l.db.Read.QueryContext(ctx, "SELECT entry_id FROM audit_pending")
		if err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("audit: verify: %w", err)
			}
			pending[id] = true
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
	}
	rows, err := l.db.Read.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pos int64
		var id string
		if err := rows.Scan(&pos, &id); err != nil {
			return fmt.Errorf("audit: verify: %w", err)
		}
		if _, found := slices.BinarySearch(seen, pos); found || pending[id] {
			continue
		}
		add(Finding{Kind: Inserted, Index: -1, EntryID: id, OtherIndex: -1, Message: "the entry is in no leaf and not waiting for one: it was added behind the log's back"})
	}
	return rows.Err()
}
