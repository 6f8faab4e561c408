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

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/platform/errs"
)

// ordersPerPage and maxOrderPages bound the scan of FollowUps: active
// orders are read a page at a time, and the follow-ups among them kept (the R4 ServiceRequest has no search parameter for
// reasonReference, so the follow-ups are told apart here).
const (
	ordersPerPage = 500
	maxOrderPages = 10
)

// FollowUps returns the open follow-up orders (status active) of the
// patients p reaches, newest first (by authoredOn), at most MaxFollowUps,
// each with its active appointment if it has one. The read is recorded in
// the audit log before it returns; an error recording it fails the call.
// Among very many active orders, only the first ordersPerPage ×
// maxOrderPages the search returns are looked at.
func (s *Service) FollowUps(ctx context.Context, p *fhir.Principal) ([]FollowUp, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	subjects, none := c.patientRefs()
	if none {
		return []FollowUp{}, nil
	}
	// No _sort: the orders are sorted below, and sorting in the search
	// made it several times slower for a patient with a year of orders.
	q := url.Values{"status": {"active"}, "intent": {"order,plan"}, "_count": {strconv.Itoa(ordersPerPage)}}
	if subjects != "" {
		q.Set("subject", subjects)
	}
	var orders []*order
	for page := 0; page < maxOrderPages; page++ {
		res, err := s.search.Search(ctx, p.OrgID, "ServiceRequest", q, false)
		if err != nil {
			return nil, fmt.Errorf("booking: follow-ups: %w", err)
		}
		for _, st := range res.Matches {
			if o, ok := s.parseOrder(st); ok && o.status == "active" && c.reaches(o.patientID) {
				orders = append(orders, o)
			}
		}
		if res.Next == "" {
			break
		}
		q.Set("_cursor", res.Next)
	}
	slices.SortStableFunc(orders, func(a, b *order) int {
		if c := b.at.Compare(a.at); c != 0 {
			return c
		}
		return cmp.Compare(a.ref, b.ref)
	})
	if len(orders) > MaxFollowUps {
		orders = orders[:MaxFollowUps]
	}
	out, read, err := s.followUps(ctx, c, orders)
	if err != nil {
		return nil, err
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionSearch, Operation: "booking-followups", Type: "ServiceRequest",
		Resources: read, Query: "status=active&intent=order,plan"}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit follow-ups: %w", err)
	}
	return out, nil
}

// FollowUp returns one follow-up order of a patient p reaches, whatever its
// status, with its active appointment if it has one. orderRef is
// "ServiceRequest/id". An order p does not reach, that does not exist, was
// deleted or entered in error is errs.NotFound; an order that is not a
// follow-up (no reasonReference to a report or result) too. The read is
// audited before it returns.
func (s *Service) FollowUp(ctx context.Context, p *fhir.Principal, orderRef string) (*FollowUp, error) {
	c, err := callerOf(p)
	if err != nil {
		return nil, err
	}
	o, err := s.readOrder(ctx, c, nil, orderRef, "booking-followup")
	if err != nil {
		return nil, err
	}
	out, read, err := s.followUps(ctx, c, []*order{o})
	if err != nil {
		return nil, err
	}
	ev := fhir.AuditEvent{Interaction: fhir.InteractionRead, Operation: "booking-followup", Type: "ServiceRequest", Resources: read}
	if err := s.audit.Record(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("booking: audit follow-up: %w", err)
	}
	return &out[0], nil
}

// parseOrderRef checks that ref is "ServiceRequest/id".
func parseOrderRef(ref string) (id string, err error) {
	typ, id, ok := cutRef(ref)
	if !ok || typ != "ServiceRequest" {
		return "", errs.Invalidf("order", "The order must be given as ServiceRequest/id.")
	}
	return id, nil
}

// readOrder reads a follow-up order the caller reaches, in tx when tx is
// not nil. Anything else is errs.NotFound, with the same message whether
// the order does not exist or is out of reach; an attempt on an order out
// of reach is recorded as refused (op names the call).
func (s *Service) readOrder(ctx context.Context, c *caller, tx *sql.Tx, ref, op string) (*order, error) {
	id, err := parseOrderRef(ref)
	if err != nil {
		return nil, err
	}
	unknown := errs.NotFoundf("%s is not known.", ref)
	var st *fhir.Stored
	if tx != nil {
		st, err = s.store.ReadTx(ctx, tx, c.p.OrgID, "ServiceRequest", id)
	} else {
		st, err = s.store.Read(ctx, c.p.OrgID, "ServiceRequest", id)
	}
	if code := errs.CodeOf(err); code == errs.NotFound || code == errs.Gone {
		return nil, unknown
	} else if err != nil {
		return nil, fmt.Errorf("booking: read %s: %w", ref, err)
	}
	o, ok := s.parseOrder(st)
	patient := ""
	if ok {
		patient = o.patientID
	} else if t, pid, ok := cutRef(s.localRef(gjson.GetBytes(st.JSON, "subject.reference").String())); ok && t == "Patient" {
		patient = pid
	}
	if !c.reaches(patient) {
		return nil, s.outOfReach(ctx, c, tx, op, ref, unknown)
	}
	if !ok || o.status == "entered-in-error" {
		return nil, errs.NotFoundf("%s is not a follow-up to book.", ref)
	}
	return o, nil
}

// followUps builds the views of orders: their performer's name and their
// active appointment. It returns the resources read, for the audit log.
func (s *Service) followUps(ctx context.Context, c *caller, orders []*order) ([]FollowUp, []*fhir.Stored, error) {
	out := make([]FollowUp, len(orders))
	read := make([]*fhir.Stored, 0, 2*len(orders))
	if len(orders) == 0 {
		return out, read, nil
	}
	refs := make([]string, len(orders))
	for i, o := range orders {
		refs[i] = o.ref
		read = append(read, o.st)
	}
	res, err := s.search.Search(ctx, c.p.OrgID, "Appointment", url.Values{"based-on": {strings.Join(refs, ",")},
		"status": {activeStatuses}, "_sort": {"date"}, "_count": {"1000"}}, false)
	if err != nil {
		return nil, nil, fmt.Errorf("booking: appointments of follow-ups: %w", err)
	}
	n := s.names(c.p.OrgID, nil)
	booked := map[string]*Appointment{}
	for _, st := range res.Matches {
		a := s.parseAppointment(st)
		if !activeAppointment[a.status] || a.orderRef == "" || booked[a.orderRef] != nil || !c.reaches(a.patientID) {
			continue
		}
		v, err := s.view(ctx, n, a)
		if err != nil {
			return nil, nil, err
		}
		booked[a.orderRef] = v
		read = append(read, st)
	}
	for i, o := range orders {
		f := FollowUp{OrderRef: o.ref, PatientID: o.patientID, Display: o.display, Status: o.status, ReasonRef: o.reasonRef,
			Performer: o.performerName, RecommendedAt: o.at, Appointment: booked[o.ref]}
		if f.Performer == "" && len(o.performers) > 0 {
			if f.Performer, err = n.of(ctx, actor{ref: o.performers[0]}); err != nil {
				return nil, nil, err
			}
		}
		out[i] = f
	}
	return out, read, nil
}

// view completes an appointment's view with who and where, by name.
func (s *Service) view(ctx context.Context, n *names, a *appointment) (*Appointment, error) {
	v := a.view
	var err error
	if v.With, v.Where, err = n.withWhere(ctx, a.actors); err != nil {
		return nil, fmt.Errorf("booking: names of Appointment/%s: %w", a.st.ID, err)
	}
	return &v, nil
}
