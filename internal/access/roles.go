package access

import (
	"sync"

	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/oauth"
)

// The permissions of people, by role and resource type, in SMART's letters
// (c create, r read, u update, d delete, s search). They say what a role
// may do with a type at all; which resources of the type a person reaches
// is decided by their patients (see grant). No role deletes health data:
// records are corrected (a new version, or status entered-in-error), and
// deletion is left to integrations holding an API key or a client token.
const (
	rs   = oauth.PermRead | oauth.PermSearch
	crus = oauth.PermCreate | oauth.PermRead | oauth.PermUpdate | oauth.PermSearch
	cu   = oauth.PermCreate | oauth.PermUpdate
	all  = oauth.PermAll
)

// directoryTypes are the organisation's shared, non-clinical resources:
// who works where, what can be booked, which forms exist. Every signed-in
// person may read them; organisation admins maintain them.
var directoryTypes = set("Organization", "Location", "Practitioner", "PractitionerRole", "HealthcareService",
	"Endpoint", "Schedule", "Slot", "Questionnaire", "Device", "Medication", "Substance", "ValueSet",
	"CodeSystem", "ActivityDefinition", "PlanDefinition", "ObservationDefinition", "SpecimenDefinition", "Library")

// Patients and caregivers read their record, less the organisation's
// worklists and audit trail (patients see who looked at their record
// through the audit log's own view), and answer forms and messages.
var (
	patientHidden = set("Task", "AuditEvent", "Provenance")
	patientWrites = set("QuestionnaireResponse", "Communication")
)

// Nurses document care; they do not order.
var nurseWrites = set("Observation", "Communication", "CommunicationRequest", "Task", "Specimen", "Procedure",
	"Immunization", "AllergyIntolerance", "QuestionnaireResponse", "CarePlan", "Goal", "Appointment")

// Technicians work orders, specimens, results and images.
var (
	technicianReads  = set("Patient", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport", "ImagingStudy", "Procedure", "Task", "Encounter")
	technicianWrites = set("Specimen", "Observation", "DiagnosticReport", "ImagingStudy", "Task")
)

// Care coordinators work the journeys of every patient of the
// organisation: who they are, what was ordered and booked, messages and
// tasks; not the clinical content of results.
var (
	coordinatorReads  = set("Patient", "ServiceRequest", "Appointment", "Task", "Communication", "CommunicationRequest", "CareTeam", "CarePlan", "Encounter", "Consent")
	coordinatorWrites = set("Task", "Communication", "CommunicationRequest", "Appointment")
)

// Compliance officers review consents and the audit trail of every
// patient, and who the patients are.
var complianceReads = set("AuditEvent", "Consent", "Patient")

// perms returns what role may do with resources of typ: permsOf, looked up
// in a table made once for every role and resource type (a decision asks
// twice per resource, and the rules take several map lookups).
func perms(role identity.Role, typ string) oauth.Perm {
	if p, ok := permTable()[permKey{role, typ}]; ok {
		return p
	}
	return permsOf(role, typ)
}

type permKey struct {
	role identity.Role
	typ  string
}

var permTable = sync.OnceValue(func() map[permKey]oauth.Perm {
	roles := []identity.Role{identity.RolePatient, identity.RoleCaregiver, identity.RoleClinician, identity.RoleNurse,
		identity.RoleTechnician, identity.RoleCoordinator, identity.RoleCompliance, identity.RoleAdmin}
	types := spec.ResourceTypes()
	t := make(map[permKey]oauth.Perm, len(roles)*len(types))
	for _, r := range roles {
		for _, typ := range types {
			t[permKey{r, typ}] = permsOf(r, typ)
		}
	}
	return t
})

// permsOf returns what role may do with resources of typ.
func permsOf(role identity.Role, typ string) oauth.Perm {
	if directoryTypes[typ] {
		if role == identity.RoleAdmin {
			return all
		}
		return rs
	}
	clinical := spec.InPatientCompartment(typ)
	switch role {
	case identity.RolePatient, identity.RoleCaregiver:
		var p oauth.Perm
		if clinical && !patientHidden[typ] {
			p = rs
		}
		if patientWrites[typ] {
			p |= cu
		}
		return p
	case identity.RoleClinician:
		if clinical && typ != "AuditEvent" {
			return crus
		}
	case identity.RoleNurse:
		if clinical && typ != "AuditEvent" {
			if nurseWrites[typ] {
				return crus
			}
			return rs
		}
	case identity.RoleTechnician:
		switch {
		case technicianWrites[typ]:
			return crus
		case technicianReads[typ]:
			return rs
		}
	case identity.RoleCoordinator:
		switch {
		case coordinatorWrites[typ]:
			return crus
		case coordinatorReads[typ]:
			return rs
		}
	case identity.RoleCompliance:
		if complianceReads[typ] {
			return rs
		}
	}
	return 0
}

// reachesAllPatients reports whether a role works across every patient of
// the organisation (within its types) rather than those in its care.
func reachesAllPatients(role identity.Role) bool {
	return role == identity.RoleCoordinator || role == identity.RoleCompliance
}

// mayBreakGlass reports whether a role may reach a patient outside its care
// in an emergency.
func mayBreakGlass(role identity.Role) bool {
	return role == identity.RoleClinician || role == identity.RoleNurse || role == identity.RoleTechnician
}

// isStaff reports whether the role belongs to the organisation's staff, who
// must use a second factor before they see health data.
func isStaff(role identity.Role) bool {
	return role != identity.RolePatient && role != identity.RoleCaregiver
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
