package access

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"

	"fmt"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Proxy is a caregiver's access to a patient's record.
type Proxy struct {
	ID          string     `json:"id"`
	CaregiverID string     `json:"caregiver"` // account id
	PatientID   string     `json:"patient"`   // FHIR Patient id
	GrantedBy   string     `json:"granted_by"`
	Reason      string     `json:"reason,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	RevokedBy   string     `json:"revoked_by,omitempty"`
}

// BreakGlass is one emergency access: who reached which patient, why, and
// until when.
type BreakGlass struct {
	ID         string     `json:"id"`
	AccountID  string     `json:"account"`
	Role       string     `json:"role"`
	PatientID  string     `json:"patient"`
	Reason     string     `json:"reason"`
	Address    string     `json:"address"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	ReviewedAt *time.Time `json:"reviewed_at,omitempty"`
	ReviewedBy string     `json:"reviewed_by,omitempty"`
	ReviewNote string     `json:"review_note,omitempty"`
}

// BreakGlassFor is how long a break-glass access lasts.
const BreakGlassFor = time.Hour

// minReason is the shortest reason accepted for break-glass: a sentence,
// not a keystroke.
const minReason = 10

// GrantEvent is a change of who may see a patient's record: a proxy grant
// or revocation, a break-glass, a review of one.
type GrantEvent struct {
	OrgID     string
	AccountID string // who acted
	Patient   string // the Patient id concerned
	// What says what happened, in words.
	What string
	// BreakGlass marks emergency access; Reason is the reason stated.
	BreakGlass bool
	Reason     string
}

// GrantRecorder records grant events in the transaction of the change.
type GrantRecorder interface {
	GrantEventTx(ctx context.Context, tx *sql.Tx, ev GrantEvent) error
}

// Grants stores proxy grants and break-glass accesses. It is safe for
// concurrent use.
type Grants struct {
	db  *db.DB
	now func() time.Time
	// Audit, if not nil, records every change in its transaction. Set it
	// before use.
	Audit GrantRecorder
}

func (g *Grants) record(ctx context.Context, tx *sql.Tx, ev GrantEvent) error {
	if g.Audit == nil {
		return nil
	}
	return g.Audit.GrantEventTx(ctx, tx, ev)
}

// NewGrants returns the store on d.
func NewGrants(d *db.DB) *Grants { return &Grants{db: d, now: time.Now} }

// SetClock replaces the clock, for tests.
func (g *Grants) SetClock(now func() time.Time) { g.now = now }

