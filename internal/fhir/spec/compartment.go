package spec

// PatientCompartmentParams returns the search parameters of resourceType
// whose references to a Patient place a resource in that patient's
// compartment, as CompartmentDefinition/patient lists them; nil when the
// type is not in the Patient compartment. Patient itself lists "link"; a
// Patient is also in its own compartment. Shared: do not modify.
func PatientCompartmentParams(resourceType string) []string {
	return patientCompartment[resourceType]
}

// InPatientCompartment reports whether resources of the type can belong to
// a patient's compartment.
func InPatientCompartment(resourceType string) bool {
	_, ok := patientCompartment[resourceType]
	return ok
}
