package booking

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
)

// bookingRoles are the roles that may book: patients and caregivers for the
// records they reach, and the care team that arranges visits.
var bookingRoles = map[string]bool{
	string(identity.RolePatient): true, string(identity.RoleCaregiver): true,
	string(identity.RoleClinician): true, string(identity.RoleNurse): true, string(identity.RoleCoordinator): true,
}

// reachTypes are the types a caller must reach of a patient to book for
// them: the follow-up order and the appointment (a Consent closing either
// to the caller takes the patient out of reach).
var reachTypes = []string{"ServiceRequest", "Appointment"}

// caller is who asks, and whose follow-ups they reach.
type caller struct {
	p *fhir.Principal
	// patients are the Patient ids in reach, sorted; all is true when the
	// policy does not limit the caller (care coordinators).
	patients []string
	all      bool
}

// callerOf checks that p may use booking at all: a signed-in person of a
// booking role (errs.Forbidden otherwise, errs.Unauthorized without p).
// Systems are refused: they write Appointment and Slot resources through
// the FHIR API, under their own scopes and validation.
func callerOf(p *fhir.Principal) (*caller, error) {
	if p == nil || p.OrgID == "" {
		return nil, errs.E(errs.Unauthorized, "Sign in to book appointments.")
	}
	if p.Kind != access.KindUser {
		return nil, errs.Forbiddenf("Booking is for people signed in; systems write Appointment and Slot resources through the FHIR API.")
	}
	if !bookingRoles[p.Role] {
		return nil, errs.Forbiddenf("A %s may not book appointments.", p.Role)
	}
	c := &caller{p: p}
	if p.Compartments == nil {
		if p.Role == string(identity.RolePatient) || p.Role == string(identity.RoleCaregiver) {
			return nil, errs.Forbiddenf("No record is open to this account.")
		}
		c.all = true
		return c, nil
	}
	var in map[string]bool
	for _, typ := range reachTypes {
		ids, limited := p.Compartments(typ)
		if !limited {
			continue
		}
		next := make(map[string]bool, len(ids))
		for _, id := range ids {
			if in == nil || in[id] {
				next[id] = true
			}
		}
		in = next
	}
	if in == nil { // no type limited: the whole organisation
		c.all = true
		return c, nil
	}
	for id := range in {
		c.patients = append(c.patients, id)
	}
	slices.Sort(c.patients)
	return c, nil
}

// reaches reports whether the caller reaches the patient.
func (c *caller) reaches(patientID string) bool {
	if patientID == "" {
		return false
	}
	if c.all {
		return true
	}
	_, ok := slices.BinarySearch(c.patients, patientID)
	return ok
}

// patientRefs returns the patients in reach as a search value
// ("Patient/a,Patient/b"), "" when the caller reaches every patient, and
// none true when they reach nobody.
func (c *caller) patientRefs() (value string, none bool) {
	if c.all {
		return "", false
	}
	if len(c.patients) == 0 {
		return "", true
	}
	b := make([]byte, 0, len(c.patients)*20)
	for i, id := range c.patients {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "Patient/"...)
		b = append(b, id...)
	}
	return string(b), false
}

// refused records, best effort, that the caller asked for a resource out
// of their reach (answered as not found): the audit log shows attempts too.
func (s *Service) refused(ctx context.Context, c *caller, in fhir.Interaction, op, ref string) {
	typ, _, _ := cutRef(ref)
	ev := fhir.AuditEvent{Interaction: in, Operation: op, Type: typ, Refused: true, Refs: []string{ref}}
	if err := s.audit.Record(ctx, c.p, ev); err != nil {
		s.log.Error("booking: audit a refused request", "err", err)
	}
}

// outOfReach answers a request for ref, which the caller does not reach,
// with err (a not found) and records the refusal. Inside a transaction
// (tx not nil) the refusal is recorded after it ends (recordRefusal): the
// audit log may need the database's writer, which the transaction holds on
// SQLite.
func (s *Service) outOfReach(ctx context.Context, c *caller, tx *sql.Tx, op, ref string, err error) error {
	if tx != nil {
		return &refusal{ref: ref, op: op, err: err}
	}
	s.refused(ctx, c, fhir.InteractionRead, op, ref)
	return err
}

// refusal is a not-found answer, found inside a transaction, to a request
// for a resource out of the caller's reach.
type refusal struct {
	ref, op string
	err     error
}

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// recordRefusal records the refusal err carries, if it carries one, as an
// attempt at the interaction.
func (s *Service) recordRefusal(ctx context.Context, c *caller, in fhir.Interaction, err error) {
	var r *refusal
	if errors.As(err, &r) {
		s.refused(ctx, c, in, r.op, r.ref)
	}
}
