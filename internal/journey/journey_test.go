package journey_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
	"github.com/careloop/careloop/internal/tenant"
)

// env is a journey service on a real database and FHIR store, with a clock
// the test moves.
type env struct {
	t     *testing.T
	d     *db.DB
	org   string
	store *fhir.Store
	s     *journey.Service

	mu      sync.Mutex
	now     time.Time
	notices []journey.Notice
}

// NotifyTx records the notices the journeys store with their changes.
func (e *env) NotifyTx(_ context.Context, _ *sql.Tx, n journey.Notice) error {
	if n.Kind == "" || !strings.HasPrefix(n.Key, "journey/"+n.JourneyID+"/") {
		e.t.Errorf("notice without a kind or a key of its journey: %+v", n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.notices = append(e.notices, n)
	return nil
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// start is a Friday morning.
var start = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, d *db.DB) *env {
	t.Helper()
	ctx := context.Background()
	o := &tenant.Organization{Slug: "clinic-a", Name: "Clinic A"}
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, o) }); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, org: o.ID, now: start}
	e.store = fhir.NewStore(d, q, fhir.NewSpecIndexer())
	e.store.OnWrite(journey.Announce)
	e.s = journey.New(journey.Config{DB: d, Resources: e.store, Jobs: journey.RiverJobs{Queue: q}, Notifier: e, Now: e.clock})
	e.put(`{"resourceType":"Patient","id":"pat","gender":"female","birthDate":"1970-05-01"}`,
		`{"resourceType":"Practitioner","id":"doc"}`)
	return e
}

