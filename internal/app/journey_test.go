package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/fhir/fhirtest"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// runJobs starts the job queue of s until the test ends.
func (s *server) runJobs() {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.a.Jobs.Start(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() {
		stop, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = s.a.Jobs.Stop(stop)
		cancel()
	})
}

// settle waits until the journey jobs that are due have run, and fails
// when any attempt of one of them failed.
func (s *server) settle() {
	s.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		b, err := jobs.BacklogOf(context.Background(), s.a.DB, "journey.")
		if err != nil {
			s.t.Fatal(err)
		}
		if b.Failed > 0 {
			s.t.Fatalf("%d journey jobs failed: %.1000s", b.Failed, b.LastError)
		}
		if b.Waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%d journey jobs still waiting after two minutes", b.Waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func orgOf(t *testing.T, s *server, slug string) string {
	t.Helper()
	o, err := s.a.Orgs.BySlug(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// TestJourneysFromSynthea imports Synthea bundles through the FHIR API with
// the job queue running, and checks the journeys the workers built: one
// per report (Synthea's reports name no order) and per laboratory
// Observation outside any report, each with its transitions caused by the
// FHIR versions; old results are history (no review clock). Then an order
// and a critical result written today for one of the Synthea patients
// start the acknowledgement clock.
func TestJourneysFromSynthea(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.runJobs()
			org := orgOf(t, s, "clinic-a")
			files := fhirtest.SyntheaFiles(t)[:2]
			reports, labAlone := 0, 0
			var patient string
			for _, f := range files {
				raw, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				var b struct {
					Entry []struct {
						FullURL  string         `json:"fullUrl"`
						Resource map[string]any `json:"resource"`
					} `json:"entry"`
				}
				if err := json.Unmarshal(raw, &b); err != nil {
					t.Fatal(err)
				}
				inReport := map[string]bool{}
				for _, en := range b.Entry {
					if en.Resource["resourceType"] == "DiagnosticReport" {
						reports++
						for _, r := range en.Resource["result"].([]any) {
							inReport[r.(map[string]any)["reference"].(string)] = true
						}
					}
				}
				for _, en := range b.Entry {
					if en.Resource["resourceType"] == "Observation" && strings.Contains(fmt.Sprint(en.Resource["category"]), "laboratory") && !inReport[en.FullURL] {
						labAlone++
					}
				}
				if r := s.do("POST", "/fhir", raw, "Prefer", "return=minimal"); r.status != 200 {
					t.Fatalf("%s: %d %.300s", f, r.status, r.body)
				}
			}
			s.settle()
			var journeys, byReport, historical, flagged int
			rows, err := s.a.DB.Read.Query("SELECT anchor, due_step, flag, stage, patient_id FROM journeys WHERE org_id = $1", org)
			if err != nil {
				t.Fatal(err)
			}
			var anchors []string
			for rows.Next() {
				var anchor, due, flag, stage string
				if err := rows.Scan(&anchor, &due, &flag, &stage, &patient); err != nil {
					t.Fatal(err)
				}
				journeys++
				anchors = append(anchors, anchor)
				if strings.HasPrefix(anchor, "DiagnosticReport/") {
					byReport++
					if stage != string(journey.Released) {
						t.Errorf("%s is %s, want released", anchor, stage)
					}
				}
				if strings.HasPrefix(due, "none") {
					historical++
				}
				if flag != "unknown" {
					flagged++
				}
			}
			rows.Close()
			if byReport != reports || journeys != reports+labAlone {
				t.Fatalf("%d journeys (%d of reports), want %d reports and %d lone lab results", journeys, byReport, reports, labAlone)
			}
			if historical != journeys {
				t.Errorf("%d of %d imported journeys are history", historical, journeys)
			}
			if flagged == 0 {
				t.Errorf("no imported result was interpreted")
			}
			j, evs, err := s.a.Journeys.ByAnchor(context.Background(), org, anchors[0])
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 || evs[0].Cause != anchors[0]+"/_history/1" || evs[0].From != "" {
				t.Fatalf("first event of %s: %+v", anchors[0], evs)
			}
			if j.PatientID != patient && j.PatientID == "" {
				t.Fatalf("journey without patient: %+v", j)
			}
			if n := countJobs(t, s, "journey.deadline"); n != 0 {
				t.Fatalf("%d deadline jobs for imported history", n)
			}

			// Today's critical result for the same patient.
			now := time.Now().UTC().Format(time.RFC3339)
			s.put(s.tokenA, []string{
				fmt.Sprintf(`{"resourceType":"ServiceRequest","id":"k-order","status":"active","intent":"order","subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]}}`, patient),
				fmt.Sprintf(`{"resourceType":"Observation","id":"k-result","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q,"valueQuantity":{"value":7.1,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"}}`, patient, now),
				fmt.Sprintf(`{"resourceType":"DiagnosticReport","id":"k-report","status":"final","basedOn":[{"reference":"ServiceRequest/k-order"}],"subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"issued":%q,"result":[{"reference":"Observation/k-result"}]}`, patient, now),
			})
			s.settle()
			j, evs, err = s.a.Journeys.ByAnchor(context.Background(), org, "ServiceRequest/k-order")
			if err != nil {
				t.Fatal(err)
			}
			if j.Flag != journey.Critical || j.DueStep != journey.StepAcknowledge || j.DueAt == nil || j.ReportRef != "DiagnosticReport/k-report" {
				t.Fatalf("today's critical potassium: %+v (%s)", j, j.FlagReason)
			}
			if got := stagesOf(evs); got != "ordered final released" {
				t.Fatalf("stages %q", got)
			}
			if n := countJobs(t, s, "journey.deadline"); n != 1 {
				t.Fatalf("%d deadline jobs running, want 1", n)
			}
		})
	}
}

