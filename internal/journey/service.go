package journey

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Resources reads FHIR resource versions; *fhir.Store is one.
type Resources interface {
	VRead(ctx context.Context, orgID, typ, id string, version int64) (*fhir.Stored, error)
	ReadTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*fhir.Stored, error)
}

// Jobs inserts and cancels jobs in a transaction (see RiverJobs).
type Jobs interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	// CancelTx cancels a job that has not run yet; a job already finished
	// or unknown is no error.
	CancelTx(ctx context.Context, tx *sql.Tx, id int64) error
}

// Patient is what interpretation needs to know of a patient.
type Patient struct {
	Gender    string
	BirthDate time.Time
}

// Interpretation is an Observation's flag and why.
type Interpretation struct {
	Flag   Flag
	Reason string
}

// Interpreter flags an Observation (its JSON) for a patient at a time.
// The application wires careloop's interpretation (internal/interpret);
// SourceInterpreter reads only what the source sent.
type Interpreter interface {
	Observation(raw []byte, p Patient, at time.Time) (Interpretation, error)
}

// Notice is a message a journey sends to a person or a queue: an
// escalation, a reminder, a released result.
type Notice struct {
	OrgID     string
	JourneyID string
	PatientID string
	// Kind names the message (a kind of internal/notify/templates:
	// "result-ready", "critical-escalation", ...).
	Kind string
	// Key names the notice uniquely within the journey (the step and the
	// deadline's clock), so that a job run twice tells nobody twice.
	Key string
	// Detail is the test's name, which patients who chose so receive.
	Detail string
	// To is the role the notice is for: "ordering-clinician",
	// "covering-clinician", "care-coordinator" or "patient".
	To string
	// Who is the person, when known ("Practitioner/id", "Patient/id").
	Who string
	// What says what happened, without health information.
	What string
}

// Notifier stores notices for delivery in the transaction that decided
// them (internal/notify's transactional outbox): a notice exists exactly
// when the journey's change does.
type Notifier interface {
	NotifyTx(ctx context.Context, tx *sql.Tx, n Notice) error
}

// Config holds a Service's dependencies.
type Config struct {
	DB          *db.DB
	Resources   Resources
	Jobs        Jobs
	Interpreter Interpreter      // nil: SourceInterpreter
	Notifier    Notifier         // nil: notices are only logged, after commit
	Metrics     *Metrics         // nil: no metrics (see NewMetrics)
	Now         func() time.Time // nil: time.Now
	Log         *slog.Logger
}

// Service keeps the journeys. It is safe for concurrent use.
type Service struct {
	db     *db.DB
	st     store
	fhir   Resources
	jobs   Jobs
	interp Interpreter
	notify Notifier
	now    func() time.Time
	log    *slog.Logger
	stats  *Metrics
}

