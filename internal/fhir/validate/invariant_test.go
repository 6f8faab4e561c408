package validate

import (
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/fhir/spec"
)

func elementOf(t *testing.T, typ, rel string) *spec.Element {
	t.Helper()
	e := spec.Elements(typ)[rel]
	if e == nil {
		t.Fatalf("no element %s.%s", typ, rel)
	}
	return e
}

// TestInvariantCoverage reports how many of the invariants of the types with
// structure tables are evaluated, and fails when too many are skipped.
func TestInvariantCoverage(t *testing.T) {
	tab := invariants()
	total := tab.evaluated + tab.structural + len(tab.skipped)
	t.Logf("invariants: %d of %d evaluated with FHIRPath, %d checked by the walk (ele-1, ext-1, dom-2, ref-1), %d skipped",
		tab.evaluated, total, tab.structural, len(tab.skipped))
	for _, s := range tab.skipped {
		t.Logf("skipped: %s %s %q: %s", s.path, s.key, s.expr, s.reason)
	}
	if tab.evaluated < 170 || len(tab.skipped) > 2 {
		t.Errorf("only %d invariants evaluated, %d skipped", tab.evaluated, len(tab.skipped))
	}
	// Every first-class resource type has its own invariants (dom-3 at
	// least) ready.
	for _, rt := range spec.FirstClass {
		if own, _ := lookupInvariants(spec.LookupType(rt).Root, nil); own == nil || len(own.list) == 0 {
			t.Errorf("%s has no invariants", rt)
		}
	}
}

