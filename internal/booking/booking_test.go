package booking_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/validate"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/tenant"
)

// now is a Friday morning; the slots below are on the Monday and Tuesday
// after, one within the hour of notice and one beyond the default window.
var now = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// env is the booking service on a real database and FHIR store (with the
// journeys announced, as the application wires them), an auditor and a
// notifier that record what they are given.
type env struct {
	t       *testing.T
	d       *db.DB
	org     string
	store   *fhir.Store
	search  *fhir.Searcher
	journey *journey.Service
	s       *booking.Service
	audit   *recordingAudit
	notes   *tableNotifier

	mu  sync.Mutex
	now time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

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
	e := &env{t: t, d: d, org: o.ID, now: now, audit: &recordingAudit{}}
	e.store = fhir.NewStore(d, q, fhir.NewSpecIndexer())
	e.store.OnWrite(journey.Announce)
	e.search = fhir.NewSearcher(d, fhir.LookupParam)
	e.journey = journey.New(journey.Config{DB: d, Resources: e.store, Jobs: journey.RiverJobs{Queue: q}, Now: e.clock})
	e.notes = newTableNotifier(t, d)
	e.s = booking.New(booking.Config{DB: d, Store: e.store, Search: e.search, Audit: e.audit, Notify: e.notes, Now: e.clock})
	e.put(fixtures...)
	return e
}

// The clinic: two patients, two clinicians with a schedule each at one
// location, an inactive schedule, and slots.
var fixtures = []string{
	`{"resourceType":"Patient","id":"pat","name":[{"given":["Rosa"],"family":"Diaz"}]}`,
	`{"resourceType":"Patient","id":"other","name":[{"given":["Tom"],"family":"Berg"}]}`,
	`{"resourceType":"Practitioner","id":"doc","name":[{"prefix":["Dr"],"given":["Ana"],"family":"Silva"}]}`,
	`{"resourceType":"Practitioner","id":"doc2","name":[{"text":"Dr Ben Okafor"}]}`,
	`{"resourceType":"Location","id":"clinic","name":"Riverside Clinic"}`,
	`{"resourceType":"Schedule","id":"sch-doc","active":true,"actor":[{"reference":"Practitioner/doc"},{"reference":"Location/clinic"}],
		"serviceType":[{"text":"General practice"}]}`,
	`{"resourceType":"Schedule","id":"sch-doc2","active":true,"actor":[{"reference":"Practitioner/doc2"},{"reference":"Location/clinic"}],
		"serviceType":[{"coding":[{"system":"http://example.org/services","code":"neph","display":"Nephrology"}]}]}`,
	`{"resourceType":"Schedule","id":"sch-off","active":false,"actor":[{"reference":"Practitioner/doc"}]}`,
	slot("s-soon", "sch-doc", "free", "2026-11-20T09:30:00Z"),
	slot("s1", "sch-doc", "free", "2026-11-23T09:00:00Z"),
	slot("s2", "sch-doc", "free", "2026-11-23T10:00:00Z"),
	slot("s3", "sch-doc", "free", "2026-11-24T09:00:00Z"),
	slot("s-busy", "sch-doc", "busy", "2026-11-23T11:00:00Z"),
	slot("s-doc2", "sch-doc2", "free", "2026-11-23T09:30:00Z"),
	slot("s-off", "sch-off", "free", "2026-11-23T12:00:00Z"),
	slot("s-late", "sch-doc", "free", "2027-01-05T09:00:00Z"),
	`{"resourceType":"ServiceRequest","id":"fu","status":"active","intent":"order","subject":{"reference":"Patient/pat"},
		"code":{"text":"Kidney follow-up visit"},"reasonReference":[{"reference":"DiagnosticReport/r1"}],
		"performer":[{"reference":"Practitioner/doc"}],"authoredOn":"2026-11-19T10:00:00Z"}`,
	`{"resourceType":"ServiceRequest","id":"fu-any","status":"active","intent":"plan","subject":{"reference":"Patient/pat"},
		"reasonReference":[{"reference":"Observation/o1"}],"authoredOn":"2026-11-20T08:00:00Z"}`,
	`{"resourceType":"ServiceRequest","id":"lab","status":"active","intent":"order","subject":{"reference":"Patient/pat"},
		"code":{"text":"Potassium"}}`,
	`{"resourceType":"ServiceRequest","id":"fu-done","status":"completed","intent":"order","subject":{"reference":"Patient/pat"},
		"reasonReference":[{"reference":"DiagnosticReport/r1"}],"authoredOn":"2026-10-01"}`,
	`{"resourceType":"ServiceRequest","id":"fu-other","status":"active","intent":"order","subject":{"reference":"Patient/other"},
		"code":{"text":"Liver follow-up"},"reasonReference":[{"reference":"DiagnosticReport/r9"}],"performer":[{"reference":"Practitioner/doc"}]}`,
}

