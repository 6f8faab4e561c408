package validate

import (
	"fmt"
	"strings"
	"testing"
)

// obsWith returns a valid Observation with extra properties.
func obsWith(extra string) string {
	return `{"resourceType": "Observation", "status": "final", "code": {"text": "x"}` + extra + `}`
}

func TestReferenceTargets(t *testing.T) {
	bundle := func(subjectRef, fullURL, rt string) string {
		return `{"resourceType": "Bundle", "type": "transaction", "entry": [
			{"fullUrl": "urn:uuid:9d2c7ef4-4b6c-4b8e-8c1d-111111111111", "resource": ` + obsWith(`, "subject": {"reference": "`+subjectRef+`"}`) + `,
			 "request": {"method": "POST", "url": "Observation"}},
			{"fullUrl": "` + fullURL + `", "resource": {"resourceType": "` + rt + `"}, "request": {"method": "POST", "url": "` + rt + `"}}]}`
	}
	const urn = "urn:uuid:9d2c7ef4-4b6c-4b8e-8c1d-222222222222"
	tests := []struct {
		name string
		doc  string
		// want is the expression of the one issue expected, "" for none;
		// msg a part of its message.
		want, msg string
	}{
		{"relative, allowed", obsWith(`, "subject": {"reference": "Patient/1"}`), "", ""},
		{"relative, another allowed type", obsWith(`, "subject": {"reference": "Group/g-1"}`), "", ""},
		{"relative, not allowed", obsWith(`, "subject": {"reference": "Practitioner/1"}`),
			"Observation.subject.reference", "'Practitioner/1' refers to a Practitioner, but Observation.subject may refer only to Patient, Group, Device or Location"},
		{"relative with version", obsWith(`, "subject": {"reference": "Patient/1/_history/3"}`), "", ""},
		{"relative with version, not allowed", obsWith(`, "subject": {"reference": "Organization/1/_history/3"}`),
			"Observation.subject.reference", "refers to an Organization"},
		{"absolute, allowed", obsWith(`, "subject": {"reference": "https://example.org/fhir/Patient/1"}`), "", ""},
		{"absolute, not allowed", obsWith(`, "subject": {"reference": "https://example.org/fhir/Practitioner/1/_history/2"}`),
			"Observation.subject.reference", "refers to a Practitioner"},
		{"absolute, no type in the URL", obsWith(`, "subject": {"reference": "https://example.org/patients/abc"}`), "", ""},
		{"conditional, allowed", obsWith(`, "subject": {"reference": "Patient?identifier=http://x|1"}`), "", ""},
		{"conditional, not allowed", obsWith(`, "subject": {"reference": "Practitioner?identifier=http://x|1"}`),
			"Observation.subject.reference", "refers to a Practitioner"},
		{"unknown type", obsWith(`, "subject": {"reference": "Patients/1"}`),
			"Observation.subject.reference", "'Patients/1' does not name an R4 resource type"},
		{"urn:uuid outside a Bundle", obsWith(`, "subject": {"reference": "urn:uuid:9d2c7ef4-4b6c-4b8e-8c1d-000000000000"}`), "", ""},
		{"urn:oid outside a Bundle", obsWith(`, "subject": {"reference": "urn:oid:1.2.3.4"}`), "", ""},
		{"identifier only", obsWith(`, "subject": {"identifier": {"system": "http://x", "value": "1"}}`), "", ""},
		{"type, allowed", obsWith(`, "subject": {"type": "Patient", "identifier": {"value": "1"}}`), "", ""},
		{"type as a URL, allowed", obsWith(`, "subject": {"type": "http://hl7.org/fhir/StructureDefinition/Patient", "reference": "Patient/1"}`), "", ""},
		{"type, not allowed", obsWith(`, "subject": {"type": "Practitioner", "identifier": {"value": "1"}}`),
			"Observation.subject.type", "'Practitioner' is not a type Observation.subject may refer to (Patient, Group, Device or Location)"},
		{"type disagrees with the reference", obsWith(`, "subject": {"type": "Group", "reference": "Patient/1"}`),
			"Observation.subject.reference", "'Patient/1' refers to a Patient, but Observation.subject.type says Group"},
		{"array element", obsWith(`, "performer": [{"reference": "Practitioner/1"}, {"reference": "Medication/2"}]`),
			"Observation.performer[1].reference", "Observation.performer[1] may refer only to Practitioner, PractitionerRole, Organization, CareTeam, Patient or RelatedPerson"},
		{"single target", obsWith(`, "encounter": {"reference": "EpisodeOfCare/1"}`),
			"Observation.encounter.reference", "may refer only to Encounter"},
		{"any resource", obsWith(`, "focus": [{"reference": "Medication/1"}]`), "", ""},
		{"in a datatype", obsWith(`, "note": [{"authorReference": {"reference": "Device/1"}, "text": "n"}]`),
			"Observation.note[0].authorReference.reference", "Observation.note[0].authorReference may refer only to Practitioner, Patient, RelatedPerson or Organization"},
		{"in a backbone element", `{"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
			"participant": [{"individual": {"reference": "Patient/1"}}]}`,
			"Encounter.participant[0].individual.reference", "may refer only to Practitioner, PractitionerRole or RelatedPerson"},
		{"contained, allowed", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p"}], "subject": {"reference": "#p"}`), "", ""},
		{"contained, not allowed", obsWith(`, "contained": [{"resourceType": "Practitioner", "id": "p"}], "subject": {"reference": "#p"}`),
			"Observation.subject.reference", "'#p' refers to a Practitioner"},
		{"contained after the reference", obsWith(`, "subject": {"reference": "#p"}, "contained": [{"resourceType": "Practitioner", "id": "p"}]`),
			"Observation.subject.reference", "'#p' refers to a Practitioner"},
		{"contained, missing (ref-1)", obsWith(`, "subject": {"reference": "#nope"}`),
			"Observation.subject", "SHALL have a contained resource if a local reference is provided (ref-1)"},
		{"contained, missing, any target (ref-1)", obsWith(`, "focus": [{"reference": "#nope"}]`),
			"Observation.focus[0]", "(ref-1)"},
		{"the container, allowed", obsWith(`, "contained": [{"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "y"},
			"hasMember": [{"reference": "#"}]}], "hasMember": [{"reference": "#o"}]`), "", ""},
		{"the container, not allowed", obsWith(`, "contained": [{"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "y"},
			"subject": {"reference": "#"}}], "hasMember": [{"reference": "#o"}]`),
			"Observation.contained[0].subject.reference", "'#' refers to an Observation"},
		{"in a Bundle, urn:uuid allowed", bundle(urn, urn, "Patient"), "", ""},
		{"in a Bundle, urn:uuid not allowed", bundle(urn, urn, "Practitioner"),
			"Bundle.entry[0].resource.subject.reference", "'" + urn + "' refers to a Practitioner"},
		{"in a Bundle, urn:uuid of no entry", bundle(urn, "urn:uuid:9d2c7ef4-4b6c-4b8e-8c1d-333333333333", "Practitioner"), "", ""},
		{"in a Bundle, absolute fullUrl", bundle("https://example.org/fhir/Practitioner/1", "https://example.org/fhir/Practitioner/1", "Practitioner"),
			"Bundle.entry[0].resource.subject.reference", "refers to a Practitioner"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issues := Resource("", []byte(tc.doc))
			if tc.want == "" {
				if len(issues) > 0 {
					t.Fatalf("want no issue, got %s", formatIssues(issues))
				}
				return
			}
			if len(issues) != 1 {
				t.Fatalf("want one issue at %s, got %s", tc.want, formatIssues(issues))
			}
			is := issues[0]
			wantCode := CodeInvalid
			if strings.Contains(tc.msg, "ref-1") {
				wantCode = CodeInvariant
			}
			if is.Expression != tc.want || is.Code != wantCode || is.Severity != "error" || !strings.Contains(is.Message, tc.msg) {
				t.Errorf("got %s; want %s %s containing %q", formatIssues(issues), wantCode, tc.want, tc.msg)
			}
		})
	}
}