// put stores resources in one transaction, as the FHIR API does, and
// returns the versions written.
func (e *env) put(raws ...string) []string {
	e.t.Helper()
	var rs []fhir.Resource
	for _, raw := range raws {
		var head struct{ ResourceType, ID string }
		if err := json.Unmarshal([]byte(raw), &head); err != nil {
			e.t.Fatalf("%v: %s", err, raw)
		}
		rs = append(rs, fhir.Resource{Type: head.ResourceType, ID: head.ID, JSON: []byte(raw)})
	}
	var out []string
	err := e.d.InTx(context.Background(), func(tx *sql.Tx) error {
		sts, err := e.store.PutTx(context.Background(), tx, e.org, rs)
		for _, st := range sts {
			out = append(out, fmt.Sprintf("%s/%s/_history/%d", st.Type, st.ID, st.VersionID))
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// apply applies versions as the journey.changes worker does.
func (e *env) apply(versions []string) {
	e.t.Helper()
	ctx := context.Background()
	err := e.d.InTx(ctx, func(tx *sql.Tx) error {
		_, err := e.s.Apply(ctx, tx, e.org, versions)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// write stores and applies.
func (e *env) write(raws ...string) {
	e.t.Helper()
	e.apply(e.put(raws...))
}

func (e *env) journey(anchor string) (*journey.Journey, []journey.Transition) {
	e.t.Helper()
	j, evs, err := e.s.ByAnchor(context.Background(), e.org, anchor)
	if err != nil {
		e.t.Fatal(err)
	}
	return j, evs
}

// stages lists the stages a journey passed, in order.
func stages(evs []journey.Transition) string {
	var out []string
	for _, ev := range evs {
		if ev.From != ev.To {
			out = append(out, string(ev.To))
		}
	}
	return strings.Join(out, " ")
}

type jobRow struct {
	id        int64
	state     string
	scheduled time.Time
	args      map[string]any
}

// jobsOf returns the River jobs of a kind, oldest first.
func (e *env) jobsOf(kind string) []jobRow {
	e.t.Helper()
	args := "json(args)"
	if e.d.Dialect == db.Postgres {
		args = "args::text"
	}
	rows, err := e.d.Read.QueryContext(context.Background(), "SELECT id, CAST(state AS TEXT), scheduled_at, "+args+" FROM river_job WHERE kind = $1 ORDER BY id", kind)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var r jobRow
		var args []byte
		var at any
		if err := rows.Scan(&r.id, &r.state, &at, &args); err != nil {
			e.t.Fatal(err)
		}
		switch v := at.(type) {
		case time.Time:
			r.scheduled = v.UTC()
		case string:
			if r.scheduled, err = time.Parse("2006-01-02 15:04:05.999999999-07:00", v); err != nil {
				if r.scheduled, err = time.Parse(time.RFC3339Nano, v); err != nil {
					e.t.Fatalf("scheduled_at %q: %v", v, err)
				}
			}
			r.scheduled = r.scheduled.UTC()
		default:
			e.t.Fatalf("scheduled_at of type %T", at)
		}
		if err := json.Unmarshal(args, &r.args); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// deadline returns the args of the journey's latest deadline job.
func (e *env) deadline(journeyID string) (journey.DeadlineArgs, jobRow) {
	e.t.Helper()
	var last jobRow
	found := false
	for _, r := range e.jobsOf("journey.deadline") {
		if r.args["journey_id"] == journeyID {
			last, found = r, true
		}
	}
	if !found {
		e.t.Fatalf("no deadline job for %s", journeyID)
	}
	b, _ := json.Marshal(last.args)
	var a journey.DeadlineArgs
	if err := json.Unmarshal(b, &a); err != nil {
		e.t.Fatal(err)
	}
	return a, last
}

const (
	order = `{"resourceType":"ServiceRequest","id":"%s","status":"%s","intent":"order","subject":{"reference":"Patient/pat"},
		"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`
	report = `{"resourceType":"DiagnosticReport","id":"%s","status":"%s","basedOn":[{"reference":"ServiceRequest/%s"}],
		"subject":{"reference":"Patient/pat"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},
		"issued":"2026-11-20T08:55:00Z","result":[{"reference":"Observation/%s"}]}`
	potassium = `{"resourceType":"Observation","id":"%s","status":"%s","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},"subject":{"reference":"Patient/pat"},
		"effectiveDateTime":"2026-11-20T08:00:00Z","valueQuantity":{"value":%s,"unit":"mmol/L"},
		"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"%s"}]}]}`
)

// TestOrderToClosed drives one order from order to closed: collected,
// preliminary, final (released at once by the default policy), the
// patient notified, reviewed by the clinician, viewed by the patient.
func TestOrderToClosed(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"))
		j, _ := e.journey("ServiceRequest/sr1")
		if j.Stage != journey.Ordered || j.Clinician != "Practitioner/doc" || j.Code != "2823-3" || j.PatientID != "pat" {
			t.Fatalf("after the order: %+v", j)
		}
		e.write(`{"resourceType":"Specimen","id":"sp1","status":"available","request":[{"reference":"ServiceRequest/sr1"}],"subject":{"reference":"Patient/pat"},"collection":{"collectedDateTime":"2026-11-20T08:00:00Z"}}`)
		e.write(fmt.Sprintf(potassium, "k1", "preliminary", "4.1", "N"), fmt.Sprintf(report, "dr1", "preliminary", "sr1", "k1"))
		j, _ = e.journey("ServiceRequest/sr1")
		if j.Stage != journey.Preliminary || j.Flag != journey.Normal || j.ReportRef != "DiagnosticReport/dr1" || j.DueStep != journey.StepReview || j.DueAt != nil {
			t.Fatalf("after the preliminary report: %+v", j)
		}
		e.write(fmt.Sprintf(potassium, "k1", "final", "4.1", "N"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ = e.journey("ServiceRequest/sr1")
		if j.Stage != journey.Released || j.ReleasedAt == nil {
			t.Fatalf("the final result was not released at once: %+v", j)
		}
		e.write(`{"resourceType":"Communication","id":"c1","status":"completed","subject":{"reference":"Patient/pat"},"recipient":[{"reference":"Patient/pat"}],"about":[{"reference":"DiagnosticReport/dr1"}]}`)
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "", nil); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Viewed(ctx, e.org, j.ID, "account/pat", nil); err != nil {
			t.Fatal(err)
		}
		j, evs := e.journey("ServiceRequest/sr1")
		want := "ordered collected preliminary final released notified viewed closed"
		if got := stages(evs); got != want || j.ClosedAt == nil || j.ReviewedBy != "account/doc" {
			t.Fatalf("stages %q, want %q; journey %+v", got, want, j)
		}
		// The review came after the release: recorded, without going back.
		var reviewed bool
		for _, ev := range evs {
			if ev.Cause == "api:acknowledge" && ev.Actor == "account/doc" && ev.From == ev.To {
				reviewed = true
			}
		}
		if !reviewed {
			t.Errorf("the clinician's review is not among the events: %+v", evs)
		}
		var released bool
		for _, n := range e.notices {
			released = released || n.To == "patient" && n.JourneyID == j.ID && !strings.Contains(n.What, "4.1")
		}
		if !released {
			t.Errorf("the patient was not told of the release: %+v", e.notices)
		}
	})
}

// TestRerunAppliesNothingTwice applies the same written versions twice, as
// a job run again after a crash would.
func TestRerunAppliesNothingTwice(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		v := e.put(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "6.9", "HH"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		e.apply(v)
		j1, evs1 := e.journey("ServiceRequest/sr1")
		deadlines := len(e.jobsOf("journey.deadline"))
		e.apply(v)
		j2, evs2 := e.journey("ServiceRequest/sr1")
		if len(evs2) != len(evs1) || j2.Stage != j1.Stage || !j2.UpdatedAt.Equal(j1.UpdatedAt) || *j2.DueAt != *j1.DueAt {
			t.Fatalf("the second run changed the journey: %d → %d events, %+v → %+v", len(evs1), len(evs2), j1, j2)
		}
		if n := len(e.jobsOf("journey.deadline")); n != deadlines || n != 1 {
			t.Fatalf("%d deadline jobs after the rerun, %d before; want 1", n, deadlines)
		}
		// An older version arriving late is not applied either.
		e.apply(v[:1])
		if _, evs3 := e.journey("ServiceRequest/sr1"); len(evs3) != len(evs1) {
			t.Fatalf("a late old version added events: %d → %d", len(evs1), len(evs3))
		}
	})
}

// TestCriticalEscalation: a critical result unacknowledged for 30 minutes
// escalates to the covering clinician, 30 minutes later to the care
// coordinator; each deadline fires once.
func TestCriticalEscalation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "6.9", "HH"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		if j.Flag != journey.Critical || j.DueStep != journey.StepAcknowledge || !j.DueAt.Equal(start.Add(30*time.Minute)) || !strings.Contains(j.FlagReason, "HH") {
			t.Fatalf("critical result: %+v", j)
		}
		args, row := e.deadline(j.ID)
		if !row.scheduled.Equal(start.Add(30*time.Minute)) || row.state != "scheduled" || args.Level != 0 {
			t.Fatalf("deadline job %+v %+v, want scheduled at %v", row, args, start.Add(30*time.Minute))
		}
		e.advance(30 * time.Minute)
		for range 2 { // the second run finds it fired already
			if err := e.s.Deadline(ctx, args); err != nil {
				t.Fatal(err)
			}
		}
		j, evs := e.journey("ServiceRequest/sr1")
		if j.Escalation != journey.EscalatedCovering || count(evs, journey.KindEscalation) != 1 {
			t.Fatalf("after 30 minutes: escalation %d, %d escalation events", j.Escalation, count(evs, journey.KindEscalation))
		}
		next, row := e.deadline(j.ID)
		if next.Level != 1 || !row.scheduled.Equal(start.Add(time.Hour)) {
			t.Fatalf("next escalation %+v at %v", next, row.scheduled)
		}
		e.advance(30 * time.Minute)
		if err := e.s.Deadline(ctx, next); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Deadline(ctx, args); err != nil { // the first, once more
			t.Fatal(err)
		}
		j, evs = e.journey("ServiceRequest/sr1")
		if j.Escalation != journey.EscalatedCoordinator || count(evs, journey.KindEscalation) != 2 {
			t.Fatalf("after an hour: escalation %d, %d escalation events", j.Escalation, count(evs, journey.KindEscalation))
		}
		var to []string
		for _, n := range e.notices {
			if n.JourneyID == j.ID && n.To != "patient" {
				to = append(to, n.To)
			}
		}
		if strings.Join(to, ",") != "covering-clinician,care-coordinator" {
			t.Fatalf("notices to %v", to)
		}
		inbox, _, err := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: journey.QueueEscalated})
		if err != nil || len(inbox) != 1 || inbox[0].ID != j.ID {
			t.Fatalf("escalated queue: %v %v", inbox, err)
		}
		// The acknowledgement ends it: out of the queues, the clock stopped.
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "called the patient", nil); err != nil {
			t.Fatal(err)
		}
		if inbox, _, _ := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: journey.QueueEscalated}); len(inbox) != 0 {
			t.Fatalf("still escalated after acknowledgement: %v", inbox)
		}
	})
}

