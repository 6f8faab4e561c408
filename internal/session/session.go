// Package session keeps the sign-in sessions of people, on the server.
//
// A session is opened after a successful sign-in and named by a random
// secret carried in an HttpOnly cookie; the database holds only the
// secret's SHA-256 hash. A session ends when its owner signs out, when it
// is ended from the sessions page (one, or all but the current), when it
// is idle longer than its idle timeout (15 minutes for staff, 30 for
// patients by default), or at its absolute expiry (12 hours by default),
// whichever comes first. The secret changes at every privilege change
// (Renew), so a secret seen before the change opens nothing after it.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/ttlcache"
)

// Session is one signed-in session.
type Session struct {
	OrgID     string
	ID        string // public handle, for listing and ending; not the secret
	AccountID string
	Role      string
	CreatedAt time.Time
	// LastSeenAt is when the session was last used, to within
	// Policy.TouchEvery.
	LastSeenAt time.Time
	Idle       time.Duration
	ExpiresAt  time.Time
	// FactorAt is when a second factor was last verified in this session;
	// zero when none was. Step-up checks compare it with the time now.
	FactorAt  time.Time
	UserAgent string
	Address   string
	// AwaitsFactor marks a session opened by a right password for an
	// account with a second factor: it opens nothing until Complete.
	AwaitsFactor bool
}

// factorWait is how long a session may await its second factor.
const factorWait = 5 * time.Minute

// Policy sets the timeouts of new sessions.
type Policy struct {
	// IdleStaff and IdlePatient end a session unused for that long, for
	// staff and for patients and caregivers.
	IdleStaff, IdlePatient time.Duration
	// Absolute ends every session that long after sign-in.
	Absolute time.Duration
	// TouchEvery bounds how often use of a session is written back: the
	// idle timeout is exact to within it, and most requests write nothing.
	TouchEvery time.Duration
}

// DefaultPolicy follows OWASP ASVS level 2 for health data.
var DefaultPolicy = Policy{IdleStaff: 15 * time.Minute, IdlePatient: 30 * time.Minute, Absolute: 12 * time.Hour, TouchEvery: 30 * time.Second}

// patientRoles are the roles with the patients' idle timeout.
var patientRoles = map[string]bool{"patient": true, "caregiver": true}

// Store opens, finds and ends sessions. It is safe for concurrent use.
type Store struct {
	db     *db.DB
	policy Policy
	now    func() time.Time
	// recent holds open sessions found within CacheFor, by secret hash,
	// so that a burst of requests reads the session once. Ending or
	// renewing a session through this Store drops it at once.
	recent *ttlcache.Cache[secretKey, *Session]
}

// CacheFor is how long a session found open is trusted without reading it
// again. A session ended through another careloop node (sharing the
// database) is refused by this one within CacheFor; through this node, at
// once.
const CacheFor = 2 * time.Second

// NewStore returns a Store on d with policy p (zero fields take
// DefaultPolicy's).
func NewStore(d *db.DB, p Policy) *Store {
	if p.IdleStaff <= 0 {
		p.IdleStaff = DefaultPolicy.IdleStaff
	}
	if p.IdlePatient <= 0 {
		p.IdlePatient = DefaultPolicy.IdlePatient
	}
	if p.Absolute <= 0 {
		p.Absolute = DefaultPolicy.Absolute
	}
	if p.TouchEvery <= 0 {
		p.TouchEvery = DefaultPolicy.TouchEvery
	}
	return &Store{db: d, policy: p, now: func() time.Time { return time.Now().UTC() }, recent: ttlcache.New[secretKey, *Session](100000)}
}

// SetClock replaces the clock, for tests.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now returns the time by the store's clock: what timeouts and the
// freshness of a session's second factor are measured against.
func (s *Store) Now() time.Time { return s.now() }

// New describes a session to open.
type New struct {
	OrgID, AccountID, Role string
	// FactorVerified says that a second factor was verified at sign-in.
	FactorVerified bool
	// AwaitFactor opens a session that awaits a second factor (see
	// Complete); it ends by itself after five minutes.
	AwaitFactor bool
	UserAgent   string
	Address     string
}

