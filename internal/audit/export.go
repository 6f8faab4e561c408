package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ExportQuery selects the entries of an export.
type ExportQuery struct {
	OrgID    string    // "" for every organisation
	From, To time.Time // recorded time, From inclusive, To exclusive; zero is open
}

// ExportHeader is the first line of an export: the checkpoint every proof
// in the file leads to, and the key that signed it.
type ExportHeader struct {
	Origin      string `json:"origin"`
	Size        uint64 `json:"size"`
	Root        string `json:"root"`
	Checkpoint  string `json:"checkpoint"` // the signed note
	VerifierKey string `json:"verifierKey"`
}

// ExportLine is one entry of an export. Leaf holds the entry's exact
// canonical bytes (base64): its RFC 6962 leaf hash with Inclusion proves it
// is leaf Index of the checkpoint's tree. Entry is the same entry decoded,
// for reading.
type ExportLine struct {
	Index     uint64          `json:"index"`
	Leaf      string          `json:"leaf"`
	Inclusion []string        `json:"inclusion"`
	Entry     json.RawMessage `json:"entry"`
}

// exportPage is how many entries Export reads at a time.
const exportPage = 500

// Export writes the entries selected by q that the checkpoint cp covers to w
// as NDJSON: an ExportHeader line, then an ExportLine per entry in leaf
// order, each with its inclusion proof, so that the file can be verified
// elsewhere with the verifier key alone. It returns the number of entries.
func (l *Log) Export(ctx context.Context, w io.Writer, q ExportQuery, cp *Checkpoint) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	hdr := ExportHeader{Origin: l.origin, Size: cp.Size, Root: b64(cp.Root), Checkpoint: string(cp.Note), VerifierKey: l.VerifierKey()}
	if err := enc.Encode(hdr); err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	n := 0
	after := int64(-1)
	for {
		where := []string{"s.idx > $1", "s.idx < $2"}
		args := []any{after, int64(cp.Size)}
		add := func(cond string, v any) {
			args = append(args, v)
			where = append(where, cond+" $"+strconv.Itoa(len(args)))
		}
		if q.OrgID != "" {
			add("s.org_id =", q.OrgID)
		}
		if !q.From.IsZero() {
			add("s.recorded >=", q.From.UnixMicro())
		}
		if !q.To.IsZero() {
			add("s.recorded <", q.To.UnixMicro())
		}
		type row struct {
			idx  int64
			body []byte
		}
		var page []row
		rows, err := l.db.Read.QueryContext(ctx, "SELECT s.idx, e.body FROM audit_leaf s JOIN audit_entry e ON e.pos = s.entry_pos WHERE "+
			strings.Join(where, " AND ")+" ORDER BY s.idx LIMIT "+strconv.Itoa(exportPage), args...)
		if err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.idx, &r.body); err != nil {
				rows.Close()
				return n, fmt.Errorf("audit: export: %w", err)
			}
			page = append(page, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		for _, r := range page {
			_, hashes, err := l.InclusionProof(ctx, uint64(r.idx), cp.Size)
			if err != nil {
				return n, err
			}
			line := ExportLine{Index: uint64(r.idx), Leaf: b64(r.body), Inclusion: b64s(hashes), Entry: json.RawMessage(r.body)}
			if !json.Valid(r.body) { // a tampered entry must not break the file
				line.Entry = nil
			}
			if err := enc.Encode(line); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
			n++
			after = r.idx
		}
		if len(page) < exportPage {
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}