// TestAcknowledgementCancelsEscalation: acknowledged within 30 minutes, the
// escalation job is cancelled, and a run of it anyway does nothing.
func TestAcknowledgementCancelsEscalation(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "2.1", "LL"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		args, _ := e.deadline(j.ID)
		e.advance(10 * time.Minute)
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "", nil); err != nil {
			t.Fatal(err)
		}
		if _, row := e.deadline(j.ID); row.state != "cancelled" {
			t.Fatalf("the escalation job is %s after the acknowledgement, want cancelled", row.state)
		}
		e.advance(20 * time.Minute)
		if err := e.s.Deadline(ctx, args); err != nil {
			t.Fatal(err)
		}
		j, evs := e.journey("ServiceRequest/sr1")
		if j.Escalation != 0 || count(evs, journey.KindEscalation) != 0 || j.DueAt != nil || j.ReviewedAt == nil {
			t.Fatalf("after acknowledgement: %+v %+v", j, evs)
		}
		if err := e.s.Acknowledge(ctx, e.org, "no-such-journey", "account/doc", "", nil); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("acknowledging an unknown journey: %v", err)
		}
	})
}

// TestAbnormalReviewWithinBusinessDays: an abnormal result on a Friday is
// due for review on Tuesday; at the deadline it is marked overdue once.
func TestAbnormalReviewWithinBusinessDays(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "5.4", "H"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		tuesday := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		if j.Flag != journey.Abnormal || j.DueStep != journey.StepReview || !j.DueAt.Equal(tuesday) {
			t.Fatalf("abnormal result on Friday: %+v, want due %v", j, tuesday)
		}
		if q, _, _ := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: journey.QueueOverdueReview}); len(q) != 0 {
			t.Fatalf("overdue before the deadline: %v", q)
		}
		args, _ := e.deadline(j.ID)
		e.advance(tuesday.Sub(start))
		for range 2 {
			if err := e.s.Deadline(ctx, args); err != nil {
				t.Fatal(err)
			}
		}
		j, evs := e.journey("ServiceRequest/sr1")
		if count(evs, journey.KindReminder) != 1 {
			t.Fatalf("%d reminders, want 1", count(evs, journey.KindReminder))
		}
		if q, _, _ := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: journey.QueueOverdueReview}); len(q) != 1 || q[0].ID != j.ID {
			t.Fatalf("overdue queue: %v", q)
		}
	})
}

