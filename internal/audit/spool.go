package audit

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/platform/db"
)

// A spool is a local append-only file that makes the audit entries of
// reads durable with one write instead of one database commit. On SQLite a
// commit costs about 100 µs of locking and system calls, seven times a read
// by id; a write to the spool costs a few microseconds. Record returns once
// its entries are in the spool; an ingester moves them into the database in
// batches, recording in the same transaction how far it got, so that every
// entry is ingested exactly once, after a crash too.
//
// Durability is that of SQLite in careloop's configuration (WAL with
// synchronous=NORMAL): a write reaches the operating system before Record
// returns, so it survives the process being killed; like a commit under
// synchronous=NORMAL, the last writes before a power failure may be lost.
// One process uses a data folder's spool at a time.
//
// The file is a header line, then records of a 4-byte length, a 4-byte
// CRC-32C of the body, and the body: an entry's canonical bytes.
type spool struct {
	db   *db.DB
	path string

	ingestMu sync.Mutex // one ingest at a time
	mu       sync.Mutex // guards the fields below
	f        *os.File
	gen      string // the file's generation, named in its header
	head     int64  // length of the header
	size     int64  // end of the last complete record
	ingested int64  // records before this offset are in the database
	broken   error  // set when a failed write could not be undone
}

const (
	spoolName  = "audit-spool"
	spoolMagic = "careloop audit spool 1 "
	// spoolRotateAt is the size past which a fully ingested spool starts
	// a new generation, so the file does not grow without end.
	spoolRotateAt = 8 << 20
	// spoolBatch bounds the entries ingested per transaction.
	spoolBatch = 4096
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openSpool opens the spool in dir, creating it if needed. A record cut
// short by a crash at the end of the file is dropped: its Record call never
// returned.
func openSpool(ctx context.Context, d *db.DB, dir string) (*spool, error) {
	s := &spool{db: d, path: filepath.Join(dir, spoolName)}
	f, err := os.OpenFile(s.path, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.create(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit: open spool: %w", err)
	}
	s.f = f
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: read spool: %w", err)
	}
	line, _, ok := strings.Cut(string(data), "\n")
	gen, isSpool := strings.CutPrefix(line, spoolMagic)
	if !ok || !isSpool || gen == "" {
		f.Close()
		return nil, fmt.Errorf("audit: %s is not an audit spool; move it away to start a new one", s.path)
	}
	s.gen, s.head = gen, int64(len(line)+1)
	s.size = s.head + int64(len(validPrefix(data[s.head:])))
	if s.size < int64(len(data)) {
		if err := f.Truncate(s.size); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: drop a torn record from the spool: %w", err)
		}
	}
	err = d.Read.QueryRowContext(ctx, "SELECT ingested FROM audit_spool WHERE generation = $1", s.gen).Scan(&s.ingested)
	if errors.Is(err, sql.ErrNoRows) {
		s.ingested = s.head
		err = nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: read the spool's progress: %w", err)
	}
	return s, nil
}

// validPrefix returns the leading complete, intact records of data.
func validPrefix(data []byte) []byte {
	n := 0
	for {
		_, next, ok := nextRecord(data[n:])
		if !ok {
			return data[:n]
		}
		n += next
	}
}

// nextRecord returns the body of the record at the start of data and the
// record's length; ok is false when data holds no complete, intact record.
func nextRecord(data []byte) (body []byte, length int, ok bool) {
	if len(data) < 8 {
		return nil, 0, false
	}
	n := int(binary.BigEndian.Uint32(data))
	if n > len(data)-8 {
		return nil, 0, false
	}
	body = data[8 : 8+n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[4:]) {
		return nil, 0, false
	}
	return body, 8 + n, true
}

// create starts a new generation: a new file with a new header, put in
// place atomically. The caller holds s.mu or owns s alone.
func (s *spool) create() error {
	gen := rand.Text()
	header := spoolMagic + gen + "\n"
	tmp := s.path + ".new"
	if err := os.WriteFile(tmp, []byte(header), 0o600); err != nil {
		return fmt.Errorf("audit: create spool: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("audit: create spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("audit: create spool: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		f.Close()
		return fmt.Errorf("audit: create spool: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = dir.Sync() // make the rename durable where the platform allows
		dir.Close()
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.gen = f, gen
	s.head = int64(len(header))
	s.size, s.ingested = s.head, s.head
	return nil
}

// append writes the bodies as records at the end of the spool, in one
// write. On a failed write the spool is cut back to where it was; if even
// that fails, the spool refuses every later append (fail closed).
func (s *spool) append(bodies [][]byte) error {
	n := 0
	for _, b := range bodies {
		n += 8 + len(b)
	}
	buf := make([]byte, 0, n)
	for _, b := range bodies {
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(b)))
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(b, crcTable))
		buf = append(buf, b...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if _, err := s.f.WriteAt(buf, s.size); err != nil {
		if terr := s.f.Truncate(s.size); terr != nil {
			s.broken = fmt.Errorf("audit: the spool could not be repaired after a failed write: %w", terr)
		}
		return fmt.Errorf("audit: write to the spool: %w", err)
	}
	s.size += int64(len(buf))
	return nil
}

// pending reports whether entries wait to be ingested.
func (s *spool) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ingested < s.size
}

// ingest moves the spooled entries into the database, in transactions of
// at most spoolBatch entries, each recording how far the spool is
// ingested. Once everything is in and the file is large, it starts a new
// generation.
func (s *spool) ingest(ctx context.Context) error {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	for {
		s.mu.Lock()
		from, to, gen := s.ingested, s.size, s.gen
		s.mu.Unlock()
		if from == to {
			return s.rotate()
		}
		data := make([]byte, to-from)
		if _, err := s.f.ReadAt(data, from); err != nil {
			return fmt.Errorf("audit: read the spool: %w", err)
		}
		var rows [][]any
		off := 0
		for len(rows) < spoolBatch {
			body, next, ok := nextRecord(data[off:])
			if !ok {
				break
			}
			// The body is an entry's canonical bytes, written by Record: its
			// id is all that needs reading, not the whole entry.
			id := gjson.GetBytes(body, "id")
			if id.Type != gjson.String || id.Str == "" {
				return fmt.Errorf("audit: the spooled entry at offset %d has no id", from+int64(off))
			}
			rows = append(rows, []any{id.Str, body})
			off += next
		}
		if off == 0 {
			return fmt.Errorf("audit: the spool is damaged at offset %d", from)
		}
		end := from + int64(off)
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if err := insertEntryRows(ctx, tx, s.db.Dialect, rows); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO audit_spool (generation, ingested) VALUES ($1, $2)
				ON CONFLICT (generation) DO UPDATE SET ingested = excluded.ingested`, gen, end)
			return err
		})
		if err != nil {
			return fmt.Errorf("audit: ingest the spool: %w", err)
		}
		s.mu.Lock()
		s.ingested = end
		s.mu.Unlock()
	}
}

// rotate starts a new generation when the spool is fully ingested and
// large.
func (s *spool) rotate() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ingested < s.size || s.size < spoolRotateAt {
		return nil
	}
	return s.create()
}

// close closes the file.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = ErrClosed
	}
	return s.f.Close()
}
