package journey_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
)

// outreachOf returns the journey's outreach for reason, failing if none.
func (e *env) outreachOf(id, reason string) journey.Outreach {
	e.t.Helper()
	m, err := e.s.Outreaches(context.Background(), e.org, []string{id})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, o := range m[id] {
		if o.Reason == reason {
			return o
		}
	}
	e.t.Fatalf("journey %s has no %s outreach: %+v", id, reason, m[id])
	return journey.Outreach{}
}

// outreachJob returns the args and row of the journey's outreach job for
// reason.
func (e *env) outreachJob(id, reason string) (journey.OutreachArgs, jobRow) {
	e.t.Helper()
	for _, r := range e.jobsOf("journey.outreach") {
		if r.args["journey_id"] == id && r.args["reason"] == reason {
			return journey.OutreachArgs{OrgID: e.org, JourneyID: id, Reason: reason}, r
		}
	}
	e.t.Fatalf("no %s outreach job for %s", reason, id)
	return journey.OutreachArgs{}, jobRow{}
}

func (e *env) outreachQueue() []string {
	e.t.Helper()
	page, _, err := e.s.Inbox(context.Background(), e.org, journey.InboxQuery{Queue: journey.QueueOutreach})
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, j := range page {
		ids = append(ids, j.ID)
	}
	return ids
}

// TestOutreachUnviewed: with the organisation's policy of 3 days, a
// released result the patient has not viewed fires once at the deadline:
// an outreach event with its reason, the coordinators' outreach queue, a
// task notice to the coordinator and a reminder to the patient, neither
// with health information; viewing it resolves the outreach. A result
// viewed in time cancels the job, which does nothing if it runs anyway.
func TestOutreachUnviewed(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pol := journey.DefaultPolicy()
		pol.UnviewedDays = 3
		pol.CareCoordinator = "Practitioner/coord"
		if err := e.s.SetPolicy(ctx, e.org, pol); err != nil {
			t.Fatal(err)
		}
		bad := pol
		bad.UnviewedDays = 0
		if err := e.s.SetPolicy(ctx, e.org, bad); errs.CodeOf(err) != errs.Invalid || errs.FieldOf(err) != "unviewed_days" {
			t.Fatalf("a policy without outreach window: %v", err)
		}
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "5.8", "H"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		e.write(fmt.Sprintf(order, "sr2", "active"), fmt.Sprintf(potassium, "k2", "final", "4.0", "N"), fmt.Sprintf(report, "dr2", "final", "sr2", "k2"))
		j1, _ := e.journey("ServiceRequest/sr1")
		j2, _ := e.journey("ServiceRequest/sr2")
		args, row := e.outreachJob(j1.ID, journey.OutreachUnviewed)
		due := j1.ReleasedAt.Add(3 * 24 * time.Hour)
		if row.state != "scheduled" || !row.scheduled.Equal(due) || e.outreachOf(j1.ID, journey.OutreachUnviewed).State != journey.OutreachWaiting {
			t.Fatalf("outreach job %+v, want scheduled at %v", row, due)
		}
		if q := e.outreachQueue(); len(q) != 0 {
			t.Fatalf("outreach queue before any deadline: %v", q)
		}

		// The second patient views in time: the job is cancelled.
		e.advance(24 * time.Hour)
		if err := e.s.Viewed(ctx, e.org, j2.ID, "account/pat", nil); err != nil {
			t.Fatal(err)
		}
		args2, row2 := e.outreachJob(j2.ID, journey.OutreachUnviewed)
		if row2.state != "cancelled" || e.outreachOf(j2.ID, journey.OutreachUnviewed).State != journey.OutreachCancelled {
			t.Fatalf("after viewing in time: job %s, outreach %+v", row2.state, e.outreachOf(j2.ID, journey.OutreachUnviewed))
		}

		e.advance(2 * 24 * time.Hour)
		e.notices = nil
		for range 2 { // the second run finds it fired
			if err := e.s.OutreachDue(ctx, args); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.s.OutreachDue(ctx, args2); err != nil {
			t.Fatal(err)
		}
		j1, evs := e.journey("ServiceRequest/sr1")
		o := e.outreachOf(j1.ID, journey.OutreachUnviewed)
		if count(evs, journey.KindOutreach) != 1 || o.State != journey.OutreachOpen || o.Note != "result released 3 days ago and not viewed by the patient" {
			t.Fatalf("after the deadline: %d outreach events, %+v", count(evs, journey.KindOutreach), o)
		}
		if last := evs[len(evs)-1]; last.Cause != "deadline:outreach-unviewed" || !strings.Contains(last.Note, o.Note) {
			t.Fatalf("outreach event %+v", last)
		}
		if _, evs2 := e.journey("ServiceRequest/sr2"); count(evs2, journey.KindOutreach) != 0 {
			t.Fatalf("a viewed result got outreach: %+v", evs2)
		}
		if q := e.outreachQueue(); len(q) != 1 || q[0] != j1.ID {
			t.Fatalf("outreach queue %v, want %s", q, j1.ID)
		}
		var to []string
		for _, n := range e.notices {
			to = append(to, n.To+":"+n.Who)
			if strings.Contains(n.What, "5.8") || strings.Contains(strings.ToLower(n.What), "potassium") {
				t.Errorf("notice with health information: %+v", n)
			}
		}
		if strings.Join(to, ",") != "care-coordinator:Practitioner/coord,patient:Patient/pat" {
			t.Fatalf("notices to %v", to)
		}

		// Viewing late resolves the outreach and empties the queue.
		if err := e.s.Viewed(ctx, e.org, j1.ID, "account/pat", nil); err != nil {
			t.Fatal(err)
		}
		if o := e.outreachOf(j1.ID, journey.OutreachUnviewed); o.State != journey.OutreachResolved || o.ResolvedAt == nil || o.FiredAt == nil {
			t.Fatalf("after viewing late: %+v", o)
		}
		if q := e.outreachQueue(); len(q) != 0 {
			t.Fatalf("outreach queue after viewing: %v", q)
		}
	})
}