// TestHoldAndExpiry: with a release delay, a clinician holds a result; it
// is not released when the delay ends, and is when the hold expires.
func TestHoldAndExpiry(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pol := journey.DefaultPolicy()
		pol.ReleaseDelay = time.Hour
		if err := e.s.SetPolicy(ctx, e.org, pol); err != nil {
			t.Fatal(err)
		}
		bad := pol
		bad.TimeZone = "Mars/Olympus"
		if err := e.s.SetPolicy(ctx, e.org, bad); errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != "time_zone" {
			t.Fatalf("a bad time zone: %v", err)
		}
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "4.0", "N"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		if j.ReleasedAt != nil {
			t.Fatalf("released despite the delay: %+v", j)
		}
		until := start.Add(72 * time.Hour)
		if err := e.s.Hold(ctx, e.org, j.ID, "account/doc", "", until, nil); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("a hold without reason: %v", err)
		}
		if err := e.s.Hold(ctx, e.org, j.ID, "account/doc", "discuss at visit", start.Add(-time.Hour), nil); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("a hold in the past: %v", err)
		}
		if err := e.s.Hold(ctx, e.org, j.ID, "account/doc", "discuss at visit", until, nil); err != nil {
			t.Fatal(err)
		}
		releases := e.jobsOf("journey.release")
		if len(releases) != 2 || !releases[0].scheduled.Equal(start.Add(time.Hour)) || !releases[1].scheduled.Equal(until) {
			t.Fatalf("release jobs %+v", releases)
		}
		e.advance(61 * time.Minute)
		if err := e.s.ReleaseDue(ctx, journey.ReleaseArgs{OrgID: e.org, JourneyID: j.ID, At: start.Add(time.Hour).UnixMilli()}); err != nil {
			t.Fatal(err)
		}
		if j, _ = e.journey("ServiceRequest/sr1"); j.ReleasedAt != nil {
			t.Fatalf("released while held: %+v", j)
		}
		e.advance(until.Sub(e.clock()))
		if err := e.s.ReleaseDue(ctx, journey.ReleaseArgs{OrgID: e.org, JourneyID: j.ID, At: until.UnixMilli()}); err != nil {
			t.Fatal(err)
		}
		j, evs := e.journey("ServiceRequest/sr1")
		if j.ReleasedAt == nil || !j.ReleasedAt.Equal(until) || j.Stage != journey.Released {
			t.Fatalf("not released when the hold expired: %+v", j)
		}
		last := evs[len(evs)-1]
		if last.To != journey.Released || !strings.Contains(last.Note, "discuss at visit") {
			t.Fatalf("release event %+v", last)
		}
		if err := e.s.Hold(ctx, e.org, j.ID, "account/doc", "too late", until.Add(time.Hour), nil); errs.CodeOf(err) != errs.Conflict {
			t.Fatalf("holding a released result: %v", err)
		}
	})
}