func TestInvariants(t *testing.T) {
	const patient = `{"resourceType": "Patient"`
	tests := []struct {
		name string
		doc  string
		// key is the invariant expected to fail at expression, "" when the
		// resource is valid.
		key, expression string
	}{
		// obs-6: dataAbsentReason only without value[x].
		{"obs-6 ok", obsWith(`, "dataAbsentReason": {"text": "lost"}`), "", ""},
		{"obs-6", obsWith(`, "valueString": "a", "dataAbsentReason": {"text": "lost"}`), "obs-6", "Observation"},
		// obs-7: no value when a component has the Observation's code.
		{"obs-7 ok", `{"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
			"valueString": "x", "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueString": "1"}]}`, "", ""},
		{"obs-7", `{"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
			"valueString": "x", "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}, "valueString": "1"}]}`, "obs-7", "Observation"},
		// obs-3: a reference range has low, high or text.
		{"obs-3", obsWith(`, "referenceRange": [{"text": "normal"}, {"appliesTo": [{"text": "adults"}]}]`), "obs-3", "Observation.referenceRange[1]"},
		// pat-1: a contact has details or an organization.
		{"pat-1 ok", patient + `, "contact": [{"name": {"family": "Doe"}}]}`, "", ""},
		{"pat-1", patient + `, "contact": [{"name": {"family": "Doe"}}, {"gender": "female"}]}`, "pat-1", "Patient.contact[1]"},
		// dom-3: a contained resource is referred to.
		{"dom-3 ok", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p"}], "subject": {"reference": "#p"}`), "", ""},
		{"dom-3 ok, refers to the container", obsWith(`, "id": "o1", "contained": [{"resourceType": "Provenance", "id": "p",
			"target": [{"reference": "#"}], "recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"display": "x"}}]}]`), "", ""},
		{"dom-3", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p"}]`), "dom-3", "Observation"},
		// dom-4, dom-5: no versionId, lastUpdated or security in contained resources.
		{"dom-4", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}}], "subject": {"reference": "#p"}`), "dom-4", "Observation"},
		{"dom-5", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p", "meta": {"security": [{"code": "R"}]}}], "subject": {"reference": "#p"}`), "dom-5", "Observation"},
		// per-1: start before end, compared as points in time.
		{"per-1 ok", obsWith(`, "effectivePeriod": {"start": "2024-01-01T10:00:00+02:00", "end": "2024-01-01T09:00:00Z"}`), "", ""},
		{"per-1 ok, other precision", obsWith(`, "effectivePeriod": {"start": "2024-01-01", "end": "2024-01-01T09:00:00Z"}`), "", ""},
		{"per-1", obsWith(`, "effectivePeriod": {"start": "2024-01-01T10:00:00Z", "end": "2024-01-01T11:00:00+02:00"}`), "per-1", "Observation.effectivePeriod"},
		{"per-1, dates", `{"resourceType": "Patient", "name": [{"family": "x", "period": {"start": "2020-03", "end": "2019"}}]}`, "per-1", "Patient.name[0].period"},
		// qty-3: a unit code needs a system.
		{"qty-3", obsWith(`, "valueQuantity": {"value": 1, "code": "mg"}`), "qty-3", "Observation.valueQuantity"},
		{"qty-3 in a profile (Age)", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetAge": {"value": 1, "code": "a", "system": "http://unitsofmeasure.org"}}`, "", ""},
		{"age-1", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "onsetAge": {"value": -1, "code": "a", "system": "http://unitsofmeasure.org"}}`, "age-1", "Condition.onsetAge"},
		// rng-2: low not above high (Quantities in the same unit).
		{"rng-2 ok", obsWith(`, "valueRange": {"low": {"value": 1, "unit": "mg"}, "high": {"value": 2, "unit": "mg"}}`), "", ""},
		{"rng-2 ok, other units", obsWith(`, "valueRange": {"low": {"value": 3, "unit": "g"}, "high": {"value": 2, "unit": "mg"}}`), "", ""},
		{"rng-2", obsWith(`, "valueRange": {"low": {"value": 3, "unit": "mg"}, "high": {"value": 2.5, "unit": "mg"}}`), "rng-2", "Observation.valueRange"},
		// org-1 (arithmetic), org-3 (an element's own invariant on a datatype).
		{"org-1", `{"resourceType": "Organization", "active": true}`, "org-1", "Organization"},
		{"org-1 ok", `{"resourceType": "Organization", "identifier": [{"value": "1"}]}`, "", ""},
		{"org-3", `{"resourceType": "Organization", "name": "x", "telecom": [{"system": "phone", "value": "1", "use": "work"}, {"system": "phone", "value": "2", "use": "home"}]}`,
			"org-3", "Organization.telecom[1]"},
		{"cpt-2", `{"resourceType": "Organization", "name": "x", "telecom": [{"value": "1"}]}`, "cpt-2", "Organization.telecom[0]"},
		// app-2, app-3.
		{"app-3", `{"resourceType": "Appointment", "status": "booked", "participant": [{"status": "accepted", "actor": {"reference": "Patient/1"}}]}`, "app-3", "Appointment"},
		{"app-2", `{"resourceType": "Appointment", "status": "proposed", "start": "2024-01-01T10:00:00Z", "participant": [{"status": "accepted", "actor": {"reference": "Patient/1"}}]}`, "app-2", "Appointment"},
		{"app-1", `{"resourceType": "Appointment", "status": "proposed", "participant": [{"status": "accepted"}]}`, "app-1", "Appointment.participant[0]"},
		// con-4, con-5 (where() with and/or over codings).
		{"con-4", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "abatementDateTime": "2020-01-01",
			"clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]}}`, "con-4", "Condition"},
		{"con-4 ok", `{"resourceType": "Condition", "subject": {"reference": "Patient/1"}, "abatementDateTime": "2020-01-01",
			"clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}]}}`, "", ""},
		// que-1, que-2 (descendants()), que-7 (is Boolean).
		{"que-1", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group"}]}`, "que-1", "Questionnaire.item[0]"},
		{"que-1 nested", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "2", "type": "display", "item": [{"linkId": "3", "type": "string"}]}]}]}`,
			"que-1", "Questionnaire.item[0].item[0]"},
		{"que-2", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1", "type": "string"}]}]}`, "que-2", "Questionnaire"},
		{"que-7", `{"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "string", "enableWhen": [{"question": "0", "operator": "exists", "answerString": "x"}]}]}`,
			"que-7", "Questionnaire.item[0].enableWhen[0]"},
		// inv-1: dates compared in time.
		{"inv-1", `{"resourceType": "Task", "status": "draft", "intent": "order", "authoredOn": "2024-01-02", "lastModified": "2024-01-01T10:00:00Z"}`, "inv-1", "Task"},
		{"inv-1 ok", `{"resourceType": "Task", "status": "draft", "intent": "order", "authoredOn": "2024-01-01T10:00:00Z", "lastModified": "2024-01-01T11:30:00+01:00"}`, "", ""},
		// att-1 on a datatype inside a backbone element.
		{"att-1", `{"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"}, "presentedForm": [{"data": "aGk="}]}`, "att-1", "DiagnosticReport.presentedForm[0]"},
		// ctm-1: resolve() of a reference.
		{"ctm-1", `{"resourceType": "CareTeam", "participant": [{"member": {"reference": "Patient/1"}, "onBehalfOf": {"reference": "Organization/1"}}]}`, "ctm-1", "CareTeam.participant[0]"},
		{"ctm-1 ok", `{"resourceType": "CareTeam", "participant": [{"member": {"reference": "Practitioner/1"}, "onBehalfOf": {"reference": "Organization/1"}}]}`, "", ""},
		// tim-9 (select() and $this) in a Timing of a Dosage.
		{"tim-9", `{"resourceType": "MedicationRequest", "status": "active", "intent": "order", "subject": {"reference": "Patient/1"},
			"medicationCodeableConcept": {"text": "x"}, "dosageInstruction": [{"timing": {"repeat": {"when": ["C"], "offset": 10}}}]}`,
			"tim-9", "MedicationRequest.dosageInstruction[0].timing.repeat"},
		// Bundle invariants: bdl-3 (%resource), bdl-7 (&, isDistinct), bdl-5.
		{"bdl-3", `{"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Claim"}}]}`, "bdl-3", "Bundle"},
		{"bdl-7", `{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Claim"}},
			{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Claim"}}]}`, "bdl-7", "Bundle"},
		{"bdl-7 ok", `{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Claim", "meta": {"versionId": "1"}}},
			{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Claim", "meta": {"versionId": "2"}}}]}`, "", ""},
		{"bdl-5", `{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:1"}]}`, "bdl-5", "Bundle.entry[0]"},
		{"bdl-11", `{"resourceType": "Bundle", "type": "document", "identifier": {"system": "http://x", "value": "1"}, "timestamp": "2024-01-01T00:00:00Z",
			"entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}}]}`, "bdl-11", "Bundle"},
		// Invariants of contained resources apply too.
		{"contained pat-1", obsWith(`, "contained": [{"resourceType": "Patient", "id": "p", "contact": [{"gender": "male"}]}], "subject": {"reference": "#p"}`),
			"pat-1", "Observation.contained[0].contact[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			issues := Resource("", []byte(tc.doc))
			if tc.key == "" {
				if len(issues) > 0 {
					t.Fatalf("want no issue, got %s", formatIssues(issues))
				}
				return
			}
			for _, is := range issues {
				if is.Expression == tc.expression && is.Code == CodeInvariant && strings.Contains(is.Message, "("+tc.key+")") {
					if !strings.HasPrefix(is.Message, tc.expression+": ") || len(is.Message) < len(tc.expression)+20 {
						t.Errorf("message %q lacks the location or the description", is.Message)
					}
					if len(issues) > 1 {
						t.Errorf("more issues than %s: %s", tc.key, formatIssues(issues))
					}
					return
				}
			}
			t.Errorf("want %s at %s, got %s", tc.key, tc.expression, formatIssues(issues))
		})
	}
}

