package journey

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// Topic is the outbox topic of the journeys: each write transaction that
// touched a type that moves journeys enqueues one item (Announce) naming
// the versions it wrote, and the journeys' consumer applies the items in
// batches (Service.ApplyItems).
const Topic = "journey.changes"

// Announce enqueues, in the write transaction tx, the versions of c whose
// types move journeys; a write that touched none enqueues nothing. Pass it
// to fhir.Store.OnWrite.
func Announce(ctx context.Context, tx *sql.Tx, c fhir.ResourcesChangedArgs) error {
	v := Relevant(c.Refs)
	if len(v) == 0 {
		return nil
	}
	return outbox.Enqueue(ctx, tx, Topic, c.OrgID, []byte(strings.Join(v, " ")))
}

// ApplyItems is the outbox handler of Topic: it applies the versions of a
// batch of writes in tx, which also deletes the items, so a batch is
// applied exactly once; a version already applied is never applied twice
// (see Apply). Each organisation's items are applied in order, in one
// pass: a journey that several of them move is stored once, with all its
// events. The function returned sends the notices once tx commits.
func (s *Service) ApplyItems(ctx context.Context, sqlTx *sql.Tx, items []outbox.Item) (func(), error) {
	var orgs []string
	byOrg := map[string][]*resource{}
	for _, it := range items {
		rs, err := s.read(ctx, it.OrgID, strings.Fields(string(it.Payload)))
		if err != nil {
			return nil, err
		}
		if _, ok := byOrg[it.OrgID]; !ok {
			orgs = append(orgs, it.OrgID)
		}
		byOrg[it.OrgID] = append(byOrg[it.OrgID], rs...)
	}
	var done []*tx
	for _, org := range orgs {
		t, err := s.applyRead(ctx, sqlTx, org, byOrg[org])
		if err != nil {
			return nil, err
		}
		done = append(done, t)
	}
	return func() {
		for _, t := range done {
			s.committed(ctx, t)
		}
	}, nil
}

// ChangesArgs is the journey.changes job that earlier versions inserted
// with each write of a type that moves journeys: the versions written in
// one transaction ("Type/id/_history/v"). Writes now enqueue an outbox
// item instead (Announce); ChangesWorker works off the jobs still queued
// after an upgrade.
type ChangesArgs struct {
	OrgID    string   `json:"org_id"`
	Versions []string `json:"versions"`
}

// Kind names the job.
func (ChangesArgs) Kind() string { return "journey.changes" }

// ChangesWorker applies journey.changes jobs: the journey events and the
// job's completion commit in one transaction, so a job River runs again
// after a crash finds itself done; and a version already applied is never
// applied twice (see Service.Apply).
type ChangesWorker struct {
	river.WorkerDefaults[ChangesArgs]
	s *Service
}

// NewChangesWorker returns the worker of journey.changes jobs.
func NewChangesWorker(s *Service) *ChangesWorker { return &ChangesWorker{s: s} }

// Work applies the job's versions.
func (w *ChangesWorker) Work(ctx context.Context, job *river.Job[ChangesArgs]) error {
	rs, err := w.s.read(ctx, job.Args.OrgID, job.Args.Versions)
	if err != nil {
		return err
	}
	var done *tx
	err = w.s.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if done, err = w.s.applyRead(ctx, tx, job.Args.OrgID, rs); err != nil {
			return err
		}
		return jobs.CompleteTx(ctx, tx, job)
	})
	if err != nil {
		return err
	}
	w.s.committed(ctx, done)
	return nil
}

// DeadlineArgs fires when a step of a journey is due: a critical result's
// acknowledgement (escalating at each level) or a result's review.
type DeadlineArgs struct {
	OrgID     string `json:"org_id"`
	JourneyID string `json:"journey_id"`
	// Clock is the journey's clock when the deadline started: the job does
	// nothing once the step happened or another clock started.
	Clock int64  `json:"clock"`
	Step  string `json:"step"`
	Level int    `json:"level"` // escalations so far
}

// Kind names the job.
func (DeadlineArgs) Kind() string { return "journey.deadline" }

// DeadlineWorker runs journey.deadline jobs.
type DeadlineWorker struct {
	river.WorkerDefaults[DeadlineArgs]
	s *Service
}

// NewDeadlineWorker returns the worker of journey.deadline jobs.
func NewDeadlineWorker(s *Service) *DeadlineWorker { return &DeadlineWorker{s: s} }

// Work escalates or reminds, once, and completes the job in the same
// transaction.
func (w *DeadlineWorker) Work(ctx context.Context, job *river.Job[DeadlineArgs]) error {
	return w.s.inTx(ctx, job.Args.OrgID, func(t *tx) error { return t.deadline(job.Args) },
		func(tx *sql.Tx) error { return jobs.CompleteTx(ctx, tx, job) })
}

// Deadline runs a deadline as its job would, in its own transaction; a
// deadline whose step happened, or that already fired, does nothing.
func (s *Service) Deadline(ctx context.Context, args DeadlineArgs) error {
	return s.inTx(ctx, args.OrgID, func(t *tx) error { return t.deadline(args) }, nil)
}