// TestOutreachFollowupUnbooked: a follow-up recommended and not booked
// within the default 14 days fires once; the booking resolves it. A
// follow-up booked in time cancels its job.
func TestOutreachFollowupUnbooked(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		// A follow-up counts from its order's write, stamped with the real
		// time: the test's clock starts there.
		e.now = time.Now().UTC().Truncate(time.Millisecond)
		followup := `{"resourceType":"ServiceRequest","id":"%s","status":"active","intent":"order","subject":{"reference":"Patient/pat"},
			"code":{"text":"Nephrology visit"},"reasonReference":[{"reference":"DiagnosticReport/%s"}]}`
		appt := `{"resourceType":"Appointment","id":"%s","status":"booked","basedOn":[{"reference":"ServiceRequest/%s"}],"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"}]}`
		for _, n := range []string{"1", "2"} {
			e.write(fmt.Sprintf(order, "sr"+n, "active"), fmt.Sprintf(potassium, "k"+n, "final", "5.8", "H"), fmt.Sprintf(report, "dr"+n, "final", "sr"+n, "k"+n))
			e.write(fmt.Sprintf(followup, "fu"+n, "dr"+n))
		}
		j1, _ := e.journey("ServiceRequest/sr1")
		j2, _ := e.journey("ServiceRequest/sr2")
		args, row := e.outreachJob(j1.ID, journey.OutreachFollowupUnbooked)
		if due := j1.FollowupAt.Add(14 * 24 * time.Hour); !row.scheduled.Equal(due) || row.state != "scheduled" {
			t.Fatalf("follow-up outreach job %+v, want scheduled at %v", row, due)
		}
		e.advance(10 * 24 * time.Hour)
		e.write(fmt.Sprintf(appt, "ap2", "fu2"))
		args2, row2 := e.outreachJob(j2.ID, journey.OutreachFollowupUnbooked)
		if row2.state != "cancelled" {
			t.Fatalf("the booked follow-up's outreach job is %s", row2.state)
		}
		e.advance(4*24*time.Hour + time.Minute)
		for _, a := range []journey.OutreachArgs{args, args, args2} {
			if err := e.s.OutreachDue(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		_, evs := e.journey("ServiceRequest/sr1")
		o := e.outreachOf(j1.ID, journey.OutreachFollowupUnbooked)
		if count(evs, journey.KindOutreach) != 1 || o.State != journey.OutreachOpen || o.Note != "follow-up recommended 14 days ago and not booked" {
			t.Fatalf("after 14 days: %d outreach events, %+v", count(evs, journey.KindOutreach), o)
		}
		if _, evs2 := e.journey("ServiceRequest/sr2"); count(evs2, journey.KindOutreach) != 0 {
			t.Fatalf("a booked follow-up got outreach")
		}
		e.write(fmt.Sprintf(appt, "ap1", "fu1"))
		if o := e.outreachOf(j1.ID, journey.OutreachFollowupUnbooked); o.State != journey.OutreachResolved {
			t.Fatalf("after booking: %+v", o)
		}
	})
}
