package booking

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// The kinds of message a patient receives about their appointment.
const (
	KindBooked    = "appointment-booked"
	KindChanged   = "appointment-changed"
	KindCancelled = "appointment-cancelled"
)

// Book books the follow-up orderRef ("ServiceRequest/id") at the slot
// (its id, or "Slot/id") for the patient of the order, who p must reach.
//
// In one transaction it creates an Appointment (status booked, basedOn the
// order, slot the Slot, participants the Patient and the Schedule's actors,
// start and end from the Slot, serviceType from the Schedule, description
// the order's text), marks the Slot busy under its current version, records
// the audit entry and enqueues the patient's confirmation (kind
// appointment-booked). Either all of it is stored or none.
//
// Errors: errs.Invalid naming "order" or "slot" for malformed input or a
// slot of another clinician's or an inactive schedule; errs.NotFound for an
// order out of reach or not a follow-up, or an unknown slot; errs.Conflict
// when the order is no longer active, already has an active appointment,
// the slot starts within MinNotice, or the slot is taken, also by a booking
// at the same moment: of two people booking one slot exactly one succeeds,
// and the other is told "This time has just been taken. Please choose
// another."
func (s *Service) Book(ctx context.Context, p *fhir.Principal, orderRef, slotID string) (*Appointment, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	if _, err := parseOrderRef(orderRef); err != nil {
		return nil, err
	}
	slotID, err = parseSlotID(slotID)
	if err != nil {
		return nil, err
	}
	orgID := p.OrgID
	var out *Appointment
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx, orgID, orderRef); err != nil {
			return err
		}
		o, err := s.readOrder(ctx, c, tx, orderRef, "booking-book")
		if err != nil {
			return err
		}
		if o.status != "active" {
			return errNotOpen
		}
		booked, err := s.search.Match(ctx, tx, orgID, "Appointment", "based-on="+o.ref+"&status="+activeStatuses, 1)
		if err != nil {
			return fmt.Errorf("booking: appointments of %s: %w", o.ref, err)
		}
		if len(booked) > 0 {
			return errs.Conflictf("This follow-up is already booked (Appointment/%s): reschedule or cancel that appointment instead.", booked[0].ID)
		}
		sl, sc, err := s.readSlot(ctx, tx, orgID, slotID)
		if err != nil {
			return err
		}
		now := s.clock()
		if err := suitable(o, sc, sl, now); err != nil {
			return err
		}
		n := s.names(orgID, tx)
		raw, err := s.newAppointment(ctx, n, o, sl, sc, now)
		if err != nil {
			return err
		}
		slotSt, err := s.setSlot(ctx, tx, orgID, sl, "busy", errTaken.Message)
		if err != nil {
			return err
		}
		apSt, err := s.store.CreateTx(ctx, tx, orgID, "Appointment", "", raw)
		if err != nil {
			return fmt.Errorf("booking: create the appointment: %w", err)
		}
		a := s.parseAppointment(apSt)
		if out, err = s.view(ctx, n, a); err != nil {
			return err
		}
		ev := fhir.AuditEvent{Interaction: fhir.InteractionCreate, Operation: "booking-book", Type: "Appointment",
			Resources: []*fhir.Stored{apSt, slotSt}}
		if err := s.audit.RecordTx(ctx, tx, p, ev); err != nil {
			return fmt.Errorf("booking: audit the booking: %w", err)
		}
		return s.tell(ctx, tx, orgID, KindBooked, out, o.display)
	})
	if err != nil {
		s.recordRefusal(ctx, c, fhir.InteractionCreate, err)
		return nil, err
	}
	s.wake()
	return out, nil
}

