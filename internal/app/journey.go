package app

import (
	"context"
	"database/sql"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/interpret"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// journeyDeps are the journeys' store and queue, which App builds after the
// workers are registered: the workers reach them through it once set.
type journeyDeps struct {
	resources *fhir.Store
	jobs      journey.RiverJobs
}

func (d *journeyDeps) VRead(ctx context.Context, orgID, typ, id string, version int64) (*fhir.Stored, error) {
	return d.resources.VRead(ctx, orgID, typ, id, version)
}

func (d *journeyDeps) ReadTx(ctx context.Context, tx *sql.Tx, orgID, typ, id string) (*fhir.Stored, error) {
	return d.resources.ReadTx(ctx, tx, orgID, typ, id)
}

func (d *journeyDeps) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return d.jobs.InsertTx(ctx, tx, args, opts)
}

func (d *journeyDeps) CancelTx(ctx context.Context, tx *sql.Tx, id int64) error {
	return d.jobs.CancelTx(ctx, tx, id)
}

// addJourneyWorkers builds the journeys' service with its metrics on the
// app's registry and registers its workers; wireJourneys completes it once
// the queue and the FHIR store exist.
func (a *App) addJourneyWorkers(workers *river.Workers) error {
	a.journeyDeps = &journeyDeps{}
	log := a.Log.With("component", "journey")
	metrics, err := journey.NewMetrics(a.Registry, a.DB)
	if err != nil {
		return err
	}
	a.Journeys = journey.New(journey.Config{DB: a.DB, Resources: a.journeyDeps, Jobs: a.journeyDeps,
		Interpreter: interpreter{}, Notifier: journeyNotifier{app: a}, Log: log, Metrics: metrics})
	river.AddWorker(workers, journey.NewChangesWorker(a.Journeys))
	river.AddWorker(workers, journey.NewDeadlineWorker(a.Journeys))
	river.AddWorker(workers, journey.NewReleaseWorker(a.Journeys))
	river.AddWorker(workers, journey.NewOutreachWorker(a.Journeys))
	return nil
}

// wireJourneys hands the journeys the queue and the FHIR store, makes
// every FHIR write of the types that move journeys announce itself to them
// through the outbox, and runs their consumer with the queue.
func (a *App) wireJourneys(m *outbox.Metrics) {
	a.journeyDeps.resources = a.Resources
	a.journeyDeps.jobs = journey.RiverJobs{Queue: a.Jobs}
	a.Resources.OnWrite(journey.Announce)
	a.Jobs.AddConsumer(outbox.New(outbox.Config{DB: a.DB, Topic: journey.Topic, Handler: a.Journeys.ApplyItems,
		Poll: a.Config.JobPollInterval, Log: a.Log.With("component", "journey"), Metrics: m}))
}

// journeyAPI returns the journeys' JSON API for signed-in people, audited
// like the FHIR API.
func (a *App) journeyAPI(users *access.Users) *journey.API {
	return &journey.API{Service: a.Journeys, Users: users, Audit: journeyAudit{log: a.Audit}}
}

// interpreter flags Observations with careloop's interpretation.
type interpreter struct{}

func (interpreter) Observation(raw []byte, p journey.Patient, at time.Time) (journey.Interpretation, error) {
	r, err := interpret.Observation(raw, interpret.Patient{Gender: p.Gender, BirthDate: p.BirthDate}, at)
	if err != nil {
		return journey.Interpretation{}, err
	}
	f, _ := journey.ParseFlag(r.Level.String())
	return journey.Interpretation{Flag: f, Reason: r.Reason}, nil
}

// journeyAudit writes the journeys API's reads and changes to the audit
// log: who, what (the journeys, or the inbox's query) and about whom.
type journeyAudit struct{ log *audit.Log }

func (j journeyAudit) Record(ctx context.Context, p *fhir.Principal, acc journey.Access) error {
	return j.log.Record(ctx, j.entry(ctx, p, acc))
}

func (j journeyAudit) RecordTx(ctx context.Context, tx *sql.Tx, p *fhir.Principal, acc journey.Access) error {
	return j.log.AppendTx(ctx, tx, j.entry(ctx, p, acc))
}

func (j journeyAudit) entry(ctx context.Context, p *fhir.Principal, acc journey.Access) audit.Entry {
	e := audit.Entry{OrgID: p.OrgID, Type: audit.TypeRest, Subtype: []audit.Coding{audit.Subtype("journey-" + acc.What)},
		Action: audit.Read, Outcome: audit.Success, RequestID: httpx.RequestID(ctx)}
	if acc.Action == "update" {
		e.Action = audit.Update
	}
	for _, id := range acc.Journeys {
		e.Entities = append(e.Entities, audit.Entity{What: "journey/" + id})
	}
	if acc.Query != "" {
		e.Entities = append(e.Entities, audit.Entity{Query: acc.Query})
	}
	for _, id := range acc.Patients {
		e.Patients = append(e.Patients, "Patient/"+id)
	}
	e.Agent = audit.Agent{Subject: p.Subject, Role: p.Role, PurposeOfUse: access.PurposeOfUse(p, acc.Patients),
		Address: httpx.ClientAddress(ctx)}
	return e
}
