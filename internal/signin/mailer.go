package signin

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/mail"
)

// JobInserter inserts a job in the caller's transaction: it becomes
// visible to the workers when tx commits and vanishes if tx rolls back.
// *jobs.Queue is one.
type JobInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// JobRunner starts and stops the job workers of a process; *jobs.Queue is
// one.
type JobRunner interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// EmailKeySize is the size of the key that seals queued emails.
const EmailKeySize = 32

// EmailAttempts is how many times an account email, a registration or a
// recovery request is tried before it is given up. With River's backoff
// (attempt⁴ seconds) the last try comes about four hours after the first.
const EmailAttempts = 10

// Mailer queues the account emails as durable jobs and sends them from
// the job workers (AddWorkers): an email is a job inserted in the same
// transaction as the state it announces, so both are stored or neither,
// and a stopped or crashed process sends it after its restart. What a job
// holds of a person (the address, the text with its single-use link, what
// they typed to register) is sealed with AES-256-GCM under a key kept
// outside the database, bound to the organisation and the kind of job: a
// copy of the database, or of the job table, reveals no link.
//
// A Mailer is safe for concurrent use.
type Mailer struct {
	db     *db.DB
	jobs   JobInserter
	sender mail.Sender
	log    *slog.Logger
	aead   cipher.AEAD

	// Runner, when set, makes Wait work the jobs queued through the Mailer
	// itself, for a process that does not run the job workers all the time
	// (careloop user). It is set before the first email is queued.
	Runner JobRunner
	// WaitLimit bounds Wait; zero means one minute.
	WaitLimit time.Duration

	mu     sync.Mutex
	queued []int64 // ids of the jobs queued through the Mailer, kept only with a Runner
}

// NewMailer returns a Mailer that inserts its jobs into q in transactions
// of d, seals them with key (EmailKeySize bytes drawn from careloop's
// secret key; every process of one database needs the same), and sends
// through sender. log receives failures: the subject and the recipient's
// domain, never the body, which holds a link.
func NewMailer(d *db.DB, q JobInserter, key []byte, sender mail.Sender, log *slog.Logger) (*Mailer, error) {
	if len(key) != EmailKeySize {
		return nil, fmt.Errorf("signin: the email key has %d bytes, want %d", len(key), EmailKeySize)
	}
	block, err := aes.NewCipher(append([]byte(nil), key...))
	if err != nil {
		return nil, fmt.Errorf("signin: email key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("signin: email key: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Mailer{db: d, jobs: q, sender: sender, log: log, aead: aead}, nil
}

// sealVersion leads every sealed job payload, so that another format or
// key can be told apart later.
const sealVersion = 1

// sealAAD binds a sealed payload to the kind of its job and its
// organisation: a payload copied into another job or organisation does
// not open.
func sealAAD(kind, orgID string) []byte {
	return []byte("careloop queued email\x00" + kind + "\x00" + orgID)
}

// seal encrypts the JSON of v for a job of the kind and organisation:
// version byte, random nonce, ciphertext and tag.
func (m *Mailer) seal(kind, orgID string, v any) ([]byte, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("signin: seal %s: %w", kind, err)
	}
	return m.aead.Seal([]byte{sealVersion}, nil, plain, sealAAD(kind, orgID)), nil
}

// errUnsealable marks a payload that no retry will open.
var errUnsealable = errors.New("signin: sealed job payload does not open")

// open decrypts what seal made for the same kind and organisation into v.
func (m *Mailer) open(kind, orgID string, sealed []byte, v any) error {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return fmt.Errorf("%w: unknown format", errUnsealable)
	}
	plain, err := m.aead.Open(nil, nil, sealed[1:], sealAAD(kind, orgID))
	if err != nil {
		// Another key (the secret key file was replaced) or a payload
		// tampered with or moved.
		return fmt.Errorf("%w: %s of organisation %s: %v", errUnsealable, kind, orgID, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%w: %s: %v", errUnsealable, kind, err)
	}
	return nil
}

// sealedMessage is the sealed part of an EmailArgs.
type sealedMessage struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// queueTx queues msg for the organisation in tx. expires, when not zero,
// is when the link in msg stops working: it is not sent after that.
func (m *Mailer) queueTx(ctx context.Context, tx *sql.Tx, orgID string, msg mail.Message, expires time.Time) error {
	sealed, err := m.seal(EmailArgs{}.Kind(), orgID, sealedMessage{To: msg.To, Subject: msg.Subject, Body: msg.Body})
	if err != nil {
		return err
	}
	return m.insertTx(ctx, tx, EmailArgs{OrgID: orgID, Sealed: sealed, Expires: expires.UTC()})
}

// insertTx inserts a job of the account lifecycle in tx.
func (m *Mailer) insertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs) error {
	res, err := m.jobs.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return fmt.Errorf("signin: queue %s: %w", args.Kind(), err)
	}
	if m.Runner != nil {
		m.mu.Lock()
		m.queued = append(m.queued, res.Job.ID)
		m.mu.Unlock()
	}
	return nil
}

// insert inserts a job of the account lifecycle in a transaction of its
// own, committed when it returns nil.
func (m *Mailer) insert(ctx context.Context, args river.JobArgs) error {
	return m.db.InTx(ctx, func(tx *sql.Tx) error { return m.insertTx(ctx, tx, args) })
}

// Wait is for a process that does not run the job workers all the time,
// such as careloop user: with a Runner it starts the workers, waits until
// the jobs queued through m so far have been worked (an email sent, or
// failed once and left to the workers of careloop serve to retry), at most
// WaitLimit, and stops the workers. Without a Runner it returns at once:
// the workers of the running service send the emails. Nothing queued is
// lost either way; what Wait leaves is sent by the next careloop serve.
func (m *Mailer) Wait() {
	if m.Runner == nil {
		return
	}
	m.mu.Lock()
	pending := len(m.queued)
	m.mu.Unlock()
	if pending == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cmpOr(m.WaitLimit, time.Minute))
	defer cancel()
	if err := m.Runner.Start(ctx); err != nil {
		m.log.Warn("queued emails are not sent now; careloop serve will send them", "err", err)
		return
	}
	err := m.waitQueued(ctx)
	stopCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	if serr := m.Runner.Stop(stopCtx); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		m.log.Warn("some queued emails are not sent yet; careloop serve will send them", "err", err)
	}
}

// waitQueued polls the jobs queued through m until none is still to be
// worked now: gone, finished, or waiting for a retry later.
func (m *Mailer) waitQueued(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		m.mu.Lock()
		ids := append([]int64(nil), m.queued...)
		m.mu.Unlock()
		var left []int64
		for _, id := range ids {
			var state string
			err := m.db.Read.QueryRowContext(ctx, "SELECT state FROM river_job WHERE id = $1", id).Scan(&state)
			switch {
			case errors.Is(err, sql.ErrNoRows): // its transaction rolled back
			case err != nil:
				return fmt.Errorf("signin: wait for job %d: %w", id, err)
			case state == string(rivertype.JobStateAvailable) || state == string(rivertype.JobStateRunning):
				left = append(left, id)
			}
		}
		m.mu.Lock()
		// Keep ids queued meanwhile (by the jobs themselves) for the next round.
		m.queued = append(left, m.queued[len(ids):]...)
		n := len(m.queued)
		m.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("signin: %d queued jobs not worked yet: %w", n, ctx.Err())
		case <-tick.C:
		}
	}
}

// domainOf returns the domain of an address, which logs may name (the
// whole address they may not).
func domainOf(addr string) string {
	_, domain, _ := strings.Cut(addr, "@")
	return domain
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