// TestResultsWithoutOrder: a report naming no known order, and a lab
// Observation alone, each open a journey; a report that later lists the
// Observation takes it over and the Observation's own journey closes.
// Vital signs open none.
func TestResultsWithoutOrder(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.write(fmt.Sprintf(potassium, "k1", "final", "6.8", "HH"))
		own, _ := e.journey("Observation/k1")
		if own.Flag != journey.Critical || own.Stage != journey.Released {
			t.Fatalf("stand-alone critical Observation: %+v", own)
		}
		e.write(fmt.Sprintf(report, "dr9", "final", "unknown-order", "k1"))
		j, _ := e.journey("DiagnosticReport/dr9")
		if j.Flag != journey.Critical || j.DueStep != journey.StepAcknowledge || j.PatientID != "pat" {
			t.Fatalf("report without known order: %+v", j)
		}
		own, _ = e.journey("Observation/k1")
		if own.Stage != journey.Closed || own.DueAt != nil || own.MergedInto != j.ID {
			t.Fatalf("the Observation's own journey: %+v", own)
		}
		// A later version of the result moves only the report's journey.
		e.write(fmt.Sprintf(potassium, "k1", "corrected", "6.7", "HH"))
		if _, evs := e.journey("Observation/k1"); evs[len(evs)-1].To != journey.Closed {
			t.Fatalf("the merged journey moved on: %+v", evs[len(evs)-1])
		}
		if _, evs := e.journey("DiagnosticReport/dr9"); !strings.HasPrefix(evs[len(evs)-1].Cause, "Observation/k1/_history/2") {
			t.Fatalf("the report's journey missed the corrected result: %+v", evs[len(evs)-1])
		}
		e.write(`{"resourceType":"Observation","id":"bp","status":"final","category":[{"coding":[{"code":"vital-signs"}]}],"code":{"text":"BP"},"subject":{"reference":"Patient/pat"}}`)
		if _, _, err := e.s.ByAnchor(context.Background(), e.org, "Observation/bp"); errs.CodeOf(err) != errs.NotFound {
			t.Fatalf("a vital sign opened a journey: %v", err)
		}
	})
}