// deadline escalates an unacknowledged critical result one level (to the
// covering clinician, then to the care coordinator), or marks a review
// overdue.
func (t *tx) deadline(a DeadlineArgs) error {
	p, err := t.journey(a.JourneyID)
	if errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	j := p.j
	if j.clock != a.Clock || j.DueStep != a.Step || j.ReviewedAt != nil || j.Stage.Terminal() || j.Escalation != a.Level {
		return nil // the step happened, or this deadline already fired
	}
	cause := "deadline:" + a.Step
	switch {
	case a.Step == StepAcknowledge && a.Level == EscalatedNone:
		j.Escalation = EscalatedCovering
		t.counts.breach(BreachAcknowledge)
		p.record(t.now, KindEscalation, j.Stage, j.Stage, cause, "", "critical result not acknowledged in time: escalated to the covering clinician")
		t.notices = append(t.notices, staffNotice(t.orgID, j, "covering-clinician", t.policy.CoveringClinician, "critical-escalation",
			fmt.Sprintf("escalated/%d/covering", a.Clock), "A critical result waits for acknowledgement."))
		due := t.now.Add(t.policy.CoveringAck)
		j.DueAt = &due
		res, err := t.s.jobs.InsertTx(t.ctx, t.tx, DeadlineArgs{OrgID: t.orgID, JourneyID: j.ID, Clock: j.clock, Step: a.Step, Level: EscalatedCovering},
			&river.InsertOpts{ScheduledAt: due})
		if err != nil {
			return fmt.Errorf("journey: schedule the next escalation of %s: %w", j.ID, err)
		}
		j.clockJob = &res.Job.ID
	case a.Step == StepAcknowledge:
		j.Escalation = EscalatedCoordinator
		j.clockJob = nil
		t.counts.breach(BreachCoveringAcknowledge)
		p.record(t.now, KindEscalation, j.Stage, j.Stage, "deadline:covering-"+a.Step, "", "critical result still not acknowledged: escalated to the care coordinator")
		t.notices = append(t.notices, staffNotice(t.orgID, j, "care-coordinator", t.policy.CareCoordinator, "critical-unacknowledged",
			fmt.Sprintf("escalated/%d/coordinator", a.Clock), "A critical result is still not acknowledged."))
	default:
		j.Escalation = EscalatedCovering
		j.clockJob = nil
		t.counts.breach(BreachReview)
		p.record(t.now, KindReminder, j.Stage, j.Stage, cause, "", "review overdue")
		t.notices = append(t.notices, staffNotice(t.orgID, j, "ordering-clinician", j.Clinician, "review-overdue",
			fmt.Sprintf("review-overdue/%d", a.Clock), "A result's review is overdue."))
	}
	return nil
}

// ReleaseArgs releases a journey's result to the patient at At (Unix ms),
// when a release delay or a hold ends.
type ReleaseArgs struct {
	OrgID     string `json:"org_id"`
	JourneyID string `json:"journey_id"`
	At        int64  `json:"at"`
}

// Kind names the job.
func (ReleaseArgs) Kind() string { return "journey.release" }

// ReleaseWorker runs journey.release jobs.
type ReleaseWorker struct {
	river.WorkerDefaults[ReleaseArgs]
	s *Service
}

// NewReleaseWorker returns the worker of journey.release jobs.
func NewReleaseWorker(s *Service) *ReleaseWorker { return &ReleaseWorker{s: s} }

// Work releases the result if nothing holds it any longer; a release that
// is still held or already happened does nothing.
func (w *ReleaseWorker) Work(ctx context.Context, job *river.Job[ReleaseArgs]) error {
	return w.s.inTx(ctx, job.Args.OrgID, func(t *tx) error { return t.releaseDue(job.Args) },
		func(tx *sql.Tx) error { return jobs.CompleteTx(ctx, tx, job) })
}

// ReleaseDue runs a release as its job would, in its own transaction.
func (s *Service) ReleaseDue(ctx context.Context, args ReleaseArgs) error {
	return s.inTx(ctx, args.OrgID, func(t *tx) error { return t.releaseDue(args) }, nil)
}

func (t *tx) releaseDue(a ReleaseArgs) error {
	_, err := t.journey(a.JourneyID)
	if errs.CodeOf(err) == errs.NotFound {
		return nil
	}
	return err // finish settles it: released now if nothing holds it
}

// RiverJobs inserts and cancels jobs on a jobs.Queue.
type RiverJobs struct{ Queue *jobs.Queue }

// InsertTx inserts a job in tx.
func (r RiverJobs) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return r.Queue.InsertTx(ctx, tx, args, opts)
}

// CancelTx cancels a job in tx; a job that already finished, or is gone,
// is left as it is.
func (r RiverJobs) CancelTx(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := r.Queue.Client().JobCancelTx(ctx, tx, id)
	if err != nil && !errors.Is(err, rivertype.ErrNotFound) {
		return fmt.Errorf("journey: cancel job %d: %w", id, err)
	}
	return nil
}