// Reschedule moves an appointment p reaches to another slot: in one
// transaction the same Appointment (status booked) gets the new slot, start,
// end, service type and the new Schedule's actors in place of the old
// one's, the new Slot becomes busy and the old one free, the change is
// audited and the patient told (kind appointment-changed).
//
// The new slot must suit the appointment's follow-up order as in Book.
// Errors: errs.NotFound for an appointment out of reach (or entered in
// error) or an unknown slot; errs.Invalid naming "slot" for the
// appointment's own slot or an unsuitable one; errs.Conflict for a slot
// taken or too soon, an appointment cancelled, past or no longer booked, an
// appointment of no follow-up order, a follow-up no longer active, or an
// appointment changed at the same time.
func (s *Service) Reschedule(ctx context.Context, p *fhir.Principal, appointmentID, slotID string) (*Appointment, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	slotID, err = parseSlotID(slotID)
	if err != nil {
		return nil, err
	}
	orgID := p.OrgID
	var out *Appointment
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := s.lockAppointment(ctx, c, tx, appointmentID, "booking-reschedule")
		if err != nil {
			return err
		}
		now := s.clock()
		switch {
		case a.status == "cancelled":
			return errs.Conflictf("This appointment is cancelled: book a new time instead.")
		case a.status != "booked" && a.status != "pending":
			return errs.Conflictf("This appointment can no longer be changed.")
		case !a.view.Start.IsZero() && a.view.Start.Before(now):
			return errs.Conflictf("This appointment's time has passed: it can no longer be changed.")
		case a.orderRef == "":
			return errs.Conflictf("This appointment was not booked for a follow-up here: please contact the clinic to change it.")
		case a.slotID == slotID:
			return errs.Invalidf("slot", "This is already the time of the appointment.")
		}
		o, err := s.readOrder(ctx, c, tx, a.orderRef, "booking-reschedule")
		if err != nil {
			return err
		}
		if o.status != "active" {
			return errNotOpen
		}
		sl, sc, err := s.readSlot(ctx, tx, orgID, slotID)
		if err != nil {
			return err
		}
		if err := suitable(o, sc, sl, now); err != nil {
			return err
		}
		oldSl, oldSc, err := s.oldSlot(ctx, tx, orgID, a.slotID)
		if err != nil {
			return err
		}
		n := s.names(orgID, tx)
		raw, err := s.moved(ctx, n, a, oldSc, sl, sc)
		if err != nil {
			return err
		}
		apSt, err := s.updateAppointment(ctx, tx, orgID, a, raw)
		if err != nil {
			return err
		}
		written := []*fhir.Stored{apSt}
		// Slots in the order of their ids, so that two changes never wait
		// for each other's slots.
		changes := []slotChange{{sl, "busy", errTaken.Message}}
		if oldSl != nil && oldSl.status == "busy" {
			changes = append(changes, slotChange{oldSl, "free", errChanged.Message})
		}
		slices.SortFunc(changes, func(x, y slotChange) int { return cmp.Compare(x.sl.st.ID, y.sl.st.ID) })
		for _, ch := range changes {
			st, err := s.setSlot(ctx, tx, orgID, ch.sl, ch.status, ch.conflict)
			if err != nil {
				return err
			}
			written = append(written, st)
		}
		if out, err = s.view(ctx, n, s.parseAppointment(apSt)); err != nil {
			return err
		}
		ev := fhir.AuditEvent{Interaction: fhir.InteractionUpdate, Operation: "booking-reschedule", Type: "Appointment", Resources: written}
		if err := s.audit.RecordTx(ctx, tx, p, ev); err != nil {
			return fmt.Errorf("booking: audit the change: %w", err)
		}
		return s.tell(ctx, tx, orgID, KindChanged, out, o.display)
	})
	if err != nil {
		s.recordRefusal(ctx, c, fhir.InteractionUpdate, err)
		return nil, err
	}
	s.wake()
	return out, nil
}

// oldSlot reads the slot an appointment held, and its schedule, in tx:
// nil when the appointment names none or it is not known (nothing to
// free), a nil schedule when the slot's schedule is not known.
func (s *Service) oldSlot(ctx context.Context, tx *sql.Tx, orgID, id string) (*slot, *schedule, error) {
	if id == "" {
		return nil, nil, nil
	}
	sl, err := s.readSlotAlone(ctx, tx, orgID, id)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Invalid {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	_, scID, _ := cutRef(sl.scheduleRef)
	st, err := s.store.ReadTx(ctx, tx, orgID, "Schedule", scID)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return sl, nil, nil
	} else if err != nil {
		return nil, nil, fmt.Errorf("booking: read %s: %w", sl.scheduleRef, err)
	}
	return sl, s.parseSchedule(st), nil
}