// TestNarrativeInvariants checks txt-1 and txt-2, the invariants of a
// primitive element (Narrative.div), which share one expression.
func TestNarrativeInvariants(t *testing.T) {
	div := func(d string) string {
		return `{"resourceType": "Patient", "text": {"status": "generated", "div": "` + d + `"}}`
	}
	if issues := Resource("", []byte(div(`<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Abdul <b>Koepp</b></p></div>`))); len(issues) > 0 {
		t.Errorf("valid narrative: %s", formatIssues(issues))
	}
	issues := Resource("", []byte(div(`<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x()</script></div>`)))
	var keys []string
	for _, is := range issues {
		if is.Expression == "Patient.text.div" && is.Code == CodeInvariant {
			keys = append(keys, is.Message[strings.LastIndexByte(is.Message, '('):])
		}
	}
	if strings.Join(keys, " ") != "(txt-1) (txt-2)" {
		t.Errorf("got %s, want txt-1 and txt-2 at Patient.text.div", formatIssues(issues))
	}
}

// TestInvariantMessage checks the wording of an invariant issue: location,
// description and key.
func TestInvariantMessage(t *testing.T) {
	issues := Resource("Observation", []byte(obsWith(`, "valueString": "a", "dataAbsentReason": {"text": "lost"}`)))
	want := "Observation: dataAbsentReason SHALL only be present if Observation.value[x] is not present (obs-6)"
	if len(issues) != 1 || issues[0].Message != want || issues[0].Severity != "error" {
		t.Errorf("got %s, want the message %q", formatIssues(issues), want)
	}
}

// TestProjection checks that evaluating the invariants on the parts of the
// values their expressions read gives the same verdicts as on the whole
// values, over the Synthea resources and the documents of the tests above.
func TestProjection(t *testing.T) {
	verifyProjection = true
	defer func() { verifyProjection = false }()
	raws, entries := syntheaBundles(t)
	n := 0
	for name, es := range entries {
		for _, e := range es {
			Resource("", e.Resource)
			n++
		}
		Resource("", raws[name])
	}
	t.Run("invariants", TestInvariants)
	t.Run("references", TestReferenceTargets)
	t.Logf("%d resources checked", n)
}
