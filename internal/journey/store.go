package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// queryer is a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ms returns t as Unix milliseconds, the journey tables' time.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func timeOf(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// noDeadline sorts journeys without a running deadline after all others.
const noDeadline = math.MaxInt64

const journeyColumns = `org_id, id, anchor, patient_id, order_ref, report_ref, code_system, code, display, stage,
	flag, flag_reason, clinician, opened_at, updated_at, result_at, final_at, due_at, due_step, clock, clock_job, escalation,
	reviewed_at, reviewed_by, released_at, hold_reason, hold_until, hold_by, notified_at, viewed_at, acknowledged_at,
	followup_at, booked_at, followup_done_at, closed_at, events, merged_into`

type scanner interface{ Scan(dest ...any) error }

func scanJourney(sc scanner) (*Journey, error) {
	var j Journey
	var flag string
	var opened, updated int64
	var result, final, due, job, reviewed, released, holdUntil, notified, viewed, acked, followup, booked, done, closed sql.NullInt64
	err := sc.Scan(&j.OrgID, &j.ID, &j.Anchor, &j.PatientID, &j.OrderRef, &j.ReportRef, &j.System, &j.Code, &j.Display,
		&j.Stage, &flag, &j.FlagReason, &j.Clinician, &opened, &updated, &result, &final, &due, &j.DueStep, &j.clock, &job,
		&j.Escalation, &reviewed, &j.ReviewedBy, &released, &j.HoldReason, &holdUntil, &j.HoldBy, &notified, &viewed,
		&acked, &followup, &booked, &done, &closed, &j.events, &j.MergedInto)
	if err != nil {
		return nil, err
	}
	j.Flag, _ = ParseFlag(flag)
	j.OpenedAt, j.UpdatedAt = fromMS(opened), fromMS(updated)
	j.ResultAt, j.FinalAt, j.DueAt, j.ReviewedAt, j.ReleasedAt = timeOf(result), timeOf(final), timeOf(due), timeOf(reviewed), timeOf(released)
	j.HoldUntil, j.NotifiedAt, j.ViewedAt, j.AckedAt = timeOf(holdUntil), timeOf(notified), timeOf(viewed), timeOf(acked)
	j.FollowupAt, j.BookedAt, j.DoneAt, j.ClosedAt = timeOf(followup), timeOf(booked), timeOf(done), timeOf(closed)
	if job.Valid {
		j.clockJob = &job.Int64
	}
	return &j, nil
}

// store is the SQL of journeys, on a transaction or a pool.
type store struct {
	dialect db.Dialect
}

// lock returns the journey with the id, locked for update in tx on
// PostgreSQL (SQLite has one writer), or errs.NotFound.
func (st store) lock(ctx context.Context, tx *sql.Tx, orgID, id string) (*Journey, error) {
	q := "SELECT " + journeyColumns + " FROM journeys WHERE org_id = $1 AND id = $2"
	if st.dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	j, err := scanJourney(tx.QueryRowContext(ctx, q, orgID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.NotFoundf("journey %s is not known", id)
	}
	if err != nil {
		return nil, fmt.Errorf("journey: read %s: %w", id, err)
	}
	return j, nil
}

// byAnchor returns the journey following the resource ("Type/id"), or nil.
func (st store) byAnchor(ctx context.Context, tx *sql.Tx, orgID, anchor string) (*Journey, error) {
	q := "SELECT " + journeyColumns + " FROM journeys WHERE org_id = $1 AND anchor = $2"
	if st.dialect == db.Postgres {
		q += " FOR UPDATE"
	}
	j, err := scanJourney(tx.QueryRowContext(ctx, q, orgID, anchor))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journey: read journey of %s: %w", anchor, err)
	}
	return j, nil
}