// countJobs counts the jobs of a kind that were not cancelled.
func countJobs(t *testing.T, s *server, kind string) int {
	t.Helper()
	var n int
	if err := s.a.DB.Read.QueryRow("SELECT count(*) FROM river_job WHERE kind = $1 AND CAST(state AS TEXT) <> 'cancelled'", kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func stagesOf(evs []journey.Transition) string {
	var out []string
	for _, ev := range evs {
		if ev.From != ev.To {
			out = append(out, string(ev.To))
		}
	}
	return strings.Join(out, " ")
}

// aliceResult is an order of Dr Doc for Alice with a critical potassium.
var aliceResult = []string{
	`{"resourceType":"ServiceRequest","id":"sr-alice","status":"active","intent":"order","subject":{"reference":"Patient/alice"},"requester":{"reference":"Practitioner/doc"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}}`,
	`{"resourceType":"Observation","id":"k-alice","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"subject":{"reference":"Patient/alice"},"valueQuantity":{"value":7.2,"unit":"mmol/L"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"HH"}]}]}`,
	`{"resourceType":"DiagnosticReport","id":"dr-alice","status":"final","basedOn":[{"reference":"ServiceRequest/sr-alice"}],"subject":{"reference":"Patient/alice"},"code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},"result":[{"reference":"Observation/k-alice"}]}`,
}

// TestJourneyAPIAccess: the inbox, a journey and the patient's timeline
// through the API, for every kind of person: the patient sees only her
// own, a clinician without a care relationship nothing, another
// organisation nothing; every read is audited with the patient named.
func TestJourneyAPIAccess(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			s.runJobs()
			s.put(s.tokenA, clinicA)
			s.put(s.tokenB, clinicB)
			s.put(s.tokenA, aliceResult)
			s.settle()
			ps := people()
			for _, p := range ps {
				s.signIn(p, true)
			}
			alice, carer, doc, doc2 := find(ps, "alice@example.org"), find(ps, "carer@example.org"), find(ps, "doc@example.org"), find(ps, "doc2@example.org")
			coord, compliance, admin, docb := find(ps, "coord@example.org"), find(ps, "compliance@example.org"), find(ps, "admin@example.org"), find(ps, "docb@example.org")
			j, _, err := s.a.Journeys.ByAnchor(context.Background(), orgOf(t, s, "clinic-a"), "ServiceRequest/sr-alice")
			if err != nil {
				t.Fatal(err)
			}
			path := "/journeys/" + j.ID
			inboxIDs := func(p *person) []string {
				t.Helper()
				r := s.as(p, "GET", "/journeys/inbox", nil)
				if r.status != 200 {
					t.Fatalf("%s inbox: %d %s", p.email, r.status, r.body)
				}
				var out []string
				for _, x := range r.json(t)["journeys"].([]any) {
					out = append(out, x.(map[string]any)["id"].(string))
				}
				return out
			}
			if got := inboxIDs(doc); !slices.Equal(got, []string{j.ID}) {
				t.Fatalf("Dr Doc's inbox %v, want Alice's journey", got)
			}
			if got := inboxIDs(coord); !slices.Contains(got, j.ID) {
				t.Fatalf("the coordinator's inbox %v lacks Alice's journey", got)
			}
			// Coordinators see the flag, not the result behind it.
			if r := s.as(coord, "GET", path, nil); r.status != 200 || r.json(t)["flag"] != "critical" || r.json(t)["flag_reason"] != nil {
				t.Fatalf("the coordinator's view: %d %s", r.status, r.body)
			}
			if r := s.as(doc, "GET", path, nil); r.status != 200 || r.json(t)["flag_reason"] == nil {
				t.Fatalf("the clinician's view: %d %s", r.status, r.body)
			}
			if got := inboxIDs(doc2); len(got) != 0 {
				t.Fatalf("Dr Doc2, without care of Alice, sees %v", got)
			}
			if got := inboxIDs(docb); len(got) != 0 {
				t.Fatalf("clinic-b's doctor sees %v", got)
			}
			for _, tc := range []struct {
				who          *person
				method, path string
				body         string
				status       int
			}{
				{alice, "GET", "/journeys/inbox", "", http.StatusForbidden},
				{compliance, "GET", "/journeys/inbox", "", http.StatusForbidden},
				{admin, "GET", path, "", http.StatusForbidden},
				{doc2, "GET", path, "", http.StatusNotFound},
				{docb, "GET", path, "", http.StatusNotFound},
				{carer, "GET", path, "", http.StatusNotFound},
				{doc2, "POST", path + "/acknowledge", "", http.StatusNotFound},
				{docb, "POST", path + "/acknowledge", "", http.StatusNotFound},
				{carer, "POST", path + "/viewed", "", http.StatusNotFound},
				{alice, "POST", path + "/acknowledge", "", http.StatusForbidden},
				{doc, "POST", path + "/viewed", "", http.StatusForbidden},
				{doc, "POST", path + "/hold", `{"reason":"x"}`, http.StatusBadRequest},
				{doc, "POST", path + "/comment", `{"text":""}`, http.StatusBadRequest},
				{doc, "GET", "/journeys/inbox?queue=nonsense", "", http.StatusBadRequest},
			} {
				var body []byte
				var h []string
				if tc.body != "" {
					body, h = []byte(tc.body), []string{"Content-Type", "application/json"}
				}
				if r := s.as(tc.who, tc.method, tc.path, body, h...); r.status != tc.status {
					t.Errorf("%s %s %s: %d %s, want %d", tc.who.email, tc.method, tc.path, r.status, r.body, tc.status)
				}
			}
			if r := s.do("GET", "/journeys/inbox", nil, "Authorization", ""); r.status != http.StatusUnauthorized {
				t.Errorf("without a session: %d", r.status)
			}
			if r := s.as(carer, "GET", "/journeys/mine", nil); r.status != 200 || len(r.json(t)["journeys"].([]any)) != 0 {
				t.Fatalf("the caregiver's timeline: %d %s", r.status, r.body)
			}

			// Alice's timeline, audited with her as the patient concerned.
			before := len(s.auditEntries(0))
			r := s.as(alice, "GET", "/journeys/mine", nil)
			if r.status != 200 {
				t.Fatalf("Alice's timeline: %d %s", r.status, r.body)
			}
			mine := r.json(t)["journeys"].([]any)
			if len(mine) != 1 {
				t.Fatalf("Alice sees %d journeys", len(mine))
			}
			v := mine[0].(map[string]any)
			if v["id"] != j.ID || v["released"] != true || v["flag"] != "critical" || v["stage"] != "released" {
				t.Fatalf("Alice's journey: %v", v)
			}
			if strings.Contains(string(r.body), "Practitioner/") || strings.Contains(string(r.body), "api:") {
				t.Errorf("the patient's view shows the care team's details: %s", r.body)
			}
			entries := s.auditEntries(before)
			if len(entries) != 1 || !slices.Equal(entries[0].Patients, []string{"Patient/alice"}) || entries[0].Agent.Subject != "account/"+alice.id ||
				entries[0].Subtype[0].Code != "journey-mine" {
				t.Fatalf("audit of Alice's timeline: %+v", entries)
			}
			if r := s.as(alice, "POST", path+"/viewed", nil); r.status != 200 || r.json(t)["viewed"] != true {
				t.Fatalf("Alice views: %d %s", r.status, r.body)
			}

			// Dr Doc acknowledges: the escalation is cancelled, the change audited.
			before = len(s.auditEntries(0))
			r = s.as(doc, "POST", path+"/acknowledge", []byte(`{"note":"called Alice"}`), "Content-Type", "application/json")
			if r.status != 200 {
				t.Fatalf("acknowledge: %d %s", r.status, r.body)
			}
			got := r.json(t)
			if got["reviewed_by"] != "account/"+doc.id || got["stage"] != "closed" {
				t.Fatalf("after acknowledgement: %v", got)
			}
			entries = s.auditEntries(before)
			if len(entries) != 1 || entries[0].Action != "U" || !slices.Equal(entries[0].Patients, []string{"Patient/alice"}) {
				t.Fatalf("audit of the acknowledgement: %+v", entries)
			}
			var state string
			if err := s.a.DB.Read.QueryRow("SELECT CAST(state AS TEXT) FROM river_job WHERE kind = 'journey.deadline'").Scan(&state); err != nil || state != "cancelled" {
				t.Fatalf("the escalation job is %q (%v), want cancelled", state, err)
			}
			if got := inboxIDs(doc); len(got) != 0 {
				t.Fatalf("the reviewed result is still in the inbox: %v", got)
			}
		})
	}
}

