package booking

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
)

// searchTime formats t as a search value, to the millisecond.
func searchTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// Slots returns the times that can be booked for a follow-up order p
// reaches, ordered by start, at most MaxSlots: free Slots starting at least
// MinNotice from now and within [from, to), of the active Schedules whose
// actor includes one of the order's performers (Practitioner,
// PractitionerRole, HealthcareService or Location), or of every active
// Schedule of the organisation when the order names none. A zero from is
// now; a zero to is from plus DefaultWindow; a window longer than
// MaxWindow, or to not after from, is errs.Invalid naming "to". An order
// that is not active is errs.Conflict; one out of reach errs.NotFound. The
// read (the order, and the query) is audited before it returns.
func (s *Service) Slots(ctx context.Context, p *fhir.Principal, orderRef string, from, to time.Time) ([]Slot, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	if _, err := parseOrderRef(orderRef); err != nil {
		return nil, err
	}
	now := s.clock()
	if from.IsZero() {
		from = now
	}
	if to.IsZero() {
		to = from.Add(DefaultWindow)
	}
	if !to.After(from) {
		return nil, errs.Invalidf("to", "The end of the window must come after its start.")
	}
	if to.Sub(from) > MaxWindow {
		return nil, errs.Invalidf("to", "Times can be looked up at most %d days at once.", int(MaxWindow/(24*time.Hour)))
	}
	o, err := s.readOrder(ctx, c, nil, orderRef, "booking-slots")
	if err != nil {
		return nil, err
	}
	if o.status != "active" {
		return nil, errNotOpen
	}
	earliest := from
	if n := now.Add(MinNotice); n.After(earliest) {
		earliest = n
	}
	out := []Slot{}
	if earliest.Before(to) {
		if out, err = s.findSlots(ctx, p.OrgID, o, earliest, to); err != nil {
			return nil, err
		}
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionSearch, Operation: "booking-slots", Type: "Slot", Resources: []*fhir.Stored{o.st},
		Query: "order=" + o.ref + "&from=" + searchTime(from) + "&to=" + searchTime(to)}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit slots: %w", err)
	}
	return out, nil
}

// Slot returns one time that can be booked for a follow-up order p
// reaches, as Slots would list it, however far ahead it is: the page that
// confirms a chosen time shows it again. A slot that is not known is
// errs.NotFound; one taken or too soon errs.Conflict; one not of the
// order's schedules errs.Invalid naming "slot". The read is audited
// before it returns.
func (s *Service) Slot(ctx context.Context, p *fhir.Principal, orderRef, slotID string) (*Slot, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	if slotID, err = parseSlotID(slotID); err != nil {
		return nil, err
	}
	o, err := s.readOrder(ctx, c, nil, orderRef, "booking-slot")
	if err != nil {
		return nil, err
	}
	if o.status != "active" {
		return nil, errNotOpen
	}
	st, err := s.store.Read(ctx, p.OrgID, "Slot", slotID)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, errs.NotFoundf("Slot/%s is not known.", slotID)
	} else if err != nil {
		return nil, fmt.Errorf("booking: read Slot/%s: %w", slotID, err)
	}
	sl, ok := s.parseSlot(st)
	if !ok {
		return nil, errs.Invalidf("slot", "Slot/%s has no schedule, start or end and cannot be booked.", slotID)
	}
	_, scID, _ := cutRef(sl.scheduleRef)
	scSt, err := s.store.Read(ctx, p.OrgID, "Schedule", scID)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, errs.NotFoundf("Slot/%s is not known.", slotID)
	} else if err != nil {
		return nil, fmt.Errorf("booking: read %s: %w", sl.scheduleRef, err)
	}
	sc := s.parseSchedule(scSt)
	if err := suitable(o, sc, sl, s.clock()); err != nil {
		return nil, err
	}
	v := &Slot{ID: slotID, Start: sl.start, End: sl.end, ServiceType: cmp.Or(sc.serviceText, sl.serviceText)}
	if v.With, v.Where, err = s.names(p.OrgID, nil).withWhere(ctx, sc.actors); err != nil {
		return nil, fmt.Errorf("booking: names of %s: %w", sc.st.Ref(), err)
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionRead, Operation: "booking-slot", Type: "Slot", Resources: []*fhir.Stored{o.st, st}}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit slot: %w", err)
	}
	return v, nil
}

// errNotOpen answers a change to a follow-up that is no longer active.
var errNotOpen = errs.Conflictf("This follow-up is no longer open for booking.")

