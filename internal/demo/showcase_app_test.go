package demo_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/demo"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// TestShowcaseInTheApp seeds the demo as "careloop demo" does, on the
// application's own wiring (FHIR store announcing writes to the journeys,
// careloop's interpretation, notifications), runs the job queue and the
// notification planner as the server does, and checks what the showcase
// patient's portal has to show: released normal, abnormal and critical
// results, a follow-up recommended, an order waiting with its expected
// time, and a message in the inbox for each new result.
//
// With the care team's part (Seeder.Journeys set to the app's journeys, as
// cmd/careloop should wire it) the critical result is acknowledged and
// the patient notified of it; without it (the wiring of today) the
// workers release the same results but the critical one waits for its
// acknowledgement.
func TestShowcaseInTheApp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the application with its job queue")
	}
	for _, e := range dbtest.Engines() {
		for _, careTeam := range []bool{true, false} {
			name := string(e) + "/without care team"
			if careTeam {
				name = string(e) + "/with care team"
			}
			t.Run(name, func(t *testing.T) {
				_, opts := dbtest.OpenWithOptions(t, e)
				dbFlag := "sqlite:" + opts.SQLitePath
				if opts.PostgresURL != "" {
					dbFlag = opts.PostgresURL
				}
				cfg, err := config.Parse("demo", config.Store|config.Server|config.Demo,
					[]string{"--db", dbFlag, "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--patients", "3"},
					func(string) string { return "" }, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				a, err := app.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { a.Close() })
				checkShowcaseInApp(t, a, careTeam)
			})
		}
	}
}