// TestEscalationSurvivesRestart: a critical result's escalation is a
// durable job. The process that scheduled it stops; another opens the same
// database after the deadline passed (the test moves the job's schedule
// back by the 30 minutes instead of waiting them) and escalates exactly
// once.
func TestEscalationSurvivesRestart(t *testing.T) {
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			s := newServer(t, e)
			ctx, cancel := context.WithCancel(context.Background())
			if err := s.a.Jobs.Start(ctx); err != nil {
				t.Fatal(err)
			}
			s.put(s.tokenA, clinicA[:6])
			s.put(s.tokenA, aliceResult)
			s.settle()
			stop, done := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.a.Jobs.Stop(stop); err != nil {
				t.Fatal(err)
			}
			done()
			cancel()
			org := orgOf(t, s, "clinic-a")
			// The process that stops lets go of the audit spool, which one
			// process uses at a time.
			if err := s.a.Audit.Close(); err != nil {
				t.Fatal(err)
			}

			b, err := app.Open(context.Background(), s.a.Config, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() }) // after its queue stops (cleanups run last first)
			past := "datetime('now', 'subsec', '-1 minute')"
			if b.DB.Dialect == db.Postgres {
				past = "now() - interval '1 minute'"
			}
			if _, err := b.DB.Write.Exec("UPDATE river_job SET scheduled_at = " + past + " WHERE kind = 'journey.deadline'"); err != nil {
				t.Fatal(err)
			}
			s.a = b
			s.runJobs()
			var j *journey.Journey
			var evs []journey.Transition
			for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
				if j, evs, err = b.Journeys.ByAnchor(context.Background(), org, "ServiceRequest/sr-alice"); err != nil {
					t.Fatal(err)
				}
				if j.Escalation > 0 || time.Now().After(deadline) {
					break
				}
			}
			s.settle()
			escalations := 0
			for _, ev := range evs {
				if ev.Kind == journey.KindEscalation {
					escalations++
				}
			}
			if j.Escalation != journey.EscalatedCovering || escalations != 1 {
				t.Fatalf("after the restart: escalation %d, %d escalation events", j.Escalation, escalations)
			}
			// (A result that arrived before its report had its own journey and
			// clock for a moment: that job was cancelled.)
			var states []string
			rows, err := b.DB.Read.Query("SELECT CAST(state AS TEXT) FROM river_job WHERE kind = 'journey.deadline' AND CAST(state AS TEXT) <> 'cancelled' ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var st string
				if err := rows.Scan(&st); err != nil {
					t.Fatal(err)
				}
				states = append(states, st)
			}
			rows.Close()
			if strings.Join(states, ",") != "completed,scheduled" {
				t.Fatalf("deadline jobs %v, want the fired one completed and the covering clinician's scheduled", states)
			}
		})
	}
}