// New returns the journeys' service.
func New(cfg Config) *Service {
	s := &Service{db: cfg.DB, st: store{dialect: cfg.DB.Dialect}, fhir: cfg.Resources, jobs: cfg.Jobs,
		interp: cfg.Interpreter, notify: cfg.Notifier, now: cfg.Now, log: cfg.Log, stats: cfg.Metrics}
	if s.interp == nil {
		s.interp = SourceInterpreter{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// clock returns the current time to the millisecond, as stored.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// send logs the notices of a committed transaction when no Notifier
// stored them.
func (s *Service) send(ctx context.Context, notices []Notice) {
	if s.notify != nil {
		return
	}
	for _, n := range notices {
		s.log.InfoContext(ctx, "journey notice (no notifier)", "org", n.OrgID, "journey", n.JourneyID, "to", n.To, "who", n.Who, "what", n.What)
	}
}

// pending is a journey being changed in a transaction, with its new
// events.
type pending struct {
	j     *Journey
	isNew bool
	evs   []Transition
	// history is set when the result that arrived is imported history
	// (Policy.HistoricalAfter).
	history bool
	reflag  bool // its results changed: recompute the flag
	// was is the journey as it was stored before this transaction (or
	// last finished): what changed decides the ETA's samples and the
	// outreach clocks (see track).
	was snapshot
	// source is the resource that opened the journey in this transaction.
	source *resource
}

// record appends an event.
func (p *pending) record(at time.Time, kind string, from, to Stage, cause, actor, note string) {
	p.j.events++
	p.evs = append(p.evs, Transition{Seq: p.j.events, At: at, Kind: kind, From: from, To: to, Cause: cause, Actor: actor, Note: note})
	p.j.UpdatedAt = maxTime(p.j.UpdatedAt, at)
}

// move advances the journey to stage to if that is forward, and records
// the event either way: a step that would go backwards is kept as an
// event. Cancelled and entered-in-error end the journey from any stage; a
// correction (an amended or corrected result) brings it back to final and
// asks for review again. It reports whether the stage changed.
func (p *pending) move(at time.Time, to Stage, correction bool, cause, actor, note string) bool {
	j := p.j
	from := j.Stage
	switch {
	case from.Terminal():
		p.record(at, KindEvent, from, from, cause, actor, joinNote(note, "journey already "+string(from)+"; would have been "+string(to)))
		return false
	case to == Cancelled || to == EnteredInError:
		j.Stage = to
		t := at
		j.ClosedAt = &t
		p.record(at, KindTransition, from, to, cause, actor, note)
		return true
	case correction && stageRank[from] >= stageRank[Preliminary]:
		j.Stage = to
		j.ReviewedAt, j.ReviewedBy, j.Escalation = nil, "", EscalatedNone
		j.DueStep = "" // the review clock starts again
		kind := KindCorrection
		if stageRank[to] > stageRank[from] {
			kind = KindTransition
		}
		p.record(at, kind, from, to, cause, actor, joinNote(note, "result corrected: needs review again"))
		return from != to
	case stageRank[to] > stageRank[from]:
		j.Stage = to
		p.record(at, KindTransition, from, to, cause, actor, note)
		return true
	}
	if to == from {
		p.record(at, KindEvent, from, from, cause, actor, note)
	} else {
		p.record(at, KindEvent, from, from, cause, actor, joinNote(note, "already past "+string(to)))
	}
	return false
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func ptr(t time.Time) *time.Time { return &t }

// tx is the work of one transaction on journeys: the journeys it touched,
// the policy, the notices to send after commit.
type tx struct {
	s        *Service
	ctx      context.Context
	tx       *sql.Tx
	orgID    string
	now      time.Time
	policy   Policy
	byID     map[string]*pending
	byAnchor map[string]*pending
	touched  []*pending
	patients map[string]*Patient
	notices  []Notice
	notified int               // notices stored through the Notifier already
	counts   counts            // what the metrics count once the transaction commits
	ensuring map[string]bool   // resources applied or being applied (see ensure)
	links    map[string][]link // the links of resources read in this transaction, by ref (see linksOf)
	// given are the newest versions this transaction applies, by ref: a
	// report's results written with it need not be read again.
	given map[string]*resource
}

func (s *Service) begin(ctx context.Context, sqlTx *sql.Tx, orgID string) (*tx, error) {
	pol, err := policyTx(ctx, sqlTx, orgID)
	if err != nil {
		return nil, err
	}
	return &tx{s: s, ctx: ctx, tx: sqlTx, orgID: orgID, now: s.clock(), policy: pol,
		byID: map[string]*pending{}, byAnchor: map[string]*pending{}, patients: map[string]*Patient{},
		ensuring: map[string]bool{}, links: map[string][]link{}, given: map[string]*resource{}}, nil
}

func (t *tx) keep(j *Journey, isNew bool) *pending {
	p := &pending{j: j, isNew: isNew, was: snapshotOf(j, !isNew)}
	t.byID[j.ID] = p
	t.byAnchor[j.Anchor] = p
	t.touched = append(t.touched, p)
	return p
}

// journey returns the journey with the id, locked.
func (t *tx) journey(id string) (*pending, error) {
	if p, ok := t.byID[id]; ok {
		return p, nil
	}
	j, err := t.s.st.lock(t.ctx, t.tx, t.orgID, id)
	if err != nil {
		return nil, err
	}
	return t.keep(j, false), nil
}

// anchored returns the journey following the resource ("Type/id"), or nil.
func (t *tx) anchored(ref string) (*pending, error) {
	if p, ok := t.byAnchor[ref]; ok {
		return p, nil
	}
	j, err := t.s.st.byAnchor(t.ctx, t.tx, t.orgID, ref)
	if err != nil || j == nil {
		return nil, err
	}
	if p, ok := t.byID[j.ID]; ok {
		return p, nil
	}
	return t.keep(j, false), nil
}

// finish settles every touched journey (clocks, release, closing) and
// stores it with its events.
func (t *tx) finish() error {
	for _, p := range t.touched {
		if p.reflag {
			if err := t.reflag(p); err != nil {
				return err
			}
		}
		if err := t.settle(p); err != nil {
			return err
		}
		if p.isNew {
			if err := t.s.st.insert(t.ctx, t.tx, p.j); err != nil {
				return err
			}
			p.isNew = false
		} else {
			if err := t.s.st.update(t.ctx, t.tx, p.j); err != nil {
				return err
			}
		}
		if err := t.s.st.addEvents(t.ctx, t.tx, p.j, p.evs); err != nil {
			return err
		}
		if err := t.track(p); err != nil {
			return err
		}
		p.evs, p.reflag = nil, false
	}
	if t.s.notify != nil {
		for _, n := range t.notices[t.notified:] {
			if err := t.s.notify.NotifyTx(t.ctx, t.tx, n); err != nil {
				return fmt.Errorf("journey: notice for %s: %w", n.JourneyID, err)
			}
		}
		t.notified = len(t.notices)
	}
	return nil
}

// reflag sets the journey's flag to the worst of its results.
func (t *tx) reflag(p *pending) error {
	links, err := t.s.st.linksOfJourney(t.ctx, t.tx, t.orgID, p.j.ID)
	if err != nil {
		return err
	}
	flag, reason := Unknown, ""
	for _, l := range links {
		if (l.role == roleResult || l.role == roleDirectResult) && (l.level > flag || reason == "" && l.level == flag) {
			flag, reason = l.level, l.reason
		}
	}
	if flag != p.j.Flag {
		p.record(t.now, KindEvent, p.j.Stage, p.j.Stage, "interpretation", "", "flag "+p.j.Flag.String()+" → "+flag.String())
	}
	p.j.Flag, p.j.FlagReason = flag, reason
	return nil
}

// settle applies the policy after a journey's events: it releases the
// result when due (or schedules the release), closes the journey when
// every needed step happened, and starts or stops the review clock.
func (t *tx) settle(p *pending) error {
	j := p.j
	if err := t.release(p); err != nil {
		return err
	}
	if !j.Stage.Terminal() && (j.DoneAt != nil || j.ReviewedAt != nil && j.ReleasedAt != nil && j.ViewedAt != nil && j.FollowupAt == nil) {
		p.move(t.now, Closed, false, "policy:close", "", "every step done")
		j.ClosedAt = ptr(t.now)
	}
	want := ""
	switch {
	case j.Stage.Terminal() || j.ResultAt == nil || j.ReviewedAt != nil:
	case p.history || j.DueStep == stepHistory:
		j.DueStep = stepHistory
		return t.stopClock(j, stepHistory)
	case j.Flag == Critical:
		want = StepAcknowledge
	default:
		want = StepReview
	}
	if want == "" {
		return t.stopClock(j, "")
	}
	wantDue := want == StepAcknowledge || j.Flag == Abnormal
	if j.DueStep == want && (j.DueAt != nil) == wantDue {
		return nil // the clock runs
	}
	if err := t.stopClock(j, want); err != nil {
		return err
	}
	j.clock++
	j.Escalation = EscalatedNone
	if !wantDue {
		return nil // a normal result waits for review without a deadline
	}
	due := t.now.Add(t.policy.CriticalAck)
	if want == StepReview {
		due = addBusinessDays(t.now, t.policy.AbnormalReviewDays, t.policy.location())
	}
	j.DueAt = &due
	res, err := t.s.jobs.InsertTx(t.ctx, t.tx, DeadlineArgs{OrgID: t.orgID, JourneyID: j.ID, Clock: j.clock, Step: want, Level: 0},
		&river.InsertOpts{ScheduledAt: due})
	if err != nil {
		return fmt.Errorf("journey: start the %s clock of %s: %w", want, j.ID, err)
	}
	j.clockJob = &res.Job.ID
	return nil
}

// stepHistory marks a journey whose result arrived as imported history:
// no review clock runs for it.
const stepHistory = "none: imported history"

// stopClock ends the running deadline, if any, cancelling its job, and
// leaves step as the step waited for.
func (t *tx) stopClock(j *Journey, step string) error {
	if j.clockJob != nil {
		if err := t.s.jobs.CancelTx(t.ctx, t.tx, *j.clockJob); err != nil {
			return fmt.Errorf("journey: stop the clock of %s: %w", j.ID, err)
		}
		j.clockJob = nil
	}
	if j.DueAt != nil || j.DueStep != step {
		j.clock++ // a job that could not be cancelled finds its clock gone
	}
	j.DueAt, j.DueStep = nil, step
	return nil
}

// release releases a final result to the patient when the policy's delay
// and any hold have passed, or schedules a release job for that time.
func (t *tx) release(p *pending) error {
	j := p.j
	if j.ReleasedAt != nil || j.Stage.Terminal() || j.FinalAt == nil {
		return nil
	}
	at := j.FinalAt.Add(t.policy.ReleaseDelay)
	if p.history || j.DueStep == stepHistory {
		at = *j.FinalAt
	}
	if j.HoldUntil != nil && j.HoldUntil.After(at) {
		at = *j.HoldUntil
	}
	if at.After(t.now) {
		_, err := t.s.jobs.InsertTx(t.ctx, t.tx, ReleaseArgs{OrgID: t.orgID, JourneyID: j.ID, At: at.UnixMilli()},
			&river.InsertOpts{ScheduledAt: at, UniqueOpts: river.UniqueOpts{ByArgs: true}})
		if err != nil {
			return fmt.Errorf("journey: schedule the release of %s: %w", j.ID, err)
		}
		return nil
	}
	note := "released by policy"
	if j.HoldUntil != nil {
		note = "hold expired: " + j.HoldReason
	}
	j.ReleasedAt = ptr(t.now)
	p.move(t.now, Released, false, "policy:release", "", note)
	if !p.historical() {
		// Imported history is released without a word: it is not news.
		t.notices = append(t.notices, releaseNotice(t.orgID, j, t.now))
	}
	return nil
}

// patient returns the patient's gender and birth date, read once per
// transaction; a patient not found is unknown to interpretation.
func (t *tx) patient(id string) *Patient {
	if p, ok := t.patients[id]; ok {
		return p
	}
	p := &Patient{}
	t.patients[id] = p
	if id == "" {
		return p
	}
	st, err := t.s.fhir.ReadTx(t.ctx, t.tx, t.orgID, "Patient", id)
	if err == nil {
		*p = patientOf(st.JSON)
	}
	return p
}

// interpret flags an Observation for the journey's patient.
func (t *tx) interpret(raw []byte, patientID string, at time.Time) (Flag, string) {
	if at.IsZero() {
		at = t.now
	}
	res, err := t.s.interp.Observation(raw, *t.patient(patientID), at)
	if err != nil {
		return Unknown, "not interpreted: " + err.Error()
	}
	return res.Flag, res.Reason
}

// inTx runs fn on the organisation's journeys in one transaction and sends
// the notices after it committed. extra, when not nil, runs in the same
// transaction after fn and the settling (a job's completion).
func (s *Service) inTx(ctx context.Context, orgID string, fn func(t *tx) error, extra func(*sql.Tx) error) error {
	var done *tx
	err := s.db.InTx(ctx, func(sqlTx *sql.Tx) error {
		t, err := s.begin(ctx, sqlTx, orgID)
		if err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		if err := t.finish(); err != nil {
			return err
		}
		done = t
		if extra != nil {
			return extra(sqlTx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.committed(ctx, done)
	return nil
}

// committed sends a committed transaction's notices and counts its
// transitions and breaches in the metrics.
func (s *Service) committed(ctx context.Context, t *tx) {
	if t == nil {
		return
	}
	s.send(ctx, t.notices)
	s.stats.add(t.counts)
}

// isMissing reports whether err says a resource is not there (never
// stored, or deleted).
func isMissing(err error) bool {
	c := errs.CodeOf(err)
	return c == errs.NotFound || c == errs.Gone
}

// releaseNotice tells the patient their result is released, keyed by the
// release's time so that a result released again after a correction is
// told again.
func releaseNotice(orgID string, j *Journey, at time.Time) Notice {
	return Notice{OrgID: orgID, JourneyID: j.ID, PatientID: j.PatientID, To: "patient", Who: "Patient/" + j.PatientID,
		What: "You have a new result. Sign in to see it.", Kind: "result-ready",
		Key: fmt.Sprintf("journey/%s/released/%d", j.ID, at.UnixMilli()), Detail: j.Display}
}

// staffNotice tells a member of the care team (who: "Practitioner/id",
// empty when the policy names nobody) about a journey; key names the step.
func staffNotice(orgID string, j *Journey, to, who, kind, key, what string) Notice {
	return Notice{OrgID: orgID, JourneyID: j.ID, PatientID: j.PatientID, To: to, Who: who, What: what, Kind: kind,
		Key: "journey/" + j.ID + "/" + key}
}
