package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/careloop/careloop/internal/platform/db"
)

// A spoolFollower ingests a spool that another process writes: the audit
// worker follows the server's spool, so that the server's requests do not
// share their cores with the ingest. It never writes the file and takes no
// lock. How far the spool is ingested is what the database says, checked
// again inside each transaction (storeRecords), so the server may ingest
// beside it (as it does when the worker falls behind) without an entry
// being stored twice.
//
// A record the server is still copying in reads as not intact (its CRC
// does not match) and is taken at the next turn. When the server starts a
// new generation, the file at the spool's path is another one: the server
// does that only once the database says the old file is fully ingested,
// so the follower moves to the new file when it finds nothing more in the
// old one.
type spoolFollower struct {
	db   *db.DB
	path string

	f    *os.File // the generation being followed; nil until opened
	gen  string
	head int64
	buf  []byte
	vals []any
}

func newSpoolFollower(d *db.DB, dir string) *spoolFollower {
	return &spoolFollower{db: d, path: filepath.Join(dir, spoolName)}
}

// ingest stores the records beyond the database's offset, in transactions
// of at most spoolBatch entries, each under guard, and returns how many
// entries it stored. A spool not yet made holds nothing to ingest.
func (sf *spoolFollower) ingest(ctx context.Context, guard LockGuard) (int, error) {
	total := 0
	for {
		if sf.f == nil {
			if err := sf.open(); errors.Is(err, os.ErrNotExist) {
				return total, nil
			} else if err != nil {
				return total, err
			}
		}
		from, err := ingestedOffset(ctx, sf.db.Read, sf.gen, sf.head)
		if err != nil {
			return total, err
		}
		st, err := sf.f.Stat()
		if err != nil {
			return total, fmt.Errorf("audit: follow the spool: %w", err)
		}
		var vals []any
		off := 0
		if from < st.Size() {
			data, err := readSpool(sf.f, &sf.buf, from, st.Size())
			if err != nil {
				return total, err
			}
			if vals, off, err = parseRecords(data, from, sf.vals[:0]); err != nil {
				return total, err
			}
		}
		if off == 0 {
			moved, err := sf.moved()
			if err != nil || !moved {
				return total, err
			}
			sf.close() // the server started a new generation
			continue
		}
		release := guard.Hold()
		err = storeRecords(ctx, sf.db, sf.gen, sf.head, from, from+int64(off), vals)
		release()
		n := len(vals) / 2
		clear(vals)
		sf.vals = vals[:0]
		if errors.Is(err, errIngestRaced) {
			continue // the server took them; look again
		}
		if err != nil {
			return total, err
		}
		total += n
	}
}

// open opens the file at the spool's path and reads its generation.
func (sf *spoolFollower) open() error {
	f, err := os.Open(sf.path)
	if err != nil {
		return err
	}
	head := make([]byte, 256)
	n, err := f.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return fmt.Errorf("audit: follow the spool: %w", err)
	}
	gen, n64, ok := spoolHeader(head[:n])
	if !ok {
		f.Close()
		return fmt.Errorf("audit: %s is not an audit spool", sf.path)
	}
	sf.f, sf.gen, sf.head = f, gen, n64
	return nil
}

// moved reports whether the spool's path names another file than the one
// followed.
func (sf *spoolFollower) moved() (bool, error) {
	now, err := os.Stat(sf.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // between the server's rename and its next start
	}
	if err != nil {
		return false, fmt.Errorf("audit: follow the spool: %w", err)
	}
	was, err := sf.f.Stat()
	if err != nil {
		return false, fmt.Errorf("audit: follow the spool: %w", err)
	}
	return !os.SameFile(now, was), nil
}

func (sf *spoolFollower) close() {
	if sf.f != nil {
		sf.f.Close()
		sf.f = nil
	}
}