// TestHistoryTellsNobody: a result months old (imported history) is
// released at once, and nobody is told of it; a new result is.
func TestHistoryTellsNobody(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		old := strings.Replace(fmt.Sprintf(potassium, "old", "final", "7.2", "HH"), "2026-11-20T08:00:00Z", "2026-06-02T08:00:00Z", 1)
		e.write(old)
		j, _ := e.journey("Observation/old")
		if j.Stage != journey.Released || j.DueAt != nil {
			t.Fatalf("imported history: %+v", j)
		}
		if len(e.notices) != 0 {
			t.Fatalf("imported history told %+v", e.notices)
		}
		e.write(fmt.Sprintf(potassium, "new", "final", "4.2", "N"))
		if len(e.notices) != 1 || e.notices[0].Kind != "result-ready" || e.notices[0].Who != "Patient/pat" {
			t.Fatalf("a new result's notices: %+v", e.notices)
		}
	})
}

// TestCorrectionAndFollowup: an amended report brings a reviewed result
// back to final, to be reviewed again; a follow-up order and its
// appointment carry the journey to followup-done and closed.
func TestCorrectionAndFollowup(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "4.0", "N"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "", nil); err != nil {
			t.Fatal(err)
		}
		e.write(fmt.Sprintf(potassium, "k1", "amended", "5.6", "H"), fmt.Sprintf(report, "dr1", "amended", "sr1", "k1"))
		j, evs := e.journey("ServiceRequest/sr1")
		if j.Stage != journey.Final || j.ReviewedAt != nil || j.Flag != journey.Abnormal || j.DueStep != journey.StepReview || j.DueAt == nil {
			t.Fatalf("after the amendment: %+v", j)
		}
		if count(evs, journey.KindCorrection) != 1 {
			t.Fatalf("%d corrections recorded, want 1: %+v", count(evs, journey.KindCorrection), evs)
		}
		if err := e.s.Booked(ctx, e.org, j.ID, "account/pat", nil); errs.CodeOf(err) != errs.Conflict {
			t.Fatalf("booking without a follow-up: %v", err)
		}
		e.write(`{"resourceType":"ServiceRequest","id":"sr2","status":"active","intent":"order","subject":{"reference":"Patient/pat"},
			"code":{"text":"Nephrology visit"},"reasonReference":[{"reference":"DiagnosticReport/dr1"}]}`)
		j, _ = e.journey("ServiceRequest/sr1")
		if j.Stage != journey.FollowupRecommended || j.FollowupAt == nil {
			t.Fatalf("after the follow-up order: %+v", j)
		}
		if q, _, _ := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: journey.QueueFollowupUnbooked}); len(q) != 1 || q[0].ID != j.ID {
			t.Fatalf("follow-up unbooked queue: %+v", q)
		}
		appt := `{"resourceType":"Appointment","id":"ap1","status":"%s","basedOn":[{"reference":"ServiceRequest/sr2"}],"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"}]}`
		e.write(fmt.Sprintf(appt, "booked"))
		if j, _ = e.journey("ServiceRequest/sr1"); j.Stage != journey.FollowupBooked || j.BookedAt == nil {
			t.Fatalf("after booking: %+v", j)
		}
		if f, _ := e.journey("ServiceRequest/sr2"); f.Stage != journey.Scheduled {
			t.Fatalf("the follow-up order's own journey: %+v", f)
		}
		e.write(fmt.Sprintf(appt, "fulfilled"))
		j, evs = e.journey("ServiceRequest/sr1")
		if j.DoneAt == nil || j.Stage != journey.Closed {
			t.Fatalf("after the visit: %+v (%s)", j, stages(evs))
		}
	})
}