// GrantProxy records that caregiver may see patientID's record, granted by
// the account grantedBy, until expires (nil: until revoked). An open grant
// for the same caregiver and patient is an errs.Conflict.
func (g *Grants) GrantProxy(ctx context.Context, orgID, caregiverID, patientID, grantedBy, reason string, expires *time.Time) (*Proxy, error) {
	now := g.now().UTC()
	if expires != nil && !expires.After(now) {
		return nil, errs.Invalidf("expires_at", "the end of the access must be in the future")
	}
	p := &Proxy{ID: rand.Text(), CaregiverID: caregiverID, PatientID: patientID, GrantedBy: grantedBy,
		Reason: strings.TrimSpace(reason), CreatedAt: now, ExpiresAt: expires}
	err := g.db.InTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM access_proxies WHERE org_id = $1 AND caregiver_id = $2
			AND patient_id = $3 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)`,
			orgID, caregiverID, patientID, now).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errs.E(errs.Conflict, "this person already has proxy access to this record")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_proxies (org_id, id, caregiver_id, patient_id, granted_by, reason, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, orgID, p.ID, caregiverID, patientID, grantedBy, p.Reason, now, nullTime(expires)); err != nil {
			return err
		}
		return g.record(ctx, tx, GrantEvent{OrgID: orgID, AccountID: grantedBy, Patient: patientID,
			What: "proxy access granted to account " + caregiverID, Reason: p.Reason})
	})
	if err != nil {
		return nil, fmt.Errorf("access: grant proxy: %w", err)
	}
	return p, nil
}

// RevokeProxy ends a proxy grant; an unknown or already ended one is an
// errs.NotFound.
func (g *Grants) RevokeProxy(ctx context.Context, orgID, id, by string) error {
	return g.db.InTx(ctx, func(tx *sql.Tx) error {
		var caregiver, patient string
		err := tx.QueryRowContext(ctx, `UPDATE access_proxies SET revoked_at = $3, revoked_by = $4
			WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING caregiver_id, patient_id`, orgID, id, g.now().UTC(), by).Scan(&caregiver, &patient)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("no such proxy access")
		}
		if err != nil {
			return fmt.Errorf("access: revoke proxy: %w", err)
		}
		return g.record(ctx, tx, GrantEvent{OrgID: orgID, AccountID: by, Patient: patient, What: "proxy access of account " + caregiver + " revoked"})
	})
}

// Proxy returns one grant, open or not.
func (g *Grants) Proxy(ctx context.Context, orgID, id string) (*Proxy, error) {
	ps, err := g.proxies(ctx, "org_id = $1 AND id = $2", orgID, id)
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errs.NotFoundf("no such proxy access")
	}
	return &ps[0], nil
}

// ProxiesOfCaregiver lists the grants a caregiver holds, newest first.
func (g *Grants) ProxiesOfCaregiver(ctx context.Context, orgID, caregiverID string) ([]Proxy, error) {
	return g.proxies(ctx, "org_id = $1 AND caregiver_id = $2", orgID, caregiverID)
}

// ProxiesOfPatient lists the grants to a patient's record, newest first.
func (g *Grants) ProxiesOfPatient(ctx context.Context, orgID, patientID string) ([]Proxy, error) {
	return g.proxies(ctx, "org_id = $1 AND patient_id = $2", orgID, patientID)
}

func (g *Grants) proxies(ctx context.Context, where string, args ...any) ([]Proxy, error) {
	rows, err := g.db.Read.QueryContext(ctx, `SELECT id, caregiver_id, patient_id, granted_by, reason, created_at, expires_at, revoked_at, COALESCE(revoked_by, '')
		FROM access_proxies WHERE `+where+` ORDER BY created_at DESC, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("access: list proxies: %w", err)
	}
	defer rows.Close()
	var out []Proxy
	for rows.Next() {
		var p Proxy
		var exp, rev sql.NullTime
		if err := rows.Scan(&p.ID, &p.CaregiverID, &p.PatientID, &p.GrantedBy, &p.Reason, &p.CreatedAt, &exp, &rev, &p.RevokedBy); err != nil {
			return nil, fmt.Errorf("access: list proxies: %w", err)
		}
		p.CreatedAt = p.CreatedAt.UTC()
		p.ExpiresAt, p.RevokedAt = timePtr(exp), timePtr(rev)
		out = append(out, p)
	}
	return out, rows.Err()
}

// openProxyPatients returns the Patient ids whose records caregiverID may
// see now.
func (g *Grants) openProxyPatients(ctx context.Context, orgID, caregiverID string, now time.Time) ([]string, error) {
	return g.ids(ctx, `SELECT DISTINCT patient_id FROM access_proxies WHERE org_id = $1 AND caregiver_id = $2
		AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)`, orgID, caregiverID, now)
}