// ErrNoSession is returned, wrapped in an errs.Unauthorized, for a secret
// that names no open session: unknown, ended, idle too long or expired.
var ErrNoSession = errors.New("session: no open session")

func noSession() error {
	return errs.Wrap(ErrNoSession, errs.Unauthorized, "your session has ended; please sign in again")
}

// newSecret returns a new cookie secret and its hash.
func newSecret() (secret, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	secret = base64.RawURLEncoding.EncodeToString(b[:])
	return secret, hashSecret(secret)
}

func hashSecret(secret string) string {
	key := keyOf(secret)
	return hex.EncodeToString(key[:])
}

// secretKey is the SHA-256 of a secret: what the cache of recent sessions
// is keyed by (the hex form stored in the database costs an allocation).
type secretKey [sha256.Size]byte

func keyOf(secret string) secretKey { return sha256.Sum256([]byte(secret)) }

// Open starts a session and returns it with its secret, which goes into
// the cookie and is never stored.
func (s *Store) Open(ctx context.Context, n New) (*Session, string, error) {
	if n.OrgID == "" || n.AccountID == "" || n.Role == "" {
		return nil, "", errors.New("session: open needs an organisation, an account and a role")
	}
	now := s.now()
	idle := s.policy.IdleStaff
	if patientRoles[n.Role] {
		idle = s.policy.IdlePatient
	}
	se := &Session{OrgID: n.OrgID, ID: rand.Text()[:16], AccountID: n.AccountID, Role: n.Role, CreatedAt: now, LastSeenAt: now,
		Idle: idle, ExpiresAt: now.Add(s.policy.Absolute), UserAgent: clip(n.UserAgent, 300), Address: clip(n.Address, 100)}
	if n.FactorVerified {
		se.FactorAt = now
	}
	if n.AwaitFactor {
		se.AwaitsFactor, se.Idle, se.ExpiresAt = true, factorWait, now.Add(factorWait)
	}
	secret, hash := newSecret()
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO sessions (org_id, id, token_hash, account_id, role, stage, created_at, last_seen_at,
		idle_seconds, expires_at, factor_at, user_agent, address) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		se.OrgID, se.ID, hash, se.AccountID, se.Role, stageOf(se.AwaitsFactor), se.CreatedAt, se.LastSeenAt, int64(se.Idle/time.Second), se.ExpiresAt,
		nullTime(se.FactorAt), se.UserAgent, se.Address)
	if err != nil {
		return nil, "", fmt.Errorf("session: open: %w", err)
	}
	return se, secret, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// The stages of a session.
const (
	stageActive = "active"
	stageFactor = "factor"
)

func stageOf(awaitsFactor bool) string {
	if awaitsFactor {
		return stageFactor
	}
	return stageActive
}

const columns = "org_id, id, account_id, role, stage, created_at, last_seen_at, idle_seconds, expires_at, factor_at, user_agent, address"

func scan(row interface{ Scan(...any) error }) (*Session, error) {
	var se Session
	var idle int64
	var factor sql.NullTime
	var stage string
	if err := row.Scan(&se.OrgID, &se.ID, &se.AccountID, &se.Role, &stage, &se.CreatedAt, &se.LastSeenAt, &idle, &se.ExpiresAt, &factor, &se.UserAgent, &se.Address); err != nil {
		return nil, err
	}
	se.AwaitsFactor = stage == stageFactor
	se.Idle = time.Duration(idle) * time.Second
	se.CreatedAt, se.LastSeenAt, se.ExpiresAt = se.CreatedAt.UTC(), se.LastSeenAt.UTC(), se.ExpiresAt.UTC()
	if factor.Valid {
		se.FactorAt = factor.Time.UTC()
	}
	return &se, nil
}

// open reports whether se may still be used at now.
func (se *Session) open(now time.Time) bool {
	return now.Before(se.ExpiresAt) && now.Sub(se.LastSeenAt) < se.Idle
}

