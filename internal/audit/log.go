package audit

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// KeyPurpose is the purpose under which the checkpoint signing seed is drawn
// from careloop's secret key: keys.Key.Derive(audit.KeyPurpose, ed25519.SeedSize).
const KeyPurpose = "audit checkpoint signing"

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit: log closed")

// Config is what New needs.
type Config struct {
	// DB is the database holding the log.
	DB *db.DB
	// Origin names the log in its checkpoints, such as
	// "careloop/clinic.example.org". It is also the name of the signing key.
	Origin string
	// Key signs checkpoints; Seed (ed25519.SeedSize bytes) may be given
	// instead. Without either the log stores and verifies entries but cannot
	// issue checkpoints.
	Key  ed25519.PrivateKey
	Seed []byte
	// VerifierKey, a note verifier key ("origin+hash+key"), lets a log
	// without the signing key check signatures in Verify. Origin defaults
	// to its name.
	VerifierKey string
	// Publisher, if not nil, receives every checkpoint issued.
	Publisher Publisher
	// CheckpointInterval is how often Run issues a checkpoint when the tree
	// grew (default one minute).
	CheckpointInterval time.Duration
	// SequenceInterval is how often Run gives pending entries their leaf
	// indices (default 25 ms). Sequencing in batches costs far less than
	// once per commit, and nothing waits for it: entries are durable when
	// stored. Small steps disturb requests less than large ones: at 2,000
	// audited reads a second a step every 200 ms took about 14 ms of CPU
	// at once, and the reads' 99th percentile suffered (docs/PERFORMANCE.md).
	SequenceInterval time.Duration
	// SpoolDir, if set, is the folder of a local spool (see spool) through
	// which Record makes entries durable with one write to a file instead
	// of one database commit; an ingester moves them into the database
	// within milliseconds. Use it where careloop's database is on the same
	// machine (SQLite), and leave it empty where several careloop nodes
	// share a database server.
	SpoolDir string
	// LockGuard, if not nil, is asked before the log's own writes
	// (sequencing, storing a checkpoint) take the database's write lock,
	// and told when they release it: a process running the log's work at
	// idle CPU priority raises it meanwhile when starved (see
	// internal/platform/cpuprio), so that nobody waits on a lock held by
	// a thread that gets no CPU.
	LockGuard LockGuard
	// FollowSpoolDir, if set, is the folder of a spool that another
	// process writes (the server's, for the audit worker): Run ingests it
	// at every turn, before sequencing. The writing process should then
	// be told so (IngestElsewhere).
	FollowSpoolDir string
	// Logger receives errors of Run; nil discards them.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Log is the audit log of one database. It is safe for concurrent use.
type Log struct {
	db        *db.DB
	origin    string
	signer    note.Signer   // nil without a key
	verifier  note.Verifier // nil without a key
	publisher Publisher
	guard     LockGuard
	ckptEvery time.Duration
	seqEvery  time.Duration
	log       *slog.Logger
	now       func() time.Time

	reqs chan *recordReq

	spool      *spool        // nil: Record commits to the database
	spoolWake  chan struct{} // a Record wrote to the spool
	ingesterWG sync.WaitGroup
	elsewhere  atomic.Bool    // another process ingests the spool (IngestElsewhere)
	follow     *spoolFollower // the spool of another process, ingested by Run; nil: none

	mu        sync.RWMutex // guards closed against senders on reqs
	closed    bool
	quit      chan struct{}
	flusherWG sync.WaitGroup

	pubMu         sync.Mutex
	lastPublished uint64 // newest checkpoint size this process published

	seqMu      sync.Mutex // guards seqScratch
	seqScratch seqScratch // the sequencer's buffers, reused from turn to turn
}

// A LockGuard is told when the log's own work holds the database's write
// lock: Hold is called before the lock is taken, and the function it
// returns once the lock is released. Calls come from the goroutine that
// runs the work.
type LockGuard interface {
	Hold() (release func())
}

// noGuard is the LockGuard of a log that needs none.
type noGuard struct{}

func (noGuard) Hold() func() { return func() {} }

type recordReq struct {
	entries []Entry
	done    chan error
}

// maxFlush bounds the entries written by one group commit.
const maxFlush = 8192

// New returns the log stored in cfg.DB and starts its group-commit flusher;
// Close stops it.
func New(cfg Config) (*Log, error) {
	if cfg.DB == nil {
		return nil, errors.New("audit: New needs a database")
	}
	var verifier note.Verifier
	if cfg.VerifierKey != "" {
		v, err := note.NewVerifier(cfg.VerifierKey)
		if err != nil {
			return nil, fmt.Errorf("audit: verifier key: %w", err)
		}
		verifier = v
		if cfg.Origin == "" {
			cfg.Origin = v.Name()
		}
	}
	if cfg.Origin == "" {
		return nil, errors.New("audit: New needs an origin")
	}
	l := &Log{
		db: cfg.DB, origin: cfg.Origin, publisher: cfg.Publisher, guard: cfg.LockGuard,
		ckptEvery: cfg.CheckpointInterval, seqEvery: cfg.SequenceInterval,
		log: cfg.Logger, now: cfg.Now,
		reqs: make(chan *recordReq, 1024), quit: make(chan struct{}),
	}
	if l.ckptEvery <= 0 {
		l.ckptEvery = time.Minute
	}
	if l.seqEvery <= 0 {
		l.seqEvery = 25 * time.Millisecond
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.guard == nil {
		l.guard = noGuard{}
	}
	if l.now == nil {
		l.now = time.Now
	}
	key := cfg.Key
	if key == nil && cfg.Seed != nil {
		if len(cfg.Seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("audit: signing seed has %d bytes, want %d", len(cfg.Seed), ed25519.SeedSize)
		}
		key = ed25519.NewKeyFromSeed(cfg.Seed)
	}
	if key != nil {
		s, v, err := newSigner(cfg.Origin, key)
		if err != nil {
			return nil, err
		}
		l.signer, l.verifier = s, v
	} else {
		l.verifier = verifier
	}
	if cfg.FollowSpoolDir != "" {
		if cfg.SpoolDir != "" {
			return nil, errors.New("audit: a log either writes a spool or follows one, not both")
		}
		l.follow = newSpoolFollower(cfg.DB, cfg.FollowSpoolDir)
	}
	if cfg.SpoolDir != "" {
		sp, err := openSpool(context.Background(), cfg.DB, cfg.SpoolDir)
		if err != nil {
			return nil, err
		}
		if sp.notice != "" {
			l.log.Warn("audit: " + sp.notice)
		}
		l.spool, l.spoolWake = sp, make(chan struct{}, 1)
		if sp.pending() {
			l.spoolWake <- struct{}{} // entries of an earlier run wait
		}
		l.ingesterWG.Add(1)
		go l.ingester()
	}
	l.flusherWG.Add(1)
	go l.flusher()
	return l, nil
}

// StoredOrigin returns the origin of the newest checkpoint stored in d, or
// "" when there is none.
func StoredOrigin(ctx context.Context, d *db.DB) (string, error) {
	var text string
	err := d.Read.QueryRowContext(ctx, "SELECT note FROM audit_checkpoint ORDER BY size DESC LIMIT 1").Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit: read checkpoints: %w", err)
	}
	origin, _, _ := strings.Cut(text, "\n")
	return origin, nil
}

// Origin returns the name of the log in its checkpoints.
func (l *Log) Origin() string { return l.origin }

// Close stops the flusher after it has written the entries already handed
// to Record. Record then fails with ErrClosed. Close does not close the
// database.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.quit)
	l.mu.Unlock()
	l.flusherWG.Wait()
	l.ingesterWG.Wait()
	if l.follow != nil {
		l.follow.close()
	}
	if l.spool != nil {
		return l.spool.close()
	}
	return nil
}