// BreakGlass records an emergency access of a to patientID for reason,
// lasting BreakGlassFor. Only clinicians, nurses and technicians may break
// the glass; the reason must say why in words.
func (g *Grants) BreakGlass(ctx context.Context, a *identity.Account, patientID, reason, address string) (*BreakGlass, error) {
	if !mayBreakGlass(a.Role) {
		return nil, errs.Forbiddenf("a %s may not use emergency access", a.Role)
	}
	reason = strings.TrimSpace(reason)
	if len([]rune(reason)) < minReason {
		return nil, errs.Invalidf("reason", "State the reason for emergency access in a sentence (at least %d characters); it is recorded and reviewed by the compliance officer.", minReason)
	}
	if len(reason) > 1000 {
		return nil, errs.Invalidf("reason", "The reason may be at most 1000 characters.")
	}
	now := g.now().UTC()
	b := &BreakGlass{ID: rand.Text(), AccountID: a.ID, Role: string(a.Role), PatientID: patientID, Reason: reason,
		Address: address, CreatedAt: now, ExpiresAt: now.Add(BreakGlassFor)}
	err := g.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_break_glass (org_id, id, account_id, role, patient_id, reason, address, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.OrgID, b.ID, b.AccountID, b.Role, b.PatientID, b.Reason, b.Address, b.CreatedAt, b.ExpiresAt); err != nil {
			return fmt.Errorf("access: break glass: %w", err)
		}
		return g.record(ctx, tx, GrantEvent{OrgID: a.OrgID, AccountID: a.ID, Patient: patientID, BreakGlass: true,
			What: "emergency access until " + b.ExpiresAt.Format(time.RFC3339), Reason: reason})
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// BreakGlassLog lists the organisation's emergency accesses, newest first;
// unreviewed only, when asked.
func (g *Grants) BreakGlassLog(ctx context.Context, orgID string, unreviewed bool, limit int) ([]BreakGlass, error) {
	where := "org_id = $1"
	if unreviewed {
		where += " AND reviewed_at IS NULL"
	}
	rows, err := g.db.Read.QueryContext(ctx, fmt.Sprintf(`SELECT id, account_id, role, patient_id, reason, address, created_at, expires_at, reviewed_at,
		COALESCE(reviewed_by, ''), COALESCE(review_note, '') FROM access_break_glass WHERE %s ORDER BY created_at DESC, id LIMIT %d`, where, limit), orgID)
	if err != nil {
		return nil, fmt.Errorf("access: break-glass log: %w", err)
	}
	defer rows.Close()
	var out []BreakGlass
	for rows.Next() {
		var b BreakGlass
		var rev sql.NullTime
		if err := rows.Scan(&b.ID, &b.AccountID, &b.Role, &b.PatientID, &b.Reason, &b.Address, &b.CreatedAt, &b.ExpiresAt, &rev, &b.ReviewedBy, &b.ReviewNote); err != nil {
			return nil, fmt.Errorf("access: break-glass log: %w", err)
		}
		b.CreatedAt, b.ExpiresAt = b.CreatedAt.UTC(), b.ExpiresAt.UTC()
		b.ReviewedAt = timePtr(rev)
		out = append(out, b)
	}
	return out, rows.Err()
}

// ReviewBreakGlass marks an emergency access reviewed by a compliance
// officer, with a note.
func (g *Grants) ReviewBreakGlass(ctx context.Context, orgID, id, by, note string) error {
	return g.db.InTx(ctx, func(tx *sql.Tx) error {
		var patient string
		err := tx.QueryRowContext(ctx, `UPDATE access_break_glass SET reviewed_at = $3, reviewed_by = $4, review_note = $5
			WHERE org_id = $1 AND id = $2 AND reviewed_at IS NULL RETURNING patient_id`, orgID, id, g.now().UTC(), by, strings.TrimSpace(note)).Scan(&patient)
		if errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("no unreviewed emergency access with that id")
		}
		if err != nil {
			return fmt.Errorf("access: review break-glass: %w", err)
		}
		return g.record(ctx, tx, GrantEvent{OrgID: orgID, AccountID: by, Patient: patient, What: "emergency access " + id + " reviewed", Reason: strings.TrimSpace(note)})
	})
}

// openBreakGlassPatients returns the Patient ids accountID reaches through
// break-glass now.
func (g *Grants) openBreakGlassPatients(ctx context.Context, orgID, accountID string, now time.Time) ([]string, error) {
	return g.ids(ctx, `SELECT DISTINCT patient_id FROM access_break_glass WHERE org_id = $1 AND account_id = $2 AND expires_at > $3`,
		orgID, accountID, now)
}

func (g *Grants) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := g.db.Read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("access: read grants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("access: read grants: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}