// slotChange is a slot to set to a status; conflict is the message when
// the slot changed since it was read.
type slotChange struct {
	sl       *slot
	status   string
	conflict string
}

// errChanged answers a change that met another change of the same data.
var errChanged = errs.Conflictf("This appointment was changed at the same time. Please try again.")

// Cancel cancels an appointment p reaches: in one transaction its status
// becomes cancelled with reason as cancelationReason (its text; an empty
// reason leaves none), its Slot becomes free again, the change is audited
// and the patient told (kind appointment-cancelled).
//
// Errors: errs.Invalid naming "reason" beyond MaxCancelReason characters;
// errs.NotFound for an appointment out of reach or entered in error;
// errs.Conflict "This appointment is already cancelled." the second time,
// and for an appointment past, fulfilled or under way, or changed at the
// same time.
func (s *Service) Cancel(ctx context.Context, p *fhir.Principal, appointmentID, reason string) (*Appointment, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > MaxCancelReason {
		return nil, errs.Invalidf("reason", "The reason can be at most %d characters.", MaxCancelReason)
	}
	orgID := p.OrgID
	var out *Appointment
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		a, err := s.lockAppointment(ctx, c, tx, appointmentID, "booking-cancel")
		if err != nil {
			return err
		}
		switch {
		case a.status == "cancelled":
			return errs.Conflictf("This appointment is already cancelled.")
		case a.status != "booked" && a.status != "pending" && a.status != "proposed" && a.status != "waitlist":
			return errs.Conflictf("This appointment can no longer be cancelled.")
		case !a.view.Start.IsZero() && a.view.Start.Before(s.clock()):
			return errs.Conflictf("This appointment's time has passed: it can no longer be cancelled.")
		}
		set := map[string]any{"status": "cancelled"}
		if reason != "" {
			set["cancelationReason"] = map[string]string{"text": reason}
		}
		raw, err := editJSON(a.st.JSON, set)
		if err != nil {
			return fmt.Errorf("booking: cancel Appointment/%s: %w", a.st.ID, err)
		}
		apSt, err := s.updateAppointment(ctx, tx, orgID, a, raw)
		if err != nil {
			return err
		}
		written := []*fhir.Stored{apSt}
		sl, _, err := s.oldSlot(ctx, tx, orgID, a.slotID)
		if err != nil {
			return err
		}
		if sl != nil && sl.status == "busy" {
			st, err := s.setSlot(ctx, tx, orgID, sl, "free", errChanged.Message)
			if err != nil {
				return err
			}
			written = append(written, st)
		}
		if out, err = s.view(ctx, s.names(orgID, tx), s.parseAppointment(apSt)); err != nil {
			return err
		}
		ev := fhir.AuditEvent{Interaction: fhir.InteractionUpdate, Operation: "booking-cancel", Type: "Appointment", Resources: written}
		if err := s.audit.RecordTx(ctx, tx, p, ev); err != nil {
			return fmt.Errorf("booking: audit the cancellation: %w", err)
		}
		detail := out.Description
		if a.orderRef != "" {
			if st, err := s.store.ReadTx(ctx, tx, orgID, "ServiceRequest", strings.TrimPrefix(a.orderRef, "ServiceRequest/")); err == nil {
				if o, ok := s.parseOrder(st); ok {
					detail = o.display
				}
			}
		}
		return s.tell(ctx, tx, orgID, KindCancelled, out, detail)
	})
	if err != nil {
		s.recordRefusal(ctx, c, fhir.InteractionUpdate, err)
		return nil, err
	}
	s.wake()
	return out, nil
}

