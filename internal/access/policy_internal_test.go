package access

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/identity"
)

// TestCompartmentPathsCompile checks that every parameter of the Patient
// compartment has a plain element path: a type whose path did not compile
// would be hidden from every person.
func TestCompartmentPathsCompile(t *testing.T) {
	for _, typ := range spec.ResourceTypes() {
		if !spec.InPatientCompartment(typ) {
			continue
		}
		paths, ok := pathsOf(typ)
		if !ok {
			t.Errorf("%s: a compartment parameter's expression is not an element path", typ)
		}
		if len(paths) == 0 && typ != "Patient" {
			t.Errorf("%s: no compartment paths", typ)
		}
	}
}

func TestPatientsOf(t *testing.T) {
	const base = "https://careloop.example/fhir"
	for _, tc := range []struct {
		name, typ, id, json string
		want                []string
	}{
		{"subject", "Observation", "o", `{"subject":{"reference":"Patient/p1"}}`, []string{"p1"}},
		{"performer array", "Observation", "o", `{"subject":{"reference":"Group/g"},"performer":[{"reference":"Practitioner/d"},{"reference":"Patient/p2"}]}`, []string{"p2"}},
		{"nested arrays", "Appointment", "a", `{"participant":[{"actor":{"reference":"Patient/p1"}},{"actor":{"reference":"Practitioner/d"}},{"actor":{"reference":"Patient/p3"}}]}`, []string{"p1", "p3"}},
		{"versioned", "Encounter", "e", `{"subject":{"reference":"Patient/p1/_history/3"}}`, []string{"p1"}},
		{"absolute on this server", "Condition", "c", `{"subject":{"reference":"` + base + `/Patient/p1"}}`, []string{"p1"}},
		{"absolute elsewhere", "Condition", "c", `{"subject":{"reference":"https://other.example/fhir/Patient/p1"}}`, nil},
		{"not a patient", "Observation", "o", `{"subject":{"reference":"Location/l"}}`, nil},
		{"a patient is in its own compartment", "Patient", "p9", `{"link":[{"other":{"reference":"Patient/p8"}}]}`, []string{"p9", "p8"}},
		{"a different element", "Observation", "o", `{"focus":[{"reference":"Patient/p1"}]}`, nil},
		{"not JSON", "Observation", "o", `{"subject":`, nil},
		{"where() filter dropped", "Task", "t", `{"for":{"reference":"Patient/p4"}}`, []string{"p4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := patientsOf(tc.typ, tc.id, []byte(tc.json), base)
			if !ok || !slices.Equal(got, tc.want) {
				t.Errorf("patientsOf = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestConsentRules(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	consent := func(status, scope, provision string) []byte {
		return []byte(fmt.Sprintf(`{"resourceType":"Consent","id":"c","status":%q,"scope":{"coding":[{"code":%q}]},"patient":{"reference":"Patient/p"},"provision":%s}`, status, scope, provision))
	}
	denyDoc := `{"type":"deny","actor":[{"reference":{"reference":"Practitioner/doc"}}]}`
	for _, tc := range []struct {
		name       string
		raw        []byte
		actor, typ string
		enforced   bool
		wantDenied bool
	}{
		{"denies the named actor", consent("active", "patient-privacy", denyDoc), "Practitioner/doc", "Observation", true, true},
		{"not others", consent("active", "patient-privacy", denyDoc), "Practitioner/other", "Observation", true, false},
		{"inactive is not enforced", consent("inactive", "patient-privacy", denyDoc), "Practitioner/doc", "Observation", false, false},
		{"research scope is not about access", consent("active", "research", denyDoc), "Practitioner/doc", "Observation", false, false},
		{"class limits the types", consent("active", "patient-privacy", `{"type":"deny","class":[{"code":"DiagnosticReport"}]}`), "Practitioner/doc", "Observation", true, false},
		{"class matches", consent("active", "patient-privacy", `{"type":"deny","class":[{"code":"DiagnosticReport"}]}`), "Practitioner/doc", "DiagnosticReport", true, true},
		{"deny all but the family doctor", consent("active", "patient-privacy", `{"type":"deny","provision":[{"type":"permit","actor":[{"reference":{"reference":"Practitioner/family"}}]}]}`), "Practitioner/family", "Observation", true, false},
		{"deny all but the family doctor, others", consent("active", "patient-privacy", `{"type":"deny","provision":[{"type":"permit","actor":[{"reference":{"reference":"Practitioner/family"}}]}]}`), "Practitioner/doc", "Observation", true, true},
		{"an exception without a type reverses its parent", consent("active", "patient-privacy", `{"type":"deny","provision":[{"actor":[{"reference":{"reference":"Practitioner/family"}}]}]}`), "Practitioner/family", "Observation", true, false},
		{"expired period", consent("active", "patient-privacy", `{"type":"deny","period":{"end":"2026-01-01"}}`), "Practitioner/doc", "Observation", true, false},
		{"period not started", consent("active", "patient-privacy", `{"type":"deny","period":{"start":"2027-01-01T00:00:00Z"}}`), "Practitioner/doc", "Observation", true, false},
		{"period covers now", consent("active", "patient-privacy", `{"type":"deny","period":{"start":"2026-01-01","end":"2026-11-23"}}`), "Practitioner/doc", "Observation", true, true},
		{"permit base", consent("active", "patient-privacy", `{"type":"permit"}`), "Practitioner/doc", "Observation", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rule, patient, ok := parseConsent(tc.raw, "")
			if ok != tc.enforced {
				t.Fatalf("enforced = %v, want %v", ok, tc.enforced)
			}
			if !ok {
				return
			}
			if patient != "p" {
				t.Errorf("patient = %q", patient)
			}
			if got := rule.denies(tc.actor, tc.typ, now); got != tc.wantDenied {
				t.Errorf("denies = %v, want %v", got, tc.wantDenied)
			}
		})
	}
}

// TestPermsTable pins down the role table's promises.
func TestPermsTable(t *testing.T) {
	for _, tc := range []struct {
		role identity.Role
		typ  string
		want string
	}{
		{identity.RolePatient, "Observation", "rs"},
		{identity.RolePatient, "Communication", "crus"},
		{identity.RolePatient, "Task", ""},
		{identity.RolePatient, "AuditEvent", ""},
		{identity.RolePatient, "Practitioner", "rs"},
		{identity.RoleCaregiver, "QuestionnaireResponse", "crus"},
		{identity.RoleClinician, "Observation", "crus"},
		{identity.RoleClinician, "AuditEvent", ""},
		{identity.RoleClinician, "Organization", "rs"},
		{identity.RoleNurse, "MedicationRequest", "rs"},
		{identity.RoleNurse, "Observation", "crus"},
		{identity.RoleTechnician, "DiagnosticReport", "crus"},
		{identity.RoleTechnician, "Condition", ""},
		{identity.RoleCoordinator, "Appointment", "crus"},
		{identity.RoleCoordinator, "Observation", ""},
		{identity.RoleCompliance, "AuditEvent", "rs"},
		{identity.RoleCompliance, "Observation", ""},
		{identity.RoleAdmin, "Location", "cruds"},
		{identity.RoleAdmin, "Patient", ""},
	} {
		if got := perms(tc.role, tc.typ).String(); got != tc.want {
			t.Errorf("perms(%s, %s) = %q, want %q", tc.role, tc.typ, got, tc.want)
		}
	}
}

// benchCaller is a clinician with 200 patients in care, one of whom has a
// Consent closing Observations to them.
func benchCaller() *caller {
	rc := &reach{patients: map[string]bool{}, glass: map[string]bool{}}
	for i := range 200 {
		id := fmt.Sprintf("p%03d", i)
		rc.patients[id] = true
		rc.list = append(rc.list, id)
	}
	rule, patient, _ := parseConsent([]byte(`{"resourceType":"Consent","status":"active","scope":{"coding":[{"code":"patient-privacy"}]},"patient":{"reference":"Patient/p007"},"provision":{"type":"deny","actor":[{"reference":{"reference":"Practitioner/doc"}}]}}`), "")
	return &caller{
		standing: standing{
			account:  &identity.Account{ID: "doc", Role: identity.RoleClinician, FHIRRef: "Practitioner/doc"},
			reach:    rc,
			consents: &consentsOfOrg{byPatient: map[string][]consentRule{patient: {rule}}},
		},
		now: time.Now(),
	}
}

// benchObservation is an Observation the size of a typical laboratory
// result from the Synthea fixtures (about 1.1 kB).
func benchObservation(i int) *fhir.Stored {
	raw := fmt.Sprintf(`{"resourceType":"Observation","id":"o%d","meta":{"versionId":"1","lastUpdated":"2026-11-23T10:00:00Z"},
		"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","display":"laboratory"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"2339-0","display":"Glucose [Mass/volume] in Blood"}],"text":"Glucose [Mass/volume] in Blood"},
		"subject":{"reference":"Patient/p%03d"},"encounter":{"reference":"Encounter/e%d"},
		"effectiveDateTime":"2026-11-20T09:30:00Z","issued":"2026-11-20T11:02:00.123Z",
		"performer":[{"reference":"Organization/lab","display":"Riverside Laboratory"}],
		"valueQuantity":{"value":95.2,"unit":"mg/dL","system":"http://unitsofmeasure.org","code":"mg/dL"},
		"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N"}]}],
		"referenceRange":[{"low":{"value":70,"unit":"mg/dL"},"high":{"value":99,"unit":"mg/dL"}}]}`, i, i%400, i)
	return &fhir.Stored{Type: "Observation", ID: fmt.Sprintf("o%d", i), VersionID: 1, JSON: []byte(raw)}
}

// BenchmarkDecision times the policy decision for one resource: a
// clinician's view of an Observation (role, compartment, consent).
func BenchmarkDecision(b *testing.B) {
	c := benchCaller()
	st := benchObservation(1)
	b.ReportAllocs()
	for b.Loop() {
		if !c.visible(st, "") {
			b.Fatal("not visible")
		}
	}
}

// BenchmarkFilterPage times deciding a search page of 100 Observations, half
// of them of patients outside the clinician's care.
func BenchmarkFilterPage(b *testing.B) {
	c := benchCaller()
	page := make([]*fhir.Stored, 100)
	for i := range page {
		page[i] = benchObservation(i * 3)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, st := range page {
			if c.visible(st, "") {
				n++
			}
		}
		if n == 0 {
			b.Fatal("nothing visible")
		}
	}
}