func checkShowcaseInApp(t *testing.T, a *app.App, careTeam bool) {
	ctx := context.Background()
	seeder := &demo.Seeder{DB: a.DB, Orgs: a.Orgs, Resources: a.Resources, Accounts: a.Accounts, ChunkSize: 2, PasswordParams: cheap}
	if careTeam {
		seeder.Journeys = a.Journeys
	}
	res, err := seeder.Seed(ctx, demo.Config{Seed: a.Config.DemoSeed, Patients: a.Config.DemoPatients})
	if err != nil {
		t.Fatal(err)
	}
	org := res.Org.ID
	if res.TimeZone != "America/Chicago" {
		t.Errorf("SeedResult.TimeZone %q, want the clinic's America/Chicago", res.TimeZone)
	}
	g, err := demo.NewGenerator(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	sc := g.Showcase()

	// The server's background work: the job queue and the notifications.
	runCtx, stop := context.WithCancel(ctx)
	if err := a.Jobs.Start(runCtx); err != nil {
		t.Fatal(err)
	}
	notified := make(chan struct{})
	go func() { defer close(notified); _ = a.Notify.Run(runCtx) }()
	t.Cleanup(func() {
		stopCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		_ = a.Jobs.Stop(stopCtx)
		stop()
		<-notified
	})
	settle(t, a)

	journeyOf := func(order string) *journey.Journey {
		t.Helper()
		j, _, err := a.Journeys.ByAnchor(ctx, org, order)
		if err != nil {
			t.Fatalf("journey of %s: %v", order, err)
		}
		return j
	}
	released := func(name string, j *journey.Journey, flag journey.Flag) {
		t.Helper()
		if j.ReleasedAt == nil || j.FinalAt == nil || j.Flag != flag {
			t.Errorf("%s journey: released %v, final %v, flag %s; want released, final, %s", name, j.ReleasedAt, j.FinalAt, j.Flag, flag)
		}
		if j.ReportRef == "" {
			t.Errorf("%s journey without its report", name)
		}
	}
	reviewed := func(name string, j *journey.Journey) {
		t.Helper()
		switch {
		case careTeam && (j.ReviewedAt == nil || j.DueAt != nil || j.Escalation != journey.EscalatedNone):
			t.Errorf("%s journey: reviewed %v, due %v (%s), escalation %d; want reviewed, no deadline", name, j.ReviewedAt, j.DueAt, j.DueStep, j.Escalation)
		case !careTeam && j.ReviewedAt != nil:
			t.Errorf("%s journey reviewed without the care team's part", name)
		}
	}

	normal := journeyOf(sc.NormalOrder)
	released("normal", normal, journey.Normal)
	reviewed("normal", normal)
	if normal.Stage != journey.Released {
		t.Errorf("normal journey at %s, want released", normal.Stage)
	}

	critical := journeyOf(sc.CriticalOrder)
	released("critical", critical, journey.Critical)
	reviewed("critical", critical)
	if careTeam {
		if critical.Stage != journey.Notified || critical.NotifiedAt == nil {
			t.Errorf("critical journey at %s, notified %v; want notified by the telephone call", critical.Stage, critical.NotifiedAt)
		}
		if critical.ReviewedBy == "" {
			t.Error("critical result acknowledged by nobody")
		}
	} else if critical.Stage != journey.Released || critical.DueStep != journey.StepAcknowledge || critical.DueAt == nil {
		t.Errorf("critical journey at %s, due %s at %v; want released, waiting for its acknowledgement", critical.Stage, critical.DueStep, critical.DueAt)
	}

	abnormal := journeyOf(sc.AbnormalOrder)
	released("abnormal", abnormal, journey.Abnormal)
	reviewed("abnormal", abnormal)
	if abnormal.Stage != journey.FollowupRecommended || abnormal.FollowupAt == nil || abnormal.BookedAt != nil {
		t.Errorf("abnormal journey at %s, follow-up %v, booked %v; want a follow-up recommended, not booked", abnormal.Stage, abnormal.FollowupAt, abnormal.BookedAt)
	}
	if !careTeam && (abnormal.DueStep != journey.StepReview || abnormal.DueAt == nil) {
		t.Errorf("abnormal journey due %s at %v; want its review within business days", abnormal.DueStep, abnormal.DueAt)
	}

	// The earlier A1c results are imported history: released, no clock.
	for _, ref := range sc.EarlierA1c {
		st, err := a.Resources.Read(ctx, org, "DiagnosticReport", ref[len("DiagnosticReport/"):])
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := a.Journeys.ByAnchor(ctx, org, orderOf(t, st.JSON))
		if err != nil {
			t.Fatal(err)
		}
		if j.ReleasedAt == nil || j.DueAt != nil || j.ReviewedAt != nil {
			t.Errorf("earlier A1c %s: released %v, due %v, reviewed %v; want released as history", ref, j.ReleasedAt, j.DueAt, j.ReviewedAt)
		}
	}

	// The order waiting for its result, with its expected time.
	waiting := journeyOf(sc.WaitingOrder)
	if waiting.Stage != journey.Collected || waiting.FinalAt != nil {
		t.Errorf("waiting journey at %s, final %v; want collected", waiting.Stage, waiting.FinalAt)
	}
	etas, err := a.Journeys.ETAs(ctx, org, []*journey.Journey{waiting})
	if err != nil {
		t.Fatal(err)
	}
	if eta := etas[waiting.ID]; eta == nil || eta.Sentence == "" || eta.P80At.Before(eta.MedianAt) {
		t.Errorf("waiting journey's ETA %+v", eta)
	}

	// The patient's timeline holds them all, and nothing of anyone else.
	patientID := sc.Patient[len("Patient/"):]
	mine, _, _, err := a.Journeys.OfPatients(ctx, org, []string{patientID}, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	var anchors []string
	for _, j := range mine {
		anchors = append(anchors, j.Anchor)
		if j.PatientID != patientID {
			t.Errorf("journey %s of patient %s in the showcase patient's timeline", j.ID, j.PatientID)
		}
	}
	for _, want := range []string{sc.NormalOrder, sc.CriticalOrder, sc.AbnormalOrder, sc.WaitingOrder, sc.FollowUpOrder} {
		if !slices.Contains(anchors, want) {
			t.Errorf("the timeline lacks %s", want)
		}
	}

	// A message in the patient's inbox for each new result, none for the
	// history.
	var ready []notify.Message
	for deadline := time.Now().Add(time.Minute); ; {
		msgs, _, err := a.Notify.Messages(ctx, org, notify.Filter{Recipients: []string{sc.Patient}, Channel: notify.InApp, Count: 200})
		if err != nil {
			t.Fatal(err)
		}
		ready = ready[:0]
		for _, m := range msgs {
			if m.Kind == "result-ready" {
				ready = append(ready, m)
			}
		}
		if len(ready) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ready) != 3 {
		t.Errorf("%d result-ready messages in the showcase patient's inbox, want 3 (the new results)", len(ready))
	}

	if !careTeam {
		return
	}
	// A run resumed after an interruption just before the seeding was
	// marked complete repeats the care team's part: it changes nothing.
	before := events(t, a, org, patientID)
	if _, err := a.DB.Write.Exec("UPDATE demo_seeds SET completed_at = NULL"); err != nil {
		t.Fatal(err)
	}
	again, err := seeder.Seed(ctx, demo.Config{})
	if err != nil || again.Seeded != 0 {
		t.Fatalf("resumed run: %+v %v", again, err)
	}
	settle(t, a)
	if after := events(t, a, org, patientID); after != before {
		t.Errorf("repeating the care team's part changed the journeys: %d events, then %d", before, after)
	}
}

// orderOf returns the order a report is based on.
func orderOf(t *testing.T, raw []byte) string {
	t.Helper()
	by, _ := records(t, []demo.Resource{{Type: "DiagnosticReport", ID: "x", JSON: raw}})
	return refs(by["DiagnosticReport/x"].m["basedOn"])[0]
}

// events counts the events of the patient's journeys.
func events(t *testing.T, a *app.App, org, patientID string) int {
	t.Helper()
	_, evs, _, err := a.Journeys.OfPatients(context.Background(), org, []string{patientID}, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		n += len(e)
	}
	return n
}

// settle waits until the journey jobs that are due have run, and fails
// when one of them failed.
func settle(t *testing.T, a *app.App) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		b, err := jobs.BacklogOf(context.Background(), a.DB, "journey.")
		if err != nil {
			t.Fatal(err)
		}
		if b.Failed > 0 {
			t.Fatalf("%d journey jobs failed: %.1000s", b.Failed, b.LastError)
		}
		if b.Waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d journey jobs still waiting after two minutes", b.Waiting)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