// Appointments returns the appointments of the patients p reaches: the
// upcoming ones (starting now or later) soonest first, then the past ones
// latest first, at most MaxAppointments of each; appointments without a
// start or entered in error are left out. The read is audited before it
// returns.
func (s *Service) Appointments(ctx context.Context, p *fhir.Principal) ([]Appointment, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	subjects, none := c.patientRefs()
	if none {
		return []Appointment{}, nil
	}
	now := s.clock()
	n := s.names(p.OrgID, nil)
	out := []Appointment{}
	var read []*fhir.Stored
	for _, half := range []struct{ date, sort string }{{"ge" + searchTime(now), "date"}, {"lt" + searchTime(now), "-date"}} {
		q := url.Values{"date": {half.date}, "_sort": {half.sort}, "_count": {strconv.Itoa(MaxAppointments)}}
		if subjects != "" {
			q.Set("patient", subjects)
		}
		res, err := s.search.Search(ctx, p.OrgID, "Appointment", q, false)
		if err != nil {
			return nil, fmt.Errorf("booking: appointments: %w", err)
		}
		var part []Appointment
		for _, st := range res.Matches {
			a := s.parseAppointment(st)
			upcoming := !a.view.Start.Before(now)
			if a.status == "entered-in-error" || a.view.Start.IsZero() || upcoming != (half.sort == "date") || !c.reaches(a.patientID) {
				continue
			}
			v, err := s.view(ctx, n, a)
			if err != nil {
				return nil, err
			}
			part = append(part, *v)
			read = append(read, st)
		}
		slices.SortStableFunc(part, func(x, y Appointment) int {
			if half.sort == "date" {
				return x.Start.Compare(y.Start)
			}
			return y.Start.Compare(x.Start)
		})
		out = append(out, part...)
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionSearch, Operation: "booking-appointments", Type: "Appointment", Resources: read}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit appointments: %w", err)
	}
	return out, nil
}

// Appointment returns one appointment of a patient p reaches; any other
// (unknown, out of reach, entered in error) is errs.NotFound. The read is
// audited before it returns.
func (s *Service) Appointment(ctx context.Context, p *fhir.Principal, id string) (*Appointment, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	a, err := s.readAppointment(ctx, c, nil, id, "booking-appointment")
	if err != nil {
		return nil, err
	}
	v, err := s.view(ctx, s.names(p.OrgID, nil), a)
	if err != nil {
		return nil, err
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionRead, Operation: "booking-appointment", Type: "Appointment", Resources: []*fhir.Stored{a.st}}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit the appointment: %w", err)
	}
	return v, nil
}

// parseSlotID accepts a slot's id or "Slot/id".
func parseSlotID(v string) (string, error) {
	id := strings.TrimPrefix(strings.TrimSpace(v), "Slot/")
	if !idRE.MatchString(id) {
		return "", errs.Invalidf("slot", "Choose a time: the slot must be given by its id.")
	}
	return id, nil
}

// readAppointment reads an appointment of a patient the caller reaches,
// in tx when not nil; anything else is errs.NotFound with one message, and
// an attempt out of reach is recorded as refused.
func (s *Service) readAppointment(ctx context.Context, c *caller, tx *sql.Tx, id, op string) (*appointment, error) {
	unknown := errs.NotFoundf("Appointment/%s is not known.", id)
	if !idRE.MatchString(id) {
		return nil, unknown
	}
	var st *fhir.Stored
	var err error
	if tx != nil {
		st, err = s.store.ReadTx(ctx, tx, c.p.OrgID, "Appointment", id)
	} else {
		st, err = s.store.Read(ctx, c.p.OrgID, "Appointment", id)
	}
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, unknown
	} else if err != nil {
		return nil, fmt.Errorf("booking: read Appointment/%s: %w", id, err)
	}
	a := s.parseAppointment(st)
	if !c.reaches(a.patientID) {
		return nil, s.outOfReach(ctx, c, tx, op, "Appointment/"+id, unknown)
	}
	if a.status == "entered-in-error" {
		return nil, unknown
	}
	return a, nil
}