// announced returns the versions of the journeys' outbox items, oldest
// first, one string per write.
func (e *env) announced() []string {
	e.t.Helper()
	rows, err := e.d.Read.Query("SELECT payload FROM outbox WHERE topic = $1 ORDER BY seq", journey.Topic)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestAnnounceInSameTransaction: the FHIR write enqueues the journeys'
// outbox item with the versions of the watched types, and none for other
// types.
func TestAnnounceInSameTransaction(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		before := len(e.announced())
		e.put(`{"resourceType":"Patient","id":"other"}`)
		if n := len(e.announced()); n != before {
			t.Fatalf("a Patient write enqueued a journey item (%d → %d)", before, n)
		}
		v := e.put(`{"resourceType":"Patient","id":"p2"}`, fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(order, "sr2", "active"))
		items := e.announced()
		if len(items) != before+1 {
			t.Fatalf("%d journey items, want %d", len(items), before+1)
		}
		if got, want := items[len(items)-1], v[1]+" "+v[2]; got != want {
			t.Fatalf("item versions %q, want %q", got, want)
		}
		// A failed write enqueues nothing.
		err := d.InTx(context.Background(), func(tx *sql.Tx) error {
			if _, err := e.store.PutTx(context.Background(), tx, e.org, []fhir.Resource{{Type: "ServiceRequest", ID: "sr3",
				JSON: []byte(fmt.Sprintf(order, "sr3", "active"))}}); err != nil {
				return err
			}
			return errs.E(errs.Conflict, "rolled back")
		})
		if errs.CodeOf(err) != errs.Conflict || len(e.announced()) != before+1 {
			t.Fatalf("rolled back write: %v, %d items", err, len(e.announced()))
		}
	})
}

// TestBatchAppliesAsOneByOne: the journeys' consumer applies the writes of
// many transactions in one batch, and the journey ends where applying each
// write on its own leads; the items of writes applied already change
// nothing.
func TestBatchAppliesAsOneByOne(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		steps := func(sr, sp, k, dr string) [][]string {
			return [][]string{
				{fmt.Sprintf(order, sr, "active")},
				{`{"resourceType":"Specimen","id":"` + sp + `","status":"available","request":[{"reference":"ServiceRequest/` + sr +
					`"}],"subject":{"reference":"Patient/pat"},"collection":{"collectedDateTime":"2026-11-20T08:00:00Z"}}`},
				{fmt.Sprintf(potassium, k, "preliminary", "5.9", "H"), fmt.Sprintf(report, dr, "preliminary", sr, k)},
				{fmt.Sprintf(potassium, k, "final", "6.9", "HH"), fmt.Sprintf(report, dr, "final", sr, k)},
			}
		}
		for _, w := range steps("sr-a", "sp-a", "k-a", "dr-a") {
			e.write(w...)
		}
		a, evA := e.journey("ServiceRequest/sr-a")
		for _, w := range steps("sr-b", "sp-b", "k-b", "dr-b") {
			e.put(w...)
		}
		c := outbox.New(outbox.Config{DB: d, Topic: journey.Topic, Handler: e.s.ApplyItems})
		if n, err := c.Drain(ctx); err != nil || n != 8 {
			t.Fatalf("drained %d items, %v; want the 8 writes", n, err)
		}
		if left := e.announced(); len(left) != 0 {
			t.Fatalf("%d items left", len(left))
		}
		a2, evA2 := e.journey("ServiceRequest/sr-a")
		if len(evA2) != len(evA) || a2.Stage != a.Stage || !a2.UpdatedAt.Equal(a.UpdatedAt) {
			t.Fatalf("the items of writes applied already changed the journey: %d → %d events", len(evA), len(evA2))
		}
		b, evB := e.journey("ServiceRequest/sr-b")
		if got, want := stages(evB), stages(evA); got != want {
			t.Fatalf("batched stages %q, one by one %q", got, want)
		}
		if b.Stage != a.Stage || b.Flag != journey.Critical || a.Flag != journey.Critical || b.DueStep != a.DueStep ||
			b.DueAt == nil || a.DueAt == nil || b.ReleasedAt == nil || b.ReportRef != "DiagnosticReport/dr-b" {
			t.Fatalf("batched %+v\none by one %+v", b, a)
		}
		running := func(j *journey.Journey) (n int) {
			for _, r := range e.jobsOf("journey.deadline") {
				if r.args["journey_id"] == j.ID && r.state != "cancelled" {
					n++
				}
			}
			return n
		}
		if running(a) != 1 || running(b) != 1 {
			t.Fatalf("deadline jobs running: %d one by one, %d batched; want one each", running(a), running(b))
		}
		told := func(j *journey.Journey) (n int) {
			for _, no := range e.notices {
				if no.JourneyID == j.ID && no.To == "patient" {
					n++
				}
			}
			return n
		}
		if told(a) != 1 || told(b) != 1 {
			t.Fatalf("the patient was told %d times one by one, %d batched; want once each", told(a), told(b))
		}
	})
}

