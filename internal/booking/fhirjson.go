package booking

import (
	"context"
	"database/sql"
	"regexp"
	"strings"
	"time"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
)

// This file reads what booking needs from the FHIR JSON of orders,
// schedules, slots and appointments.

var (
	// relRef is a relative reference, with or without a version.
	relRef = regexp.MustCompile(`^([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(?:/_history/[0-9]+)?$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// cutRef splits "Type/id".
func cutRef(ref string) (typ, id string, ok bool) {
	m := relRef.FindStringSubmatch(ref)
	if m == nil || strings.Contains(ref, "/_history/") {
		return "", "", false
	}
	return m[1], m[2], true
}

// localRef returns a reference to a resource of this server as "Type/id":
// relative, or absolute under the base URL; "" for anything else
// (contained, urn:uuid, another server).
func (s *Service) localRef(ref string) string {
	if s.base != "" {
		if rest, ok := strings.CutPrefix(ref, s.base+"/"); ok {
			ref = rest
		}
	}
	m := relRef.FindStringSubmatch(ref)
	if m == nil {
		return ""
	}
	return m[1] + "/" + m[2]
}

// parseTime reads a FHIR instant or dateTime (a date alone counts from
// its midnight UTC).
func parseTime(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// instant formats t as a FHIR instant.
func instant(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// conceptText returns the words of a CodeableConcept: its text, else its
// first coding's display.
func conceptText(c gjson.Result) string {
	if t := strings.TrimSpace(c.Get("text").String()); t != "" {
		return t
	}
	var out string
	c.Get("coding").ForEach(func(_, v gjson.Result) bool {
		out = strings.TrimSpace(v.Get("display").String())
		return out == ""
	})
	return out
}

// followUpDisplay is what a follow-up is called when its order says nothing.
const followUpDisplay = "Follow-up visit"

// order is a follow-up order as booking reads it.
type order struct {
	st        *fhir.Stored
	ref       string // "ServiceRequest/id"
	status    string
	intent    string
	patientID string
	reasonRef string // the first reasonReference to a DiagnosticReport or Observation
	display   string
	// performers are the order's performers a Schedule can name as its
	// actor (Practitioner, PractitionerRole, HealthcareService, Location);
	// performerName is the first one's display, as the order gives it.
	performers    []string
	performerName string
	at            time.Time // authoredOn, else meta.lastUpdated
}

// schedulable are the performer types a Schedule's actor can be.
var schedulable = map[string]bool{"Practitioner": true, "PractitionerRole": true, "HealthcareService": true, "Location": true}

// parseOrder reads a ServiceRequest; ok is false when it is not a
// follow-up: its intent is not order or plan, its subject is no Patient,
// or no reasonReference names a DiagnosticReport or Observation.
func (s *Service) parseOrder(st *fhir.Stored) (o *order, ok bool) {
	if st.Type != "ServiceRequest" {
		return nil, false
	}
	doc := gjson.ParseBytes(st.JSON)
	o = &order{st: st, ref: st.Ref(), status: doc.Get("status").String(), intent: doc.Get("intent").String()}
	if o.intent != "order" && o.intent != "plan" {
		return nil, false
	}
	if t, id, ok := cutRef(s.localRef(doc.Get("subject.reference").String())); ok && t == "Patient" {
		o.patientID = id
	} else {
		return nil, false
	}
	doc.Get("reasonReference").ForEach(func(_, v gjson.Result) bool {
		ref := s.localRef(v.Get("reference").String())
		if strings.HasPrefix(ref, "DiagnosticReport/") || strings.HasPrefix(ref, "Observation/") {
			o.reasonRef = ref
			return false
		}
		return true
	})
	if o.reasonRef == "" {
		return nil, false
	}
	if o.display = conceptText(doc.Get("code")); o.display == "" {
		o.display = followUpDisplay
	}
	doc.Get("performer").ForEach(func(_, v gjson.Result) bool {
		ref := s.localRef(v.Get("reference").String())
		if t, _, ok := cutRef(ref); ok && schedulable[t] {
			if len(o.performers) == 0 {
				o.performerName = v.Get("display").String()
			}
			o.performers = append(o.performers, ref)
		}
		return true
	})
	o.at = st.LastUpdated
	if t, ok := parseTime(doc.Get("authoredOn").String()); ok {
		o.at = t
	}
	return o, true
}

// schedule is a Schedule as booking reads it.
type schedule struct {
	st          *fhir.Stored
	active      bool
	actors      []actor
	serviceType []byte // the serviceType JSON array, copied to appointments
	serviceText string
}

// actor is a reference to a participant, with the display it came with.
type actor struct{ ref, display string }

func (s *Service) parseSchedule(st *fhir.Stored) *schedule {
	doc := gjson.ParseBytes(st.JSON)
	sc := &schedule{st: st, active: doc.Get("active").Type == gjson.True}
	doc.Get("actor").ForEach(func(_, v gjson.Result) bool {
		if ref := s.localRef(v.Get("reference").String()); ref != "" {
			sc.actors = append(sc.actors, actor{ref: ref, display: v.Get("display").String()})
		}
		return true
	})
	if st := doc.Get("serviceType"); st.IsArray() && len(st.Array()) > 0 {
		sc.serviceType = []byte(st.Raw)
		sc.serviceText = conceptText(st.Array()[0])
	}
	return sc
}

// hasActor reports whether one of refs is an actor of the schedule.
func (sc *schedule) hasActor(refs []string) bool {
	for _, a := range sc.actors {
		for _, r := range refs {
			if a.ref == r {
				return true
			}
		}
	}
	return false
}

// slot is a Slot as booking reads it.
type slot struct {
	st          *fhir.Stored
	scheduleRef string
	status      string
	start, end  time.Time
	startRaw    string // as written, copied to appointments
	endRaw      string
	serviceText string
}

// parseSlot reads a Slot; ok is false when it has no schedule or no
// well-formed start and end.
func (s *Service) parseSlot(st *fhir.Stored) (*slot, bool) {
	doc := gjson.ParseBytes(st.JSON)
	sl := &slot{st: st, scheduleRef: s.localRef(doc.Get("schedule.reference").String()), status: doc.Get("status").String(),
		startRaw: doc.Get("start").String(), endRaw: doc.Get("end").String(), serviceText: conceptText(doc.Get("serviceType.0"))}
	var okStart, okEnd bool
	sl.start, okStart = parseTime(sl.startRaw)
	sl.end, okEnd = parseTime(sl.endRaw)
	if !strings.HasPrefix(sl.scheduleRef, "Schedule/") || !okStart || !okEnd || !sl.end.After(sl.start) {
		return nil, false
	}
	return sl, true
}

// appointment is an Appointment as booking reads it.
type appointment struct {
	st        *fhir.Stored
	status    string
	orderRef  string // the first basedOn ServiceRequest
	patientID string // the first Patient participant
	slotID    string
	actors    []actor // participants other than the patient
	view      Appointment
}

func (s *Service) parseAppointment(st *fhir.Stored) *appointment {
	doc := gjson.ParseBytes(st.JSON)
	a := &appointment{st: st, status: doc.Get("status").String()}
	doc.Get("basedOn").ForEach(func(_, v gjson.Result) bool {
		if ref := s.localRef(v.Get("reference").String()); strings.HasPrefix(ref, "ServiceRequest/") {
			a.orderRef = ref
			return false
		}
		return true
	})
	doc.Get("participant").ForEach(func(_, v gjson.Result) bool {
		ref := s.localRef(v.Get("actor.reference").String())
		if t, id, ok := cutRef(ref); ok && t == "Patient" {
			if a.patientID == "" {
				a.patientID = id
			}
		} else if ok {
			a.actors = append(a.actors, actor{ref: ref, display: v.Get("actor.display").String()})
		}
		return true
	})
	doc.Get("slot").ForEach(func(_, v gjson.Result) bool {
		if t, id, ok := cutRef(s.localRef(v.Get("reference").String())); ok && t == "Slot" {
			a.slotID = id
			return false
		}
		return true
	})
	a.view = Appointment{ID: st.ID, Status: a.status, OrderRef: a.orderRef, PatientID: a.patientID, SlotID: a.slotID,
		Description: doc.Get("description").String(), CancelReason: conceptText(doc.Get("cancelationReason")), Version: st.VersionID}
	a.view.Start, _ = parseTime(doc.Get("start").String())
	a.view.End, _ = parseTime(doc.Get("end").String())
	return a
}

// activeAppointment are the statuses of an appointment that still stands.
var activeAppointment = map[string]bool{"booked": true, "pending": true, "arrived": true, "checked-in": true}

// activeStatuses is activeAppointment as a search value.
const activeStatuses = "booked,pending,arrived,checked-in"

// names finds the display names of practitioners, roles, services and
// locations, reading each once per call.
type names struct {
	s     *Service
	orgID string
	tx    *sql.Tx // nil: read committed data
	seen  map[string]string
}

func (s *Service) names(orgID string, tx *sql.Tx) *names {
	return &names{s: s, orgID: orgID, tx: tx, seen: map[string]string{}}
}

// of returns the name of the resource ref names, or display when the
// resource is unknown or has no name. Errors other than not found are
// returned.
func (n *names) of(ctx context.Context, a actor) (string, error) {
	if name, ok := n.seen[a.ref]; ok {
		if name == "" {
			return a.display, nil
		}
		return name, nil
	}
	typ, id, ok := cutRef(a.ref)
	if !ok {
		return a.display, nil
	}
	var st *fhir.Stored
	var err error
	if n.tx != nil {
		st, err = n.s.store.ReadTx(ctx, n.tx, n.orgID, typ, id)
	} else {
		st, err = n.s.store.Read(ctx, n.orgID, typ, id)
	}
	name := ""
	switch {
	case err == nil:
		name = nameOf(st)
	case errs.CodeOf(err) == errs.NotFound || errs.CodeOf(err) == errs.Gone:
	default:
		return "", err
	}
	n.seen[a.ref] = name
	if name == "" {
		return a.display, nil
	}
	return name, nil
}

// withWhere returns who a visit is with (the first person or service
// among actors) and where (the first location).
func (n *names) withWhere(ctx context.Context, actors []actor) (with, where string, err error) {
	for _, a := range actors {
		typ, _, _ := cutRef(a.ref)
		switch {
		case typ == "Location" && where == "":
			if where, err = n.of(ctx, a); err != nil {
				return "", "", err
			}
		case (typ == "Practitioner" || typ == "PractitionerRole" || typ == "HealthcareService") && with == "":
			if with, err = n.of(ctx, a); err != nil {
				return "", "", err
			}
		}
	}
	return with, where, nil
}

// nameOf returns how a Practitioner, PractitionerRole, HealthcareService
// or Location is named to patients.
func nameOf(st *fhir.Stored) string {
	doc := gjson.ParseBytes(st.JSON)
	switch st.Type {
	case "Practitioner":
		return humanName(doc.Get("name.0"))
	case "PractitionerRole":
		if d := doc.Get("practitioner.display").String(); d != "" {
			return d
		}
		return conceptText(doc.Get("code.0"))
	}
	return strings.TrimSpace(doc.Get("name").String())
}

// humanName writes a HumanName: its text, else prefix, given and family.
func humanName(n gjson.Result) string {
	if t := strings.TrimSpace(n.Get("text").String()); t != "" {
		return t
	}
	var parts []string
	for _, key := range []string{"prefix", "given"} {
		n.Get(key).ForEach(func(_, v gjson.Result) bool {
			if w := strings.TrimSpace(v.String()); w != "" {
				parts = append(parts, w)
			}
			return true
		})
	}
	if f := strings.TrimSpace(n.Get("family").String()); f != "" {
		parts = append(parts, f)
	}
	return strings.Join(parts, " ")
}
