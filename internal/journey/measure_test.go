package journey_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// sample is one series of a gathered metric: a counter's or gauge's value,
// or a histogram's count and sum.
type sample struct {
	value, sum float64
	count      uint64
}

// metric returns the series of the family name with the label value, or
// nil.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) *sample {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return &sample{value: m.GetCounter().GetValue() + m.GetGauge().GetValue(),
						sum: m.GetHistogram().GetSampleSum(), count: m.GetHistogram().GetSampleCount()}
				}
			}
		}
	}
	return nil
}

// TestMeasurementsAndMetrics drives a critical result through an
// escalation, review, release and view, with the metrics kept, and reads
// the time spent per stage, the funnel and the breach from the stored
// transitions, through the service and the API; the Prometheus metrics
// count the same.
func TestMeasurementsAndMetrics(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		// FHIR writes are stamped with the real time: the test's clock starts there.
		e.now = time.Now().UTC().Truncate(time.Millisecond)
		from := e.now.Add(-time.Hour)
		reg := prometheus.NewRegistry()
		m, err := journey.NewMetrics(reg, d)
		if err != nil {
			t.Fatal(err)
		}
		q, err := jobs.New(d, jobs.Config{})
		if err != nil {
			t.Fatal(err)
		}
		e.s = journey.New(journey.Config{DB: d, Resources: e.store, Jobs: journey.RiverJobs{Queue: q}, Notifier: e, Now: e.clock, Metrics: m})
		pol := journey.DefaultPolicy()
		pol.ReleaseDelay = 2 * time.Hour
		if err := e.s.SetPolicy(ctx, e.org, pol); err != nil {
			t.Fatal(err)
		}
		e.write(fmt.Sprintf(order, "sr1", "active"), fmt.Sprintf(potassium, "k1", "final", "6.9", "HH"), fmt.Sprintf(report, "dr1", "final", "sr1", "k1"))
		e.write(fmt.Sprintf(order, "sr2", "active"))
		j, _ := e.journey("ServiceRequest/sr1")
		args, _ := e.deadline(j.ID)
		e.advance(30 * time.Minute)
		if err := e.s.Deadline(ctx, args); err != nil {
			t.Fatal(err)
		}
		e.advance(10 * time.Minute)
		if err := e.s.Acknowledge(ctx, e.org, j.ID, "account/doc", "", nil); err != nil {
			t.Fatal(err)
		}
		e.advance(5 * time.Minute)
		if err := e.s.Release(ctx, e.org, j.ID, "account/doc", nil); err != nil {
			t.Fatal(err)
		}
		e.advance(time.Hour)
		if err := e.s.Viewed(ctx, e.org, j.ID, "account/pat", nil); err != nil {
			t.Fatal(err)
		}
		j, evs := e.journey("ServiceRequest/sr1")
		if got := stages(evs); got != "ordered final reviewed released viewed closed" {
			t.Fatalf("stages %q", got)
		}

		got, err := e.s.Measure(ctx, e.org, from, e.now.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		byStage := map[journey.Stage]journey.StageStats{}
		for _, st := range got.Stages {
			byStage[st.Stage] = st
		}
		if st := byStage[journey.Reviewed]; st.Count != 1 || st.MedianSec != 300 || st.P90Sec != 300 {
			t.Errorf("reviewed: %+v, want one stay of 5 minutes", st)
		}
		if st := byStage[journey.Released]; st.Count != 1 || st.MedianSec != 3600 {
			t.Errorf("released: %+v, want one stay of an hour", st)
		}
		if _, ok := byStage[journey.Closed]; ok {
			t.Errorf("a stay in closed, which no journey leaves: %+v", got.Stages)
		}
		if f := got.Funnel; f.Released != 1 || f.Viewed != 1 || f.ViewedRate != 1 || f.Recommended != 0 || f.BookedRate != 0 {
			t.Errorf("funnel %+v", f)
		}
		if b := got.Breaches; b.Count[journey.BreachAcknowledge] != 1 || len(b.List) != 1 || b.List[0].JourneyID != j.ID || b.Truncated {
			t.Errorf("breaches %+v", b)
		}
		// A window before all of it measures nothing.
		if early, err := e.s.Measure(ctx, e.org, from.Add(-48*time.Hour), from); err != nil || len(early.Stages) != 0 || early.Funnel.Released != 0 || len(early.Breaches.List) != 0 {
			t.Errorf("an empty window: %+v %v", early, err)
		}
		if _, err := e.s.Measure(ctx, e.org, e.now, from); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("a reversed window: %v", err)
		}
		if _, err := e.s.Measure(ctx, e.org, from.Add(-400*24*time.Hour), from); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("a window of 400 days: %v", err)
		}

		// Prometheus: the changes made by actions and deadlines (FHIR writes
		// are counted by the journey.changes worker, not by Apply).
		for _, stage := range []string{"reviewed", "released", "viewed", "closed"} {
			if mt := metric(t, reg, "careloop_journey_transitions_total", "stage", stage); mt == nil || mt.value != 1 {
				t.Errorf("transitions to %s: %v", stage, mt)
			}
		}
		if mt := metric(t, reg, "careloop_journey_deadline_breaches_total", "kind", journey.BreachAcknowledge); mt == nil || mt.value != 1 {
			t.Errorf("breaches: %v", mt)
		}
		if mt := metric(t, reg, "careloop_journey_stage_duration_seconds", "stage", "reviewed"); mt == nil ||
			mt.count != 1 || mt.sum != 300 {
			t.Errorf("time in reviewed: %v", mt)
		}
		// The stay in final began in an earlier transaction: read back from the events.
		if mt := metric(t, reg, "careloop_journey_stage_duration_seconds", "stage", "final"); mt == nil || mt.count != 1 {
			t.Errorf("time in final: %v", mt)
		}
		if mt := metric(t, reg, "careloop_journey_open", "stage", "ordered"); mt == nil || mt.value != 1 {
			t.Errorf("open journeys ordered: %v", mt)
		}
		if mt := metric(t, reg, "careloop_journey_open", "stage", "closed"); mt != nil {
			t.Errorf("closed journeys counted open: %v", mt)
		}

		// The API: operations roles and clinicians; a bad window is a 400.
		audit := &okAudit{}
		who := &fhir.Principal{OrgID: e.org, Subject: "account/admin", Kind: "user", Role: "org-admin"}
		mux := http.NewServeMux()
		(&journey.API{Service: e.s, Users: principal{who}, Audit: audit}).Register(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		window := "?from=" + url.QueryEscape(from.Format(time.RFC3339)) + "&to=" + url.QueryEscape(e.now.Add(time.Minute).Format(time.RFC3339Nano))
		for _, tc := range []struct {
			role, query string
			status      int
		}{
			{"org-admin", window, 200},
			{"care-coordinator", window, 200},
			{"clinician", "", 200},
			{"patient", window, 403},
			{"compliance-officer", window, 403},
			{"nurse", window, 403},
			{"org-admin", "?from=yesterday", 400},
			{"org-admin", "?from=2026-11-20&to=2026-11-19", 400},
		} {
			who.Role = tc.role
			resp, err := http.Get(srv.URL + "/journeys/measurements" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			var body journey.Measurements
			_ = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("%s %s: %d, want %d", tc.role, tc.query, resp.StatusCode, tc.status)
			}
			if tc.status == 200 && tc.query == window && (body.Funnel.Released != 1 || len(body.Breaches.List) != 1) {
				t.Errorf("%s: %+v", tc.role, body)
			}
		}
		if len(audit.reads) != 3 || audit.reads[0].What != "measurements" || len(audit.reads[0].Journeys) != 1 || audit.reads[0].Journeys[0] != j.ID {
			t.Fatalf("audit of the measurements: %+v", audit.reads)
		}
	})
}