func TestReferenceType(t *testing.T) {
	for _, tc := range []struct {
		ref      string
		typ      string
		relative bool
	}{
		{"Patient/1", "Patient", true},
		{"Patient/1/_history/2", "Patient", true},
		{"Patient?name=x/y", "Patient", true},
		{"https://x.org/fhir/Patient/1", "Patient", false},
		{"https://x.org/fhir/Patient/1/_history/2", "Patient", false},
		{"https://x.org/fhir/r4/patient/1", "", false},
		{"a/Patient/1", "", false},
		{"Patient/", "", false},
		{"/Patient", "", false},
		{"Patient", "", false},
		{"urn:uuid:1", "", false},
		{"#p", "", false},
		{"?x", "", false},
	} {
		typ, relative := referenceType([]byte(tc.ref))
		if string(typ) != tc.typ || (typ != nil && relative != tc.relative) {
			t.Errorf("referenceType(%q) = %q, %v; want %q, %v", tc.ref, typ, relative, tc.typ, tc.relative)
		}
	}
}

// TestReferenceTargetsGenerated checks a few targets of the generated tables.
func TestReferenceTargetsGenerated(t *testing.T) {
	for path, want := range map[string]string{
		"Observation.subject":       "[Patient Group Device Location]",
		"Encounter.serviceProvider": "[Organization]",
		"AuditEvent.agent.who":      "[PractitionerRole Practitioner Organization Device Patient RelatedPerson]",
		"Observation.focus":         "[]",
		"Annotation.author[x]":      "[Practitioner Patient RelatedPerson Organization]",
	} {
		typ, rel, _ := strings.Cut(path, ".")
		e := elementOf(t, typ, rel)
		if got := fmt.Sprint(e.Targets); got != want {
			t.Errorf("%s targets = %s, want %s", path, got, want)
		}
	}
}
