package audit

import (
	"bytes"
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
// synchronous=NORMAL): an entry reaches the operating system before Record
// returns, so it survives the process being killed; like a commit under
// synchronous=NORMAL, the last entries before a power failure may be lost.
// One process uses a data folder's spool at a time.
//
// On Linux the file is mapped shared into memory, and a Record copies its
// entries into the mapping: the bytes are in the operating system's page
// cache at once, as after a write, without the system call (which was a
// third of an audited read's overhead). The file's space is reserved ahead
// (spoolReserve at a time) so that a full disk fails a Record rather than
// the process. Elsewhere the spool is written with WriteAt.
//
// The file is a header line, then records of a 4-byte length, a 4-byte
// CRC-32C of the body, and the body: an entry's canonical bytes. A record
// of length 0 marks the end (reserved space reads as zeros).
type spool struct {
	db   *db.DB
	path string

	ingestMu sync.Mutex // one ingest at a time
	readBuf  []byte     // the ingest's buffer, reused (guarded by ingestMu)
	vals     []any      // the ingest's insert values, reused (guarded by ingestMu)
	mu       sync.Mutex // guards the fields below
	f        *os.File
	gen      string     // the file's generation, named in its header
	head     int64      // length of the header
	size     int64      // end of the last complete record
	mm       []byte     // the file mapped shared (Linux); nil: writes use WriteAt
	reserved int64      // bytes of the file reserved on disk and mapped
	ingested int64      // records before this offset are in the database
	broken   error      // set when a failed write could not be undone
	next     *spoolFile // the next generation's file, made ahead

	lock   *os.File // the lock file, held while the spool is open
	notice string   // what opening the spool repaired, for the log
}

const (
	spoolName  = "audit-spool"
	spoolMagic = "careloop audit spool 1 "
	// spoolRotateAt is the size past which a fully ingested spool starts
	// a new generation, so the file does not grow without end.
	spoolRotateAt = 8 << 20
	// spoolBatch bounds the entries ingested per transaction.
	spoolBatch = 4096
	// spoolReserve is the step in which a mapped spool reserves space.
	spoolReserve = 16 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openSpool opens the spool in dir, creating it if needed. A record cut
// short by a crash at the end of the file is dropped: its Record call never
// returned. The spool's lock file is held until close: a second open of the
// same spool, by this process or another, fails with errSpoolInUse.
func openSpool(ctx context.Context, d *db.DB, dir string) (*spool, error) {
	lock, err := os.OpenFile(filepath.Join(dir, spoolName+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open the spool's lock file: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		if errors.Is(err, errSpoolInUse) {
			return nil, fmt.Errorf("%w in %s; a data folder is served by one process at a time", err, dir)
		}
		return nil, err
	}
	s, err := openLockedSpool(ctx, d, dir)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// errSpoolInUse says that another open spool holds the folder's lock.
var errSpoolInUse = errors.New("audit: another careloop process is using the audit spool")

// openLockedSpool is openSpool once the lock is held.
func openLockedSpool(ctx context.Context, d *db.DB, dir string) (*spool, error) {
	s := &spool{db: d, path: filepath.Join(dir, spoolName)}
	_ = os.Remove(s.path + ".next") // prepared by an earlier run, never used
	f, err := os.OpenFile(s.path, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		if err := s.startGeneration(); err != nil {
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
	var ok bool
	if s.gen, s.head, ok = spoolHeader(data); !ok {
		f.Close()
		return nil, fmt.Errorf("audit: %s is not an audit spool; move it away to start a new one", s.path)
	}
	s.size = s.head + int64(len(validPrefix(data[s.head:])))
	if s.ingested, err = ingestedOffset(ctx, d.Read, s.gen, s.head); err != nil {
		f.Close()
		return nil, err
	}
	if s.ingested > s.size {
		// The database holds records up to an offset past the file's last
		// intact record: the file was cut short or replaced (as when two
		// processes used it at once). Every record it holds is ingested,
		// and a record written after them would count as ingested too, so
		// the spool starts a new generation; the file stays for a look.
		s.notice = fmt.Sprintf("the audit spool %s ends at byte %d but the database ingested it up to byte %d; its records are all in the database, and the spool starts anew (the old file is kept as %s)",
			s.path, s.size, s.ingested, filepath.Base(s.path)+"."+s.gen)
		f.Close()
		s.f = nil
		if err := os.Rename(s.path, s.path+"."+s.gen); err != nil {
			return nil, fmt.Errorf("audit: set aside a spool cut short: %w", err)
		}
		if err := s.startGeneration(); err != nil {
			return nil, err
		}
		return s, nil
	}
	if s.size < int64(len(data)) {
		// Drops a torn record, and zeros the reserved space after the
		// records once it is reserved again.
		if err := f.Truncate(s.size); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: drop a torn record from the spool: %w", err)
		}
	}
	if s.mm, s.reserved, err = reserveAndMap(f, s.size); err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// spoolHeader reads the header line at the start of a spool file: the
// generation it names and the header's length. ok is false for a file
// that is not a spool.
func spoolHeader(data []byte) (gen string, head int64, ok bool) {
	line, _, found := bytes.Cut(data, []byte("\n"))
	g, isSpool := bytes.CutPrefix(line, []byte(spoolMagic))
	if !found || !isSpool || len(g) == 0 {
		return "", 0, false
	}
	return string(g), int64(len(line) + 1), true
}

// startGeneration puts a new, empty generation in place of a missing spool
// file, for a spool that owns nothing else yet.
func (s *spool) startGeneration() error {
	g, err := newGeneration(s.path + ".new")
	if err != nil {
		return err
	}
	if _, err := s.install(g); err != nil {
		g.close()
		return err
	}
	s.syncDir()
	return nil
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
	if n == 0 || n > len(data)-8 {
		return nil, 0, false
	}
	body = data[8 : 8+n]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(data[4:]) {
		return nil, 0, false
	}
	return body, 8 + n, true
}

// A spoolFile is the file of one generation, mapped where the platform
// allows.
type spoolFile struct {
	f        *os.File
	gen      string // the generation, named in the header
	head     int64  // length of the header
	mm       []byte // the file mapped shared (Linux); nil: writes use WriteAt
	reserved int64  // bytes of the file reserved on disk and mapped
	tmp      string // where the file was made, before it was put in place
}

// newGeneration makes the file of a new generation at tmp: its header
// written and durable, its space reserved and mapped. It is not in place
// until renamed to the spool's path.
func newGeneration(tmp string) (*spoolFile, error) {
	gen := rand.Text()
	header := spoolMagic + gen + "\n"
	if err := os.WriteFile(tmp, []byte(header), 0o600); err != nil {
		return nil, fmt.Errorf("audit: create spool: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: create spool: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: create spool: %w", err)
	}
	g := &spoolFile{f: f, gen: gen, head: int64(len(header)), tmp: tmp}
	if g.mm, g.reserved, err = reserveAndMap(f, g.head); err != nil {
		f.Close()
		return nil, err
	}
	return g, nil
}

// reserveAndMap reserves room in f for at least need bytes, in steps of
// spoolReserve, and maps it, where the platform allows; elsewhere it
// returns no mapping.
func reserveAndMap(f *os.File, need int64) ([]byte, int64, error) {
	if !spoolMapped {
		return nil, 0, nil
	}
	size := (need/spoolReserve + 1) * spoolReserve
	if err := reserveSpool(f, size); err != nil {
		return nil, 0, fmt.Errorf("audit: reserve %d bytes for the spool: %w", size, err)
	}
	mm, err := mapSpool(f, size)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: map the spool: %w", err)
	}
	return mm, size, nil
}

// close releases the file and its mapping.
func (g *spoolFile) close() {
	if g.mm != nil {
		_ = unmapSpool(g.mm)
		g.mm = nil
	}
	g.f.Close()
}

// install puts g in place as the spool's file, empty, and returns the file
// it replaces (nil at the start). The caller holds s.mu or owns s alone,
// and closes the old file once it no longer holds the lock.
func (s *spool) install(g *spoolFile) (*spoolFile, error) {
	if err := os.Rename(g.tmp, s.path); err != nil {
		return nil, fmt.Errorf("audit: put the new spool in place: %w", err)
	}
	var old *spoolFile
	if s.f != nil {
		old = &spoolFile{f: s.f, mm: s.mm}
	}
	s.f, s.gen, s.head, s.mm, s.reserved = g.f, g.gen, g.head, g.mm, g.reserved
	s.size, s.ingested = s.head, s.head
	return old, nil
}

// syncDir makes a rename in the spool's folder durable where the platform
// allows.
func (s *spool) syncDir() {
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
}

// grow reserves and maps room for at least need bytes in the current file.
// The caller holds s.mu.
func (s *spool) grow(need int64) error {
	mm, size, err := reserveAndMap(s.f, need)
	if err != nil {
		return err
	}
	if s.mm != nil {
		_ = unmapSpool(s.mm)
	}
	s.mm, s.reserved = mm, size
	return nil
}

// ahead does beforehand, without holding the lock that Record waits for,
// the slow work a write would otherwise do while holding it (reserving and
// mapping 16 MB takes milliseconds): more room once the mapping is half
// full, and the file of the next generation. The ingester calls it.
func (s *spool) ahead() error {
	if !spoolMapped {
		return nil
	}
	s.mu.Lock()
	f, size, reserved, haveNext, broken := s.f, s.size, s.reserved, s.next != nil, s.broken
	s.mu.Unlock()
	if broken != nil {
		return nil
	}
	if reserved-size < spoolReserve/2 {
		mm, n, err := reserveAndMap(f, size+spoolReserve)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.f == f && n > s.reserved && s.broken == nil {
			mm, s.mm = s.mm, mm
			s.reserved = n
		}
		s.mu.Unlock()
		_ = unmapSpool(mm) // the replaced mapping, or the unused one
	}
	if !haveNext {
		g, err := newGeneration(s.path + ".next")
		if err != nil {
			return err
		}
		s.mu.Lock()
		if s.next == nil && s.broken == nil {
			s.next, g = g, nil
		}
		s.mu.Unlock()
		if g != nil {
			g.close()
		}
	}
	return nil
}

// appendRecord appends e to buf as one record of the spool: the length and
// checksum of its canonical bytes, then the bytes, encoded in place.
func appendRecord(buf []byte, e *Entry) []byte {
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	buf = e.appendCanonical(buf)
	body := buf[at+8:]
	binary.BigEndian.PutUint32(buf[at:], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[at+4:], crc32.Checksum(body, crcTable))
	return buf
}

// write adds records (made by appendRecord) at the end of the spool: one
// copy into the mapping, or one write. A mapping that is full is extended
// first; when that fails nothing is written. On a failed write the spool
// is cut back to where it was; if even that fails, the spool refuses every
// later append (fail closed).
func (s *spool) write(buf []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken != nil {
		return s.broken
	}
	if s.mm != nil {
		end := s.size + int64(len(buf))
		if end > s.reserved { // faster than the ingester reserves ahead
			if err := s.grow(end); err != nil {
				return err
			}
		}
		copy(s.mm[s.size:end], buf)
		s.size = end
		return nil
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
// generation. Another process (the audit worker, see spoolFollower) may
// ingest the same spool meanwhile: each transaction stores its records
// only if the database still says they are not ingested.
func (s *spool) ingest(ctx context.Context) error {
	s.ingestMu.Lock()
	defer s.ingestMu.Unlock()
	for {
		s.mu.Lock()
		from, to, gen, head := s.ingested, s.size, s.gen, s.head
		s.mu.Unlock()
		if from == to {
			if err := s.rotate(); err != nil {
				return err
			}
			return s.ahead()
		}
		if from > to {
			return fmt.Errorf("audit: the spool is ingested up to byte %d, past its end at %d", from, to)
		}
		data, err := readSpool(s.f, &s.readBuf, from, to)
		if err != nil {
			return err
		}
		vals, off, err := parseRecords(data, from, s.vals[:0])
		if err != nil {
			return err
		}
		if off == 0 {
			return fmt.Errorf("audit: the spool is damaged at offset %d", from)
		}
		end := from + int64(off)
		err = storeRecords(ctx, s.db, gen, head, from, end, vals)
		// Reused by the next transaction, cleared so as to hold on to no
		// entry.
		clear(vals)
		s.vals = vals[:0]
		if errors.Is(err, errIngestRaced) {
			if _, _, err := s.refresh(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.ingested = max(s.ingested, end)
		s.mu.Unlock()
	}
}

// refresh reads how far the database says the current generation is
// ingested, as another process may have moved it, and returns that offset
// and the end of the spool's records.
func (s *spool) refresh(ctx context.Context) (ingested, size int64, err error) {
	s.mu.Lock()
	gen, head := s.gen, s.head
	s.mu.Unlock()
	at, err := ingestedOffset(ctx, s.db.Read, gen, head)
	if err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.ingested = max(s.ingested, at)
	}
	return s.ingested, s.size, nil
}

// ingestedOffset returns the offset up to which generation gen is
// ingested: the start of its records (head) until something is.
func ingestedOffset(ctx context.Context, q queryer, gen string, head int64) (int64, error) {
	var at int64
	err := q.QueryRowContext(ctx, "SELECT ingested FROM audit_spool WHERE generation = $1", gen).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return head, nil
	}
	if err != nil {
		return 0, fmt.Errorf("audit: read the spool's progress: %w", err)
	}
	return at, nil
}

// errIngestRaced says that another process ingested the records first.
var errIngestRaced = errors.New("audit: the spool's records were ingested by another process meanwhile")

// parseRecords appends the id and body of each complete, intact record at
// the start of data (read from offset from) to vals, at most spoolBatch
// of them, and returns the length of data they cover.
func parseRecords(data []byte, from int64, vals []any) ([]any, int, error) {
	off := 0
	for len(vals) < 2*spoolBatch {
		body, next, ok := nextRecord(data[off:])
		if !ok {
			break
		}
		// The body is an entry's canonical bytes, written by Record: its
		// id is all that needs reading, not the whole entry.
		id := gjson.GetBytes(body, "id")
		if id.Type != gjson.String || id.Str == "" {
			return vals, 0, fmt.Errorf("audit: the spooled entry at offset %d has no id", from+int64(off))
		}
		vals = append(vals, id.Str, body)
		off += next
	}
	return vals, off, nil
}

// storeRecords stores the entries of vals (id, body, id, body…), the
// records of generation gen from offset from to end, and records end as
// ingested, in one transaction; errIngestRaced if the database says the
// generation is ingested past from already.
func storeRecords(ctx context.Context, d *db.DB, gen string, head, from, end int64, vals []any) error {
	err := d.InTx(ctx, func(tx *sql.Tx) error {
		at, err := ingestedOffset(ctx, tx, gen, head)
		if err != nil {
			return err
		}
		if at > from {
			return errIngestRaced
		}
		if at < from {
			// Offsets only grow: the database was put back (a restore)
			// under a running server.
			return fmt.Errorf("the database says generation %s is ingested up to byte %d, before %d where this ingest starts", gen, at, from)
		}
		if err := insertEntryRows(ctx, tx, d.Dialect, vals); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_spool (generation, ingested) VALUES ($1, $2)
			ON CONFLICT (generation) DO UPDATE SET ingested = excluded.ingested`, gen, end)
		return err
	})
	if err != nil && !errors.Is(err, errIngestRaced) {
		return fmt.Errorf("audit: ingest the spool: %w", err)
	}
	return err
}

// spoolReadMax is how much of the spool one ingest transaction reads at
// most (a record larger than that is read whole).
const spoolReadMax = 4 << 20

// readSpool returns f's bytes from from, up to to or about spoolReadMax
// bytes (at least the first record whole), in *buf, reused: valid until
// the next read into it.
func readSpool(f *os.File, buf *[]byte, from, to int64) ([]byte, error) {
	n := min(to-from, spoolReadMax)
	for {
		if int64(cap(*buf)) < n {
			*buf = make([]byte, n)
		}
		data := (*buf)[:n]
		if _, err := f.ReadAt(data, from); err != nil {
			return nil, fmt.Errorf("audit: read the spool: %w", err)
		}
		if n < 8 || n == to-from {
			return data, nil
		}
		first := 8 + int64(binary.BigEndian.Uint32(data))
		if first <= n || first > to-from {
			return data, nil // the first record is whole, or damaged
		}
		n = first
	}
}

// rotate starts a new generation when the spool is fully ingested and
// large, with the file ahead prepared.
func (s *spool) rotate() error {
	s.mu.Lock()
	if s.ingested < s.size || s.size < spoolRotateAt || s.broken != nil {
		s.mu.Unlock()
		return nil
	}
	g := s.next
	s.next = nil
	if g == nil { // not prepared ahead (as on platforms without mappings)
		var err error
		if g, err = newGeneration(s.path + ".new"); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	old, err := s.install(g)
	s.mu.Unlock()
	if err != nil {
		g.close()
		return err
	}
	s.syncDir()
	if old != nil {
		old.close()
	}
	return nil
}

// close closes the file.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = ErrClosed
	}
	if s.next != nil {
		s.next.close()
		_ = os.Remove(s.next.tmp)
		s.next = nil
	}
	if s.mm != nil {
		_ = unmapSpool(s.mm)
		s.mm = nil
	}
	err := s.f.Close()
	if s.lock != nil {
		s.lock.Close() // releases the lock, after the spool's file is closed
		s.lock = nil
	}
	return err
}