// TestInboxOrderAndPages: critical first, then abnormal, then the rest,
// each by time left; pages follow each other without gaps or repeats;
// the patients' filter holds.
func TestInboxOrderAndPages(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		codes := []string{"N", "H", "HH", "N", "H", "HH", "L"}
		for i, code := range codes {
			sr, k, dr := fmt.Sprintf("sr%d", i), fmt.Sprintf("k%d", i), fmt.Sprintf("dr%d", i)
			e.write(fmt.Sprintf(order, sr, "active"), fmt.Sprintf(potassium, k, "final", "5", code), fmt.Sprintf(report, dr, "final", sr, k))
			e.advance(time.Minute)
		}
		var got []string
		cursor := ""
		for range 10 {
			page, next, err := e.s.Inbox(ctx, e.org, journey.InboxQuery{Cursor: cursor, Count: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range page {
				got = append(got, j.Flag.String()+":"+j.OrderRef)
			}
			if cursor = next; cursor == "" {
				break
			}
		}
		want := "critical:ServiceRequest/sr2 critical:ServiceRequest/sr5 abnormal:ServiceRequest/sr1 abnormal:ServiceRequest/sr4 abnormal:ServiceRequest/sr6"
		if len(got) != 7 || strings.Join(got[:5], " ") != want {
			t.Fatalf("inbox order %v, want %s then the normal ones", got, want)
		}
		if page, _, err := e.s.Inbox(ctx, e.org, journey.InboxQuery{Limited: true, Patients: []string{"someone-else"}}); err != nil || len(page) != 0 {
			t.Fatalf("another patient's inbox: %v %v", page, err)
		}
		if _, _, err := e.s.Inbox(ctx, e.org, journey.InboxQuery{Queue: "nonsense"}); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("unknown queue: %v", err)
		}
		if _, _, err := e.s.Inbox(ctx, e.org, journey.InboxQuery{Cursor: "!!"}); errs.CodeOf(err) != errs.Invalid {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}

func count(evs []journey.Transition, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

// TestPreliminaryReviewedThenFinal: a clinician acknowledges a critical
// preliminary result; the stage stays preliminary and nothing is released;
// the final result asks for review again and is released.
func TestPreliminaryReviewedThenFinal(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "preliminary", "6.9", "HH"), fmt.Sprintf(report, "dr1", "preliminary", "sr1", "k1"))
		j, _ := e.journey("ServiceRequest/sr1")
		if j.DueStep != journey.StepAcknowledge || j.ReleasedAt != nil {
			t.Fatalf("critical preliminary result: %+v", j)
		}
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "", nil); err != nil {
			t.Fatal(err)
		}
		if err := e.s.Release(ctx, e.org, j.ID, "account/doc", nil); errs.CodeOf(err) != errs.Conflict {
			t.Fatalf("releasing a preliminary result: %v", err)
		}
		j, _ = e.journey("ServiceRequest/sr1")
		if j.Stage != journey.Preliminary || j.ReviewedAt == nil || j.DueAt != nil || j.ReleasedAt != nil {
			t.Fatalf("after reviewing the preliminary result: %+v", j)
		}
		e.advance(time.Hour)
		e.write(fmt.Sprintf(potassium, "k1", "final", "6.9", "HH"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		j, _ = e.journey("ServiceRequest/sr1")
		if j.ReviewedAt != nil || j.DueStep != journey.StepAcknowledge || !j.DueAt.Equal(start.Add(90*time.Minute)) || j.ReleasedAt == nil {
			t.Fatalf("after the final result: %+v", j)
		}
	})
}