// lockAppointment reads an appointment the caller reaches in tx, takes the
// lock of its follow-up order (of the appointment itself when it has
// none), and reads it again under the lock.
func (s *Service) lockAppointment(ctx context.Context, c *caller, tx *sql.Tx, id, op string) (*appointment, error) {
	a, err := s.readAppointment(ctx, c, tx, id, op)
	if err != nil {
		return nil, err
	}
	if s.db.Dialect != db.Postgres {
		return a, nil // one writer: nothing changed since
	}
	key := a.orderRef
	if key == "" {
		key = "Appointment/" + id
	}
	if err := s.lock(ctx, tx, c.p.OrgID, key); err != nil {
		return nil, err
	}
	return s.readAppointment(ctx, c, tx, id, op)
}

// lock serialises, on PostgreSQL, the transactions that book or change
// the appointments of one follow-up order (key "ServiceRequest/id"), so
// that an order is never booked twice; the lock ends with tx. SQLite has a
// single writer and needs none.
func (s *Service) lock(ctx context.Context, tx *sql.Tx, orgID, key string) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "booking/"+orgID+"/"+key); err != nil {
		return fmt.Errorf("booking: lock %s: %w", key, err)
	}
	return nil
}

// setSlot writes the slot with a new status under the version read
// (If-Match): a slot changed since is errs.Conflict with the message given.
func (s *Service) setSlot(ctx context.Context, tx *sql.Tx, orgID string, sl *slot, status, conflict string) (*fhir.Stored, error) {
	raw, err := editJSON(sl.st.JSON, map[string]any{"status": status})
	if err != nil {
		return nil, fmt.Errorf("booking: set Slot/%s %s: %w", sl.st.ID, status, err)
	}
	st, _, err := s.store.UpdateTx(ctx, tx, orgID, "Slot", sl.st.ID, raw, sl.st.VersionID)
	if code := errs.CodeOf(err); code == errs.PreconditionFailed || code == errs.Conflict {
		return nil, errs.Wrap(err, errs.Conflict, conflict)
	} else if err != nil {
		return nil, fmt.Errorf("booking: set Slot/%s %s: %w", sl.st.ID, status, err)
	}
	return st, nil
}

// updateAppointment writes raw as the next version of a's appointment,
// under the version read.
func (s *Service) updateAppointment(ctx context.Context, tx *sql.Tx, orgID string, a *appointment, raw []byte) (*fhir.Stored, error) {
	st, _, err := s.store.UpdateTx(ctx, tx, orgID, "Appointment", a.st.ID, raw, a.st.VersionID)
	if code := errs.CodeOf(err); code == errs.PreconditionFailed || code == errs.Conflict {
		return nil, errs.Wrap(err, errs.Conflict, errChanged.Message)
	} else if err != nil {
		return nil, fmt.Errorf("booking: update Appointment/%s: %w", a.st.ID, err)
	}
	return st, nil
}

// tell enqueues the patient's message about the appointment in tx.
func (s *Service) tell(ctx context.Context, tx *sql.Tx, orgID, kind string, a *Appointment, detail string) error {
	if s.notify == nil {
		return nil
	}
	e := notify.Event{OrgID: orgID, Key: fmt.Sprintf("appointment:%s:v%d", a.ID, a.Version), Kind: kind,
		Recipient: "Patient/" + a.PatientID, PatientID: a.PatientID, Target: "/appointments/" + a.ID, Detail: detail, AboutAt: a.Start}
	if err := s.notify.EnqueueTx(ctx, tx, e); err != nil {
		return fmt.Errorf("booking: enqueue %s: %w", kind, err)
	}
	return nil
}

// wake asks the notifier, if it can, to plan the new messages now.
func (s *Service) wake() {
	if w, ok := s.notify.(interface{ Wake() }); ok {
		w.Wake()
	}
}