// IngestElsewhere tells a log that writes a spool whether another process
// ingests it (the audit worker, with FollowSpoolDir). While it does, this
// log's ingester only watches: it reads how far the spool is ingested,
// starts new generations, and takes over what waits for longer than
// spoolTakeover, as when the worker is starved of CPU or has died.
func (l *Log) IngestElsewhere(on bool) {
	l.elsewhere.Store(on)
}

// AppendTx stores entries inside the caller's transaction tx, so that an
// audited write and its entries commit or roll back together. It fills in
// missing ids and times in its own copies. The entries get leaf indices
// from the sequencer after the transaction commits.
func (l *Log) AppendTx(ctx context.Context, tx *sql.Tx, entries ...Entry) error {
	es, err := l.prepare(entries)
	if err != nil {
		return err
	}
	if err := insertEntries(ctx, tx, l.db.Dialect, es); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// Record stores entries in a transaction of their own and returns once they
// are durably committed. Concurrent calls are written together by one
// flusher, which starts the next commit as soon as the previous one ends, so
// a call costs about one commit however many run at once. If Record returns
// an error the entries may or may not be stored; a read being audited must
// then fail (fail closed). Invalid entries fail with an errs.Invalid error
// and store nothing.
func (l *Log) Record(ctx context.Context, entries ...Entry) error {
	if l.spool != nil {
		return l.recordSpooled(entries)
	}
	es, err := l.prepare(entries)
	if err != nil {
		return err
	}
	req := &recordReq{entries: es, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		return errs.Wrap(ctx.Err(), errs.Unavailable, "")
	}
	l.mu.RUnlock()
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return errs.Wrap(ctx.Err(), errs.Unavailable, "")
	}
}