// findSlots searches the free slots for o in [earliest, to): the active
// schedules of o's performers first (a handful), then their free slots,
// each checked here as Book will check it. (Two plain searches: one
// with chained parameters, schedule.active and schedule.actor, took
// seconds on PostgreSQL.)
func (s *Service) findSlots(ctx context.Context, orgID string, o *order, earliest, to time.Time) ([]Slot, error) {
	sq := url.Values{"active": {"true"}, "_count": {"1000"}}
	if len(o.performers) > 0 {
		sq.Set("actor", strings.Join(o.performers, ","))
	}
	found, err := s.search.Search(ctx, orgID, "Schedule", sq, false)
	if err != nil {
		return nil, fmt.Errorf("booking: schedules of %s: %w", o.ref, err)
	}
	schedules := map[string]*schedule{}
	refs := make([]string, 0, len(found.Matches))
	for _, st := range found.Matches {
		schedules[st.Ref()] = s.parseSchedule(st)
		refs = append(refs, st.Ref())
	}
	if len(refs) == 0 {
		return []Slot{}, nil
	}
	q := url.Values{
		"status":   {"free"},
		"schedule": {strings.Join(refs, ",")},
		"start":    {"ge" + searchTime(earliest), "lt" + searchTime(to)},
		"_sort":    {"start"},
		"_count":   {strconv.Itoa(MaxSlots)},
	}
	res, err := s.search.Search(ctx, orgID, "Slot", q, false)
	if err != nil {
		return nil, fmt.Errorf("booking: slots of %s: %w", o.ref, err)
	}
	n := s.names(orgID, nil)
	out := make([]Slot, 0, len(res.Matches))
	for _, st := range res.Matches {
		sl, ok := s.parseSlot(st)
		if !ok || sl.start.Before(earliest) || !sl.start.Before(to) {
			continue
		}
		sc := schedules[sl.scheduleRef]
		if sc == nil || sl.status != "free" || !o.fits(sc) {
			continue
		}
		v := Slot{ID: st.ID, Start: sl.start, End: sl.end, ServiceType: sc.serviceText}
		if v.ServiceType == "" {
			v.ServiceType = sl.serviceText
		}
		if v.With, v.Where, err = n.withWhere(ctx, sc.actors); err != nil {
			return nil, fmt.Errorf("booking: names of %s: %w", sc.st.Ref(), err)
		}
		out = append(out, v)
	}
	slices.SortStableFunc(out, func(a, b Slot) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// suitable decides whether a slot can be booked for o at now: errs.Conflict
// when it is taken or too soon, errs.Invalid naming "slot" when its
// schedule is not active or not one of the order's performer.
func suitable(o *order, sc *schedule, sl *slot, now time.Time) error {
	if sl.status != "free" {
		return errTaken
	}
	if sl.start.Before(now.Add(MinNotice)) {
		return errs.Conflictf("This time is too soon to book: please choose one at least %d hour from now.", int(MinNotice/time.Hour))
	}
	if !o.fits(sc) {
		return errs.Invalidf("slot", "This time cannot be booked for this follow-up. Please choose one of the times offered.")
	}
	return nil
}

// fits reports whether times of the schedule suit o: the schedule is
// active, and names one of the order's performers if it has any.
func (o *order) fits(sc *schedule) bool {
	return sc.active && (len(o.performers) == 0 || sc.hasActor(o.performers))
}

// errTaken answers a booking of a time someone else took.
var errTaken = errs.Conflictf("This time has just been taken. Please choose another.")

// readSlot reads a slot and its schedule in tx. An unknown slot, or one
// whose schedule is unknown, is errs.NotFound; a slot without schedule,
// start or end errs.Invalid naming "slot".
func (s *Service) readSlot(ctx context.Context, tx *sql.Tx, orgID, id string) (*slot, *schedule, error) {
	sl, err := s.readSlotAlone(ctx, tx, orgID, id)
	if err != nil {
		return nil, nil, err
	}
	_, scID, _ := cutRef(sl.scheduleRef)
	st, err := s.store.ReadTx(ctx, tx, orgID, "Schedule", scID)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, nil, errs.NotFoundf("Slot/%s is not known.", id)
	} else if err != nil {
		return nil, nil, fmt.Errorf("booking: read %s: %w", sl.scheduleRef, err)
	}
	return sl, s.parseSchedule(st), nil
}

// readSlotAlone reads a slot in tx, without its schedule.
func (s *Service) readSlotAlone(ctx context.Context, tx *sql.Tx, orgID, id string) (*slot, error) {
	st, err := s.store.ReadTx(ctx, tx, orgID, "Slot", id)
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, errs.NotFoundf("Slot/%s is not known.", id)
	} else if err != nil {
		return nil, fmt.Errorf("booking: read Slot/%s: %w", id, err)
	}
	sl, ok := s.parseSlot(st)
	if !ok {
		return nil, errs.Invalidf("slot", "Slot/%s has no schedule, start or end and cannot be booked.", id)
	}
	return sl, nil
}