// The JSON careloop writes for an Appointment.
type (
	reference struct {
		Reference string `json:"reference"`
		Display   string `json:"display,omitempty"`
	}
	participant struct {
		Actor    reference `json:"actor"`
		Required string    `json:"required,omitempty"`
		Status   string    `json:"status"`
	}
	appointmentJSON struct {
		ResourceType string          `json:"resourceType"`
		Status       string          `json:"status"`
		ServiceType  json.RawMessage `json:"serviceType,omitempty"`
		Description  string          `json:"description,omitempty"`
		Start        string          `json:"start"`
		End          string          `json:"end"`
		Slot         []reference     `json:"slot"`
		Created      string          `json:"created"`
		BasedOn      []reference     `json:"basedOn"`
		Participant  []participant   `json:"participant"`
	}
)

// newAppointment returns the JSON of the appointment booking sl for o.
func (s *Service) newAppointment(ctx context.Context, n *names, o *order, sl *slot, sc *schedule, now time.Time) ([]byte, error) {
	a := appointmentJSON{ResourceType: "Appointment", Status: "booked", ServiceType: sc.serviceType, Description: o.display,
		Start: sl.startRaw, End: sl.endRaw, Slot: []reference{{Reference: sl.st.Ref()}}, Created: instant(now),
		BasedOn:     []reference{{Reference: o.ref}},
		Participant: []participant{{Actor: reference{Reference: "Patient/" + o.patientID}, Required: "required", Status: "accepted"}}}
	ps, err := s.scheduleParticipants(ctx, n, sc)
	if err != nil {
		return nil, err
	}
	a.Participant = append(a.Participant, ps...)
	return marshal(a)
}

// scheduleParticipants returns the actors of sc as participants, with
// their names.
func (s *Service) scheduleParticipants(ctx context.Context, n *names, sc *schedule) ([]participant, error) {
	out := make([]participant, 0, len(sc.actors))
	for _, a := range sc.actors {
		name, err := n.of(ctx, a)
		if err != nil {
			return nil, fmt.Errorf("booking: name of %s: %w", a.ref, err)
		}
		out = append(out, participant{Actor: reference{Reference: a.ref, Display: name}, Required: "required", Status: "accepted"})
	}
	return out, nil
}

// moved returns a's JSON at the new slot: slot, start, end and service type
// from sl and sc, status booked, and the actors of the old schedule among
// the participants replaced by those of the new one.
func (s *Service) moved(ctx context.Context, n *names, a *appointment, oldSc *schedule, sl *slot, sc *schedule) ([]byte, error) {
	old := map[string]bool{}
	if oldSc != nil {
		for _, x := range oldSc.actors {
			old[x.ref] = true
		}
	}
	var parts []json.RawMessage
	present := map[string]bool{}
	gjson.GetBytes(a.st.JSON, "participant").ForEach(func(_, v gjson.Result) bool {
		ref := s.localRef(v.Get("actor.reference").String())
		if ref != "" && old[ref] {
			return true
		}
		present[ref] = true
		parts = append(parts, json.RawMessage(v.Raw))
		return true
	})
	ps, err := s.scheduleParticipants(ctx, n, sc)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if present[p.Actor.Reference] {
			continue
		}
		raw, err := marshal(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, raw)
	}
	set := map[string]any{"status": "booked", "slot": []reference{{Reference: sl.st.Ref()}}, "start": sl.startRaw, "end": sl.endRaw,
		"participant": parts}
	var del []string
	if sc.serviceType != nil {
		set["serviceType"] = json.RawMessage(sc.serviceType)
	} else {
		del = append(del, "serviceType")
	}
	return editJSON(a.st.JSON, set, del...)
}

// editJSON sets and removes top-level members of a resource's JSON,
// keeping the others as they are.
func editJSON(raw []byte, set map[string]any, del ...string) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	for k, v := range set {
		b, err := marshal(v)
		if err != nil {
			return nil, err
		}
		m[k] = b
	}
	for _, k := range del {
		delete(m, k)
	}
	return marshal(m)
}

// marshal is json.Marshal without escaping <, > and & for HTML.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
