package spec

import (
	"slices"
	"sync"
)

// FirstClass lists the resource types careloop supports in full: their
// structure is validated element by element and they have first-class
// storage. Every other R4 type is accepted with minimal checks.
var FirstClass = []string{
	"Patient", "Practitioner", "PractitionerRole", "Organization", "Location",
	"Encounter", "ServiceRequest", "Specimen", "Observation", "DiagnosticReport",
	"ImagingStudy", "Condition", "Procedure", "MedicationRequest", "Immunization",
	"AllergyIntolerance", "CarePlan", "CareTeam", "Goal", "Schedule", "Slot",
	"Appointment", "Communication", "CommunicationRequest", "Task",
	"Questionnaire", "QuestionnaireResponse", "Consent", "AuditEvent", "Device",
}

var typeSets = sync.OnceValues(func() (all, notDomain map[string]bool) {
	all = make(map[string]bool, len(resourceTypes))
	for _, t := range resourceTypes {
		all[t] = true
	}
	notDomain = make(map[string]bool, len(notDomainResources))
	for _, t := range notDomainResources {
		notDomain[t] = true
	}
	return all, notDomain
})

// IsResourceType reports whether name is a concrete R4 resource type, such
// as "Patient". Abstract types (Resource, DomainResource) are not.
func IsResourceType(name string) bool {
	all, _ := typeSets()
	return all[name]
}

// IsDomainResource reports whether the resource type derives from
// DomainResource, and so may have text, contained resources and extensions.
// Only Binary, Bundle and Parameters do not.
func IsDomainResource(name string) bool {
	all, notDomain := typeSets()
	return all[name] && !notDomain[name]
}

// ResourceTypes returns every concrete R4 resource type name, sorted. The
// caller owns the returned slice.
func ResourceTypes() []string {
	return slices.Clone(resourceTypes)
}

// IsFirstClass reports whether name is one of the FirstClass types.
func IsFirstClass(name string) bool {
	return slices.Contains(FirstClass, name)
}
