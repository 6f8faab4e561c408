package notify

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Config holds a Service's dependencies and settings.
type Config struct {
	DB        *db.DB
	Directory Directory
	Links     *Links
	// Providers gives the sender of an organisation's channel (see
	// Providers); nil: every channel of every organisation is the log.
	Providers *Providers
	// ReceiptsURL is the public URL under which providers report delivery
	// ("https://clinic.example.org"); empty: no receipts are asked for.
	ReceiptsURL string
	// Batch bounds the events planned and the messages claimed at once
	// (default 256).
	Batch int
	// InFlight bounds the messages being handed to providers at once
	// (default 128).
	InFlight int
	// Poll is how often idle loops look for new work (default 20ms).
	Poll time.Duration
	// Lease is how long a dispatcher owns a message it is sending; a
	// sender that died is replaced after it (default 60s). One send is
	// given at most half of it.
	Lease time.Duration
	// MaxAttempts is how often a message is tried on a channel before it
	// fails there and the next channel is tried (default 6).
	MaxAttempts int
	// RetryBase is the first retry's delay, doubled each time up to
	// RetryMax, with up to a quarter of random jitter (defaults 30s, 1h).
	RetryBase, RetryMax time.Duration
	Metrics             *Metrics // nil: no metrics
	Now                 func() time.Time
	Log                 *slog.Logger
}

// Service plans and sends messages. It is safe for concurrent use; Run
// runs its loops until the context ends.
type Service struct {
	cfg     Config
	db      *db.DB
	dir     Directory
	links   *Links
	prov    *Providers
	node    string
	now     func() time.Time
	log     *slog.Logger
	stats   *Metrics
	catalog *templates.Catalog

	planWake chan struct{}
	sendWake chan struct{}

	textCache sync.Map // org id → *orgTexts
}

// New returns the notification service of cfg.
func New(cfg Config) *Service {
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 128
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = 30 * time.Second
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Providers == nil {
		cfg.Providers = NewProviders(cfg.DB, nil, ProviderDefaults{}, cfg.Log)
	}
	host, _ := os.Hostname()
	return &Service{cfg: cfg, db: cfg.DB, dir: cfg.Directory, links: cfg.Links, prov: cfg.Providers,
		node: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), rand.Text()[:6]), now: cfg.Now, log: cfg.Log,
		stats: cfg.Metrics, catalog: templates.Default(),
		planWake: make(chan struct{}, 1), sendWake: make(chan struct{}, 1)}
}

// clock returns the current time to the millisecond, as stored.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// newID returns a new message or event id (a UUIDv7: ordered by time).
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Check reports what is wrong with an event, as an errs.Invalid naming the
// field.
func (e Event) Check() error {
	if e.OrgID == "" {
		return errs.Invalidf("org", "The event names no organisation.")
	}
	if e.Key == "" || len(e.Key) > 200 {
		return errs.Invalidf("key", "The event needs a key of 1 to 200 characters that names it uniquely (for example the id of what happened).")
	}
	if _, ok := templates.Lookup(templates.Kind(e.Kind)); !ok {
		return errs.Invalidf("kind", "%q is not a kind of message careloop sends.", e.Kind)
	}
	if !ValidRecipient(e.Recipient) {
		return errs.Invalidf("recipient", "The recipient must be Patient/id, Practitioner/id or account:id.")
	}
	if e.Target != "" && (!strings.HasPrefix(e.Target, "/") || strings.HasPrefix(e.Target, "//") || strings.ContainsAny(e.Target, "\\\r\n")) {
		return errs.Invalidf("target", "The target must be a path within careloop, such as /staff/results/ID.")
	}
	return nil
}

// EnqueueTx stores the event in tx, the transaction of the change that
// caused it: the planner takes it once tx commits. An event whose key the
// recipient has had already is ignored. Call Wake after the commit for the
// fastest delivery; otherwise the planner finds it within its poll
// interval.
func (s *Service) EnqueueTx(ctx context.Context, tx *sql.Tx, e Event) error {
	if err := e.Check(); err != nil {
		return err
	}
	var about any
	if !e.AboutAt.IsZero() {
		about = ms(e.AboutAt)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO notify_events (org_id, id, idem_key, kind, recipient, patient_id, target, detail, about_at, created_at, planned)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0) ON CONFLICT (org_id, idem_key, recipient) DO NOTHING`,
		e.OrgID, newID(), e.Key, e.Kind, e.Recipient, e.PatientID, e.Target, e.Detail, about, ms(s.clock()))
	if err != nil {
		return fmt.Errorf("notify: enqueue %s for %s: %w", e.Kind, e.Recipient, err)
	}
	return nil
}

// Enqueue stores events in a transaction of their own and wakes the
// planner.
func (s *Service) Enqueue(ctx context.Context, events ...Event) error {
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, e := range events {
			if err := s.EnqueueTx(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.Wake()
	}
	return err
}

// Wake tells this process's planner that events were committed.
func (s *Service) Wake() { signal(s.planWake) }

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run plans events and sends messages until ctx ends. Several processes
// may run it on one database.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.loop(ctx, s.planWake, s.planOnce) }()
	go func() { defer wg.Done(); s.dispatch(ctx) }()
	wg.Wait()
	return nil
}

// loop runs once whenever woken or every poll interval, and again at once
// while it finds a full batch.
func (s *Service) loop(ctx context.Context, wake chan struct{}, once func(context.Context) (int, error)) {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		n, err := once(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("notify", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil && n >= s.cfg.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
	}
}

// ValidRecipient reports whether s names a recipient events may have:
// "Patient/id", "Practitioner/id" or "account:id".
func ValidRecipient(s string) bool {
	if id, ok := strings.CutPrefix(s, "account:"); ok {
		return id != ""
	}
	typ, id, ok := strings.Cut(s, "/")
	return ok && id != "" && !strings.Contains(id, "/") && (typ == "Patient" || typ == "Practitioner")
}