// prepare copies and normalises entries.
func (l *Log) prepare(entries []Entry) ([]Entry, error) {
	now := l.now()
	es := make([]Entry, len(entries))
	for i, e := range entries {
		if err := e.normalize(now); err != nil {
			return nil, err
		}
		es[i] = e
	}
	return es, nil
}

// flusher writes queued Record requests in group commits until Close.
func (l *Log) flusher() {
	defer l.flusherWG.Done()
	for {
		var first *recordReq
		select {
		case first = <-l.reqs:
		case <-l.quit:
			// Senders have stopped (Close holds the lock): write what is left.
			for {
				select {
				case r := <-l.reqs:
					l.flush([]*recordReq{r})
				default:
					return
				}
			}
		}
		batch := []*recordReq{first}
		n := len(first.entries)
	gather:
		for n < maxFlush {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
				n += len(r.entries)
			default:
				break gather
			}
		}
		l.flush(batch)
	}
}

func (l *Log) flush(batch []*recordReq) {
	var all []Entry
	if len(batch) == 1 {
		all = batch[0].entries
	} else {
		for _, r := range batch {
			all = append(all, r.entries...)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := l.db.InTx(ctx, func(tx *sql.Tx) error { return insertEntries(ctx, tx, l.db.Dialect, all) })
	cancel()
	if err != nil {
		err = fmt.Errorf("audit: record: %w", err)
	}
	for _, r := range batch {
		r.done <- err
	}
}

// Run sequences new entries as they arrive and issues a checkpoint every
// CheckpointInterval when the tree grew, until ctx ends. Failures are logged
// and retried at the next turn. Every process may run it: the sequencer
// lock lets one sequence at a time.
func (l *Log) Run(ctx context.Context) error {
	seq := time.NewTicker(l.seqEvery)
	defer seq.Stop()
	ckpt := time.NewTicker(l.ckptEvery)
	defer ckpt.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-seq.C:
		case <-ckpt.C:
			if l.signer == nil {
				continue
			}
			l.turn(ctx)
			if _, _, err := l.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				l.log.Error("audit: checkpoint", "err", err)
			}
			continue
		}
		l.turn(ctx)
	}
}

// turn is one turn of Run: it ingests the followed spool, if there is
// one, then sequences what is pending.
func (l *Log) turn(ctx context.Context) {
	if l.follow != nil {
		if _, err := l.follow.ingest(ctx, l.guard); err != nil && ctx.Err() == nil {
			l.log.Error("audit: ingest the server's spool", "err", err)
		}
	}
	if _, err := l.Sequence(ctx); err != nil && ctx.Err() == nil {
		l.log.Error("audit: sequence", "err", err)
	}
}

