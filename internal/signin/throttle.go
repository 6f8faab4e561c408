// Package signin carries people through signing in to careloop.
package signin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Limit is how many failures a key may have within Window before it is
// blocked for Block.
type Limit struct {
	Failures int
	Window   time.Duration
	Block    time.Duration
}

// Default limits: an account is blocked for 15 minutes after 5 failed
// sign-ins within 15 minutes (an attacker gets about 480 guesses a day at
// most, while a person who mistypes is slowed, not locked out for good); a
// network address after 30 failures within 15 minutes, across accounts,
// which stops spraying one password over many accounts.
var (
	AccountLimit = Limit{Failures: 5, Window: 15 * time.Minute, Block: 15 * time.Minute}
	AddressLimit = Limit{Failures: 30, Window: 15 * time.Minute, Block: 15 * time.Minute}
)

// Throttle counts failed sign-ins per key in the database, so that every
// careloop node sees the same counts and a restart forgets nothing.
type Throttle struct {
	db  *db.DB
	now func() time.Time
}

// NewThrottle returns a Throttle on d.
func NewThrottle(d *db.DB) *Throttle {
	return &Throttle{db: d, now: func() time.Time { return time.Now().UTC() }}
}

// SetClock replaces the clock, for tests.
func (t *Throttle) SetClock(now func() time.Time) { t.now = now }

// BlockedError says that a key is blocked and until when; it is an
// errs.RateLimited with a message a person can act on.
type BlockedError struct{ Until time.Time }

func (e *BlockedError) Error() string { return "signin: blocked until " + e.Until.Format(time.RFC3339) }

func blocked(until, now time.Time) error {
	minutes := int(math.Ceil(until.Sub(now).Minutes()))
	unit := "minutes"
	if minutes == 1 {
		unit = "minute"
	}
	return errs.Wrap(&BlockedError{Until: until}, errs.RateLimited,
		fmt.Sprintf("Too many failed attempts. For your security, signing in is paused; try again in %d %s.", minutes, unit))
}

// Check returns a blocked error when key is blocked now, else nil.
func (t *Throttle) Check(ctx context.Context, orgID, key string) error {
	var until sql.NullTime
	err := t.db.Read.QueryRowContext(ctx, "SELECT blocked_until FROM signin_throttle WHERE org_id = $1 AND key = $2", orgID, key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("signin: throttle: %w", err)
	}
	if now := t.now(); until.Valid && now.Before(until.Time) {
		return blocked(until.Time.UTC(), now)
	}
	return nil
}

// Fail records a failure of key and reports how many failures the key now
// has in its window and whether this one blocked it.
func (t *Throttle) Fail(ctx context.Context, orgID, key string, l Limit) (failures int, nowBlocked bool, err error) {
	now := t.now()
	err = t.db.InTx(ctx, func(tx *sql.Tx) error {
		// Make sure the row exists, then lock it: concurrent failures of one
		// key must all count.
		if _, err := tx.ExecContext(ctx, `INSERT INTO signin_throttle (org_id, key, window_start, failures) VALUES ($1, $2, $3, 0)
			ON CONFLICT (org_id, key) DO NOTHING`, orgID, key, now); err != nil {
			return err
		}
		q := "SELECT window_start, failures, blocked_until FROM signin_throttle WHERE org_id = $1 AND key = $2"
		if t.db.Dialect == db.Postgres {
			q += " FOR UPDATE"
		}
		var start time.Time
		var until sql.NullTime
		err := tx.QueryRowContext(ctx, q, orgID, key).Scan(&start, &failures, &until)
		switch {
		case err != nil:
			return err
		case now.Sub(start) >= l.Window:
			start, failures, until = now, 0, sql.NullTime{}
		case until.Valid && !now.Before(until.Time):
			// The block is over: count afresh.
			start, failures, until = now, 0, sql.NullTime{}
		}
		failures++
		if failures >= l.Failures && !(until.Valid && now.Before(until.Time)) {
			until, nowBlocked = sql.NullTime{Time: now.Add(l.Block), Valid: true}, true
			// A fresh window starts when the block ends.
			start = now.Add(l.Block)
		}
		var blockedUntil any
		if until.Valid {
			blockedUntil = until.Time
		}
		_, err = tx.ExecContext(ctx, `UPDATE signin_throttle SET window_start = $3, failures = $4, blocked_until = $5
			WHERE org_id = $1 AND key = $2`, orgID, key, start, failures, blockedUntil)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("signin: throttle: %w", err)
	}
	return failures, nowBlocked, nil
}

// Reset forgets the failures of key, after a successful sign-in.
func (t *Throttle) Reset(ctx context.Context, orgID, key string) error {
	if _, err := t.db.Write.ExecContext(ctx, "DELETE FROM signin_throttle WHERE org_id = $1 AND key = $2", orgID, key); err != nil {
		return fmt.Errorf("signin: throttle: %w", err)
	}
	return nil
}