// insert stores a new journey.
func (st store) insert(ctx context.Context, tx *sql.Tx, j *Journey) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO journeys (`+journeyColumns+`, urgency, due_sort)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
		$24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38, $39)`, j.values()...)
	if err != nil {
		return fmt.Errorf("journey: store journey of %s: %w", j.Anchor, err)
	}
	return nil
}

// update stores every field of j.
func (st store) update(ctx context.Context, tx *sql.Tx, j *Journey) error {
	cols := strings.Split(journeyColumns+", urgency, due_sort", ",")
	var b strings.Builder
	b.WriteString("UPDATE journeys SET ")
	for i, c := range cols[2:] {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = $%d", strings.TrimSpace(c), i+3)
	}
	b.WriteString(" WHERE org_id = $1 AND id = $2")
	if _, err := tx.ExecContext(ctx, b.String(), j.values()...); err != nil {
		return fmt.Errorf("journey: update %s: %w", j.ID, err)
	}
	return nil
}

// values are j's columns in the order of journeyColumns, then urgency and
// due_sort.
func (j *Journey) values() []any {
	var job any
	if j.clockJob != nil {
		job = *j.clockJob
	}
	dueSort := int64(noDeadline)
	if j.DueAt != nil {
		dueSort = j.DueAt.UnixMilli()
	}
	return []any{j.OrgID, j.ID, j.Anchor, j.PatientID, j.OrderRef, j.ReportRef, j.System, j.Code, j.Display, string(j.Stage),
		j.Flag.String(), j.FlagReason, j.Clinician, ms(j.OpenedAt), ms(j.UpdatedAt), nullMS(j.ResultAt), nullMS(j.FinalAt), nullMS(j.DueAt),
		j.DueStep, j.clock, job, j.Escalation, nullMS(j.ReviewedAt), j.ReviewedBy, nullMS(j.ReleasedAt), j.HoldReason,
		nullMS(j.HoldUntil), j.HoldBy, nullMS(j.NotifiedAt), nullMS(j.ViewedAt), nullMS(j.AckedAt), nullMS(j.FollowupAt),
		nullMS(j.BookedAt), nullMS(j.DoneAt), nullMS(j.ClosedAt), j.events, j.MergedInto, j.Flag.urgency(), dueSort}
}

// addEvents stores events of j numbered from j.events+1, up to 50 per
// statement.
func (st store) addEvents(ctx context.Context, tx *sql.Tx, j *Journey, evs []Transition) error {
	const width = 10
	for len(evs) > 0 {
		n := min(len(evs), 50)
		var b strings.Builder
		b.WriteString("INSERT INTO journey_events (org_id, journey_id, seq, at, kind, from_stage, to_stage, cause, actor, note) VALUES ")
		args := make([]any, 0, n*width)
		for i, ev := range evs[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			st.dialect.AppendPlaceholders(&b, len(args), width)
			args = append(args, j.OrgID, j.ID, ev.Seq, ms(ev.At), ev.Kind, string(ev.From), string(ev.To), ev.Cause, ev.Actor, ev.Note)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("journey: store events %d to %d of %s: %w", evs[0].Seq, evs[n-1].Seq, j.ID, err)
		}
		evs = evs[n:]
	}
	return nil
}

// events returns the events of the journeys, in order, by journey id.
func (st store) events(ctx context.Context, q queryer, orgID string, ids []string) (map[string][]Transition, error) {
	out := map[string][]Transition{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{orgID}
	ph := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		ph[i] = fmt.Sprintf("$%d", i+2)
	}
	rows, err := q.QueryContext(ctx, `SELECT journey_id, seq, at, kind, from_stage, to_stage, cause, actor, note
		FROM journey_events WHERE org_id = $1 AND journey_id IN (`+strings.Join(ph, ", ")+`) ORDER BY journey_id, seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("journey: read events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ev Transition
		var at int64
		if err := rows.Scan(&id, &ev.Seq, &at, &ev.Kind, &ev.From, &ev.To, &ev.Cause, &ev.Actor, &ev.Note); err != nil {
			return nil, fmt.Errorf("journey: read events: %w", err)
		}
		ev.At = fromMS(at)
		out[id] = append(out[id], ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey: read events: %w", err)
	}
	return out, nil
}

// link is a FHIR resource tied to a journey.
type link struct {
	ref, journeyID, role string
	version              int64
	level                Flag
	reason               string
}

// Roles of linked resources.
const (
	roleOrder         = "order"
	roleReport        = "report"
	roleResult        = "result"         // an Observation listed in the report's result
	roleDirectResult  = "direct-result"  // an Observation basedOn the order, or the anchor of its own journey
	roleStep          = "step"           // Specimen, Task, Appointment, Procedure, ImagingStudy of the order
	roleMessage       = "communication"  // a Communication about the result
	roleFollowupOrder = "followup-order" // a ServiceRequest whose reason is this journey's result
	roleFollowupVisit = "followup-visit" // an Appointment basedOn the follow-up order
)

// linksOf returns the links of a resource ("Type/id") to journeys.
func (st store) linksOf(ctx context.Context, tx *sql.Tx, orgID, ref string) ([]link, error) {
	return st.queryLinks(ctx, tx, "SELECT ref, journey_id, role, version, level, reason FROM journey_links WHERE org_id = $1 AND ref = $2", orgID, ref)
}

// linksOfJourney returns a journey's links.
func (st store) linksOfJourney(ctx context.Context, tx *sql.Tx, orgID, id string) ([]link, error) {
	return st.queryLinks(ctx, tx, "SELECT ref, journey_id, role, version, level, reason FROM journey_links WHERE org_id = $1 AND journey_id = $2", orgID, id)
}

func (st store) queryLinks(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]link, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("journey: read links: %w", err)
	}
	defer rows.Close()
	var out []link
	for rows.Next() {
		var l link
		if err := rows.Scan(&l.ref, &l.journeyID, &l.role, &l.version, &l.level, &l.reason); err != nil {
			return nil, fmt.Errorf("journey: read links: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// putLink stores or replaces a link.
func (st store) putLink(ctx context.Context, tx *sql.Tx, orgID string, l link) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO journey_links (org_id, ref, journey_id, role, version, level, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org_id, ref, journey_id) DO UPDATE SET role = excluded.role,
		version = excluded.version, level = excluded.level, reason = excluded.reason`,
		orgID, l.ref, l.journeyID, l.role, l.version, int(l.level), l.reason)
	if err != nil {
		return fmt.Errorf("journey: link %s to %s: %w", l.ref, l.journeyID, err)
	}
	return nil
}
