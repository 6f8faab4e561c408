package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// Reasons for outreach to a patient lost to follow-up.
const (
	// OutreachUnviewed: a released result the patient has not viewed
	// within Policy.UnviewedDays.
	OutreachUnviewed = "unviewed"
	// OutreachFollowupUnbooked: a recommended follow-up not booked within
	// Policy.FollowupBookDays.
	OutreachFollowupUnbooked = "followup-unbooked"
)

// KindOutreach is the event of a journey whose patient a care coordinator
// is asked to reach.
const KindOutreach = "outreach"

// States of an outreach.
const (
	OutreachWaiting   = "waiting"   // its job fires at the deadline
	OutreachOpen      = "open"      // it fired: in the coordinators' outreach queue
	OutreachResolved  = "resolved"  // the step happened after it fired
	OutreachCancelled = "cancelled" // the step happened before the deadline, or the journey ended
)

// Outreach is a journey's outreach for one reason.
type Outreach struct {
	Reason     string     `json:"reason"`
	State      string     `json:"state"`
	DueAt      time.Time  `json:"due_at"`
	Note       string     `json:"note,omitempty"` // why, in words, once it fired
	FiredAt    *time.Time `json:"fired_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
}

// OutreachArgs fires when a journey's patient has not taken a step in
// time: viewed a released result, or booked a recommended follow-up.
type OutreachArgs struct {
	OrgID     string `json:"org_id"`
	JourneyID string `json:"journey_id"`
	Reason    string `json:"reason"`
}

// Kind names the job.
func (OutreachArgs) Kind() string { return "journey.outreach" }

// OutreachWorker runs journey.outreach jobs.
type OutreachWorker struct {
	river.WorkerDefaults[OutreachArgs]
	s *Service
}

// NewOutreachWorker returns the worker of journey.outreach jobs.
func NewOutreachWorker(s *Service) *OutreachWorker { return &OutreachWorker{s: s} }

// Work asks for outreach once, if the step has not happened, and completes
// the job in the same transaction.
func (w *OutreachWorker) Work(ctx context.Context, job *river.Job[OutreachArgs]) error {
	return w.s.inTx(ctx, job.Args.OrgID, func(t *tx) error { return t.outreach(job.Args) },
		func(tx *sql.Tx) error { return jobs.CompleteTx(ctx, tx, job) })
}

// OutreachDue runs an outreach deadline as its job would, in its own
// transaction; one whose step happened, or that fired already, does
// nothing.
func (s *Service) OutreachDue(ctx context.Context, args OutreachArgs) error {
	return s.inTx(ctx, args.OrgID, func(t *tx) error { return t.outreach(args) }, nil)
}

// trackOutreach starts and stops the outreach clocks of a journey in the
// transaction that changes it: a released result must be viewed within the
// policy's UnviewedDays, a recommended follow-up booked within
// FollowupBookDays (imported history starts neither). A step that happens stops its clock (the
// job is cancelled) or, after it fired, resolves the outreach; a journey
// that ends stops them all.
func (t *tx) trackOutreach(p *pending) error {
	j := p.j
	if j.Stage.Terminal() {
		if p.was.ended || !p.was.stored && !p.was.released && !p.was.followup {
			return nil
		}
		for _, reason := range []string{OutreachUnviewed, OutreachFollowupUnbooked} {
			if err := t.stopOutreach(j, reason); err != nil {
				return err
			}
		}
		return nil
	}
	if !p.was.released && j.ReleasedAt != nil && j.ViewedAt == nil && !p.historical() {
		due := j.ReleasedAt.Add(time.Duration(t.policy.UnviewedDays) * 24 * time.Hour)
		if err := t.startOutreach(j, OutreachUnviewed, due); err != nil {
			return err
		}
	}
	if !p.was.followup && j.FollowupAt != nil && j.BookedAt == nil && !p.historical() {
		due := j.FollowupAt.Add(time.Duration(t.policy.FollowupBookDays) * 24 * time.Hour)
		if err := t.startOutreach(j, OutreachFollowupUnbooked, due); err != nil {
			return err
		}
	}
	if !p.was.viewed && j.ViewedAt != nil && p.was.released {
		if err := t.stopOutreach(j, OutreachUnviewed); err != nil {
			return err
		}
	}
	if !p.was.booked && j.BookedAt != nil && p.was.followup {
		if err := t.stopOutreach(j, OutreachFollowupUnbooked); err != nil {
			return err
		}
	}
	return nil
}

// startOutreach schedules the outreach job at due and records it waiting.
func (t *tx) startOutreach(j *Journey, reason string, due time.Time) error {
	res, err := t.s.jobs.InsertTx(t.ctx, t.tx, OutreachArgs{OrgID: t.orgID, JourneyID: j.ID, Reason: reason},
		&river.InsertOpts{ScheduledAt: due, UniqueOpts: river.UniqueOpts{ByArgs: true}})
	if err != nil {
		return fmt.Errorf("journey: start the %s clock of %s: %w", reason, j.ID, err)
	}
	_, err = t.tx.ExecContext(t.ctx, `INSERT INTO journey_outreach (org_id, journey_id, reason, due_at, job_id, state, note)
		VALUES ($1, $2, $3, $4, $5, $6, '') ON CONFLICT (org_id, journey_id, reason) DO NOTHING`,
		t.orgID, j.ID, reason, ms(due), res.Job.ID, OutreachWaiting)
	if err != nil {
		return fmt.Errorf("journey: start the %s clock of %s: %w", reason, j.ID, err)
	}
	return nil
}

// stopOutreach ends a journey's outreach for reason: a waiting one is
// cancelled with its job, an open one resolved.
func (t *tx) stopOutreach(j *Journey, reason string) error {
	var state string
	var job sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, "SELECT state, job_id FROM journey_outreach WHERE org_id = $1 AND journey_id = $2 AND reason = $3",
		t.orgID, j.ID, reason).Scan(&state, &job)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journey: outreach of %s: %w", j.ID, err)
	}
	next := ""
	switch state {
	case OutreachWaiting:
		if job.Valid {
			if err := t.s.jobs.CancelTx(t.ctx, t.tx, job.Int64); err != nil {
				return err
			}
		}
		next = OutreachCancelled
	case OutreachOpen:
		next = OutreachResolved
	default:
		return nil
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE journey_outreach SET state = $4, resolved_at = $5 WHERE org_id = $1 AND journey_id = $2 AND reason = $3",
		t.orgID, j.ID, reason, next, ms(t.now)); err != nil {
		return fmt.Errorf("journey: end the outreach of %s: %w", j.ID, err)
	}
	return nil
}

// outreach fires an outreach deadline: if the step has not happened, the
// outreach opens (the coordinators' outreach queue), the journey records
// it with the reason, the care coordinator gets a task notice and the
// patient a reminder. Run again, or after the step, it does nothing.
func (t *tx) outreach(a OutreachArgs) error {
	p, err := t.journey(a.JourneyID)
	if errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	j := p.j
	var state string
	var due int64
	err = t.tx.QueryRowContext(t.ctx, "SELECT state, due_at FROM journey_outreach WHERE org_id = $1 AND journey_id = $2 AND reason = $3",
		t.orgID, j.ID, a.Reason).Scan(&state, &due)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journey: outreach of %s: %w", j.ID, err)
	}
	if state != OutreachWaiting {
		return nil // fired already, or the step happened
	}
	var note, patientText, breach, patientKind string
	done := j.Stage.Terminal()
	switch a.Reason {
	case OutreachUnviewed:
		done = done || j.ViewedAt != nil
		note = fmt.Sprintf("result released %s and not viewed by the patient", ago(*j.ReleasedAt, t.now))
		patientText, breach, patientKind = "You have a result you have not seen yet. Sign in to see it.", BreachUnviewed, "result-unviewed"
	case OutreachFollowupUnbooked:
		done = done || j.BookedAt != nil
		note = fmt.Sprintf("follow-up recommended %s and not booked", ago(*j.FollowupAt, t.now))
		patientText, breach, patientKind = "Your care team is waiting to hear from you about a result. Sign in to see what to do next.", BreachFollowupUnbooked, "followup-unbooked"
	default:
		return nil
	}
	if done {
		_, err := t.tx.ExecContext(t.ctx, "UPDATE journey_outreach SET state = $4, resolved_at = $5 WHERE org_id = $1 AND journey_id = $2 AND reason = $3",
			t.orgID, j.ID, a.Reason, OutreachCancelled, ms(t.now))
		if err != nil {
			return fmt.Errorf("journey: outreach of %s: %w", j.ID, err)
		}
		return nil
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE journey_outreach SET state = $4, fired_at = $5, note = $6 WHERE org_id = $1 AND journey_id = $2 AND reason = $3",
		t.orgID, j.ID, a.Reason, OutreachOpen, ms(t.now), note); err != nil {
		return fmt.Errorf("journey: open the outreach of %s: %w", j.ID, err)
	}
	t.counts.breach(breach)
	p.record(t.now, KindOutreach, j.Stage, j.Stage, "deadline:outreach-"+a.Reason, "", "outreach: "+note)
	t.notices = append(t.notices,
		staffNotice(t.orgID, j, "care-coordinator", t.policy.CareCoordinator, "outreach-needed", "outreach/"+a.Reason,
			"A patient needs outreach: "+outreachWhat[a.Reason]+"."),
		Notice{OrgID: t.orgID, JourneyID: j.ID, PatientID: j.PatientID, To: "patient", Who: "Patient/" + j.PatientID, What: patientText,
			Kind: patientKind, Key: "journey/" + j.ID + "/outreach/" + a.Reason, Detail: j.Display})
	return nil
}

// outreachWhat says a reason to the care coordinator without health
// information.
var outreachWhat = map[string]string{
	OutreachUnviewed:         "a released result has not been viewed",
	OutreachFollowupUnbooked: "a recommended follow-up has not been booked",
}

// ago says how long before now t was, in days rounded to the nearest (at
// least one).
func ago(t, now time.Time) string {
	n := max(int(math.Round(now.Sub(t).Hours()/24)), 1)
	if n == 1 {
		return "1 day ago"
	}
	return fmt.Sprintf("%d days ago", n)
}

// Outreaches returns the outreach of the journeys, by journey id, in the
// order of their deadlines; states lists the states wanted (none: all).
func (s *Service) Outreaches(ctx context.Context, orgID string, ids []string, states ...string) (map[string][]Outreach, error) {
	out := map[string][]Outreach{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{orgID}
	for _, id := range ids {
		args = append(args, id)
	}
	q := "SELECT journey_id, reason, state, due_at, note, fired_at, resolved_at FROM journey_outreach WHERE org_id = $1 AND journey_id IN (" +
		placeholders(2, len(ids)) + ")"
	if len(states) > 0 {
		for _, st := range states {
			args = append(args, st)
		}
		q += " AND state IN (" + placeholders(len(ids)+2, len(states)) + ")"
	}
	rows, err := s.db.Read.QueryContext(ctx, q+" ORDER BY due_at, reason", args...)
	if err != nil {
		return nil, fmt.Errorf("journey: outreach: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var o Outreach
		var due int64
		var fired, resolved sql.NullInt64
		if err := rows.Scan(&id, &o.Reason, &o.State, &due, &o.Note, &fired, &resolved); err != nil {
			return nil, fmt.Errorf("journey: outreach: %w", err)
		}
		o.DueAt, o.FiredAt, o.ResolvedAt = fromMS(due), timeOf(fired), timeOf(resolved)
		out[id] = append(out[id], o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journey: outreach: %w", err)
	}
	return out, nil
}