func slot(id, schedule, status, start string) string {
	t, err := time.Parse(time.RFC3339, start)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"resourceType":"Slot","id":%q,"schedule":{"reference":"Schedule/%s"},"status":%q,"start":%q,"end":%q}`,
		id, schedule, status, start, t.Add(20*time.Minute).Format(time.RFC3339))
}

// put stores resources in one transaction and returns their versions.
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

// read returns the current version of a resource.
func (e *env) read(typ, id string) *fhir.Stored {
	e.t.Helper()
	st, err := e.store.Read(context.Background(), e.org, typ, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// slotState returns a slot's status and version.
func (e *env) slotState(id string) (string, int64) {
	e.t.Helper()
	st := e.read("Slot", id)
	return gjson.GetBytes(st.JSON, "status").String(), st.VersionID
}

// appointmentsOf returns the ids of the appointments based on an order.
func (e *env) appointmentsOf(orderRef string) []string {
	e.t.Helper()
	res, err := e.search.Search(context.Background(), e.org, "Appointment", url.Values{"based-on": {orderRef}}, false)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, st := range res.Matches {
		ids = append(ids, st.ID)
	}
	return ids
}

// person is a signed-in person reaching the patients given.
func (e *env) person(role string, patients ...string) *fhir.Principal {
	return &fhir.Principal{OrgID: e.org, Subject: "account/" + role, Kind: "user", Role: role,
		Compartments: func(string) ([]string, bool) { return patients, true }}
}

// recordingAudit keeps the entries it is given; with fail set it refuses
// them.
type recordingAudit struct {
	mu     sync.Mutex
	fail   bool
	reads  []fhir.AuditEvent
	writes []fhir.AuditEvent
}

func (a *recordingAudit) Record(_ context.Context, _ *fhir.Principal, ev fhir.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit store down")
	}
	a.reads = append(a.reads, ev)
	return nil
}

func (a *recordingAudit) RecordTx(_ context.Context, tx *sql.Tx, _ *fhir.Principal, ev fhir.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("audit store down")
	}
	if tx == nil {
		return errors.New("RecordTx without a transaction")
	}
	a.writes = append(a.writes, ev)
	return nil
}

func (a *recordingAudit) last() (reads, writes []fhir.AuditEvent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reads), slices.Clone(a.writes)
}

// tableNotifier stores each event, checked as notify checks it, in a table
// of the test database through the transaction it is given: an event is
// there exactly when the change that caused it committed.
type tableNotifier struct {
	d    *db.DB
	mu   sync.Mutex
	fail bool
}

func newTableNotifier(t *testing.T, d *db.DB) *tableNotifier {
	dbtest.MustExec(t, d, `CREATE TABLE test_notices (org_id TEXT NOT NULL, idem_key TEXT NOT NULL, kind TEXT NOT NULL,
		recipient TEXT NOT NULL, patient_id TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL, about_at TEXT NOT NULL)`)
	return &tableNotifier{d: d}
}

func (n *tableNotifier) EnqueueTx(ctx context.Context, tx *sql.Tx, e notify.Event) error {
	n.mu.Lock()
	fail := n.fail
	n.mu.Unlock()
	if fail {
		return errors.New("notifications down")
	}
	if err := e.Check(); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO test_notices VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.OrgID, e.Key, e.Kind, e.Recipient, e.PatientID, e.Target, e.Detail, e.AboutAt.UTC().Format(time.RFC3339))
	return err
}

func (n *tableNotifier) setFail(v bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fail = v
}

// notices returns the stored events, as "kind key recipient target detail about".
func (e *env) notices() []string {
	e.t.Helper()
	rows, err := e.d.Read.QueryContext(context.Background(), `SELECT kind, idem_key, recipient, patient_id, target, detail, about_at
		FROM test_notices WHERE org_id = $1 ORDER BY idem_key`, e.org)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var kind, key, to, patient, target, detail, about string
		if err := rows.Scan(&kind, &key, &to, &patient, &target, &detail, &about); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, strings.Join([]string{kind, key, to, patient, target, detail, about}, " | "))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func wantCode(t *testing.T, what string, err error, code errs.Code) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("%s: got %v, want %s", what, err, code)
	}
}

func slotIDs(slots []booking.Slot) string {
	var ids []string
	for _, s := range slots {
		ids = append(ids, s.ID)
	}
	return strings.Join(ids, " ")
}

// TestSlots: the times offered are the free slots of the active schedules
// of the order's performer (of every active schedule without one),
// starting at least an hour from now, within the window, by start.
func TestSlots(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		slots, err := e.s.Slots(ctx, pat, "ServiceRequest/fu", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slotIDs(slots); got != "s1 s2 s3" {
			t.Fatalf("slots of Dr Silva's follow-up: %q, want s1 s2 s3", got)
		}
		want := booking.Slot{ID: "s1", Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 23, 9, 20, 0, 0, time.UTC),
			With: "Dr Ana Silva", Where: "Riverside Clinic", ServiceType: "General practice"}
		if slots[0] != want {
			t.Fatalf("slot s1: %+v, want %+v", slots[0], want)
		}
		slots, err = e.s.Slots(ctx, pat, "ServiceRequest/fu-any", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if got := slotIDs(slots); got != "s1 s-doc2 s2 s3" {
			t.Fatalf("slots of a follow-up without performer: %q", got)
		}
		if slots[1].With != "Dr Ben Okafor" || slots[1].ServiceType != "Nephrology" {
			t.Fatalf("slot s-doc2: %+v", slots[1])
		}
		// A window reaching the slot in January, and one that starts later.
		slots, err = e.s.Slots(ctx, pat, "ServiceRequest/fu", time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		if got := slotIDs(slots); got != "s3 s-late" {
			t.Fatalf("slots from the 24th to February: %q", got)
		}
		// At 8:00 on Monday, 9:00 is still offered; at 8:30 it is within
		// the hour's notice.
		e.now = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
		if slots, _ := e.s.Slots(ctx, pat, "ServiceRequest/fu", time.Time{}, time.Time{}); slotIDs(slots) != "s1 s2 s3" {
			t.Fatalf("slots at 8:00 on Monday: %q", slotIDs(slots))
		}
		e.now = time.Date(2026, 11, 23, 8, 30, 0, 0, time.UTC)
		if slots, _ := e.s.Slots(ctx, pat, "ServiceRequest/fu", time.Time{}, time.Time{}); slotIDs(slots) != "s2 s3" {
			t.Fatalf("slots at 8:30 on Monday: %q", slotIDs(slots))
		}
		e.now = now
		// Bad windows and orders.
		_, err = e.s.Slots(ctx, pat, "ServiceRequest/fu", now, now.Add(91*24*time.Hour))
		wantCode(t, "a window of 91 days", err, errs.Invalid)
		if errs.FieldOf(err) != "to" {
			t.Fatalf("a window of 91 days names %q", errs.FieldOf(err))
		}
		_, err = e.s.Slots(ctx, pat, "ServiceRequest/fu", now, now.Add(-time.Hour))
		wantCode(t, "a window ending before it starts", err, errs.Invalid)
		_, err = e.s.Slots(ctx, pat, "Observation/fu", time.Time{}, time.Time{})
		wantCode(t, "an order that is not a ServiceRequest", err, errs.Invalid)
		_, err = e.s.Slots(ctx, pat, "ServiceRequest/fu-done", time.Time{}, time.Time{})
		wantCode(t, "a completed follow-up", err, errs.Conflict)
		_, err = e.s.Slots(ctx, pat, "ServiceRequest/lab", time.Time{}, time.Time{})
		wantCode(t, "an order that is not a follow-up", err, errs.NotFound)
		// Each answer was audited with the order read.
		reads, _ := e.audit.last()
		if len(reads) == 0 {
			t.Fatal("no audit entries")
		}
		ev := reads[0]
		if ev.Interaction != fhir.InteractionSearch || ev.Type != "Slot" || ev.Operation != "booking-slots" || len(ev.Resources) != 1 ||
			ev.Resources[0].Ref() != "ServiceRequest/fu" || !strings.Contains(ev.Query, "order=ServiceRequest/fu") {
			t.Fatalf("audit of the slots: %+v", ev)
		}
	})
}

// TestBook: booking writes the appointment the journeys follow and makes
// the slot busy, audited and confirmed in the same transaction.
func TestBook(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		want := booking.Appointment{ID: a.ID, Status: "booked", OrderRef: "ServiceRequest/fu", PatientID: "pat", SlotID: "s1",
			With: "Dr Ana Silva", Where: "Riverside Clinic", Description: "Kidney follow-up visit",
			Start: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 23, 9, 20, 0, 0, time.UTC), Version: 1}
		if *a != want {
			t.Fatalf("booked %+v, want %+v", *a, want)
		}
		st := e.read("Appointment", a.ID)
		if issues := validate.Resource("Appointment", st.JSON); validate.HasErrors(issues) {
			t.Fatalf("the appointment is not valid R4: %+v\n%s", issues, st.JSON)
		}
		doc := gjson.ParseBytes(st.JSON)
		for path, v := range map[string]string{
			"status": "booked", "basedOn.0.reference": "ServiceRequest/fu", "slot.0.reference": "Slot/s1",
			"start": "2026-11-23T09:00:00Z", "end": "2026-11-23T09:20:00Z", "serviceType.0.text": "General practice",
			"description": "Kidney follow-up visit", "participant.0.actor.reference": "Patient/pat", "participant.0.status": "accepted",
			"participant.1.actor.reference": "Practitioner/doc", "participant.1.actor.display": "Dr Ana Silva",
			"participant.2.actor.reference": "Location/clinic", "participant.#": "3",
		} {
			if got := doc.Get(path).String(); got != v {
				t.Errorf("Appointment %s = %q, want %q", path, got, v)
			}
		}
		if status, version := e.slotState("s1"); status != "busy" || version != 2 {
			t.Fatalf("slot s1 is %s at version %d, want busy at 2", status, version)
		}
		slotSt := e.read("Slot", "s1")
		if issues := validate.Resource("Slot", slotSt.JSON); validate.HasErrors(issues) {
			t.Fatalf("the slot is not valid R4: %+v", issues)
		}
		_, writes := e.audit.last()
		if len(writes) != 1 || writes[0].Interaction != fhir.InteractionCreate || writes[0].Operation != "booking-book" ||
			len(writes[0].Resources) != 2 || writes[0].Resources[0].Ref() != "Appointment/"+a.ID || writes[0].Resources[1].Ref() != "Slot/s1" {
			t.Fatalf("audit of the booking: %+v", writes)
		}
		wantNotice := fmt.Sprintf("appointment-booked | appointment:%s:v1 | Patient/pat | pat | /appointments/%s | Kidney follow-up visit | 2026-11-23T09:00:00Z", a.ID, a.ID)
		if got := e.notices(); len(got) != 1 || got[0] != wantNotice {
			t.Fatalf("notices %q, want %q", got, wantNotice)
		}
		// The follow-up shows its appointment; it cannot be booked twice.
		f, err := e.s.FollowUp(ctx, pat, "ServiceRequest/fu")
		if err != nil {
			t.Fatal(err)
		}
		if f.Appointment == nil || f.Appointment.ID != a.ID || f.Performer != "Dr Ana Silva" || f.ReasonRef != "DiagnosticReport/r1" {
			t.Fatalf("follow-up after booking: %+v", f)
		}
		_, err = e.s.Book(ctx, pat, "ServiceRequest/fu", "s2")
		wantCode(t, "booking a booked follow-up again", err, errs.Conflict)
		if status, _ := e.slotState("s2"); status != "free" || len(e.appointmentsOf("ServiceRequest/fu")) != 1 {
			t.Fatalf("the second booking changed something: s2 %s, appointments %v", status, e.appointmentsOf("ServiceRequest/fu"))
		}
		// Slots that do not suit the follow-up without performer: busy, too
		// soon, an inactive schedule's, unknown, none.
		for _, tc := range []struct {
			slot string
			code errs.Code
		}{{"s-busy", errs.Conflict}, {"s-soon", errs.Conflict}, {"s-off", errs.Invalid}, {"nope", errs.NotFound}, {"", errs.Invalid}} {
			_, err := e.s.Book(ctx, pat, "ServiceRequest/fu-any", tc.slot)
			wantCode(t, "booking slot "+tc.slot, err, tc.code)
		}
		if ids := e.appointmentsOf("ServiceRequest/fu-any"); len(ids) != 0 {
			t.Fatalf("refused bookings stored %v", ids)
		}
		_, err = e.s.Book(ctx, pat, "ServiceRequest/fu-done", "s2")
		wantCode(t, "booking a completed follow-up", err, errs.Conflict)
		// Dr Okafor's slot does not suit Dr Silva's follow-up.
		e.cancelAll(pat, "ServiceRequest/fu")
		_, err = e.s.Book(ctx, pat, "ServiceRequest/fu", "s-doc2")
		wantCode(t, "booking another clinician's slot", err, errs.Invalid)
		if errs.FieldOf(err) != "slot" {
			t.Fatalf("the error names %q, want slot", errs.FieldOf(err))
		}
	})
}

// cancelAll cancels the active appointments of an order.
func (e *env) cancelAll(p *fhir.Principal, orderRef string) {
	e.t.Helper()
	for _, id := range e.appointmentsOf(orderRef) {
		a, err := e.s.Appointment(context.Background(), p, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if a.Status == "booked" {
			if _, err := e.s.Cancel(context.Background(), p, id, ""); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// TestSlotTaken: a slot booked by someone else is refused with a clear
// message, and the refused booking changes nothing.
func TestSlotTaken(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		if _, err := e.s.Book(ctx, e.person("patient", "pat"), "ServiceRequest/fu", "s1"); err != nil {
			t.Fatal(err)
		}
		_, version := e.slotState("s1")
		notices := e.notices()
		_, writes := e.audit.last()
		_, err := e.s.Book(ctx, e.person("patient", "other"), "ServiceRequest/fu-other", "s1")
		wantCode(t, "booking a taken slot", err, errs.Conflict)
		if msg := errs.MessageOf(err); msg != "This time has just been taken. Please choose another." {
			t.Fatalf("message %q", msg)
		}
		if _, v := e.slotState("s1"); v != version {
			t.Fatalf("the slot changed: version %d, was %d", v, version)
		}
		if ids := e.appointmentsOf("ServiceRequest/fu-other"); len(ids) != 0 {
			t.Fatalf("appointments stored for the refused booking: %v", ids)
		}
		if got := e.notices(); !slices.Equal(got, notices) {
			t.Fatalf("notices changed: %q", got)
		}
		if _, w := e.audit.last(); len(w) != len(writes) {
			t.Fatalf("the refused booking was audited as a change: %+v", w[len(writes):])
		}
	})
}

// TestSlot: one time of an order, as the confirmation page shows it; taken,
// unknown or someone else's order refused as booking would.
func TestSlot(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		sl, err := e.s.Slot(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		all, err := e.s.Slots(ctx, pat, "ServiceRequest/fu", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(all, func(x booking.Slot) bool { return x.ID == "s1" }); i < 0 || all[i] != *sl {
			t.Fatalf("Slot %+v is not as Slots lists it", sl)
		}
		_, err = e.s.Slot(ctx, pat, "ServiceRequest/fu", "no-such-slot")
		wantCode(t, "an unknown slot", err, errs.NotFound)
		_, err = e.s.Slot(ctx, e.person("patient", "other"), "ServiceRequest/fu", "s1")
		wantCode(t, "someone else's order", err, errs.NotFound)
		if _, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1"); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Slot(ctx, e.person("patient", "other"), "ServiceRequest/fu-other", "s1")
		wantCode(t, "a taken slot", err, errs.Conflict)
	})
}

// TestConcurrentBooking: two people booking one slot at the same moment:
// exactly one wins, the other is told the time was taken. The same
// follow-up booked twice at once gets one appointment.
func TestConcurrentBooking(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		const rounds = 4
		for i := range rounds {
			start := fmt.Sprintf("2026-11-25T%02d:00:00Z", 9+i)
			e.put(slot(fmt.Sprintf("c%d", i), "sch-doc", "free", start),
				fmt.Sprintf(`{"resourceType":"ServiceRequest","id":"a%d","status":"active","intent":"order","subject":{"reference":"Patient/pat"},
					"reasonReference":[{"reference":"DiagnosticReport/r1"}]}`, i),
				fmt.Sprintf(`{"resourceType":"ServiceRequest","id":"b%d","status":"active","intent":"order","subject":{"reference":"Patient/other"},
					"reasonReference":[{"reference":"DiagnosticReport/r9"}]}`, i))
		}
		race := func(calls ...func() error) []error {
			out := make([]error, len(calls))
			var ready, wg sync.WaitGroup
			gate := make(chan struct{})
			for i, call := range calls {
				ready.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					ready.Done()
					<-gate
					out[i] = call()
				}()
			}
			ready.Wait()
			close(gate)
			wg.Wait()
			return out
		}
		pat, other := e.person("patient", "pat"), e.person("patient", "other")
		for i := range rounds {
			slotID := fmt.Sprintf("c%d", i)
			errs2 := race(
				func() error { _, err := e.s.Book(ctx, pat, fmt.Sprintf("ServiceRequest/a%d", i), slotID); return err },
				func() error { _, err := e.s.Book(ctx, other, fmt.Sprintf("ServiceRequest/b%d", i), slotID); return err },
			)
			won := 0
			for _, err := range errs2 {
				switch {
				case err == nil:
					won++
				case errs.MessageOf(err) != "This time has just been taken. Please choose another.":
					t.Fatalf("round %d: the loser got %v", i, err)
				}
			}
			booked := len(e.appointmentsOf(fmt.Sprintf("ServiceRequest/a%d", i))) + len(e.appointmentsOf(fmt.Sprintf("ServiceRequest/b%d", i)))
			if won != 1 || booked != 1 {
				t.Fatalf("round %d: %d bookings succeeded and %d appointments stored (%v), want 1 and 1", i, won, booked, errs2)
			}
			if status, version := e.slotState(slotID); status != "busy" || version != 2 {
				t.Fatalf("round %d: slot %s at version %d", i, status, version)
			}
		}
		// One follow-up, two slots, at once (a double submission).
		errs2 := race(
			func() error { _, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1"); return err },
			func() error { _, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s2"); return err },
		)
		if n := len(e.appointmentsOf("ServiceRequest/fu")); n != 1 || (errs2[0] == nil) == (errs2[1] == nil) {
			t.Fatalf("one follow-up booked twice at once: %d appointments, %v", n, errs2)
		}
		s1, _ := e.slotState("s1")
		s2, _ := e.slotState("s2")
		if (s1 == "busy") == (s2 == "busy") {
			t.Fatalf("slots after a double submission: s1 %s, s2 %s", s1, s2)
		}
	})
}

// TestReschedule: the same appointment moves to the new slot; the old one
// is free again.
func TestReschedule(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Reschedule(ctx, pat, a.ID, "s1")
		wantCode(t, "rescheduling to the same slot", err, errs.Invalid)
		_, err = e.s.Reschedule(ctx, pat, a.ID, "s-busy")
		wantCode(t, "rescheduling to a busy slot", err, errs.Conflict)
		_, err = e.s.Reschedule(ctx, pat, a.ID, "s-doc2")
		wantCode(t, "rescheduling to another clinician", err, errs.Invalid)
		b, err := e.s.Reschedule(ctx, pat, a.ID, "s3")
		if err != nil {
			t.Fatal(err)
		}
		if b.ID != a.ID || b.Status != "booked" || b.SlotID != "s3" || b.Version != 2 ||
			!b.Start.Equal(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)) || b.With != "Dr Ana Silva" {
			t.Fatalf("rescheduled: %+v", b)
		}
		st := e.read("Appointment", a.ID)
		if issues := validate.Resource("Appointment", st.JSON); validate.HasErrors(issues) {
			t.Fatalf("the appointment is not valid R4: %+v", issues)
		}
		doc := gjson.ParseBytes(st.JSON)
		if doc.Get("slot.0.reference").String() != "Slot/s3" || doc.Get("start").String() != "2026-11-24T09:00:00Z" ||
			doc.Get("participant.#").Int() != 3 || doc.Get("basedOn.0.reference").String() != "ServiceRequest/fu" {
			t.Fatalf("the appointment after rescheduling: %s", st.JSON)
		}
		if s1, _ := e.slotState("s1"); s1 != "free" {
			t.Fatalf("the old slot is %s", s1)
		}
		if s3, _ := e.slotState("s3"); s3 != "busy" {
			t.Fatalf("the new slot is %s", s3)
		}
		if ids := e.appointmentsOf("ServiceRequest/fu"); len(ids) != 1 {
			t.Fatalf("appointments of the order: %v", ids)
		}
		got := e.notices()
		if len(got) != 2 || !strings.HasPrefix(got[1], "appointment-changed | appointment:"+a.ID+":v2 | Patient/pat") || !strings.HasSuffix(got[1], "2026-11-24T09:00:00Z") {
			t.Fatalf("notices: %q", got)
		}
		_, writes := e.audit.last()
		if w := writes[len(writes)-1]; w.Interaction != fhir.InteractionUpdate || w.Operation != "booking-reschedule" || len(w.Resources) != 3 {
			t.Fatalf("audit of the change: %+v", w)
		}
		// The freed slot can be booked by someone else.
		if _, err := e.s.Book(ctx, e.person("patient", "other"), "ServiceRequest/fu-other", "s1"); err != nil {
			t.Fatal(err)
		}
		// A cancelled appointment cannot be moved.
		if _, err := e.s.Cancel(ctx, pat, a.ID, ""); err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Reschedule(ctx, pat, a.ID, "s2")
		wantCode(t, "rescheduling a cancelled appointment", err, errs.Conflict)
	})
}

// TestCancel: the appointment is cancelled with its reason and the slot
// is free again; a second cancellation is a conflict.
func TestCancel(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("caregiver", "pat")
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.s.Cancel(ctx, pat, a.ID, strings.Repeat("x", booking.MaxCancelReason+1))
		wantCode(t, "a reason too long", err, errs.Invalid)
		c, err := e.s.Cancel(ctx, pat, a.ID, "  Feeling better  ")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != "cancelled" || c.CancelReason != "Feeling better" || c.Version != 2 {
			t.Fatalf("cancelled: %+v", c)
		}
		st := e.read("Appointment", a.ID)
		if issues := validate.Resource("Appointment", st.JSON); validate.HasErrors(issues) {
			t.Fatalf("the appointment is not valid R4: %+v", issues)
		}
		if gjson.GetBytes(st.JSON, "cancelationReason.text").String() != "Feeling better" {
			t.Fatalf("stored: %s", st.JSON)
		}
		if s1, v := e.slotState("s1"); s1 != "free" || v != 3 {
			t.Fatalf("the slot is %s at version %d", s1, v)
		}
		_, err = e.s.Cancel(ctx, pat, a.ID, "")
		wantCode(t, "cancelling twice", err, errs.Conflict)
		if msg := errs.MessageOf(err); !strings.Contains(msg, "already cancelled") {
			t.Fatalf("message %q", msg)
		}
		if got := e.notices(); len(got) != 2 || !strings.HasPrefix(got[1], "appointment-cancelled | appointment:"+a.ID+":v2 | Patient/pat | pat | /appointments/"+a.ID+" | Kidney follow-up visit") {
			t.Fatalf("notices: %q", got)
		}
		// The follow-up is open again and can be booked anew.
		f, err := e.s.FollowUp(ctx, pat, "ServiceRequest/fu")
		if err != nil || f.Appointment != nil {
			t.Fatalf("follow-up after cancelling: %+v, %v", f, err)
		}
		if _, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1"); err != nil {
			t.Fatal(err)
		}
		// A past appointment cannot be cancelled.
		e.put(`{"resourceType":"Appointment","id":"past","status":"booked","start":"2026-11-02T09:00:00Z","end":"2026-11-02T09:20:00Z",
			"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"}]}`)
		_, err = e.s.Cancel(ctx, pat, "past", "")
		wantCode(t, "cancelling a past appointment", err, errs.Conflict)
	})
}

// TestReach: orders and appointments of patients out of reach are not
// found, whoever asks; only people of booking roles book.
func TestReach(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat, other := e.person("patient", "pat"), e.person("patient", "other")
		a, err := e.s.Book(ctx, other, "ServiceRequest/fu-other", "s1")
		if err != nil {
			t.Fatal(err)
		}
		reads0, _ := e.audit.last()
		_, err = e.s.FollowUp(ctx, pat, "ServiceRequest/fu-other")
		wantCode(t, "someone else's follow-up", err, errs.NotFound)
		unknownMsg := errs.MessageOf(err)
		_, err = e.s.FollowUp(ctx, pat, "ServiceRequest/nothing")
		if errs.MessageOf(err) != strings.Replace(unknownMsg, "fu-other", "nothing", 1) {
			t.Fatalf("an unknown order answers %q, someone else's %q", errs.MessageOf(err), unknownMsg)
		}
		_, err = e.s.Slots(ctx, pat, "ServiceRequest/fu-other", time.Time{}, time.Time{})
		wantCode(t, "slots of someone else's follow-up", err, errs.NotFound)
		_, err = e.s.Book(ctx, pat, "ServiceRequest/fu-other", "s2")
		wantCode(t, "booking someone else's follow-up", err, errs.NotFound)
		_, err = e.s.Appointment(ctx, pat, a.ID)
		wantCode(t, "someone else's appointment", err, errs.NotFound)
		_, err = e.s.Reschedule(ctx, pat, a.ID, "s2")
		wantCode(t, "moving someone else's appointment", err, errs.NotFound)
		_, err = e.s.Cancel(ctx, pat, a.ID, "")
		wantCode(t, "cancelling someone else's appointment", err, errs.NotFound)
		if got, _ := e.slotState("s2"); got != "free" {
			t.Fatalf("s2 is %s", got)
		}
		if got, err := e.s.Appointment(ctx, other, a.ID); err != nil || got.Status != "booked" {
			t.Fatalf("the appointment after the attempts: %+v, %v", got, err)
		}
		reads, _ := e.audit.last()
		refused := 0
		for _, ev := range reads[len(reads0):] {
			if ev.Refused {
				refused++
			}
		}
		if refused != 6 {
			t.Fatalf("%d refusals recorded, want 6: %+v", refused, reads[len(reads0):])
		}
		// A Consent closing the patient's appointments to a caregiver takes
		// the patient out of reach.
		closed := &fhir.Principal{OrgID: e.org, Subject: "account/cg", Kind: "user", Role: "caregiver",
			Compartments: func(typ string) ([]string, bool) {
				if typ == "Appointment" {
					return nil, true
				}
				return []string{"other"}, true
			}}
		_, err = e.s.FollowUp(ctx, closed, "ServiceRequest/fu-other")
		wantCode(t, "a follow-up behind a Consent", err, errs.NotFound)
		// The care team books for the patients they reach; a care
		// coordinator reaches every patient.
		nurse := e.person("nurse", "pat")
		if _, err := e.s.Book(ctx, nurse, "ServiceRequest/fu", "s2"); err != nil {
			t.Fatal(err)
		}
		coordinator := &fhir.Principal{OrgID: e.org, Subject: "account/cc", Kind: "user", Role: "care-coordinator"}
		if _, err := e.s.Book(ctx, coordinator, "ServiceRequest/fu-any", "s3"); err != nil {
			t.Fatal(err)
		}
		if as, err := e.s.Appointments(ctx, coordinator); err != nil || len(as) != 3 {
			t.Fatalf("the coordinator's appointments: %+v, %v", as, err)
		}
		_, err = e.s.FollowUp(ctx, e.person("clinician", "other"), "ServiceRequest/fu")
		wantCode(t, "a clinician outside the patient's care", err, errs.NotFound)
		// Roles and systems that may not book.
		for _, p := range []*fhir.Principal{
			e.person("technician", "pat"), e.person("compliance-officer", "pat"), e.person("org-admin"),
			{OrgID: e.org, Subject: "apikey/1", Kind: "api-key"},
			{OrgID: e.org, Subject: "client/1", Kind: "client", Scopes: []string{"system/Appointment.cruds", "system/Slot.cruds"}},
		} {
			_, err := e.s.Book(ctx, p, "ServiceRequest/fu-done", "s-doc2")
			wantCode(t, p.Kind+" "+p.Role+" booking", err, errs.Forbidden)
			_, err = e.s.FollowUps(ctx, p)
			wantCode(t, p.Kind+" "+p.Role+" reading follow-ups", err, errs.Forbidden)
		}
		_, err = e.s.FollowUps(ctx, nil)
		wantCode(t, "nobody", err, errs.Unauthorized)
	})
}

// TestFollowUpsAndAppointments: the lists show what the caller reaches,
// in their order.
func TestFollowUpsAndAppointments(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		fs, err := e.s.FollowUps(ctx, pat)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 2 || fs[0].OrderRef != "ServiceRequest/fu-any" || fs[1].OrderRef != "ServiceRequest/fu" {
			t.Fatalf("follow-ups: %+v", fs)
		}
		want := booking.FollowUp{OrderRef: "ServiceRequest/fu-any", PatientID: "pat", Display: "Follow-up visit", Status: "active",
			ReasonRef: "Observation/o1", RecommendedAt: time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)}
		if fs[0] != want {
			t.Fatalf("follow-up without performer or text: %+v, want %+v", fs[0], want)
		}
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s2")
		if err != nil {
			t.Fatal(err)
		}
		e.put(`{"resourceType":"Appointment","id":"past","status":"fulfilled","start":"2026-11-02T09:00:00Z","end":"2026-11-02T09:20:00Z",
				"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"},{"actor":{"reference":"Practitioner/doc2"},"status":"accepted"}]}`,
			`{"resourceType":"Appointment","id":"older","status":"fulfilled","start":"2026-10-02T09:00:00Z","end":"2026-10-02T09:20:00Z",
				"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"}]}`,
			`{"resourceType":"Appointment","id":"later","status":"booked","start":"2026-12-02T09:00:00Z","end":"2026-12-02T09:20:00Z",
				"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"},{"actor":{"reference":"Location/clinic","display":"Main"},"status":"accepted"}]}`,
			`{"resourceType":"Appointment","id":"wrong","status":"entered-in-error","start":"2026-11-30T09:00:00Z","end":"2026-11-30T09:20:00Z",
				"participant":[{"actor":{"reference":"Patient/pat"},"status":"accepted"}]}`,
			`{"resourceType":"Appointment","id":"theirs","status":"booked","start":"2026-11-30T09:00:00Z","end":"2026-11-30T09:20:00Z",
				"participant":[{"actor":{"reference":"Patient/other"},"status":"accepted"}]}`)
		as, err := e.s.Appointments(ctx, pat)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, x := range as {
			ids = append(ids, x.ID)
		}
		if got := strings.Join(ids, " "); got != a.ID+" later past older" {
			t.Fatalf("appointments %q, want upcoming then past", got)
		}
		if as[1].Where != "Riverside Clinic" || as[2].With != "Dr Ben Okafor" {
			t.Fatalf("names: %+v", as)
		}
		_, err = e.s.Appointment(ctx, pat, "wrong")
		wantCode(t, "an appointment entered in error", err, errs.NotFound)
		fs, err = e.s.FollowUps(ctx, pat)
		if err != nil || fs[1].Appointment == nil || fs[1].Appointment.ID != a.ID || fs[0].Appointment != nil {
			t.Fatalf("follow-ups after booking: %+v, %v", fs, err)
		}
		reads, _ := e.audit.last()
		last := reads[len(reads)-1]
		if last.Operation != "booking-followups" || last.Interaction != fhir.InteractionSearch || len(last.Resources) != 3 {
			t.Fatalf("audit of the follow-ups: %+v", last)
		}
		// A patient whose every record is closed sees nothing.
		if fs, err := e.s.FollowUps(ctx, e.person("patient")); err != nil || len(fs) != 0 {
			t.Fatalf("follow-ups of nobody: %+v, %v", fs, err)
		}
	})
}

// TestAuditFailsClosed: when the audit log cannot store an entry, reads
// return nothing and changes store nothing.
func TestAuditFailsClosed(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		e.audit.fail = true
		if fs, err := e.s.FollowUps(ctx, pat); err == nil || fs != nil {
			t.Fatalf("follow-ups without audit: %+v, %v", fs, err)
		}
		if _, err := e.s.FollowUp(ctx, pat, "ServiceRequest/fu"); err == nil {
			t.Fatal("a follow-up read without audit")
		}
		if _, err := e.s.Slots(ctx, pat, "ServiceRequest/fu-any", time.Time{}, time.Time{}); err == nil {
			t.Fatal("slots read without audit")
		}
		if _, err := e.s.Appointments(ctx, pat); err == nil {
			t.Fatal("appointments read without audit")
		}
		if _, err := e.s.Appointment(ctx, pat, a.ID); err == nil {
			t.Fatal("an appointment read without audit")
		}
		if _, err := e.s.Book(ctx, pat, "ServiceRequest/fu-any", "s2"); err == nil {
			t.Fatal("booked without audit")
		}
		if _, err := e.s.Reschedule(ctx, pat, a.ID, "s3"); err == nil {
			t.Fatal("rescheduled without audit")
		}
		if _, err := e.s.Cancel(ctx, pat, a.ID, ""); err == nil {
			t.Fatal("cancelled without audit")
		}
		for id, want := range map[string]string{"s1": "busy", "s2": "free", "s3": "free"} {
			if got, _ := e.slotState(id); got != want {
				t.Fatalf("slot %s is %s, want %s", id, got, want)
			}
		}
		if st := e.read("Appointment", a.ID); st.VersionID != 1 || len(e.appointmentsOf("ServiceRequest/fu-any")) != 0 {
			t.Fatalf("changes stored without audit: appointment at version %d", st.VersionID)
		}
		if n := len(e.notices()); n != 1 {
			t.Fatalf("%d notices, want the first booking's only", n)
		}
	})
}

// TestNotifierFailureRollsBack: a confirmation that cannot be stored
// undoes the booking; without a notifier booking works and tells nobody.
func TestNotifierFailureRollsBack(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		pat := e.person("patient", "pat")
		e.notes.setFail(true)
		if _, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1"); err == nil {
			t.Fatal("booked without the confirmation")
		}
		if status, version := e.slotState("s1"); status != "free" || version != 1 || len(e.appointmentsOf("ServiceRequest/fu")) != 0 {
			t.Fatalf("the failed booking left slot %s at %d, appointments %v", status, version, e.appointmentsOf("ServiceRequest/fu"))
		}
		e.notes.setFail(false)
		a, err := e.s.Book(ctx, pat, "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		e.notes.setFail(true)
		if _, err := e.s.Cancel(ctx, pat, a.ID, ""); err == nil {
			t.Fatal("cancelled without the message")
		}
		if status, _ := e.slotState("s1"); status != "busy" || e.read("Appointment", a.ID).VersionID != 1 {
			t.Fatal("the failed cancellation changed something")
		}
		quiet := booking.New(booking.Config{DB: d, Store: e.store, Search: e.search, Audit: e.audit, Now: e.clock})
		if _, err := quiet.Book(ctx, pat, "ServiceRequest/fu-any", "s2"); err != nil {
			t.Fatal(err)
		}
		if n := len(e.notices()); n != 1 {
			t.Fatalf("%d notices", n)
		}
	})
}

// TestJourneyFollowsBooking: the journeys, applying the versions booking
// wrote, see the result's follow-up booked.
func TestJourneyFollowsBooking(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		apply := func(versions []string) {
			t.Helper()
			if err := d.InTx(ctx, func(tx *sql.Tx) error { _, err := e.journey.Apply(ctx, tx, e.org, versions); return err }); err != nil {
				t.Fatal(err)
			}
		}
		apply(e.put(`{"resourceType":"DiagnosticReport","id":"r1","status":"final","subject":{"reference":"Patient/pat"},
			"code":{"coding":[{"system":"http://loinc.org","code":"24362-6"}]},"issued":"2026-11-20T08:30:00Z"}`))
		apply([]string{"ServiceRequest/fu/_history/1"})
		j, _, err := e.journey.ByAnchor(ctx, e.org, "DiagnosticReport/r1")
		if err != nil {
			t.Fatal(err)
		}
		if j.FollowupAt == nil {
			t.Fatalf("the follow-up was not recommended: %+v", j)
		}
		a, err := e.s.Book(ctx, e.person("patient", "pat"), "ServiceRequest/fu", "s1")
		if err != nil {
			t.Fatal(err)
		}
		apply([]string{fmt.Sprintf("Appointment/%s/_history/%d", a.ID, a.Version)})
		if j, _, _ = e.journey.ByAnchor(ctx, e.org, "DiagnosticReport/r1"); j.Stage != journey.FollowupBooked || j.BookedAt == nil {
			t.Fatalf("after booking the journey is %s: %+v", j.Stage, j)
		}
	})
}