// recordSpooled writes entries to the spool and wakes the ingester.
func (l *Log) recordSpooled(entries []Entry) error {
	now := l.now()
	bp := recordBuffers.Get().(*[]byte)
	defer recordBuffers.Put(bp)
	buf := (*bp)[:0]
	for _, e := range entries { // e is a copy: the caller's entries stay as they were
		if err := e.normalize(now); err != nil {
			return err
		}
		buf = appendRecord(buf, &e)
	}
	*bp = buf
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.spool.write(buf); err != nil {
		return errs.Wrap(err, errs.Unavailable, "")
	}
	select {
	case l.spoolWake <- struct{}{}:
	default:
	}
	return nil
}

// recordBuffers holds the buffers in which Record encodes spooled records.
var recordBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// ingester moves spooled entries into the database as they come, and
// what is left when the log closes. A failed ingest is logged and tried
// again; the entries wait in the spool meanwhile. While another process
// ingests the spool (IngestElsewhere), it watches that process's progress
// instead, and ingests only what waited longer than spoolTakeover.
func (l *Log) ingester() {
	defer l.ingesterWG.Done()
	ctx := context.Background()
	tick := time.NewTicker(spoolWatch)
	defer tick.Stop()
	var mark spoolMark // while another process ingests: the spool's end some time ago
	for {
		select {
		case <-l.spoolWake:
			if l.elsewhere.Load() {
				continue
			}
			// Entries are durable in the spool already: gather a few
			// milliseconds of them into one commit, which costs the
			// readers on the other cores far less than a commit per read.
			select {
			case <-time.After(spoolGather):
			case <-l.quit:
			}
		case <-tick.C:
			if l.elsewhere.Load() {
				if !l.watchSpool(ctx, &mark) {
					continue
				}
			} else if !l.spool.pending() {
				continue
			}
		case <-l.quit:
			if err := l.spool.ingest(ctx); err != nil {
				l.log.Error("audit: ingest the spool at close; the entries stay in the spool for the next start", "err", err)
			}
			return
		}
		if err := l.spool.ingest(ctx); err != nil {
			l.log.Error("audit: ingest the spool", "err", err)
		}
	}
}

// spoolMark notes where the spool ended at a time: once the records up to
// there are ingested, nothing older waits.
type spoolMark struct {
	at  time.Time
	end int64
}

// watchSpool follows another process's ingest of the spool: it reads how
// far the spool is ingested and reports whether this process should ingest
// now. It should when a record has waited longer than spoolTakeover (the
// spool's end at the mark, older than that, is not ingested yet), and when
// everything is ingested, so that ingest starts a new generation and
// reserves room ahead as needed.
func (l *Log) watchSpool(ctx context.Context, mark *spoolMark) bool {
	ingested, end, err := l.spool.refresh(ctx)
	if err != nil {
		l.log.Error("audit: read how far the spool is ingested", "err", err)
		return false
	}
	now := time.Now()
	switch {
	case ingested >= end:
		*mark = spoolMark{now, end}
		return true
	case mark.at.IsZero() || ingested >= mark.end:
		*mark = spoolMark{now, end} // what waited at the last mark is in
		return false
	case now.Sub(mark.at) >= spoolTakeover:
		*mark = spoolMark{now, end}
		return true
	}
	return false
}

// spoolGather is how long the ingester lets spooled entries gather before
// it moves them into the database.
const spoolGather = 20 * time.Millisecond

// spoolWatch is how often the ingester looks at the spool without being
// woken: to retry a failed ingest, and to follow another process's.
const spoolWatch = 250 * time.Millisecond

// spoolTakeover is how long entries may wait for another process to ingest
// them before the spool's writer does.
const spoolTakeover = time.Second

// Flush moves the entries waiting in the spool, if there is one, into the
// database now, rather than within milliseconds.
func (l *Log) Flush(ctx context.Context) error {
	if l.spool == nil {
		return nil
	}
	return l.spool.ingest(ctx)
}