// Find returns the open session of a secret and records its use. A secret
// of no open session (or of one awaiting its second factor) is an
// errs.Unauthorized wrapping ErrNoSession; a session found idle or expired
// is ended on the way. The session returned is shared with other requests
// of the same secret for up to CacheFor: read it, do not modify it.
func (s *Store) Find(ctx context.Context, secret string) (*Session, error) {
	return s.find(ctx, secret, stageActive)
}

// FindAwaiting returns the session of a secret that awaits its second
// factor, like Find.
func (s *Store) FindAwaiting(ctx context.Context, secret string) (*Session, error) {
	return s.find(ctx, secret, stageFactor)
}

func (s *Store) find(ctx context.Context, secret, stage string) (*Session, error) {
	if secret == "" {
		return nil, noSession()
	}
	key := keyOf(secret)
	now := s.now()
	if stage == stageActive {
		if se, ok := s.recent.Get(key, now); ok && se.open(now) && now.Sub(se.LastSeenAt) < s.policy.TouchEvery {
			return se, nil
		}
	}
	s.recent.Delete(key)
	hash := hex.EncodeToString(key[:])
	se, err := scan(s.db.Read.QueryRowContext(ctx, "SELECT "+columns+" FROM sessions WHERE token_hash = $1 AND stage = $2 AND ended_at IS NULL", hash, stage))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, noSession()
	}
	if err != nil {
		return nil, fmt.Errorf("session: find: %w", err)
	}
	if !se.open(now) {
		if _, err := s.db.Write.ExecContext(ctx, "UPDATE sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL", hash, now); err != nil {
			return nil, fmt.Errorf("session: end: %w", err)
		}
		return nil, noSession()
	}
	if now.Sub(se.LastSeenAt) >= s.policy.TouchEvery {
		if _, err := s.db.Write.ExecContext(ctx, "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND ended_at IS NULL", hash, now); err != nil {
			return nil, fmt.Errorf("session: touch: %w", err)
		}
		se.LastSeenAt = now
	}
	if stage == stageActive {
		s.recent.Put(key, se, now, now.Add(CacheFor))
	}
	return se, nil
}

// forget drops the remembered sessions that drop reports true for.
func (s *Store) forget(drop func(se *Session) bool) {
	s.recent.DeleteFunc(drop)
}

// Renew gives the session of secret a new secret, at a privilege change
// (a second factor verified, a role changed): the old secret opens nothing
// afterwards. factorVerified records a second factor verified now.
func (s *Store) Renew(ctx context.Context, secret string, factorVerified bool) (*Session, string, error) {
	found, err := s.Find(ctx, secret)
	if err != nil {
		return nil, "", err
	}
	se := new(Session)
	*se = *found // found may be shared with other requests
	fresh, hash := newSecret()
	now := s.now()
	q := "UPDATE sessions SET token_hash = $2, last_seen_at = $3 WHERE token_hash = $1 AND stage = 'active' AND ended_at IS NULL"
	args := []any{hashSecret(secret), hash, now}
	if factorVerified {
		q = "UPDATE sessions SET token_hash = $2, last_seen_at = $3, factor_at = $3 WHERE token_hash = $1 AND stage = 'active' AND ended_at IS NULL"
		se.FactorAt = now
	}
	s.recent.Delete(keyOf(secret))
	res, err := s.db.Write.ExecContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("session: renew: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, "", noSession() // ended meanwhile
	}
	se.LastSeenAt = now
	return se, fresh, nil
}

// Complete turns a session awaiting its second factor into an open one,
// with a new secret, once the factor is verified.
func (s *Store) Complete(ctx context.Context, secret string) (*Session, string, error) {
	se, err := s.FindAwaiting(ctx, secret)
	if err != nil {
		return nil, "", err
	}
	fresh, hash := newSecret()
	now := s.now()
	idle := s.policy.IdleStaff
	if patientRoles[se.Role] {
		idle = s.policy.IdlePatient
	}
	res, err := s.db.Write.ExecContext(ctx, `UPDATE sessions SET token_hash = $2, stage = $3, last_seen_at = $4, factor_at = $4, idle_seconds = $5, expires_at = $6
		WHERE token_hash = $1 AND stage = $7 AND ended_at IS NULL`, hashSecret(secret), hash, stageActive, now, int64(idle/time.Second), now.Add(s.policy.Absolute), stageFactor)
	if err != nil {
		return nil, "", fmt.Errorf("session: complete: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, "", noSession()
	}
	se.AwaitsFactor, se.LastSeenAt, se.FactorAt, se.Idle, se.ExpiresAt = false, now, now, idle, now.Add(s.policy.Absolute)
	return se, fresh, nil
}

// FactorWithin reports whether a second factor was verified in the session
// within d: the step-up check before sensitive actions.
func (se *Session) FactorWithin(now time.Time, d time.Duration) bool {
	return !se.FactorAt.IsZero() && now.Sub(se.FactorAt) <= d
}

// List returns the open sessions of an account, newest first.
func (s *Store) List(ctx context.Context, orgID, accountID string) ([]Session, error) {
	rows, err := s.db.Read.QueryContext(ctx, "SELECT "+columns+` FROM sessions
		WHERE org_id = $1 AND account_id = $2 AND stage = 'active' AND ended_at IS NULL ORDER BY created_at DESC, id`, orgID, accountID)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Session
	for rows.Next() {
		se, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("session: list: %w", err)
		}
		if se.open(now) {
			out = append(out, *se)
		}
	}
	return out, rows.Err()
}

// End ends one session of an account by its public id. Ending a session
// that is not the account's open session is an errs.NotFound.
func (s *Store) End(ctx context.Context, orgID, accountID, id string) error {
	s.forget(func(se *Session) bool { return se.OrgID == orgID && se.AccountID == accountID && se.ID == id })
	res, err := s.db.Write.ExecContext(ctx, `UPDATE sessions SET ended_at = $4
		WHERE org_id = $1 AND account_id = $2 AND id = $3 AND ended_at IS NULL`, orgID, accountID, id, s.now())
	if err != nil {
		return fmt.Errorf("session: end: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("no open session %q", id)
	}
	return nil
}

// EndSecret ends the session of a secret: signing out. Ending an unknown
// or ended session does nothing.
func (s *Store) EndSecret(ctx context.Context, secret string) error {
	hash := hashSecret(secret)
	s.recent.Delete(keyOf(secret))
	if _, err := s.db.Write.ExecContext(ctx, "UPDATE sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL", hash, s.now()); err != nil {
		return fmt.Errorf("session: sign out: %w", err)
	}
	return nil
}

// EndAll ends every open session of an account but the one with public id
// except (none when empty): signing out everywhere. It returns how many
// it ended.
func (s *Store) EndAll(ctx context.Context, orgID, accountID, except string) (int64, error) {
	s.forget(func(se *Session) bool {
		return se.OrgID == orgID && se.AccountID == accountID && se.ID != except
	})
	res, err := s.db.Write.ExecContext(ctx, `UPDATE sessions SET ended_at = $4
		WHERE org_id = $1 AND account_id = $2 AND id <> $3 AND ended_at IS NULL`, orgID, accountID, except, s.now())
	if err != nil {
		return 0, fmt.Errorf("session: sign out everywhere: %w", err)
	}
	return res.RowsAffected()
}

// KnownDevice reports whether an earlier session of se's account, open or
// ended, had the same browser and address (known), and whether se is the
// account's first session ever (first).
func (s *Store) KnownDevice(ctx context.Context, se *Session) (known, first bool, err error) {
	var same, earlier int
	err = s.db.Read.QueryRowContext(ctx, `SELECT
		count(CASE WHEN user_agent = $4 AND address = $5 THEN 1 END), count(*)
		FROM sessions WHERE org_id = $1 AND account_id = $2 AND id <> $3 AND stage = 'active'`,
		se.OrgID, se.AccountID, se.ID, se.UserAgent, se.Address).Scan(&same, &earlier)
	if err != nil {
		return false, false, fmt.Errorf("session: earlier sessions: %w", err)
	}
	return same > 0, earlier == 0, nil
}
